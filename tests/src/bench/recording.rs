//! Which AWS calls were made, counted from moto's own request recorder (`/moto-api/recorder`,
//! written to `MOTO_RECORDER_FILEPATH`, which infra/bench sets inside the bench's state dir).
//!
//! The recorder keeps each request's headers and body. Bodies can hold secrets (AssumeRole
//! carries the External ID, the tenant item holds it), so only DynamoDB and EventBridge bodies
//! are kept in memory, for counting units and entries, and the recording is erased as soon as
//! it is read.
//!
//! Who made a call is told by the access key in its signature and the service it calls: the
//! functions sign with assumed-role (`ASIA…`) keys both in the vendor's account (their own
//! execution role's session, since the local stack authorizes them as IAM would) and in
//! customer accounts (the customer role's), and the two kinds of key look alike; but the
//! functions call DynamoDB, SNS, SQS, EventBridge, Lambda and Step Functions only in the
//! vendor's account, and STS AssumeRole only there (to enter the customer's), everything else
//! only in customers'. The dummy key `test` is the vendor's too (a function without a role).
//! The bench's own reads use [`OBSERVER_KEY`], and it marks the start and end of a window with
//! calls signed by a `BENCHMARK…` key, since recorded requests carry no time.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use serde_json::Value;

use crate::LocalStack;

/// The access key of the bench's own calls (moto maps unknown keys to the vendor account).
pub const OBSERVER_KEY: &str = "BENCHOBSERVER";
const MARKER_PREFIX: &str = "BENCHMARK";
/// moto's dummy key: a function without an execution role signs with it, in the vendor's account.
const VENDOR_KEY: &str = "test";
/// What the functions call only in the vendor's account (see the module's comment).
const VENDOR_SERVICES: [&str; 6] = ["dynamodb", "sns", "sqs", "events", "lambda", "states"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The functions in the vendor account.
    Vendor,
    /// The functions in a customer account (the customer role's session).
    Customer,
    Observer,
    Marker(String),
    /// Anyone else, e.g. the Step Functions interpreter invoking functions.
    Other(String),
}

#[derive(Debug, Clone)]
pub struct Call {
    /// The signing name: `dynamodb`, `ec2`, `eks`, `lambda`, `sns`, ...
    pub service: String,
    /// The API action: `GetItem`, `DescribeVpcs`, `DescribeCluster`, `Invoke`, ...
    pub action: String,
    pub caller: Caller,
    /// The JSON body, for DynamoDB and EventBridge calls only.
    pub body: Option<Value>,
}

/// A config whose calls the recording tells apart from the functions'.
pub fn config_with_key(config: &SdkConfig, key: &str) -> SdkConfig {
    config
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            key, "bench", None, None, "bench",
        )))
        .build()
}

/// The stack as the bench's own reads see it: the same endpoint, signed with [`OBSERVER_KEY`].
pub fn observer(stack: &LocalStack) -> LocalStack {
    let mut observer = stack.clone();
    observer.config = config_with_key(&stack.config, OBSERVER_KEY);
    observer
}

pub struct Recorder {
    endpoint: String,
    config: SdkConfig,
    http: reqwest::Client,
}

impl Recorder {
    pub fn new(stack: &LocalStack) -> Self {
        Self {
            endpoint: stack.endpoint.clone(),
            config: stack.config.clone(),
            http: reqwest::Client::new(),
        }
    }

    async fn control(&self, what: &str) -> Result<String, String> {
        let url = format!("{}/moto-api/recorder/{what}", self.endpoint);
        let response = self
            .http
            .post(&url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url} answered {}", response.status()));
        }
        response.text().await.map_err(|e| format!("{url}: {e}"))
    }

    /// Erases what was recorded and starts recording.
    pub async fn start(&self) -> Result<(), String> {
        self.control("reset-recording").await?;
        self.control("start-recording").await.map(|_| ())
    }

    /// A call that shows in the recording where the bench's window `label` begins or ends.
    pub async fn mark(&self, label: &str) -> Result<(), String> {
        let config = config_with_key(&self.config, &format!("{MARKER_PREFIX}{label}"));
        aws_sdk_sfn::Client::new(&config)
            .list_state_machines()
            .max_results(1)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("marker {label}: {e:?}"))
    }

    /// Stops recording, reads the calls made, and erases the recording.
    pub async fn stop(&self) -> Result<Recording, String> {
        self.control("stop-recording").await?;
        let text = self.control("download-recording").await;
        self.control("reset-recording").await?;
        let mut recording = Recording::default();
        for line in text?.lines().filter(|l| !l.trim().is_empty()) {
            match parse(line) {
                Some(call) => recording.calls.push(call),
                None => recording.unreadable += 1,
            }
        }
        Ok(recording)
    }
}

#[derive(Debug, Default)]
pub struct Recording {
    pub calls: Vec<Call>,
    /// Lines that were not a whole request (the recorder does not lock its file).
    pub unreadable: usize,
}

impl Recording {
    /// The calls between the markers `begin` and `end` (to the end without one).
    pub fn window(&self, begin: &str, end: &str) -> Vec<Call> {
        let is = |call: &Call, label: &str| call.caller == Caller::Marker(label.to_owned());
        self.calls
            .iter()
            .skip_while(|c| !is(c, begin))
            .skip(1)
            .take_while(|c| !is(c, end))
            .cloned()
            .collect()
    }
}

/// Calls made by the callers `keep` accepts, counted by `service:Action`.
pub fn tally(calls: &[Call], keep: impl Fn(&Caller) -> bool) -> BTreeMap<String, usize> {
    let mut out: BTreeMap<String, usize> = BTreeMap::new();
    for call in calls.iter().filter(|c| keep(&c.caller)) {
        *out.entry(format!("{}:{}", call.service, call.action))
            .or_default() += 1;
    }
    out
}

fn header<'a>(headers: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

fn parse(line: &str) -> Option<Call> {
    let entry: Value = serde_json::from_str(line).ok()?;
    let headers = entry["headers"].as_object()?;
    let method = entry["method"].as_str().unwrap_or("GET");
    let url = entry["url"].as_str().unwrap_or_default();
    let (key, service) = credential(header(headers, "authorization").unwrap_or_default())?;
    let raw = entry["body"].as_str().unwrap_or_default();
    let body = if entry["body_encoded"].as_bool() == Some(true) {
        String::from_utf8_lossy(&aws_smithy_types::base64::decode(raw).ok()?).into_owned()
    } else {
        raw.to_owned()
    };
    let path = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let action = match header(headers, "x-amz-target") {
        Some(target) => target.rsplit('.').next().unwrap_or(target).to_owned(),
        None => form_value(&body, "Action")
            .or_else(|| form_value(query, "Action"))
            .unwrap_or_else(|| rest_action(&service, method, path)),
    };
    let caller = match key.as_str() {
        VENDOR_KEY => Caller::Vendor,
        OBSERVER_KEY => Caller::Observer,
        k if k.starts_with(MARKER_PREFIX) => Caller::Marker(k[MARKER_PREFIX.len()..].to_owned()),
        k if k.starts_with("ASIA")
            && (VENDOR_SERVICES.contains(&service.as_str())
                || (service == "sts" && action == "AssumeRole")) =>
        {
            Caller::Vendor
        }
        k if k.starts_with("ASIA") => Caller::Customer,
        k => Caller::Other(k.to_owned()),
    };
    let body = matches!(service.as_str(), "dynamodb" | "events")
        .then(|| serde_json::from_str(&body).ok())
        .flatten();
    Some(Call {
        service,
        action,
        caller,
        body,
    })
}

/// (access key, service) from a SigV4 `Authorization` header.
fn credential(authorization: &str) -> Option<(String, String)> {
    let scope = authorization
        .split("Credential=")
        .nth(1)?
        .split([',', ' '])
        .next()?;
    let parts: Vec<&str> = scope.split('/').collect();
    (parts.len() >= 5).then(|| (parts[0].to_owned(), parts[3].to_owned()))
}

fn form_value(form: &str, name: &str) -> Option<String> {
    form.split('&').find_map(|pair| {
        pair.strip_prefix(name)?
            .strip_prefix('=')
            .map(str::to_owned)
    })
}

/// Names the REST-protocol calls the installer makes (EKS, Lambda) after their API actions.
fn rest_action(service: &str, method: &str, path: &str) -> String {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let named = match (service, method, segments.as_slice()) {
        ("lambda", "POST", [_, "functions", _, "invocations"]) => "Invoke",
        ("eks", "POST", ["clusters"]) => "CreateCluster",
        ("eks", "GET", ["clusters"]) => "ListClusters",
        ("eks", "GET", ["clusters", _]) => "DescribeCluster",
        ("eks", "DELETE", ["clusters", _]) => "DeleteCluster",
        ("eks", "GET", ["cluster-versions"]) => "DescribeClusterVersions",
        ("eks", "GET", ["addons", "supported-versions"]) => "DescribeAddonVersions",
        ("eks", "POST", ["clusters", _, "node-groups"]) => "CreateNodegroup",
        ("eks", "GET", ["clusters", _, "node-groups"]) => "ListNodegroups",
        ("eks", "GET", ["clusters", _, "node-groups", _]) => "DescribeNodegroup",
        ("eks", "DELETE", ["clusters", _, "node-groups", _]) => "DeleteNodegroup",
        ("eks", "POST", ["clusters", _, "addons"]) => "CreateAddon",
        ("eks", "GET", ["clusters", _, "addons"]) => "ListAddons",
        ("eks", "GET", ["clusters", _, "addons", _]) => "DescribeAddon",
        ("eks", "DELETE", ["clusters", _, "addons", _]) => "DeleteAddon",
        ("eks", "POST", ["clusters", _, "access-entries"]) => "CreateAccessEntry",
        ("eks", "GET", ["clusters", _, "access-entries"]) => "ListAccessEntries",
        ("eks", "GET", ["clusters", _, "access-entries", _]) => "DescribeAccessEntry",
        ("eks", "DELETE", ["clusters", _, "access-entries", _]) => "DeleteAccessEntry",
        ("eks", "POST", ["clusters", _, "access-entries", _, "access-policies"]) => {
            "AssociateAccessPolicy"
        }
        ("eks", "GET", ["clusters", _, "access-entries", _, "access-policies"]) => {
            "ListAssociatedAccessPolicies"
        }
        ("eks", "POST", ["clusters", _, "updates"]) => "UpdateClusterVersion",
        ("eks", "GET", ["clusters", _, "updates"]) => "ListUpdates",
        ("eks", "GET", ["clusters", _, "updates", _]) => "DescribeUpdate",
        ("eks", "POST", ["clusters", _, "node-groups", _, "update-version"]) => {
            "UpdateNodegroupVersion"
        }
        ("eks", "POST", ["clusters", _, "addons", _, "update"]) => "UpdateAddon",
        ("eks", "GET", ["clusters", _, "insights"]) => "ListInsights",
        ("eks", "GET", ["clusters", _, "insights", _]) => "DescribeInsight",
        _ => "",
    };
    if named.is_empty() {
        format!(
            "{method} /{}",
            segments.first().copied().unwrap_or_default()
        )
    } else {
        named.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(headers: Value, method: &str, url: &str, body: &str) -> String {
        json!({"headers": headers, "method": method, "url": url, "body": aws_smithy_types::base64::encode(body), "body_encoded": true}).to_string()
    }

    fn auth(key: &str, service: &str) -> String {
        format!("AWS4-HMAC-SHA256 Credential={key}/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=abc")
    }

    #[test]
    fn json_query_and_rest_calls_are_named_by_their_action() {
        let get = parse(&line(json!({"Authorization": auth("test", "dynamodb"), "X-Amz-Target": "DynamoDB_20120810.GetItem"}), "POST", "http://h/", r#"{"TableName":"t"}"#)).unwrap();
        assert_eq!(
            (get.service.as_str(), get.action.as_str(), &get.caller),
            ("dynamodb", "GetItem", &Caller::Vendor)
        );
        assert_eq!(get.body.unwrap()["TableName"], "t");
        let ec2 = parse(&line(
            json!({"authorization": auth("ASIAXYZ", "ec2")}),
            "POST",
            "http://h/",
            "Action=DescribeVpcs&Version=2016-11-15",
        ))
        .unwrap();
        assert_eq!(
            (ec2.action.as_str(), &ec2.caller, ec2.body.is_none()),
            ("DescribeVpcs", &Caller::Customer, true)
        );
        let eks = parse(&line(
            json!({"Authorization": auth("ASIAXYZ", "eks")}),
            "GET",
            "http://h/clusters/byoc-x/node-groups/ng",
            "",
        ))
        .unwrap();
        assert_eq!(eks.action, "DescribeNodegroup");
        let update = parse(&line(
            json!({"Authorization": auth("ASIAXYZ", "eks")}),
            "GET",
            "http://h/clusters/byoc-x/updates/u-1?addonName=coredns",
            "",
        ))
        .unwrap();
        assert_eq!(update.action, "DescribeUpdate");
        let invoke = parse(&line(
            json!({"Authorization": auth("ak", "lambda")}),
            "POST",
            "http://h/2015-03-31/functions/arn%3Aaws/invocations",
            "{}",
        ))
        .unwrap();
        assert_eq!(
            (invoke.action.as_str(), &invoke.caller),
            ("Invoke", &Caller::Other("ak".into()))
        );
    }

    #[test]
    fn execution_role_sessions_are_the_vendors() {
        let caller = |service: &str, target: Option<&str>, body: &str| {
            let mut headers = json!({"Authorization": auth("ASIAEXEC", service)});
            if let Some(target) = target {
                headers["X-Amz-Target"] = target.into();
            }
            parse(&line(headers, "POST", "http://h/", body))
                .unwrap()
                .caller
        };
        let get = Some("DynamoDB_20120810.GetItem");
        assert_eq!(caller("dynamodb", get, "{}"), Caller::Vendor);
        assert_eq!(caller("sns", None, "Action=Publish"), Caller::Vendor);
        assert_eq!(caller("sts", None, "Action=AssumeRole"), Caller::Vendor);
        let decode = "Action=DecodeAuthorizationMessage";
        assert_eq!(caller("sts", None, decode), Caller::Customer);
        assert_eq!(caller("ec2", None, "Action=DescribeVpcs"), Caller::Customer);
    }

    #[test]
    fn secrets_in_bodies_are_not_kept() {
        let assume = parse(&line(
            json!({"Authorization": auth("test", "sts")}),
            "POST",
            "http://h/",
            "Action=AssumeRole&ExternalId=s3cret",
        ))
        .unwrap();
        assert_eq!(assume.action, "AssumeRole");
        assert!(assume.body.is_none());
    }

    #[test]
    fn a_window_lies_between_its_markers() {
        let mark = |label: &str| Call {
            service: "states".into(),
            action: "ListStateMachines".into(),
            caller: Caller::Marker(label.into()),
            body: None,
        };
        let call = |action: &str| Call {
            service: "sns".into(),
            action: action.into(),
            caller: Caller::Vendor,
            body: None,
        };
        let recording = Recording {
            calls: vec![
                call("Subscribe"),
                mark("a"),
                call("Publish"),
                call("Publish"),
                mark("b"),
                call("ListTopics"),
            ],
            unreadable: 0,
        };
        let inside: Vec<String> = recording
            .window("a", "b")
            .into_iter()
            .map(|c| c.action)
            .collect();
        assert_eq!(inside, ["Publish", "Publish"]);
        assert!(parse("{not json").is_none());
    }
}
