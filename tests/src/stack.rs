//! The deployed local stack (its endpoint and outputs), and a customer account on it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use serde::Deserialize;

use crate::account_header::AccountHeader;

/// `infra/deploy.py`'s outputs.
#[derive(Debug, Clone, Deserialize)]
pub struct Outputs {
    pub api_url: String,
    pub region: String,
    pub vendor_account_id: String,
    pub table_name: String,
    pub topic_arn: String,
    pub install_state_machine_arn: String,
    pub customer_template_url: String,
    pub customer_role_name: String,
    pub customer_stack_name: String,
    /// Function names by the step they run (`validate-trust` → `byoc-validate-trust`).
    #[serde(default)]
    pub functions: std::collections::BTreeMap<String, String>,
    /// The bus `byoc.install` events are published to (absent from older deployments).
    #[serde(default)]
    pub event_bus_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct LocalStack {
    pub endpoint: String,
    pub outputs: Outputs,
    pub config: SdkConfig,
    pub dir: PathBuf,
}

fn state_dir() -> PathBuf {
    std::env::var_os("BYOC_LOCAL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(".local")
        })
}

fn read(path: &PathBuf) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| {
        format!("{}: {e}. Start and deploy the local stack first: infra/test does it all, or infra/local/up then infra/deploy-local", path.display())
    })
}

impl LocalStack {
    /// Reads the running stack's endpoint (`stack.env`) and deployment (`outputs.json`).
    pub async fn connect() -> Result<Self, String> {
        let dir = state_dir();
        let env = read(&dir.join("stack.env"))?;
        let endpoint = env
            .lines()
            .find_map(|line| line.strip_prefix("AWS_ENDPOINT_URL="))
            .ok_or("stack.env has no AWS_ENDPOINT_URL")?
            .trim()
            .to_owned();
        let outputs: Outputs = serde_json::from_str(&read(&dir.join("outputs.json"))?)
            .map_err(|e| format!("outputs.json: {e}"))?;
        let config = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&endpoint)
            .region(Region::new(outputs.region.clone()))
            .credentials_provider(Credentials::new("test", "test", None, None, "byoc-e2e"))
            .load()
            .await;
        Ok(Self {
            endpoint,
            outputs,
            config,
            dir,
        })
    }

    pub fn customer(&self, account_id: &str) -> Customer {
        Customer {
            account_id: account_id.to_owned(),
            stack: self.clone(),
        }
    }

    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.config)
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.config)
    }

    /// Waits for an execution to leave RUNNING and returns its final status.
    pub async fn wait_for_execution(&self, arn: &str, timeout: Duration) -> Result<String, String> {
        let start = Instant::now();
        loop {
            let out = self
                .sfn()
                .describe_execution()
                .execution_arn(arn)
                .send()
                .await
                .map_err(|e| format!("DescribeExecution: {e:?}"))?;
            let status = out.status().as_str().to_owned();
            if status != "RUNNING" {
                return Ok(status);
            }
            if start.elapsed() > timeout {
                return Err(format!("execution {arn} still RUNNING after {timeout:?}"));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Every input, output, error and cause in the execution's history, one per line, for
    /// checks that read what the console would show. (The SDK's Debug redacts these fields,
    /// so they are pulled out one by one.)
    pub async fn execution_history_text(&self, arn: &str) -> Result<String, String> {
        let out = self
            .sfn()
            .get_execution_history()
            .execution_arn(arn)
            .max_results(1000)
            .send()
            .await
            .map_err(|e| format!("GetExecutionHistory: {e:?}"))?;
        let mut lines = Vec::new();
        for event in out.events() {
            let mut push = |text: Option<&str>| lines.extend(text.map(str::to_owned));
            if let Some(d) = event.execution_started_event_details() {
                push(d.input());
            }
            if let Some(d) = event.execution_succeeded_event_details() {
                push(d.output());
            }
            if let Some(d) = event.execution_failed_event_details() {
                push(d.error());
                push(d.cause());
            }
            if let Some(d) = event.state_entered_event_details() {
                push(d.input());
            }
            if let Some(d) = event.state_exited_event_details() {
                push(d.output());
            }
            if let Some(d) = event.lambda_function_scheduled_event_details() {
                push(d.input());
            }
            if let Some(d) = event.lambda_function_succeeded_event_details() {
                push(d.output());
            }
            if let Some(d) = event.lambda_function_failed_event_details() {
                push(d.error());
                push(d.cause());
            }
            if let Some(d) = event.task_scheduled_event_details() {
                push(Some(d.parameters()));
            }
            if let Some(d) = event.task_succeeded_event_details() {
                push(d.output());
            }
            if let Some(d) = event.task_failed_event_details() {
                push(d.error());
                push(d.cause());
            }
        }
        Ok(lines.join("\n"))
    }

    /// Steers the emulator for one customer account (infra/local/moto_ext/control.py): the
    /// settings of `section` ("nat", "eks", "service_quotas", "sweep") for `account`.
    pub async fn steer(
        &self,
        section: &str,
        account: &str,
        settings: serde_json::Value,
    ) -> Result<(), String> {
        let body = serde_json::json!({"byoc": {section: {account: settings}}});
        let response = reqwest::Client::new()
            .post(format!("{}/moto-api/config", self.endpoint))
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("POST /moto-api/config: {e}"))?;
        response
            .status()
            .is_success()
            .then_some(())
            .ok_or_else(|| format!("POST /moto-api/config answered {}", response.status()))
    }

    /// Every AssumeRole the local stack answered so far, allowed or refused: the caller, the
    /// role, the session name and the source identity (infra/local/moto_ext/sts_trust.py).
    pub fn assume_role_log(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.join("logs").join("assume-role.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// Every function log line written so far (the local CloudWatch Logs).
    pub fn function_logs(&self) -> String {
        let dir = self.dir.join("logs").join("functions");
        let mut text = String::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
        text
    }
}

/// A customer's AWS account on the local stack.
#[derive(Debug, Clone)]
pub struct Customer {
    pub account_id: String,
    stack: LocalStack,
}

impl Customer {
    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        let config = aws_sdk_cloudformation::config::Builder::from(&self.stack.config)
            .interceptor(AccountHeader(self.account_id.clone()))
            .build();
        aws_sdk_cloudformation::Client::from_conf(config)
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        let config = aws_sdk_iam::config::Builder::from(&self.stack.config)
            .interceptor(AccountHeader(self.account_id.clone()))
            .build();
        aws_sdk_iam::Client::from_conf(config)
    }

    /// Creates the access stack from `cfn/customer-role.yaml` as the quick-create link would,
    /// and waits for it to complete.
    pub async fn create_access_stack(
        &self,
        vendor_account_id: &str,
        external_id: &str,
    ) -> Result<(), String> {
        self.create_access_stack_with_boundary(vendor_account_id, external_id, "")
            .await
    }

    /// The access stack capped by a permissions boundary that allows everything but
    /// `ec2:CreateNatGateway`, as a customer's security team might set on every role it makes.
    pub async fn create_access_stack_without_nat_gateways(
        &self,
        vendor_account_id: &str,
        external_id: &str,
    ) -> Result<(), String> {
        let boundary = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": ["ec2:CreateNatGateway"], "Resource": "*"}]});
        let policy = self
            .iam()
            .create_policy()
            .policy_name("no-nat-gateways")
            .policy_document(boundary.to_string())
            .send()
            .await
            .map_err(|e| format!("CreatePolicy: {e:?}"))?;
        let boundary_arn = policy
            .policy()
            .and_then(|p| p.arn())
            .ok_or("CreatePolicy answered no ARN")?
            .to_owned();
        self.create_access_stack_with_boundary(vendor_account_id, external_id, &boundary_arn)
            .await
    }

    /// The access stack with its `PermissionsBoundaryArn` parameter set (empty: none).
    pub async fn create_access_stack_with_boundary(
        &self,
        vendor_account_id: &str,
        external_id: &str,
        boundary_arn: &str,
    ) -> Result<(), String> {
        self.create_access_stack_from(
            CUSTOMER_TEMPLATE,
            vendor_account_id,
            external_id,
            boundary_arn,
        )
        .await
    }

    /// The access stack from `template` (a path from the repository's root, e.g.
    /// `OLD_CUSTOMER_TEMPLATE`), as its quick-create link would make it.
    pub async fn create_access_stack_from(
        &self,
        template: &str,
        vendor_account_id: &str,
        external_id: &str,
        boundary_arn: &str,
    ) -> Result<(), String> {
        let template = read_template(template)?;
        let outputs = &self.stack.outputs;
        self.cloudformation()
            .create_stack()
            .stack_name(&outputs.customer_stack_name)
            .template_body(template)
            .set_parameters(Some(access_parameters(
                &outputs.customer_role_name,
                vendor_account_id,
                external_id,
                boundary_arn,
                &[],
            )))
            .capabilities(Capability::CapabilityNamedIam)
            .send()
            .await
            .map_err(|e| format!("CreateStack: {e:?}"))?;
        self.wait_for_stack(StackStatus::CreateComplete, StackStatus::CreateInProgress)
            .await
    }

    /// Updates the access stack from the current template with the customer's `switches`
    /// (e.g. `[("VendorAccess", "paused")]`; those not named take their defaults), as the
    /// customer does in the console, and waits for it to complete.
    pub async fn update_access_stack(
        &self,
        vendor_account_id: &str,
        external_id: &str,
        switches: &[(&str, &str)],
    ) -> Result<(), String> {
        let outputs = &self.stack.outputs;
        self.cloudformation()
            .update_stack()
            .stack_name(&outputs.customer_stack_name)
            .template_body(read_template(CUSTOMER_TEMPLATE)?)
            .set_parameters(Some(access_parameters(
                &outputs.customer_role_name,
                vendor_account_id,
                external_id,
                "",
                switches,
            )))
            .capabilities(Capability::CapabilityNamedIam)
            .send()
            .await
            .map_err(|e| format!("UpdateStack: {e:?}"))?;
        self.wait_for_stack(StackStatus::UpdateComplete, StackStatus::UpdateInProgress)
            .await
    }

    async fn wait_for_stack(&self, done: StackStatus, going: StackStatus) -> Result<(), String> {
        let outputs = &self.stack.outputs;
        let start = Instant::now();
        loop {
            let out = self
                .cloudformation()
                .describe_stacks()
                .stack_name(&outputs.customer_stack_name)
                .send()
                .await
                .map_err(|e| format!("DescribeStacks: {e:?}"))?;
            let status = out.stacks().first().and_then(|s| s.stack_status().cloned());
            match status {
                Some(status) if status == done => return Ok(()),
                Some(status) if status == going && start.elapsed() < Duration::from_secs(60) => {
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                other => return Err(format!("customer stack ended in {other:?}")),
            }
        }
    }
}

/// The customer template, and the last one before the customer's switches (version 6), from
/// the repository's root.
pub const CUSTOMER_TEMPLATE: &str = "cfn/customer-role.yaml";
pub const OLD_CUSTOMER_TEMPLATE: &str = "tests/fixtures/customer-role-v6.yaml";

fn read_template(path: &str) -> Result<String, String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
}

fn access_parameters(
    role_name: &str,
    vendor_account_id: &str,
    external_id: &str,
    boundary_arn: &str,
    switches: &[(&str, &str)],
) -> Vec<Parameter> {
    let parameter = |key: &str, value: &str| {
        Parameter::builder()
            .parameter_key(key)
            .parameter_value(value)
            .build()
    };
    let mut parameters = vec![
        parameter("VendorAccountId", vendor_account_id),
        parameter("ExternalId", external_id),
        parameter("RoleName", role_name),
        parameter("PermissionsBoundaryArn", boundary_arn),
    ];
    parameters.extend(switches.iter().map(|(k, v)| parameter(k, v)));
    parameters
}
