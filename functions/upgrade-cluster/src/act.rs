//! Starting one update: UpdateClusterVersion, UpdateNodegroupVersion or UpdateAddon
//! (`resolveConflicts` PRESERVE: settings the customer or the vendor changed on an add-on are
//! kept, as the EKS User Guide advises for updates, "Update an Amazon EKS add-on",
//! https://docs.aws.amazon.com/eks/latest/userguide/updating-an-add-on.html).
//!
//! Each call carries a client request token made from the install, the attempt and the part
//! and hop, so a call repeated after a crash gets the same update back instead of a second
//! one, while a retry of a failed upgrade (the next attempt) may start it again.

use aws_sdk_eks::error::ProvideErrorMetadata;
use aws_sdk_eks::types::{ResolveConflicts, Update};
use aws_sdk_eks::Client;
use byoc_domain::model::Install;
use byoc_domain::upgrade::{Finding, MinorVersion, Part, UpdateRef, UpgradeRecord};

use crate::error::{aws, UpgradeError};

pub enum Started {
    Update(UpdateRef),
    /// EKS is busy with another update of the same thing (ResourceInUseException).
    Busy,
    /// EKS refused the update; the finding carries its words.
    Refused(Finding),
}

/// FNV-1a: a stable hash (unlike std's, which may change between releases), so the token of
/// an update is the same in every version of this function.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

pub fn token(install: &Install, attempt: u32, key: &str) -> String {
    format!("{}-{attempt}-{:016x}", install.install_id, fnv1a(key))
}

pub async fn start(
    eks: &Client,
    install: &Install,
    cluster: &str,
    record: &UpgradeRecord,
    part: &Part,
    hop: MinorVersion,
    version: &str,
) -> Result<Started, UpgradeError> {
    let token = token(install, record.attempt, &part.update_key(hop));
    let sent = match part {
        Part::ControlPlane => eks
            .update_cluster_version()
            .name(cluster)
            .version(version)
            .force(record.force)
            .client_request_token(token)
            .send()
            .await
            .map(|out| out.update().cloned())
            .map_err(refusal),
        Part::NodeGroup(name) => eks
            .update_nodegroup_version()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .version(version)
            .force(record.force)
            .client_request_token(token)
            .send()
            .await
            .map(|out| out.update().cloned())
            .map_err(refusal),
        Part::Addon(name) => eks
            .update_addon()
            .cluster_name(cluster)
            .addon_name(name)
            .addon_version(version)
            .resolve_conflicts(ResolveConflicts::Preserve)
            .client_request_token(token)
            .send()
            .await
            .map(|out| out.update().cloned())
            .map_err(refusal),
    };
    match sent {
        Ok(Some(update)) => Ok(Started::Update(reference(&update, part))),
        Ok(None) => Err(UpgradeError::Failed(format!(
            "EKS answered the update of {} without an update",
            part.describe()
        ))),
        Err((code, _, _)) if code == "ResourceInUseException" => Ok(Started::Busy),
        Err((code, message, _))
            if matches!(
                code.as_str(),
                // InvalidStateException: EKS's own upgrade-readiness check (insights in ERROR
                // without `force`).
                "InvalidRequestException" | "InvalidParameterException" | "InvalidStateException"
            ) =>
        {
            Ok(Started::Refused(Finding {
                check: match part {
                    Part::ControlPlane => "cluster_update",
                    Part::NodeGroup(_) => "nodegroup_update",
                    Part::Addon(_) => "addon_update",
                }
                .into(),
                blocking: true,
                message: format!(
                    "EKS refused to update {} to {version}: {code}: {message}",
                    part.describe()
                ),
                advice: format!(
                    "fix what EKS names, then retry the upgrade (POST /installs/{}/retry)",
                    install.install_id
                ),
            }))
        }
        // The customer's AllowChanges switch closed since the preflight (an end time passed),
        // the stack predates upgrades (template version 6 allows these calls), or its role was
        // changed: the customer has to act, retrying alone will not help.
        Err((code, message, _)) if code == "AccessDeniedException" => Ok(Started::Refused(Finding {
            check: "permission".into(),
            blocking: true,
            message: format!(
                "the customer role may not update {}: {code}: {message}",
                part.describe()
            ),
            advice: "ask the customer to allow changes on their byoc-installer access stack (AllowChanges: yes, or a UTC time after the upgrade is done), or to update it from the install link if it is older than template version 6, then retry the upgrade".into(),
        })),
        Err((_, _, err)) => Err(err),
    }
}

/// EKS's error code and message, with the error the step fails with if nothing better fits.
fn refusal<E>(err: E) -> (String, String, UpgradeError)
where
    E: ProvideErrorMetadata + std::error::Error,
{
    let code = err.code().unwrap_or_default().to_owned();
    let message = err.message().unwrap_or_default().to_owned();
    (code, message, aws("EKS", err))
}

fn reference(update: &Update, part: &Part) -> UpdateRef {
    UpdateRef {
        id: update.id().unwrap_or_default().to_owned(),
        node_group: match part {
            Part::NodeGroup(name) => Some(name.clone()),
            _ => None,
        },
        addon: match part {
            Part::Addon(name) => Some(name.clone()),
            _ => None,
        },
        successful: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stable_and_differ_by_attempt_and_part() {
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(
            fnv1a("a"),
            0xaf63_dc4c_8601_ec8c,
            "the published FNV-1a 64 value"
        );
        assert_ne!(fnv1a("control-plane@1.34"), fnv1a("control-plane@1.35"));
    }
}
