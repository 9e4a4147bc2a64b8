//! The start of an upgrade attempt (the state machine's `preflight` action): the target and
//! the hops, then every reason the upgrade would fail (`preflight`, the customer's switches),
//! all at once; a blocking finding stops it before anything changes, a surge short of vCPU
//! quota waits for an increase as an install does.

use byoc_core::customer_session;
use byoc_domain::install_change::Change;
use byoc_domain::model::{Install, Outcome, Step};
use byoc_domain::quota_plan::QUOTA_CHECK_KEY;
use byoc_domain::tags::cluster_name;
use byoc_domain::upgrade::{self, Finding, MinorVersion, UpgradeRecord, UpgradeState};

use crate::{
    lines, observe, preflight, status, stop, switches, upgrading, versions, Deps, UpgradeError,
    UpgradeStatus,
};

pub(crate) async fn begin(
    deps: &Deps,
    session: &customer_session::CustomerSession,
) -> Result<UpgradeStatus, UpgradeError> {
    let (install, config) = (&session.install, &session.config);
    let mut record = upgrading(install)?;
    let eks = aws_sdk_eks::Client::new(config);
    let ec2 = aws_sdk_ec2::Client::new(config);
    let quotas = aws_sdk_servicequotas::Client::new(config);
    let name = cluster_name(install);
    let seen = observe::cluster(&eks, &name).await?;
    // A retry keeps the target it had, and a request for the version the control plane already
    // reached finishes its node groups and add-ons: the cluster may be past some hops.
    let resumed = record
        .target
        .filter(|t| seen.version <= *t)
        .or(record.requested.filter(|r| *r == seen.version));
    let target = match resumed {
        Some(target) => Ok(target),
        None => {
            let offered = versions::offered(&eks).await?;
            upgrade::target(
                record.requested.map(|v| v.to_string()).as_deref(),
                seen.version,
                &offered,
            )
        }
    };
    let target = match target {
        Ok(target) => target,
        Err(refused) => {
            let finding = Finding {
                check: "target".into(),
                blocking: true,
                message: refused.to_string(),
                advice: "ask for a version EKS offers that is newer than the cluster's".into(),
            };
            return Err(stop(deps, install, record, vec![finding], None).await?);
        }
    };
    let hops = upgrade::hops(seen.version, target);
    let clients = preflight::Clients {
        eks: &eks,
        ec2: &ec2,
        quotas: &quotas,
    };
    let found = preflight::run(&clients, &name, &seen, &hops, record.force, install).await?;
    let mut findings = switches::findings(
        session.stack.as_ref(),
        &deps.access,
        install,
        chrono::Utc::now(),
    );
    findings.extend(found.findings);
    record.from.get_or_insert(seen.version);
    record.target = Some(target);
    record.hops = hops.clone();
    if findings.iter().any(|f| f.blocking) {
        return Err(stop(deps, install, record, findings, None).await?);
    }
    if !found.deficits.is_empty() {
        return wait_for_quota(
            deps,
            install,
            record,
            findings,
            &found.deficits,
            seen.version,
            target,
        )
        .await;
    }
    let notes = if findings.is_empty() {
        "nothing found".to_owned()
    } else {
        format!(
            "{} non-blocking finding(s): {}",
            findings.len(),
            lines(&findings)
        )
    };
    record.findings = findings;
    record.state = UpgradeState::Running;
    let hop_list = hops
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let message = if hops.is_empty() {
        format!("upgrade to Kubernetes {target}: the control plane is there; finishing node groups and add-ons ({notes})")
    } else {
        format!("upgrade from Kubernetes {} to {target} in {} hop(s) ({hop_list}): preflight passed, {notes}", seen.version, hops.len())
    };
    let change = Change::new(Step::UpgradeCluster, Outcome::Started, message).record(&record);
    deps.store.record_all(install, &[change]).await?;
    Ok(status(install, seen.version, target, false))
}

/// The surge is short of vCPU quota: recorded as the install's quota check records its
/// deficits, for request-quota to ask AWS; the preflight runs again once they are approved.
async fn wait_for_quota(
    deps: &Deps,
    install: &Install,
    mut record: UpgradeRecord,
    findings: Vec<Finding>,
    deficits: &[byoc_domain::quota_plan::Deficit],
    version: MinorVersion,
    target: MinorVersion,
) -> Result<UpgradeStatus, UpgradeError> {
    record.findings = findings;
    let described: Vec<String> = deficits.iter().map(|d| d.describe()).collect();
    let check = serde_json::json!({
        "ok": false,
        "deficits": deficits,
        "for": "upgrade",
    });
    let change = Change::new(
        Step::UpgradeCluster,
        Outcome::Waiting,
        format!(
            "the node groups' rolling update needs more On-Demand vCPU quota: {}",
            described.join("; ")
        ),
    )
    .record(&record)
    .data(QUOTA_CHECK_KEY, check);
    deps.store.record_all(install, &[change]).await?;
    Ok(UpgradeStatus {
        quota_ok: false,
        ..status(install, version, target, false)
    })
}
