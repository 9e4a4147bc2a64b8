//! The pass engine, shared by the state machine's passes and the scheduled run: what discovery
//! found becomes a [`Pass`], and the deletions whose blockers are gone are issued in
//! dependency order. Deciding whether to delete at all, and recording, is the callers' part.

use byoc_domain::deletion_order::{ready_now, Kind, ORDER};
use tracing::{info, warn};

use crate::attempt::Attempt;
use crate::clients::Clients;
use crate::delete;
use crate::discover::Discovery;
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

/// Walks the kinds in deletion order, issuing every deletion whose blockers are gone, so one
/// pass gets as far as AWS lets it (a VPC whose parts all delete at once goes in one pass).
pub(crate) async fn delete_what_can_go(clients: &Clients, cluster: &str, pass: &mut Pass) {
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
