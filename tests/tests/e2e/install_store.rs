//! The install store on the local DynamoDB, under contention: many writers recording steps on
//! one install at once lose nothing and leave a gapless timeline; a refused status move
//! writes nothing.

use std::collections::BTreeSet;

use byoc_core::store::InstallStore;
use byoc_domain::ids::{AccountId, Region, TenantId};
use byoc_domain::install_change::Change;
use byoc_domain::model::{Install, InstallStatus, Outcome, Step};
use byoc_e2e::{random_account_id, random_tenant_id, LocalStack};
use chrono::Utc;

fn new_place() -> (TenantId, AccountId) {
    (
        TenantId::parse("tenant_id", &random_tenant_id("store")).unwrap(),
        AccountId::parse("account_id", &random_account_id()).unwrap(),
    )
}

async fn new_install(
    store: &InstallStore,
    (tenant_id, account_id): &(TenantId, AccountId),
) -> Result<Install, byoc_domain::Error> {
    let region = Region::parse("region", "us-east-1").unwrap();
    let (install, first) = Install::requested(
        tenant_id.clone(),
        account_id.clone(),
        region,
        Default::default(),
        Utc::now(),
    )
    .unwrap();
    store.create_install(&install, &first).await?;
    Ok(install)
}

#[tokio::test]
async fn concurrent_writers_lose_no_update_and_leave_no_gap() {
    let stack = LocalStack::connect().await.unwrap();
    let store = InstallStore::new(stack.dynamodb(), &stack.outputs.table_name);
    let install = new_install(&store, &new_place()).await.unwrap();

    let writers = 24;
    let mut tasks = Vec::new();
    for n in 0..writers {
        let store = store.clone();
        let id = install.install_id.clone();
        tasks.push(tokio::spawn(async move {
            let change = Change::new(Step::ValidateTrust, Outcome::Waiting, format!("writer {n}"))
                .resource(format!("r{n}"), format!("v{n}"));
            store.record(&id, change).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }

    let found = store
        .get_install_with_timeline(&install.install_id)
        .await
        .unwrap();
    assert_eq!(found.install.version, 1 + writers as u64);
    let seqs: Vec<u64> = found.timeline.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=1 + writers as u64).collect::<Vec<_>>());
    let messages: BTreeSet<&str> = found
        .timeline
        .iter()
        .skip(1)
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(
        messages.len(),
        writers,
        "every writer's event is there once"
    );
    assert_eq!(
        found.install.resources.len(),
        writers,
        "every writer's resource survived: {:?}",
        found.install.resources
    );
}

#[tokio::test]
async fn a_skipped_state_is_refused_and_one_place_holds_one_active_install() {
    let stack = LocalStack::connect().await.unwrap();
    let store = InstallStore::new(stack.dynamodb(), &stack.outputs.table_name);
    let place = new_place();
    let first = new_install(&store, &place).await.unwrap();

    let err = store
        .record(
            &first.install_id,
            Change::new(Step::Notify, Outcome::Succeeded, "ready?").status(InstallStatus::Ready),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            byoc_domain::Error::InvalidTransition {
                from: InstallStatus::Pending,
                to: InstallStatus::Ready,
                ..
            }
        ),
        "{err}"
    );
    let found = store
        .get_install_with_timeline(&first.install_id)
        .await
        .unwrap();
    assert_eq!(
        (
            found.install.status,
            found.install.version,
            found.timeline.len()
        ),
        (InstallStatus::Pending, 1, 1),
        "nothing written"
    );

    let taken = new_install(&store, &place).await.unwrap_err();
    assert!(
        matches!(&taken, byoc_domain::Error::SlotTaken { existing } if *existing == first.install_id),
        "{taken}"
    );

    // Failing frees the place; retrying the failed install then finds it taken by the new one.
    store
        .record(
            &first.install_id,
            Change::new(Step::Request, Outcome::Failed, "gave up").status(InstallStatus::Failed),
        )
        .await
        .unwrap();
    let second = new_install(&store, &place).await.unwrap();
    let retry = store
        .record(
            &first.install_id,
            Change::new(Step::Request, Outcome::Started, "retry").status(InstallStatus::Pending),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&retry, byoc_domain::Error::SlotTaken { existing } if *existing == second.install_id),
        "{retry}"
    );
    assert_eq!(
        store.get_install(&first.install_id).await.unwrap().status,
        InstallStatus::Failed,
        "the refused retry wrote nothing"
    );
}
