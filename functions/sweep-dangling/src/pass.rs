//! The pass engine, shared by the state machine's passes and the scheduled run: what discovery
//! found becomes a [`Pass`], and the deletions whose blockers are gone are issued in
//! dependency order. Deciding whether to delete at all, and recording, is the callers' part.

use byoc_domain::deletion_order::{ready_now, Found, Kind, ORDER};
use byoc_domain::model::Install;
use byoc_domain::tags::cluster_name;
use byoc_domain::Error;
use tracing::{info, warn};

use crate::attempt::Attempt;
use crate::clients::Clients;
use crate::delete;
use crate::discover::{discover, Discovery};
use crate::report::Pass;

/// A pass that has deleted nothing yet: everything found to delete still remains.
pub(crate) fn pass_of(discovery: Discovery) -> Pass {
    Pass {
        found: discovery.delete.clone(),
        remaining: discovery.delete,
        kept: discovery.kept,
        unhandled: discovery.unhandled,
        notes: discovery.notes,
        ..Default::default()
    }
}

/// A deleting pass: every deletion AWS lets through now, its refusals read against the account
/// again ([`confirm_refusals`]), and then what is left that waiting will not remove
/// ([`Pass::settle`]).
pub(crate) async fn delete_and_settle(
    clients: &Clients,
    install: &Install,
    pass: &mut Pass,
) -> Result<(), Error> {
    let cluster = cluster_name(install);
    delete_what_can_go(clients, &cluster, pass).await;
    confirm_refusals(clients, install, pass).await?;
    pass.settle(install.region.as_str(), &cluster);
    Ok(())
}

/// Walks the kinds in deletion order, issuing every deletion whose blockers are gone, so one
/// pass gets as far as AWS lets it (a VPC whose parts all delete at once goes in one pass).
async fn delete_what_can_go(clients: &Clients, cluster: &str, pass: &mut Pass) {
    for kind in ORDER {
        let ready: Vec<usize> = ready_now(&pass.remaining)
            .into_iter()
            .filter(|&i| pass.remaining[i].kind == kind)
            .collect();
        if ready.is_empty() {
            continue;
        }
        if kind == Kind::SecurityGroup {
            let groups: Vec<String> = ready
                .iter()
                .map(|&i| pass.remaining[i].id.clone())
                .collect();
            delete::revoke_rules(clients, &groups).await;
        }
        let mut gone = vec![];
        for i in ready {
            let found = &mut pass.remaining[i];
            let attempt = delete::delete(clients, cluster, found).await;
            match &attempt {
                Attempt::Gone => gone.push(i),
                Attempt::Started => found.deleting = true,
                Attempt::Later { code } => {
                    info!(kind = %found.kind, id = %found.id, code, "not deletable yet")
                }
                Attempt::Failed { code, message } => {
                    warn!(kind = %found.kind, id = %found.id, code, message, "deletion refused")
                }
            }
            pass.attempts.push((found.kind, found.id.clone(), attempt));
        }
        for i in gone.into_iter().rev() {
            pass.remaining.remove(i);
        }
    }
}

/// AWS authorizes a call before it looks the resource up. A deletion repeated for a resource
/// that is already gone (the SDK's retry after an answer lost on its way back, when the first
/// call took effect) is refused as access denied wherever the role's policy conditions on the
/// resource's tags, which a resource that does not exist does not have: a condition on a key
/// absent from the request context does not match (IAM User Guide, "Policy evaluation logic"
/// and "Condition keys that are absent"). So refusals are read against the account's listings
/// again before anything is reported as left: what discovery no longer finds is gone, what it
/// finds being deleted was deleted by that first call, and only what is still there, untouched,
/// stays refused. Costs a discovery only in a pass that was refused something.
async fn confirm_refusals(
    clients: &Clients,
    install: &Install,
    pass: &mut Pass,
) -> Result<(), Error> {
    let refused = pass
        .attempts
        .iter()
        .any(|(_, _, attempt)| matches!(attempt, Attempt::Failed { .. }));
    if !refused {
        return Ok(());
    }
    let again = discover(clients, install).await?;
    reconcile_refusals(pass, &again.delete);
    Ok(())
}

/// Each refused deletion read against what discovery finds now (`found_again`): gone, being
/// deleted (started), or still refused.
fn reconcile_refusals(pass: &mut Pass, found_again: &[Found]) {
    for i in 0..pass.attempts.len() {
        let (kind, id, attempt) = &pass.attempts[i];
        if !matches!(attempt, Attempt::Failed { .. }) {
            continue;
        }
        let (kind, id) = (*kind, id.clone());
        let confirmed = match found_again.iter().find(|f| f.kind == kind && f.id == id) {
            None => Attempt::Gone,
            Some(found) if found.deleting => Attempt::Started,
            Some(_) => continue,
        };
        info!(kind = %kind, id = %id, result = ?confirmed, "a refused deletion had taken effect");
        let at = pass
            .remaining
            .iter()
            .position(|f| f.kind == kind && f.id == id);
        match (&confirmed, at) {
            (Attempt::Gone, Some(at)) => {
                pass.remaining.remove(at);
            }
            (_, Some(at)) => pass.remaining[at].deleting = true,
            (_, None) => {}
        }
        pass.attempts[i].2 = confirmed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use byoc_domain::deletion_order::Reason;

    fn refused() -> Attempt {
        Attempt::Failed {
            code: "AccessDeniedException".into(),
            message: "no statement allows eks:DeleteNodegroup".into(),
        }
    }

    #[test]
    fn a_refusal_of_what_is_gone_or_being_deleted_is_not_reported_as_left() {
        let gone = Found::new(Kind::Subnet, "subnet-1", Reason::InstallTag);
        let deleting = Found::new(Kind::Nodegroup, "nodes", Reason::InstallTag);
        let refused_for_good = Found::new(Kind::Volume, "vol-1", Reason::InstallTag);
        let mut pass = Pass {
            found: vec![gone.clone(), deleting.clone(), refused_for_good.clone()],
            remaining: vec![gone.clone(), deleting.clone(), refused_for_good.clone()],
            attempts: vec![
                (Kind::Subnet, "subnet-1".into(), refused()),
                (Kind::Nodegroup, "nodes".into(), refused()),
                (Kind::Volume, "vol-1".into(), refused()),
            ],
            ..Default::default()
        };
        let found_again = [deleting.clone().deleting(true), refused_for_good.clone()];
        reconcile_refusals(&mut pass, &found_again);
        assert_eq!(pass.attempts[0].2, Attempt::Gone);
        assert_eq!(pass.attempts[1].2, Attempt::Started);
        assert_eq!(pass.attempts[2].2, refused());
        let left: Vec<(&str, bool)> = pass
            .remaining
            .iter()
            .map(|f| (f.id.as_str(), f.deleting))
            .collect();
        assert_eq!(left, [("nodes", true), ("vol-1", false)]);

        pass.settle("us-east-1", "byoc-inst-a");
        let leftovers: Vec<&str> = pass.leftovers.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(
            leftovers,
            ["vol-1"],
            "only the refusal still standing is left"
        );
        assert!(!pass.done(), "the node group's deletion is waited for");
    }
}
