//! `PUT /tenants/{id}/webhook` refuses destinations inside a network, in every spelling, with
//! a 400 naming `url`, and writes nothing. The local test stack lets webhooks reach exactly
//! 127.0.0.1 (its receiver; infra/deploy-local), so loopback spellings here use 127.0.0.2;
//! the API's unit tests refuse the 127.0.0.1 spellings under the AWS policy.

use byoc_e2e::{random_tenant_id, Api, LocalStack};
use serde_json::json;

#[tokio::test]
async fn inward_webhook_destinations_are_refused_naming_url_and_nothing_is_written() {
    let stack = LocalStack::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = Api::new(&stack);
    let tenant_id = random_tenant_id("hookdest");
    let created = api
        .post(
            "/tenants",
            &json!({"tenant_id": tenant_id, "name": "Hook Co", "email": "ops@hook.example"}),
        )
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.text);
    let path = format!("/tenants/{tenant_id}/webhook");

    for url in [
        "https://169.254.169.254/latest/meta-data/",
        "https://169.254.170.2/v2/credentials",
        "https://localhost/",
        "https://127.0.0.2:8080/",
        "https://0x7f000002/",
        "https://2130706434/",
        "https://0177.0.0.2/",
        "https://127.2/",
        "https://[::1]/",
        "https://[::ffff:127.0.0.2]/",
        "https://[::ffff:169.254.169.254]/",
        "https://10.0.0.5/",
        "https://192.168.1.1/",
        "https://172.16.0.1/",
        "https://100.64.0.1/",
        "https://[fd00:ec2::254]/",
        "https://[fe80::1]/",
        "https://0.0.0.0/",
        "https://224.0.0.1/",
        "https://255.255.255.255/",
        "https://192.0.2.1/",
        "https://user:pw@93.184.215.14/",
        "http://93.184.215.14/",
    ] {
        let refused = api
            .send("PUT", &path, Some(json!({"url": url}).to_string()), true)
            .await
            .unwrap();
        assert_eq!(refused.status, 400, "{url}: {}", refused.text);
        assert_eq!(
            refused.json["error"]["field"], "url",
            "{url}: {}",
            refused.text
        );
        assert_eq!(
            api.get(&path).await.unwrap().status,
            404,
            "{url}: nothing written"
        );
    }
    let metadata = api
        .send(
            "PUT",
            &path,
            Some(json!({"url": "https://0xa9fea9fe/latest"}).to_string()),
            true,
        )
        .await
        .unwrap();
    assert!(
        metadata
            .text
            .contains("169.254.169.254 is a link-local address"),
        "{}",
        metadata.text
    );

    // A public address is taken.
    let public = api
        .send(
            "PUT",
            &path,
            Some(json!({"url": "https://93.184.215.14/byoc"}).to_string()),
            true,
        )
        .await
        .unwrap();
    assert_eq!(public.status, 200, "{}", public.text);
}
