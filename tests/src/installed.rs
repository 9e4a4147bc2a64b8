//! A tenant with its access stack in a fresh account (a "place" to install into), and installs
//! driven through the HTTP API as a vendor drives them: started and waited for, removed.

use std::time::Duration;

use serde_json::{json, Value};

use crate::stack::CUSTOMER_TEMPLATE;
use crate::{random_account_id, random_tenant_id, Api, ApiResponse, Inbox, LocalStack};

/// How long an install or a removal may take on the local stack.
pub const EXECUTION_TIMEOUT: Duration = Duration::from_secs(180);

pub struct Place {
    pub tenant_id: String,
    pub account: String,
    pub inbox: Inbox,
    /// The tenant's External ID (for the customer's stack updates).
    pub external_id: String,
}

/// A new tenant (id starting with `prefix`) subscribed to its emails, and its access stack
/// created from the customer template in a fresh account.
pub async fn place(stack: &LocalStack, api: &Api, prefix: &str) -> Place {
    place_from(stack, api, prefix, CUSTOMER_TEMPLATE).await
}

/// As `place`, with the access stack made from `template` (e.g. `OLD_CUSTOMER_TEMPLATE`).
pub async fn place_from(stack: &LocalStack, api: &Api, prefix: &str, template: &str) -> Place {
    let tenant_id = random_tenant_id(prefix);
    let account = random_account_id();
    let created = api
        .post(
            "/tenants",
            &json!({"tenant_id": tenant_id, "name": "Leaving Co", "email": "ops@leaving.example"}),
        )
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.text);
    let inbox = Inbox::for_tenant(stack, &tenant_id).await.unwrap();
    stack
        .customer(&account)
        .create_access_stack_from(
            template,
            &stack.outputs.vendor_account_id,
            created.json["external_id"].as_str().unwrap(),
            "",
        )
        .await
        .unwrap();
    Place {
        tenant_id,
        account,
        inbox,
        external_id: created.json["external_id"].as_str().unwrap().to_owned(),
    }
}

/// An install into `place` with `extra` options on top of two nodes (which fit a new
/// account's quotas), waited for: (install id, the execution's final status, the record).
pub async fn install_with(
    stack: &LocalStack,
    api: &Api,
    place: &Place,
    extra: Value,
) -> (String, String, Value) {
    let accepted = start_install(api, place, extra).await;
    let id = accepted.json["install_id"].as_str().unwrap().to_owned();
    let (execution, record) = finished(stack, api, &id, &accepted).await;
    (id, execution, record)
}

/// `POST /installs` into `place` with `extra` options on top of two nodes: the 202 answer.
pub async fn start_install(api: &Api, place: &Place, extra: Value) -> ApiResponse {
    let mut options = json!({"node_desired_size": 2, "node_max_size": 2});
    if let (Some(options), Some(extra)) = (options.as_object_mut(), extra.as_object()) {
        options.extend(extra.clone());
    }
    let body = json!({"tenant_id": place.tenant_id, "account_id": place.account, "region": "us-east-1", "options": options});
    let accepted = api.post("/installs", &body).await.unwrap();
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    accepted
}

/// `DELETE /installs/{id}`, waited for: the removal's final status and the record.
pub async fn remove(stack: &LocalStack, api: &Api, id: &str) -> (String, Value) {
    let removing = start_removal(api, id).await;
    finished(stack, api, id, &removing).await
}

/// `DELETE /installs/{id}`: the 202 answer.
pub async fn start_removal(api: &Api, id: &str) -> ApiResponse {
    let removing = api
        .send("DELETE", &format!("/installs/{id}"), None, true)
        .await
        .unwrap();
    assert_eq!(removing.status, 202, "{}", removing.text);
    removing
}

/// Waits for the execution an accepted request of install `id` started: its final status, and
/// the install's record then.
pub async fn finished(
    stack: &LocalStack,
    api: &Api,
    id: &str,
    accepted: &ApiResponse,
) -> (String, Value) {
    let execution = stack
        .wait_for_execution(
            accepted.json["execution_arn"].as_str().unwrap(),
            EXECUTION_TIMEOUT,
        )
        .await
        .unwrap();
    (
        execution,
        api.get(&format!("/installs/{id}")).await.unwrap().json,
    )
}
