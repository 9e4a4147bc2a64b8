//! The HTTP API as a vendor's backend meets it: the routes, the conflicts, and bad input —
//! which always gets a 4xx JSON error naming the field, and writes nothing.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use byoc_e2e::{random_account_id, random_tenant_id, Api, LocalStack};
use serde_json::json;

async fn setup() -> (LocalStack, Api) {
    let stack = LocalStack::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = Api::new(&stack);
    (stack, api)
}

/// Items in the table whose key mentions `needle`.
async fn items_mentioning(stack: &LocalStack, needle: &str) -> usize {
    let out = stack
        .dynamodb()
        .scan()
        .table_name(&stack.outputs.table_name)
        .filter_expression("contains(pk, :n) OR contains(holder, :n)")
        .expression_attribute_values(":n", AttributeValue::S(needle.into()))
        .send()
        .await
        .unwrap();
    out.count as usize
}

#[tokio::test]
async fn a_tenant_gets_its_external_id_and_a_prefilled_quick_create_link() {
    let (stack, api) = setup().await;
    let tenant_id = random_tenant_id("link");
    let created = api
        .post(
            "/tenants",
            &json!({"tenant_id": tenant_id, "name": "Acme", "email": "ops@acme.example"}),
        )
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.text);
    let external_id = created.json["external_id"].as_str().unwrap();
    assert!(
        external_id.len() >= 32 && external_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{external_id}"
    );
    let link = created.json["customer_setup"]["quick_create_url"]
        .as_str()
        .unwrap();
    assert!(link.contains("#/stacks/quickcreate?templateURL="), "{link}");
    assert!(link.contains(&format!("param_ExternalId={external_id}")));
    assert!(link.contains(&format!(
        "param_VendorAccountId={}",
        stack.outputs.vendor_account_id
    )));
    assert!(link.contains(&format!("stackName={}", stack.outputs.customer_stack_name)));

    // The link's template is published where it points.
    let template = reqwest::get(
        created.json["customer_setup"]["template_url"]
            .as_str()
            .unwrap(),
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(
        template.contains("sts:ExternalId"),
        "template not published"
    );

    let shown = api.get(&format!("/tenants/{tenant_id}")).await.unwrap();
    assert_eq!(
        (shown.status, shown.json["external_id"].as_str()),
        (200, Some(external_id))
    );

    let again = api
        .post(
            "/tenants",
            &json!({"tenant_id": tenant_id, "name": "Other", "email": "x@y.example"}),
        )
        .await
        .unwrap();
    assert_eq!(
        (again.status, again.error_field()),
        (409, Some("tenant_id")),
        "{}",
        again.text
    );
    assert_eq!(
        api.get(&format!("/tenants/{tenant_id}"))
            .await
            .unwrap()
            .json["name"],
        "Acme",
        "the 409 changed nothing"
    );

    // The tenant's email is subscribed to the topic, filtered to this tenant.
    let sns = aws_sdk_sns::Client::new(&stack.config);
    let subs = sns
        .list_subscriptions_by_topic()
        .topic_arn(&stack.outputs.topic_arn)
        .send()
        .await
        .unwrap();
    let sub = subs
        .subscriptions()
        .iter()
        .find(|s| s.endpoint() == Some("ops@acme.example") && s.protocol() == Some("email"));
    let attrs = sns
        .get_subscription_attributes()
        .subscription_arn(sub.unwrap().subscription_arn().unwrap())
        .send()
        .await
        .unwrap();
    let filters: Vec<String> = attrs
        .attributes()
        .unwrap()
        .get("FilterPolicy")
        .into_iter()
        .cloned()
        .collect();
    assert!(
        filters.iter().any(|f| f.contains(&tenant_id)),
        "no subscription filtered to {tenant_id}: {filters:?}"
    );
}

#[tokio::test]
async fn a_second_active_install_for_the_same_place_is_a_conflict_naming_the_first() {
    let (stack, api) = setup().await;
    let tenant_id = random_tenant_id("dup");
    let created = api
        .post(
            "/tenants",
            &json!({"tenant_id": tenant_id, "name": "Dup", "email": "ops@dup.example"}),
        )
        .await
        .unwrap();
    let account = random_account_id();
    stack
        .customer(&account)
        .create_access_stack(
            &stack.outputs.vendor_account_id,
            created.json["external_id"].as_str().unwrap(),
        )
        .await
        .unwrap();

    let body = json!({"tenant_id": tenant_id, "account_id": account, "region": "eu-west-1"});
    let first = api.post("/installs", &body).await.unwrap();
    assert_eq!(first.status, 202, "{}", first.text);
    let first_id = first.json["install_id"].as_str().unwrap();
    let second = api.post("/installs", &body).await.unwrap();
    assert_eq!(second.status, 409, "{}", second.text);
    assert!(
        second.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains(first_id),
        "{}",
        second.text
    );

    // Another region is another place.
    let elsewhere = api
        .post(
            "/installs",
            &json!({"tenant_id": tenant_id, "account_id": account, "region": "eu-west-2"}),
        )
        .await
        .unwrap();
    assert_eq!(elsewhere.status, 202, "{}", elsewhere.text);

    stack
        .wait_for_execution(
            first.json["execution_arn"].as_str().unwrap(),
            Duration::from_secs(90),
        )
        .await
        .unwrap();
    stack
        .wait_for_execution(
            elsewhere.json["execution_arn"].as_str().unwrap(),
            Duration::from_secs(90),
        )
        .await
        .unwrap();
    let ready = api.post("/installs", &body).await.unwrap();
    assert_eq!(
        ready.status, 409,
        "a ready install still holds its place: {}",
        ready.text
    );

    // Listing: newest first, paginated.
    let page1 = api
        .get(&format!("/tenants/{tenant_id}/installs?limit=1"))
        .await
        .unwrap();
    assert_eq!(page1.status, 200, "{}", page1.text);
    assert_eq!(
        page1.json["installs"][0]["install_id"],
        elsewhere.json["install_id"]
    );
    let cursor = page1.json["next_cursor"].as_str().expect("a second page");
    let page2 = api
        .get(&format!(
            "/tenants/{tenant_id}/installs?limit=1&cursor={cursor}"
        ))
        .await
        .unwrap();
    assert_eq!(
        page2.json["installs"][0]["install_id"].as_str(),
        Some(first_id)
    );
    let all = api
        .get(&format!("/tenants/{tenant_id}/installs"))
        .await
        .unwrap();
    assert_eq!(
        all.json["installs"].as_array().unwrap().len(),
        2,
        "{}",
        all.text
    );
    assert!(all.json["next_cursor"].is_null());
}

#[tokio::test]
async fn bad_input_gets_a_4xx_naming_the_field_and_writes_nothing() {
    let (stack, api) = setup().await;
    let ghost = random_tenant_id("ghost");
    let real = random_tenant_id("real");
    let created = api
        .post(
            "/tenants",
            &json!({"tenant_id": real, "name": "Real", "email": "ops@real.example"}),
        )
        .await
        .unwrap();
    assert_eq!(created.status, 201);
    let account = random_account_id();

    let (ghost_path, limit_path, cursor_path) = (
        format!("/tenants/{ghost}"),
        format!("/tenants/{real}/installs?limit=0"),
        format!("/tenants/{real}/installs?cursor=bogus"),
    );
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        ("POST", "/tenants", json!({"name": "x", "email": "a@b.example"}).to_string(), 400, "tenant_id"),
        ("POST", "/tenants", json!({"tenant_id": "Ghost Co", "name": "x", "email": "a@b.example"}).to_string(), 400, "tenant_id"),
        ("POST", "/tenants", json!({"tenant_id": ghost, "name": "x", "email": "not-an-email"}).to_string(), 400, "email"),
        ("POST", "/tenants", json!({"tenant_id": ghost, "name": "", "email": "a@b.example"}).to_string(), 400, "name"),
        ("POST", "/tenants", json!({"tenant_id": ghost, "name": 7, "email": "a@b.example"}).to_string(), 400, "name"),
        ("POST", "/tenants", json!({"tenant_id": ghost, "name": "x", "email": "a@b.example", "admin": true}).to_string(), 400, "admin"),
        ("POST", "/tenants", "{\"tenant_id\": ".to_string(), 400, "body"),
        ("POST", "/tenants", String::new(), 400, "body"),
        ("POST", "/tenants", format!("{{\"tenant_id\":\"{ghost}\",\"name\":\"{}\",\"email\":\"a@b.example\"}}", "x".repeat(70_000)), 413, "body"),
        ("POST", "/installs", json!({"tenant_id": real, "account_id": "12345", "region": "us-east-1"}).to_string(), 400, "account_id"),
        ("POST", "/installs", json!({"tenant_id": real, "account_id": account, "region": "us-north-7"}).to_string(), 400, "region"),
        ("POST", "/installs", json!({"tenant_id": real, "account_id": 111122223333u64, "region": "us-east-1"}).to_string(), 400, "account_id"),
        ("POST", "/installs", json!({"tenant_id": ghost, "account_id": account, "region": "us-east-1"}).to_string(), 404, "tenant_id"),
        ("POST", "/installs", json!({"tenant_id": real, "account_id": account, "region": "us-east-1", "options": {"az_count": 1}}).to_string(), 400, "options.az_count"),
        ("POST", "/installs", json!({"tenant_id": real, "account_id": account, "region": "us-east-1", "options": {"vpc_cidr": "10.0.0.1/16"}}).to_string(), 400, "options.vpc_cidr"),
        ("POST", "/installs", json!({"tenant_id": real, "account_id": account, "region": "us-east-1", "options": {"nat_mode": "none"}}).to_string(), 400, "options.nat_mode"),
        ("POST", "/installs", json!({"tenant_id": real, "account_id": account, "region": "us-east-1", "options": {"gpu": true}}).to_string(), 400, "options.gpu"),
        // Well-formed, but not a version EKS offers in the region (DescribeClusterVersions).
        ("POST", "/installs", json!({"tenant_id": real, "account_id": account, "region": "us-east-1", "options": {"kubernetes_version": "1.99"}}).to_string(), 400, "options.kubernetes_version"),
        ("GET", "/installs/inst-00000000000000000000000000", String::new(), 404, "install_id"),
        ("GET", "/installs/..%2F..%2Fetc", String::new(), 400, "install_id"),
        ("GET", &ghost_path, String::new(), 404, "tenant_id"),
        ("GET", &limit_path, String::new(), 400, "limit"),
        ("GET", &cursor_path, String::new(), 400, "cursor"),
        ("GET", "/nowhere", String::new(), 404, "path"),
    ];
    for (method, path, body, status, field) in &cases {
        let response = api
            .send(method, path, Some(body.clone()), true)
            .await
            .unwrap();
        assert_eq!(
            response.status, *status,
            "{method} {path}: {}",
            response.text
        );
        assert_eq!(
            response.error_field(),
            Some(*field),
            "{method} {path}: {}",
            response.text
        );
        assert!(
            !response.json["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{method} {path}: no message"
        );
    }
    let wrong_method = api.send("DELETE", "/tenants", None, true).await.unwrap();
    assert_eq!(wrong_method.status, 405, "{}", wrong_method.text);

    let unsigned = api
        .send(
            "POST",
            "/tenants",
            Some(json!({"tenant_id": ghost, "name": "x", "email": "a@b.example"}).to_string()),
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        unsigned.status, 403,
        "an unsigned request is refused: {}",
        unsigned.text
    );

    assert_eq!(
        items_mentioning(&stack, &ghost).await,
        0,
        "a refused request wrote to the table"
    );
    assert_eq!(
        items_mentioning(&stack, &account).await,
        0,
        "a refused install wrote to the table"
    );
    assert_eq!(
        api.get(&format!("/tenants/{real}/installs"))
            .await
            .unwrap()
            .json["installs"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
}

/// An IAM user of the vendor account, as a second caller of the API.
async fn other_caller(stack: &LocalStack) -> Api {
    let iam = aws_sdk_iam::Client::new(&stack.config);
    let name = random_tenant_id("caller");
    iam.create_user().user_name(&name).send().await.unwrap();
    let key = iam
        .create_access_key()
        .user_name(&name)
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    Api::with_credentials(stack, key.access_key_id(), key.secret_access_key())
}

/// The table's items for an idempotency key used on `route`, by any caller.
async fn key_items(
    stack: &LocalStack,
    route: &str,
    key: &str,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    stack
        .dynamodb()
        .scan()
        .table_name(&stack.outputs.table_name)
        .filter_expression("begins_with(pk, :p) AND contains(pk, :k)")
        .expression_attribute_values(":p", AttributeValue::S(format!("IDEMPOTENCY#{route}#")))
        .expression_attribute_values(":k", AttributeValue::S(key.into()))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap()
}

async fn post_keyed(
    api: &Api,
    path: &str,
    key: &str,
    body: &serde_json::Value,
) -> byoc_e2e::ApiResponse {
    api.send_with_headers(
        "POST",
        path,
        Some(body.to_string()),
        &[("Idempotency-Key", key)],
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_repeat_with_the_same_idempotency_key_gets_the_first_response_and_writes_nothing() {
    let (stack, api) = setup().await;
    let tenant_id = random_tenant_id("idem");
    let tenant_key = format!("tenant-{tenant_id}");
    let tenant_body =
        json!({"tenant_id": tenant_id, "name": "Idem Co", "email": "ops@idem.example"});
    let first = post_keyed(&api, "/tenants", &tenant_key, &tenant_body).await;
    assert_eq!(first.status, 201, "{}", first.text);
    // Key order and spacing do not make another request.
    let reordered = format!("{{ \"email\": \"ops@idem.example\", \"name\": \"Idem Co\", \"tenant_id\": \"{tenant_id}\" }}");
    let again = api
        .send_with_headers(
            "POST",
            "/tenants",
            Some(reordered),
            &[("Idempotency-Key", &tenant_key)],
        )
        .await
        .unwrap();
    assert_eq!(
        (again.status, &again.json),
        (201, &first.json),
        "the repeat is answered with the first response"
    );
    let changed = post_keyed(
        &api,
        "/tenants",
        &tenant_key,
        &json!({"tenant_id": tenant_id, "name": "Other Co", "email": "ops@idem.example"}),
    )
    .await;
    assert_eq!(
        (changed.status, changed.error_field()),
        (422, Some("Idempotency-Key")),
        "{}",
        changed.text
    );
    assert_eq!(
        api.get(&format!("/tenants/{tenant_id}"))
            .await
            .unwrap()
            .json["name"],
        "Idem Co"
    );

    // No role stack in this account: the install fails at validate-trust, and holds its place
    // until then, so an install acting twice would show as a second install or a 409.
    let account = random_account_id();
    let install_key = format!("install-{tenant_id}");
    let body = json!({"tenant_id": tenant_id, "account_id": account, "region": "eu-west-1"});
    let accepted = post_keyed(&api, "/installs", &install_key, &body).await;
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    for _ in 0..3 {
        let repeat = post_keyed(&api, "/installs", &install_key, &body).await;
        assert_eq!(
            (repeat.status, &repeat.text),
            (202, &accepted.text),
            "same status and body"
        );
    }
    let other_body = json!({"tenant_id": tenant_id, "account_id": account, "region": "eu-west-2"});
    let reused = post_keyed(&api, "/installs", &install_key, &other_body).await;
    assert_eq!(
        (reused.status, reused.error_field()),
        (422, Some("Idempotency-Key")),
        "{}",
        reused.text
    );
    let listed = api
        .get(&format!("/tenants/{tenant_id}/installs"))
        .await
        .unwrap();
    assert_eq!(
        listed.json["installs"].as_array().map(Vec::len),
        Some(1),
        "one install: {}",
        listed.text
    );

    // Keys belong to their caller: another caller's same key is a request of its own, which
    // meets the first install in its place.
    let stranger = other_caller(&stack).await;
    let theirs = post_keyed(&stranger, "/installs", &install_key, &body).await;
    assert_eq!(theirs.status, 409, "{}", theirs.text);
    assert!(
        theirs
            .text
            .contains(accepted.json["install_id"].as_str().unwrap()),
        "{}",
        theirs.text
    );

    // Keys are kept for 24 hours (the table's TTL attribute), and an expired key is free
    // even before DynamoDB's TTL sweep removes it: made to look a day old, it replays nothing.
    let ddb = stack.dynamodb();
    let ttl = ddb
        .describe_time_to_live()
        .table_name(&stack.outputs.table_name)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(
        (
            ttl.attribute_name(),
            ttl.time_to_live_status().map(|s| s.as_str())
        ),
        (Some("expires_at"), Some("ENABLED")),
        "TTL on the key items"
    );
    let keys = key_items(&stack, "POST /installs", &install_key).await;
    assert_eq!(
        keys.len(),
        1,
        "one key item for the install key of this caller (the other caller's 409 kept nothing)"
    );
    let item = &keys[0];
    let expires_at: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    let in_a_day = chrono::Utc::now().timestamp() + 24 * 3600;
    assert!(
        (in_a_day - 120..=in_a_day).contains(&expires_at),
        "expires_at {expires_at} is not 24 h from now"
    );
    assert!(
        !item.contains_key("response_body")
            || !item["response_body"]
                .as_s()
                .unwrap()
                .contains("external_id")
    );
    ddb.update_item()
        .table_name(&stack.outputs.table_name)
        .key("pk", item["pk"].clone())
        .key("sk", item["sk"].clone())
        .update_expression("SET expires_at = :past")
        .expression_attribute_values(
            ":past",
            AttributeValue::N((chrono::Utc::now().timestamp() - 1).to_string()),
        )
        .send()
        .await
        .unwrap();
    let after_expiry = post_keyed(&api, "/installs", &install_key, &body).await;
    assert_eq!(
        after_expiry.status, 409,
        "an expired key acts anew: {}",
        after_expiry.text
    );

    // The tenant's key keeps no copy of the External ID: the repeat renders it from the tenant.
    let tenant_keys = key_items(&stack, "POST /tenants", &tenant_key).await;
    assert_eq!(tenant_keys.len(), 1);
    let stored = format!("{:?}", tenant_keys[0]);
    assert!(
        !stored.contains(first.json["external_id"].as_str().unwrap()),
        "the key item holds the External ID: {stored}"
    );
}

#[tokio::test]
async fn a_malformed_idempotency_key_is_a_400_naming_the_header_and_writes_nothing() {
    let (stack, api) = setup().await;
    let tenant_id = random_tenant_id("badkey");
    let body = json!({"tenant_id": tenant_id, "name": "Bad Key", "email": "ops@badkey.example"});
    for bad in [
        "has space",
        "slash/es",
        "../../etc/passwd",
        &"k".repeat(256),
        "semi;colon",
    ] {
        let response = post_keyed(&api, "/tenants", bad, &body).await;
        assert_eq!(
            (response.status, response.error_field()),
            (400, Some("Idempotency-Key")),
            "{bad:?}: {}",
            response.text
        );
    }
    // A bad body is refused before the key is looked at: the key stays free.
    let bad_body = post_keyed(
        &api,
        "/tenants",
        &format!("fresh-{tenant_id}"),
        &json!({"tenant_id": tenant_id}),
    )
    .await;
    assert_eq!(
        (bad_body.status, bad_body.error_field()),
        (400, Some("name")),
        "{}",
        bad_body.text
    );
    assert_eq!(
        items_mentioning(&stack, &tenant_id).await,
        0,
        "a refused request wrote to the table"
    );
}
