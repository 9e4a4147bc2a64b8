//! validate-trust: proves the installer can act in the customer's account before anything is
//! made there. It assumes the customer role with the tenant's External ID, checks whose
//! account that lands in, refuses an unsafe trust policy, and reads the customer stack's
//! outputs (the roles later steps hand to EKS) onto the install record. On an EventBridge
//! schedule it checks the trust of every ready install again (`scheduled`).

pub mod event;
pub mod scheduled;

use aws_config::SdkConfig;
use aws_sdk_cloudformation::types::StackStatus;
use byoc_core::customer_access::{
    assume_customer_role, session_identity, AssumeRoleError, CustomerAccess,
};
use byoc_core::customer_session;
use byoc_core::customer_stack::{self, Described, VendorAccess};
use byoc_core::fleet::FleetSettings;
use byoc_core::schedule::ScheduleSettings;
use byoc_core::store::InstallStore;
use byoc_core::vendor_access;
use byoc_domain::error::NamedError;
use byoc_domain::error_names;
use byoc_domain::ids::AccountId;
use byoc_domain::install_change::Change;
use byoc_domain::model::{Install, InstallStatus, Outcome, Step};
use byoc_domain::step_input::StepInput;
use byoc_domain::trust_policy;
use lambda_runtime::Diagnostic;
use serde::Serialize;
use tracing::{info, warn};

pub struct Deps {
    pub store: InstallStore,
    /// The vendor-account config the function runs with; customer configs derive from it.
    pub base: SdkConfig,
    pub access: CustomerAccess,
    pub vendor_account: AccountId,
    /// The customer topic and the vendor's name, for the scheduled check's emails.
    pub sns: aws_sdk_sns::Client,
    pub topic_arn: String,
    pub vendor_name: String,
    pub schedule: ScheduleSettings,
    /// The trust check's queue: a scheduled run sends the ready installs there.
    pub sqs: aws_sdk_sqs::Client,
    pub fleet: FleetSettings,
}

/// What a call answers: the step's input back to the state machine, a scheduled run's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TrustResponse {
    Install(StepInput),
    Scheduled(scheduled::ScheduledReport),
    Queue(aws_lambda_events::event::sqs::SqsBatchResponse),
}

/// The stack outputs the installer needs, by output key, and the resource name it records.
const REQUIRED_OUTPUTS: [(&str, &str); 4] = [
    ("RoleArn", "customer_role_arn"),
    ("ClusterRoleArn", "cluster_role_arn"),
    ("NodeRoleArn", "node_role_arn"),
    (
        "EbsCsiDriverRoleArn",
        byoc_domain::controller_tags::EBS_CSI_ROLE_KEY,
    ),
];

/// Outputs of later template versions that an install can do without: recorded when there.
/// A stack without the Load Balancer Controller's role (version 4) still installs; the
/// install record then offers the controller's values without a role.
const OPTIONAL_OUTPUTS: [(&str, &str); 1] = [(
    "LoadBalancerControllerRoleArn",
    byoc_domain::controller_tags::LOAD_BALANCER_CONTROLLER_ROLE_KEY,
)];

#[derive(Debug, thiserror::Error)]
pub enum ValidateTrustError {
    /// Not there yet (the customer is still creating the stack): the state machine waits and
    /// tries again, for a bounded time.
    #[error("{0}")]
    NotReady(String),
    /// There, but wrong: waiting will not fix it, the customer must.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Core(#[from] byoc_domain::Error),
}

impl NamedError for ValidateTrustError {
    fn error_name(&self) -> &'static str {
        match self {
            ValidateTrustError::NotReady(_) => error_names::TRUST_NOT_READY,
            ValidateTrustError::Invalid(_) => error_names::TRUST_INVALID,
            ValidateTrustError::Core(core) => core.error_name(),
        }
    }
}

impl From<ValidateTrustError> for Diagnostic {
    fn from(err: ValidateTrustError) -> Self {
        byoc_lambda::diagnostic(&err)
    }
}

fn aws_error(service: &'static str, err: impl std::error::Error) -> ValidateTrustError {
    ValidateTrustError::Core(byoc_domain::Error::aws(service, err))
}

/// One install's validation, or a scheduled run over the ready installs that must be done by
/// `deadline`.
pub async fn handle(
    deps: &Deps,
    event: event::TrustEvent,
    deadline: std::time::Instant,
) -> Result<TrustResponse, ValidateTrustError> {
    match event {
        event::TrustEvent::Install(input) => handle_install(deps, input)
            .await
            .map(TrustResponse::Install),
        event::TrustEvent::Scheduled(event) => scheduled::run(deps, &event, deadline)
            .await
            .map(TrustResponse::Scheduled),
        event::TrustEvent::Queue(batch) => Ok(TrustResponse::Queue(
            scheduled::work(deps, batch, deadline).await,
        )),
    }
}

#[tracing::instrument(name = "validate-trust", skip_all, fields(install_id = %input.install_id, tenant_id = %input.tenant_id))]
async fn handle_install(deps: &Deps, input: StepInput) -> Result<StepInput, ValidateTrustError> {
    let result = validate(deps, &input).await;
    match &result {
        Ok(()) => info!("trust validated"),
        Err(ValidateTrustError::NotReady(message)) => {
            info!(%message, "trust not ready yet");
            deps.store
                .record(
                    &input.install_id,
                    Change::new(Step::ValidateTrust, Outcome::Waiting, message.clone()),
                )
                .await?;
        }
        Err(ValidateTrustError::Invalid(message)) => {
            warn!(%message, "trust invalid");
            deps.store
                .record(
                    &input.install_id,
                    Change::new(Step::ValidateTrust, Outcome::Failed, message.clone()),
                )
                .await?;
        }
        Err(err) => warn!(error = %err, "validate-trust failed"),
    }
    result.map(|()| input.clone())
}

async fn validate(deps: &Deps, input: &StepInput) -> Result<(), ValidateTrustError> {
    let install = deps.store.get_install(&input.install_id).await?;
    if install.tenant_id != input.tenant_id {
        return Err(byoc_domain::Error::InstallNotFound(input.install_id.clone()).into());
    }
    let tenant = deps.store.get_tenant(&install.tenant_id).await?;
    if install.status == InstallStatus::Pending || install.current_step != Some(Step::ValidateTrust)
    {
        let change = Change::new(
            Step::ValidateTrust,
            Outcome::Started,
            format!("checking access to account {}", install.account_id),
        );
        deps.store
            .record(&install.install_id, change.status(InstallStatus::Running))
            .await?;
    }

    let stack = match enter(deps, &install, &tenant.external_id).await? {
        Entry::Entered { stack } => {
            vendor_access::note(&deps.store, install.clone(), VendorAccess::Enabled, "").await?;
            stack
        }
        // The state machine waits for the customer (AccessPaused), longer than for a stack
        // being created; the record says so once ("Access Paused").
        Entry::Paused => {
            let instruction = customer_session::resume_instruction(&deps.access);
            vendor_access::note(&deps.store, install.clone(), VendorAccess::Paused, &instruction).await?;
            return Err(byoc_domain::Error::AccessPaused {
                account: install.account_id.to_string(),
                instruction,
            }
            .into());
        }
        Entry::Denied { role_arn } => {
            return Err(ValidateTrustError::NotReady(format!(
                "could not assume role {role_arn} with this tenant's External ID: the customer's CloudFormation stack \
                 \"{}\" is not created yet (or still being created), or its ExternalId or VendorAccountId parameter \
                 differs from the install link, or a resource control policy of the customer's AWS organization refuses \
                 principals from outside it (a data perimeter: it must list the vendor account {} as trusted)",
                deps.access.stack_name, deps.vendor_account
            )))
        }
        Entry::Unsafe(message) => return Err(ValidateTrustError::Invalid(message)),
    };
    let role_arn = deps.access.role_arn(&install.account_id);
    let stack = complete(deps, stack)?;
    let outputs = &stack.outputs;
    let settings = stack.settings();
    let mut message = format!(
        "access to account {} verified through {role_arn}",
        install.account_id
    );
    if let Some(note) = customer_stack::older_template_note(settings.template_version, &deps.access)
    {
        message.push_str("; ");
        message.push_str(&note);
    }
    let mut change = Change::new(Step::ValidateTrust, Outcome::Succeeded, message);
    for (key, resource) in REQUIRED_OUTPUTS {
        let value = outputs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).ok_or_else(|| {
            ValidateTrustError::Invalid(format!(
                "the customer stack \"{}\" has no {key} output: it was made from an older template; update the stack from the install link",
                deps.access.stack_name
            ))
        })?;
        change = change.resource(resource, value);
    }
    for (key, resource) in OPTIONAL_OUTPUTS {
        if let Some((_, value)) = outputs.iter().find(|(k, _)| k == key) {
            change = change.resource(resource, value.clone());
        }
    }
    if let Some(version) = settings.template_version {
        change = change.resource("customer_stack_version", version.to_string());
    }
    deps.store
        .record(
            &install.install_id,
            change.resource("customer_stack", deps.access.stack_name.clone()),
        )
        .await?;
    Ok(())
}

/// What assuming the install's customer role and reading its trust policy found.
pub(crate) enum Entry {
    /// In, through a role that trusts only the vendor and requires the External ID; the
    /// customer stack as it is (None: not there, or not readable yet).
    Entered { stack: Option<Described> },
    /// In, but the customer paused the vendor's access on their stack.
    Paused,
    /// AWS refused: the role is missing, or does not trust the vendor with this External ID
    /// (AWS does not say which).
    Denied { role_arn: String },
    /// In, but through a role that is not safe to use: what the customer should change.
    Unsafe(String),
}

/// Assumes the install's customer role with the tenant's External ID, checks whose account
/// that lands in, and assesses the role's trust policy.
pub(crate) async fn enter(
    deps: &Deps,
    install: &Install,
    external_id: &byoc_domain::external_id::ExternalId,
) -> Result<Entry, ValidateTrustError> {
    let role_arn = deps.access.role_arn(&install.account_id);
    let customer = match assume_customer_role(
        &deps.base,
        &role_arn,
        external_id,
        &session_identity(install),
        &install.region,
    )
    .await
    {
        Ok(config) => config,
        Err(AssumeRoleError::Denied { role_arn }) => return Ok(Entry::Denied { role_arn }),
        Err(AssumeRoleError::Other(err)) => return Err(err.into()),
    };

    // In the stack's region: an opt-in install region the account has not enabled refuses
    // every call, and check-quotas says so as a finding with how to enable it.
    let identity = aws_sdk_sts::Client::new(&deps.access.in_stack_region(&customer))
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| aws_error("STS", e))?;
    let landed_in = identity.account().unwrap_or_default();
    if landed_in != install.account_id.as_str() {
        return Ok(Entry::Unsafe(format!(
            "role {role_arn} leads into account {landed_in}, not the install's account {}; check the account id of the install",
            install.account_id
        )));
    }

    let role = aws_sdk_iam::Client::new(&customer)
        .get_role()
        .role_name(&deps.access.role_name)
        .send()
        .await
        .map_err(|e| aws_error("IAM", e))?;
    let document = role
        .role()
        .and_then(|r| r.assume_role_policy_document())
        .unwrap_or_default();
    let problems = trust_policy::assess(document, deps.vendor_account.as_str());
    if !problems.is_empty() {
        let fixes: Vec<String> = problems
            .iter()
            .map(|p| p.fix(deps.vendor_account.as_str()))
            .collect();
        return Ok(Entry::Unsafe(format!(
            "role {role_arn} is not safe to use: {}",
            fixes.join("; ")
        )));
    }
    let stack = customer_stack::describe(&customer, &deps.access).await?;
    if stack.as_ref().is_some_and(|s| s.settings().paused()) {
        return Ok(Entry::Paused);
    }
    Ok(Entry::Entered { stack })
}

/// The customer stack, once it is complete.
fn complete(deps: &Deps, stack: Option<Described>) -> Result<Described, ValidateTrustError> {
    let stack_name = &deps.access.stack_name;
    let Some(stack) = stack else {
        return Err(ValidateTrustError::NotReady(format!(
            "the customer stack \"{stack_name}\" does not exist in {}; create it from the install link",
            deps.access.stack_region
        )));
    };
    match &stack.status {
        StackStatus::CreateComplete | StackStatus::UpdateComplete => Ok(stack),
        status @ (StackStatus::CreateInProgress
        | StackStatus::UpdateInProgress
        | StackStatus::UpdateCompleteCleanupInProgress) => Err(ValidateTrustError::NotReady(format!(
            "the customer stack \"{stack_name}\" is {status}; waiting for it to complete"
        ))),
        status => Err(ValidateTrustError::Invalid(format!(
            "the customer stack \"{stack_name}\" is {}; delete it and create it again from the install link",
            status.as_str()
        ))),
    }
}
