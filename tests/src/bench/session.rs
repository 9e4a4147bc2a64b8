//! The bench's hold on the deployed local stack: the vendor's API, its own reads (signed so
//! the call counts can leave them out), tenants with access stacks in fresh accounts, installs
//! started and followed to their "ready" email.

use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

use super::function_logs::FunctionLogs;
use super::history::History;
use super::recording::{observer, Recorder};
use crate::{random_account_id, random_tenant_id, Api, Inbox, LocalStack};

pub struct Session {
    pub stack: LocalStack,
    /// The same stack, for the bench's own reads (see `recording::OBSERVER_KEY`).
    pub observer: LocalStack,
    pub api: Api,
    pub recorder: Recorder,
    pub logs: FunctionLogs,
}

/// A tenant with its access stack in each of `accounts`, and its inbox.
pub struct Place {
    pub tenant_id: String,
    pub accounts: Vec<String>,
    pub inbox: Inbox,
}

pub struct Started {
    pub install_id: String,
    pub execution_arn: String,
    /// When the request was sent.
    pub at: Instant,
    pub wall: SystemTime,
    /// POST /installs round trip, seconds.
    pub latency: f64,
}

/// How long an install may take here before the bench gives up on it.
pub const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

impl Session {
    pub async fn connect() -> Result<Self, String> {
        let stack = LocalStack::connect().await?;
        Ok(Self {
            observer: observer(&stack),
            api: Api::new(&stack),
            recorder: Recorder::new(&stack),
            logs: FunctionLogs::new(&stack),
            stack,
        })
    }

    pub async fn place(&self, prefix: &str, accounts: usize) -> Result<Place, String> {
        let tenant_id = random_tenant_id(prefix);
        let created = self.api.post("/tenants", &json!({"tenant_id": tenant_id, "name": "Bench Customer", "email": "ops@bench.example"})).await?;
        if created.status != 201 {
            return Err(format!(
                "POST /tenants answered {}: {}",
                created.status, created.text
            ));
        }
        let external_id = created.json["external_id"]
            .as_str()
            .ok_or("POST /tenants answered no external_id")?
            .to_owned();
        let inbox = Inbox::for_tenant(&self.observer, &tenant_id).await?;
        let accounts: Vec<String> = (0..accounts).map(|_| random_account_id()).collect();
        // A few at a time: CloudFormation on the emulator shares its 2 cores with everything.
        for chunk in accounts.chunks(8) {
            let tasks: Vec<_> = chunk
                .iter()
                .map(|account| {
                    let customer = self.observer.customer(account);
                    let (vendor, external_id) = (
                        self.stack.outputs.vendor_account_id.clone(),
                        external_id.clone(),
                    );
                    tokio::spawn(async move {
                        customer.create_access_stack(&vendor, &external_id).await
                    })
                })
                .collect();
            for task in tasks {
                task.await
                    .map_err(|e| format!("access stack task: {e}"))??;
            }
        }
        Ok(Place {
            tenant_id,
            accounts,
            inbox,
        })
    }

    /// `POST /installs` into `account` with `options`.
    pub async fn start(
        &self,
        tenant_id: &str,
        account: &str,
        options: &Value,
    ) -> Result<Started, String> {
        let body = json!({"tenant_id": tenant_id, "account_id": account, "region": self.stack.outputs.region, "options": options});
        let (at, wall) = (Instant::now(), SystemTime::now());
        let accepted = self.api.post("/installs", &body).await?;
        let latency = at.elapsed().as_secs_f64();
        if accepted.status != 202 {
            return Err(format!(
                "POST /installs answered {}: {}",
                accepted.status, accepted.text
            ));
        }
        let field = |name: &str| {
            accepted.json[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("POST /installs answered no {name}: {}", accepted.text))
        };
        Ok(Started {
            install_id: field("install_id")?,
            execution_arn: field("execution_arn")?,
            at,
            wall,
            latency,
        })
    }

    /// Waits for the `notice` email (`ready`, `failed`, ...) of `install_id`; when it arrived.
    pub async fn email(
        &self,
        inbox: &Inbox,
        install_id: &str,
        notice: &str,
        timeout: Duration,
    ) -> Result<(Instant, SystemTime), String> {
        let start = Instant::now();
        let wanted = [
            format!("install_id={install_id}"),
            format!("notice={notice}"),
        ];
        while start.elapsed() < timeout {
            let emails = inbox
                .wait_for(1, timeout.saturating_sub(start.elapsed()))
                .await?;
            if emails
                .iter()
                .any(|e| wanted.iter().all(|w| e.attributes.contains(w)))
            {
                return Ok((Instant::now(), SystemTime::now()));
            }
        }
        Err(format!(
            "no {notice} email for install {install_id} within {timeout:?}"
        ))
    }

    /// The install's execution, once it has ended.
    pub async fn finished(&self, execution_arn: &str) -> Result<(String, History), String> {
        let status = self
            .observer
            .wait_for_execution(execution_arn, INSTALL_TIMEOUT)
            .await?;
        Ok((
            status,
            History::fetch(&self.observer.sfn(), execution_arn).await?,
        ))
    }

    /// The emulator process's resident memory (GB), if it can be read.
    pub fn emulator_rss_gb(&self) -> Option<f64> {
        let env = std::fs::read_to_string(self.stack.dir.join("stack.env")).ok()?;
        let pid = env
            .lines()
            .find_map(|l| l.strip_prefix("BYOC_LOCAL_PID="))?
            .trim()
            .to_owned();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb / 1024.0 / 1024.0)
    }

    /// GET /installs/{id}.
    pub async fn record(&self, install_id: &str) -> Result<Value, String> {
        let found = self.api.get(&format!("/installs/{install_id}")).await?;
        if found.status != 200 {
            return Err(format!(
                "GET /installs/{install_id} answered {}: {}",
                found.status, found.text
            ));
        }
        Ok(found.json)
    }
}

/// The machine's memory, GB (0 when unknown).
pub fn machine_memory_gb() -> f64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0)
}
