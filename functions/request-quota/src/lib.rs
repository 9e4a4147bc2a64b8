//! request-quota: asks AWS, in the customer's account, for the quota increases check-quotas
//! found missing, and on later runs (the state machine's poll) reports how AWS answered.
//! Idempotent: an open request for a quota is reused, never filed twice; request ids and
//! statuses are kept on the install (`step_data.quota_requests`).

mod denial;
mod service_quotas;
pub mod status;

use aws_config::SdkConfig;
use byoc_core::customer_access::CustomerAccess;
use byoc_core::customer_session;
use byoc_core::store::InstallStore;
use byoc_domain::error::NamedError;
use byoc_domain::error_names;
use byoc_domain::ids::{InstallId, TenantId};
use byoc_domain::install_change::Change;
use byoc_domain::model::{Install, Outcome, Step};
use byoc_domain::options::QuotaRequestMode;
use byoc_domain::quota_plan::Deficit;
use byoc_domain::step_input::StepInput;
use byoc_lambda::fault::Fault;
use lambda_runtime::Diagnostic;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::{info, warn};

use status::{overall, state_of, RequestState};

/// Where check-quotas leaves its deficits, and where this step keeps its requests.
pub use byoc_domain::quota_plan::QUOTA_CHECK_KEY;
pub use byoc_domain::step_record::QUOTA_REQUESTS_KEY;
pub const DEFAULT_POLL_SECONDS: u64 = 300;

pub struct Deps {
    pub store: InstallStore,
    pub base: SdkConfig,
    pub access: CustomerAccess,
    /// How long the state machine should wait before the next poll (`QUOTA_POLL_SECONDS`).
    pub poll_seconds: u64,
    /// How long an install waits for AWS in all before it gives up (`QUOTA_MAX_WAIT_SECONDS`).
    pub max_wait_seconds: u64,
    /// Crash points for the crash-safety tests (none outside them).
    pub fault: Fault,
}

/// AWS decides most increases within hours; a request still open after three days needs a
/// person, and an install should not hang on it silently.
pub const DEFAULT_MAX_WAIT_SECONDS: u64 = 3 * 24 * 3600;

/// Ids and the state only; the requests themselves are on the install record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestQuotaOutput {
    pub install_id: InstallId,
    pub tenant_id: TenantId,
    /// `pending` or `approved` (a denial is the `QuotaDenied` error).
    pub status: RequestState,
    pub wait_seconds: u64,
}

/// Who files the increases: the installer (`auto`), or the customer, the installer only
/// watching the applied values rise (`manual`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Auto,
    Manual,
}

fn mode_of(install: &Install) -> Mode {
    match install.options.quota_requests {
        QuotaRequestMode::Auto => Mode::Auto,
        QuotaRequestMode::Manual => Mode::Manual,
    }
}

/// One quota's increase as recorded on the install.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaRequest {
    pub service: String,
    pub quota_code: String,
    pub quota_name: String,
    pub desired_value: u64,
    pub console_url: String,
    /// `None` when nothing was filed (manual mode, or the value was already raised).
    #[serde(default)]
    pub request_id: Option<String>,
    /// The status as AWS names it (`PENDING`, `CASE_OPENED`, `APPROVED`, ...).
    #[serde(default)]
    pub aws_status: Option<String>,
    pub state: RequestState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaRequests {
    pub mode: Mode,
    pub requests: Vec<QuotaRequest>,
    /// When the install started waiting; the bound on the wait counts from here.
    #[serde(default)]
    pub waiting_since: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RequestQuotaError {
    #[error("{0}")]
    QuotaDenied(String),
    /// Still pending after the configured bound.
    #[error("{0}")]
    QuotaWaitExpired(String),
    /// The install has no quota check to act on: the state machine ran the steps out of order.
    #[error("{0}")]
    NotChecked(String),
    #[error(transparent)]
    Core(#[from] byoc_domain::Error),
}

impl NamedError for RequestQuotaError {
    fn error_name(&self) -> &'static str {
        match self {
            RequestQuotaError::QuotaDenied(_) => error_names::QUOTA_DENIED,
            RequestQuotaError::QuotaWaitExpired(_) => error_names::QUOTA_WAIT_EXPIRED,
            RequestQuotaError::NotChecked(_) => error_names::INTERNAL,
            RequestQuotaError::Core(core) => core.error_name(),
        }
    }
}

impl From<RequestQuotaError> for Diagnostic {
    fn from(err: RequestQuotaError) -> Self {
        byoc_lambda::diagnostic(&err)
    }
}

pub(crate) fn aws_error(err: impl std::error::Error) -> RequestQuotaError {
    RequestQuotaError::Core(byoc_domain::Error::aws("Service Quotas", err))
}

#[tracing::instrument(name = "request-quota", skip_all, fields(install_id = %input.install_id, tenant_id = %input.tenant_id))]
pub async fn handle(
    deps: &Deps,
    input: StepInput,
) -> Result<RequestQuotaOutput, RequestQuotaError> {
    let result = run(deps, &input).await;
    match &result {
        Ok(state) => info!(?state, "quota requests checked"),
        Err(err) => warn!(error = %err, "request-quota failed"),
    }
    Ok(RequestQuotaOutput {
        install_id: input.install_id.clone(),
        tenant_id: input.tenant_id.clone(),
        status: result?,
        wait_seconds: deps.poll_seconds,
    })
}

fn stored<T: serde::de::DeserializeOwned>(
    install: &Install,
    key: &str,
    field: &str,
) -> Option<Result<T, serde_json::Error>> {
    install
        .step_data
        .get(key)
        .and_then(|data| data.get(field))
        .map(|value| serde_json::from_value(value.clone()))
}

async fn run(deps: &Deps, input: &StepInput) -> Result<RequestState, RequestQuotaError> {
    let session = customer_session::open(&deps.store, &deps.base, &deps.access, input).await?;
    let install = &session.install;
    let deficits: Vec<Deficit> = match stored(install, QUOTA_CHECK_KEY, "deficits") {
        Some(Ok(deficits)) => deficits,
        Some(Err(err)) => {
            return Err(
                byoc_domain::Error::Corrupt(format!("step_data.{QUOTA_CHECK_KEY}: {err}")).into(),
            )
        }
        None => {
            return Err(RequestQuotaError::NotChecked(format!(
                "install {} has no quota check; run check-quotas first",
                install.install_id
            )))
        }
    };
    // Unreadable earlier records only cost a lookup: open requests are found by listing.
    let previous: Vec<QuotaRequest> = stored(install, QUOTA_REQUESTS_KEY, "requests")
        .and_then(Result::ok)
        .unwrap_or_default();
    let now = chrono::Utc::now();
    let waiting_since = stored(install, QUOTA_REQUESTS_KEY, "waiting_since")
        .and_then(Result::ok)
        .unwrap_or(now);
    let mode = mode_of(install);
    if install.current_step != Some(Step::RequestQuota) {
        let started = Change::new(
            Step::RequestQuota,
            Outcome::Started,
            format!(
                "{} quota increase(s) needed ({mode:?} mode)",
                deficits.len()
            ),
        );
        deps.store.record(&install.install_id, started).await?;
    }

    let quotas = aws_sdk_servicequotas::Client::new(&session.config);
    let mut requests = Vec::with_capacity(deficits.len());
    for deficit in &deficits {
        let earlier = previous.iter().find(|p| {
            p.quota_code == deficit.quota_code && p.desired_value == deficit.request_value
        });
        requests.push(resolve(&quotas, mode, deficit, earlier, &deps.fault).await?);
    }
    let state = overall(requests.iter().map(|r| r.state));

    // Record only what changed: a poll every few minutes for days must not flood the timeline.
    if requests != previous {
        let (outcome, message) = summary(state, &requests);
        let data = json!(QuotaRequests {
            mode,
            requests: requests.clone(),
            waiting_since: Some(waiting_since)
        });
        deps.store
            .record(
                &install.install_id,
                Change::new(Step::RequestQuota, outcome, message).data(QUOTA_REQUESTS_KEY, data),
            )
            .await?;
    }
    if state == RequestState::Denied {
        let denied: Vec<&QuotaRequest> = requests
            .iter()
            .filter(|r| r.state == RequestState::Denied)
            .collect();
        return Err(RequestQuotaError::QuotaDenied(denial::message(&denied)));
    }
    let waited = (now - waiting_since).num_seconds().max(0) as u64;
    if state == RequestState::Pending && waited > deps.max_wait_seconds {
        let pending: Vec<String> = requests
            .iter()
            .filter(|r| r.state == RequestState::Pending)
            .map(|r| {
                format!(
                    "{} ({} {}): {}",
                    r.quota_name, r.service, r.quota_code, r.console_url
                )
            })
            .collect();
        let message = format!(
            "AWS has not decided these quota increases after {} hours: {}",
            waited / 3600,
            pending.join("; ")
        );
        let change = Change::new(Step::RequestQuota, Outcome::Failed, message.clone());
        deps.store.record(&install.install_id, change).await?;
        return Err(RequestQuotaError::QuotaWaitExpired(message));
    }
    Ok(state)
}

/// Where one deficit's increase stands, filing it when nothing covers it yet.
async fn resolve(
    quotas: &aws_sdk_servicequotas::Client,
    mode: Mode,
    deficit: &Deficit,
    earlier: Option<&QuotaRequest>,
    fault: &Fault,
) -> Result<QuotaRequest, RequestQuotaError> {
    let mut record = QuotaRequest {
        service: deficit.service.clone(),
        quota_code: deficit.quota_code.clone(),
        quota_name: deficit.quota_name.clone(),
        desired_value: deficit.request_value,
        console_url: deficit.console_url.clone(),
        request_id: earlier.and_then(|e| e.request_id.clone()),
        aws_status: earlier.and_then(|e| e.aws_status.clone()),
        state: RequestState::Pending,
    };
    let applied = service_quotas::applied_value(quotas, deficit).await?;
    let raised = applied.is_some_and(|v| v >= deficit.request_value as f64);
    // Raised by whatever means (our request, the customer, support): nothing left to ask.
    if raised {
        record.state = RequestState::Approved;
        return Ok(record);
    }
    if mode == Mode::Manual {
        return Ok(record);
    }
    let known = match &record.request_id {
        Some(id) => service_quotas::request(quotas, id).await?,
        None => None,
    };
    let change = match known {
        Some(change) => change,
        None => match service_quotas::open_request(quotas, deficit).await? {
            Some(open) => open,
            None => {
                let filed = service_quotas::file(quotas, deficit).await?;
                // Unrecorded: the next run finds the request open and adopts it.
                fault.point("quota-request");
                filed
            }
        },
    };
    let status = change
        .status()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|| "PENDING".into());
    record.request_id = change.id().map(str::to_owned);
    record.state = state_of(&status, raised);
    record.aws_status = Some(status);
    Ok(record)
}

fn summary(state: RequestState, requests: &[QuotaRequest]) -> (Outcome, String) {
    let listed: Vec<String> = requests
        .iter()
        .map(|r| {
            let request = r
                .request_id
                .as_deref()
                .map(|id| format!("request {id}, "))
                .unwrap_or_default();
            format!(
                "{} ({} {}) to {}: {request}{}",
                r.quota_name,
                r.service,
                r.quota_code,
                r.desired_value,
                r.aws_status.as_deref().unwrap_or("not filed")
            )
        })
        .collect();
    match state {
        RequestState::Approved => (
            Outcome::Succeeded,
            format!("quota increases in place: {}", listed.join("; ")),
        ),
        RequestState::Pending => (
            Outcome::Waiting,
            format!("waiting for AWS on quota increases: {}", listed.join("; ")),
        ),
        RequestState::Denied => (
            Outcome::Failed,
            format!("quota increases denied: {}", listed.join("; ")),
        ),
    }
}
