//! Starting the upgrade state machine for a ready install: the install moves to `upgrading`
//! (a `request` entry on its timeline with the upgrade record), then the execution starts; if
//! Step Functions refuses, the install is put back to `ready` with the upgrade failed, so
//! nothing claims an upgrade that never ran. Used by `POST /installs/{id}/upgrade`, the retry
//! of a failed upgrade, and the scheduled version check's `auto_upgrade`.

use byoc_domain::error_names;
use byoc_domain::step_record::StepRecord;
use chrono::Utc;

use crate::aws::executions::{start_or_undo, Execution};
use crate::store::InstallStore;
use byoc_domain::error::{Error, Result};
use byoc_domain::install_change::Change;
use byoc_domain::model::{Install, InstallError, InstallStatus, Outcome, Step};
use byoc_domain::retry_plan::execution_arn;
use byoc_domain::step_input::StepInput;
use byoc_domain::upgrade::{
    execution_name, MinorVersion, UpgradeRecord, UpgradeState, UPGRADE_KEY,
};

pub struct UpgradeLauncher<'a> {
    pub store: &'a InstallStore,
    pub sfn: &'a aws_sdk_sfn::Client,
    pub state_machine_arn: &'a str,
}

/// What is asked of the upgrade.
pub struct UpgradeOrder {
    /// The target; `None`: the newest version in standard support, decided by the preflight.
    pub requested: Option<MinorVersion>,
    pub force: bool,
    pub attempt: u32,
    /// The timeline entry's message (who asked, for what).
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launched {
    Started {
        execution_arn: String,
    },
    /// Another request moved the install first: its upgrade runs.
    Running {
        execution_arn: String,
    },
    /// The install changed meanwhile (no longer ready) and no upgrade of it runs.
    Changed,
}

impl UpgradeLauncher<'_> {
    /// The execution of the upgrade recorded on `install`, when one was started.
    pub fn running(&self, install: &Install) -> Option<String> {
        let name = UpgradeRecord::of(install)?.execution_name?;
        execution_arn(self.state_machine_arn, &name)
    }

    pub async fn start(&self, install: &Install, order: UpgradeOrder) -> Result<Launched> {
        let install_id = &install.install_id;
        let mut record =
            UpgradeRecord::requested(order.requested, order.force, Utc::now(), order.attempt);
        let name = execution_name(install, install.version);
        record.execution_name = Some(name.clone());
        // A `request` entry, as every operation on an install starts (the CLI's timeline
        // splits operations there).
        let requested = Change::new(Step::Request, Outcome::Succeeded, order.message)
            .status(InstallStatus::Upgrading)
            .only_from(InstallStatus::Ready)
            .data(UPGRADE_KEY, record.to_value());
        let upgrading = match self.store.record(install_id, requested).await {
            Ok(upgrading) => upgrading,
            Err(Error::InvalidTransition { .. }) => {
                let now = self.store.get_install(install_id).await?;
                return Ok(match now.status {
                    InstallStatus::Upgrading => self
                        .running(&now)
                        .map_or(Launched::Changed, |execution_arn| Launched::Running {
                            execution_arn,
                        }),
                    _ => Launched::Changed,
                });
            }
            Err(err) => return Err(err),
        };
        record.state = UpgradeState::Failed;
        let undo = Change::new(
            Step::UpgradeCluster,
            Outcome::Failed,
            "the upgrade state machine could not be started",
        )
        .status(InstallStatus::Ready)
        .only_from(InstallStatus::Upgrading)
        .data(UPGRADE_KEY, record.to_value())
        .error(InstallError {
            step: Step::UpgradeCluster,
            code: error_names::START_FAILED.into(),
            message: "the upgrade could not be started; ask again".into(),
        });
        let input = StepInput {
            install_id: install_id.clone(),
            tenant_id: upgrading.tenant_id.clone(),
        };
        let execution_arn = start_or_undo(
            self.sfn,
            self.store,
            install_id,
            Execution {
                state_machine_arn: self.state_machine_arn,
                name: &name,
                input: &input,
            },
            undo,
        )
        .await?;
        tracing::info!(install_id = %install_id, execution = %name, "upgrade started");
        Ok(Launched::Started { execution_arn })
    }
}
