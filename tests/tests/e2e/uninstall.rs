//! Nothing left billing the customer: an uninstall removes everything an install made, and an
//! install that fails after it started building is rolled back before the customer hears.

use std::time::Duration;

use byoc_e2e::customer_ec2::{ec2, tagged};
use byoc_e2e::customer_eks::{eks, steer_eks};
use byoc_e2e::installed::{install_with, place, Place, EXECUTION_TIMEOUT as TIMEOUT};
use byoc_e2e::{Api, LocalStack};
use serde_json::{json, Value};

async fn install(stack: &LocalStack, api: &Api, place: &Place) -> (String, String, Value) {
    install_with(stack, api, place, json!({})).await
}

async fn cluster_exists(stack: &LocalStack, account: &str, install_id: &str) -> bool {
    eks(stack, account)
        .describe_cluster()
        .name(format!("byoc-{install_id}"))
        .send()
        .await
        .is_ok()
}

fn steps(record: &Value) -> Vec<String> {
    record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["step"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn removing_an_install_deletes_everything_it_made_and_tells_the_customer() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "remove").await;
    let (id, execution, record) = install(&stack, &api, &place).await;
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("SUCCEEDED", Some("ready")),
        "{record:#}"
    );
    let ec2 = ec2(&stack, &place.account);
    assert!(!tagged(&ec2, &id, true).await.unwrap().is_empty());
    assert!(cluster_exists(&stack, &place.account, &id).await);

    let removing = api
        .send("DELETE", &format!("/installs/{id}"), None, true)
        .await
        .unwrap();
    assert_eq!(removing.status, 202, "{}", removing.text);
    assert_eq!(removing.json["status"], "removing");
    let again = api
        .send("DELETE", &format!("/installs/{id}"), None, true)
        .await
        .unwrap();
    assert_eq!(
        (again.status, &again.json["execution_arn"]),
        (202, &removing.json["execution_arn"]),
        "a repeated DELETE joins the running removal"
    );

    let execution = stack
        .wait_for_execution(removing.json["execution_arn"].as_str().unwrap(), TIMEOUT)
        .await
        .unwrap();
    let record = api.get(&format!("/installs/{id}")).await.unwrap().json;
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("SUCCEEDED", Some("removed")),
        "{record:#}"
    );
    assert!(
        steps(&record).contains(&"sweep-dangling succeeded".to_owned()),
        "{:#?}",
        steps(&record)
    );
    assert_eq!(record["step_data"]["sweep"]["remaining"], 0);

    // What a person would check in the customer's account: nothing of the install is left.
    let left = tagged(&ec2, &id, true).await.unwrap();
    assert!(
        left.vpcs.is_empty()
            && left.subnets.is_empty()
            && left.addresses.is_empty()
            && left.route_tables.is_empty()
            && left.internet_gateways.is_empty(),
        "{left:#?}"
    );
    assert!(
        left.nat_gateways
            .iter()
            .all(|n| n.state().map(|s| s.as_str()) == Some("deleted")),
        "{:#?}",
        left.nat_gateways
    );
    assert!(
        !cluster_exists(&stack, &place.account, &id).await,
        "the cluster is gone"
    );

    let emails = place
        .inbox
        .wait_for(2, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(emails.len(), 2, "{emails:#?}");
    assert!(
        emails[1]
            .subject
            .contains("was removed from your AWS account"),
        "{}",
        emails[1].subject
    );

    let removed_again = api
        .send("DELETE", &format!("/installs/{id}"), None, true)
        .await
        .unwrap();
    assert_eq!(removed_again.status, 409, "{}", removed_again.text);
    // The place is free again.
    let (_, execution, _) = install(&stack, &api, &place).await;
    assert_eq!(execution, "SUCCEEDED");
}

#[tokio::test]
async fn an_install_that_fails_after_building_is_rolled_back_before_the_email() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "rollback").await;
    steer_eks(&stack, &place.account, json!({"cluster_fail": "Simulated: the control plane could not be created", "cluster_fail_code": "ClusterUnreachable"})).await.unwrap();

    let (id, execution, record) = install(&stack, &api, &place).await;
    assert_eq!(execution, "FAILED");
    assert_eq!(record["status"], "failed");
    assert_eq!(record["last_error"]["code"], "ClusterFailed", "{record:#}");
    assert_eq!(
        record["last_error"]["step"], "create-cluster",
        "the failure is reported against the step that failed"
    );
    assert!(record["last_error"]["message"]
        .as_str()
        .unwrap()
        .contains("Simulated: the control plane could not be created"));
    let steps = steps(&record);
    let at = |s: &str| {
        steps
            .iter()
            .position(|x| x == s)
            .unwrap_or_else(|| panic!("no {s} in {steps:#?}"))
    };
    assert!(at("create-network started") < at("sweep-dangling succeeded"));
    let failure_email = steps
        .iter()
        .rposition(|x| x == "notify succeeded")
        .expect("the failure email was recorded");
    assert!(
        at("sweep-dangling succeeded") < failure_email,
        "rolled back before the customer was told: {steps:#?}"
    );

    let left = tagged(&ec2(&stack, &place.account), &id, true)
        .await
        .unwrap();
    assert!(
        left.vpcs.is_empty() && left.subnets.is_empty() && left.addresses.is_empty(),
        "rolled back: {left:#?}"
    );
    assert!(!cluster_exists(&stack, &place.account, &id).await);

    let emails = place
        .inbox
        .wait_for(1, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(emails.len(), 1, "{emails:#?}");
    assert!(
        emails[0]
            .body
            .contains("Simulated: the control plane could not be created"),
        "{}",
        emails[0].body
    );
    assert!(emails[0]
        .body
        .contains("Nothing that Example Vendor created is left running"));

    // Removing the failed install finishes at once: there is nothing left to sweep.
    let removing = api
        .send("DELETE", &format!("/installs/{id}"), None, true)
        .await
        .unwrap();
    assert_eq!(removing.status, 202, "{}", removing.text);
    assert_eq!(removing.json["status"], "removing");
    stack
        .wait_for_execution(removing.json["execution_arn"].as_str().unwrap(), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(
        api.get(&format!("/installs/{id}")).await.unwrap().json["status"],
        "removed"
    );
}

#[tokio::test]
async fn a_failed_install_can_keep_what_it_made_for_inspection_until_removed() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "inspect").await;
    steer_eks(&stack, &place.account, json!({"cluster_fail": "Simulated: subnets have no free addresses", "cluster_fail_code": "InsufficientFreeAddresses"})).await.unwrap();

    let (id, execution, record) =
        install_with(&stack, &api, &place, json!({"keep_failed_resources": true})).await;
    assert_eq!(
        (execution.as_str(), record["last_error"]["code"].as_str()),
        ("FAILED", Some("ClusterFailed")),
        "{record:#}"
    );
    let ec2 = ec2(&stack, &place.account);
    let kept = tagged(&ec2, &id, true).await.unwrap();
    assert_eq!(
        (kept.vpcs.len(), kept.subnets.len()),
        (1, 6),
        "the network is kept for inspection"
    );
    assert_eq!(
        record["step_data"]["sweep"]["mode"], "dry_run",
        "the rollback only reported: {:#}",
        record["step_data"]["sweep"]
    );
    let emails = place
        .inbox
        .wait_for(1, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(
        emails[0].body.contains("kept for inspection") && emails[0].body.contains("costs money"),
        "{}",
        emails[0].body
    );

    // Removing it later deletes everything.
    let removing = api
        .send("DELETE", &format!("/installs/{id}"), None, true)
        .await
        .unwrap();
    assert_eq!(removing.status, 202, "{}", removing.text);
    stack
        .wait_for_execution(removing.json["execution_arn"].as_str().unwrap(), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(
        api.get(&format!("/installs/{id}")).await.unwrap().json["status"],
        "removed"
    );
    let left = tagged(&ec2, &id, true).await.unwrap();
    assert!(
        left.vpcs.is_empty() && left.subnets.is_empty() && left.addresses.is_empty(),
        "{left:#?}"
    );
}

#[tokio::test]
async fn a_failure_in_the_middle_of_the_network_rolls_back_the_partial_network() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "midnet").await;
    byoc_e2e::customer_ec2::steer_nat(
        &stack,
        &place.account,
        json!({"pending_polls": 1, "fail": "Simulated: insufficient capacity for NAT gateways", "fail_code": "InternalError"}),
    )
    .await
    .unwrap();

    let (id, execution, record) = install(&stack, &api, &place).await;
    assert_eq!(
        (execution.as_str(), record["last_error"]["code"].as_str()),
        ("FAILED", Some("NetworkFailed")),
        "{record:#}"
    );
    assert_eq!(record["last_error"]["step"], "create-network");
    assert!(
        steps(&record).contains(&"sweep-dangling succeeded".to_owned()),
        "{:#?}",
        steps(&record)
    );
    let left = tagged(&ec2(&stack, &place.account), &id, true)
        .await
        .unwrap();
    assert!(
        left.vpcs.is_empty()
            && left.subnets.is_empty()
            && left.addresses.is_empty()
            && left.route_tables.is_empty()
            && left.internet_gateways.is_empty(),
        "{left:#?}"
    );
    assert!(!cluster_exists(&stack, &place.account, &id).await);
}

#[tokio::test]
async fn what_kubernetes_left_in_the_install_is_removed_too_and_the_neighbours_stay() {
    use byoc_e2e::customer_sweep::{
        build_decoys, controller_load_balancer, install_leftovers, kubernetes_leftovers,
        still_there, Account,
    };
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "k8sleft").await;
    let (id, execution, record) = install(&stack, &api, &place).await;
    assert_eq!(execution, "SUCCEEDED", "{record:#}");
    let cluster = format!("byoc-{id}");

    // Findable at birth: the CSI driver add-on tags every volume it makes for the install, and
    // the record offers the Load Balancer Controller's Helm values that do the same.
    let account = Account::new(&stack, &place.account);
    let csi = account
        .eks
        .describe_addon()
        .cluster_name(&cluster)
        .addon_name("aws-ebs-csi-driver")
        .send()
        .await
        .unwrap()
        .addon
        .unwrap();
    let config: Value = serde_json::from_str(
        csi.configuration_values()
            .expect("the CSI add-on is configured"),
    )
    .unwrap();
    assert_eq!(
        config["controller"]["extraVolumeTags"],
        json!({"byoc:install-id": id, "byoc:tenant-id": place.tenant_id})
    );
    let resources = record["resources"].as_object().unwrap();
    let vpc = resources["vpc_id"].as_str().unwrap().to_owned();
    let chart = &record["step_data"]["load_balancer_controller"];
    assert_eq!(
        chart["chart"], "aws-load-balancer-controller",
        "{:#}",
        record["step_data"]
    );
    assert_eq!(
        chart["values"],
        json!({"clusterName": cluster, "region": "us-east-1", "vpcId": vpc,
               "defaultTags": {"byoc:install-id": id, "byoc:tenant-id": place.tenant_id},
               "serviceAccount": {"create": true, "name": "aws-load-balancer-controller"}})
    );
    // ... and the controller's identity: the customer stack's role for it, given by EKS Pod
    // Identity to the service account those values name.
    let associations = account
        .eks
        .list_pod_identity_associations()
        .cluster_name(&cluster)
        .namespace("kube-system")
        .service_account("aws-load-balancer-controller")
        .send()
        .await
        .unwrap();
    let [association] = associations.associations() else {
        panic!("one association for the controller: {associations:#?}")
    };
    let association = account
        .eks
        .describe_pod_identity_association()
        .cluster_name(&cluster)
        .association_id(association.association_id().unwrap())
        .send()
        .await
        .unwrap()
        .association
        .unwrap();
    let role = association.role_arn().unwrap();
    assert_eq!(chart["identity"]["role_arn"], role, "{chart:#}");
    assert_eq!(
        chart["identity"]["pod_identity_association_arn"],
        association.association_arn().unwrap()
    );
    assert_eq!(
        Some(role),
        resources["load_balancer_controller_role_arn"].as_str(),
        "the customer stack's LoadBalancerControllerRoleArn output"
    );
    assert!(role.contains(":role/byoc/"), "{role}");
    assert_eq!(
        association.tags().and_then(|t| t.get("byoc:install-id")),
        Some(&id.to_string())
    );

    // What the vendor's software would have made through Kubernetes, inside the install's VPC:
    // a PVC's volume made by the CSI driver as configured, an ALB made by a controller installed
    // with those values, and (from a controller installed without them) an NLB, its groups and
    // a leaked ENI.
    let subnets = |prefix: &str| -> Vec<String> {
        resources
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .filter_map(|(_, v)| v.as_str().map(str::to_owned))
            .collect()
    };
    let (public, private) = (subnets("public_subnet_id:"), subnets("private_subnet_id:"));
    let mut leftovers = kubernetes_leftovers(&account, &id, &vpc, &public, &private[0])
        .await
        .unwrap();
    let alb = controller_load_balancer(&account, &chart["values"], &public)
        .await
        .unwrap();
    leftovers.resources.extend(alb.resources.clone());
    let decoys = build_decoys(&account, &id).await.unwrap();
    assert!(!leftovers.resources.is_empty());

    // A dry run shows each found by the install's tag (the volume has no VPC to be found by).
    let dry = byoc_e2e::invoke::invoke(
        &stack,
        "sweep-dangling",
        &json!({"install_id": id, "tenant_id": place.tenant_id, "mode": "dry_run"}),
    )
    .await
    .unwrap();
    assert_eq!(dry["done"], true, "{dry:#}");
    let found = api.get(&format!("/installs/{id}")).await.unwrap().json["step_data"]["sweep"]
        ["found"]
        .clone();
    let reason = |kind: &str, id: &str| {
        found
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == kind && f["id"] == id)
            .map(|f| f["reason"].clone())
    };
    let volume = leftovers.id("volume").unwrap();
    assert_eq!(
        reason("volume", volume),
        Some(json!("tagged byoc:install-id")),
        "{found:#}"
    );
    for (kind, resource) in &alb.resources {
        assert_eq!(
            reason(kind, resource),
            Some(json!("tagged byoc:install-id")),
            "{kind} {resource}: {found:#}"
        );
    }

    let removing = api
        .send("DELETE", &format!("/installs/{id}"), None, true)
        .await
        .unwrap();
    assert_eq!(removing.status, 202, "{}", removing.text);
    let execution = stack
        .wait_for_execution(removing.json["execution_arn"].as_str().unwrap(), TIMEOUT)
        .await
        .unwrap();
    let record = api.get(&format!("/installs/{id}")).await.unwrap().json;
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("SUCCEEDED", Some("removed")),
        "{:#}",
        record["step_data"]["sweep"]
    );

    // The emulator's own listings (tagging API, Describe calls by tag and by VPC) find nothing.
    let left = install_leftovers(&account, &id, &[vpc]).await.unwrap();
    assert!(left.is_empty(), "left behind: {left:#?}");
    assert!(still_there(&account, &cluster, &leftovers.resources)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        still_there(&account, &cluster, &decoys.resources)
            .await
            .unwrap(),
        decoys.resources,
        "a neighbour was touched"
    );
}

/// `DELETE /installs/{id}` as API Gateway hands it to the API function (REST proxy event).
fn delete_event(stack: &LocalStack, id: &str) -> Value {
    json!({
        "resource": "/installs/{install_id}",
        "path": format!("/installs/{id}"),
        "httpMethod": "DELETE",
        "headers": {"Host": "api.local"},
        "multiValueHeaders": {"Host": ["api.local"]},
        "pathParameters": {"install_id": id},
        "requestContext": {
            "accountId": stack.outputs.vendor_account_id,
            "resourcePath": "/installs/{install_id}",
            "stage": "v1",
            "requestId": format!("crash-{id}"),
            "httpMethod": "DELETE",
            "path": format!("/v1/installs/{id}"),
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": "127.0.0.1"}
        },
        "body": null,
        "isBase64Encoded": false
    })
}

/// The vendor's retry of a DELETE whose answer never came (the API died after starting the
/// uninstall, as a lost answer or a timeout looks to the caller) joins the uninstall that is
/// running: one execution removes the install, and the second DELETE answers with it.
#[tokio::test]
async fn a_delete_repeated_after_the_api_died_mid_request_joins_the_one_uninstall() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "rmcrash").await;
    let (id, execution, record) = install(&stack, &api, &place).await;
    assert_eq!(execution, "SUCCEEDED", "{record:#}");

    let crashing = byoc_e2e::crashing::crashing_copy(&stack, "api", "uninstall-started").await;
    byoc_e2e::crashing::crash(&stack, &crashing, &delete_event(&stack, &id)).await;
    let record = api.get(&format!("/installs/{id}")).await.unwrap().json;
    assert_eq!(record["status"], "removing", "{record:#}");
    let started = record["resources"]["uninstall_execution_arn"]
        .as_str()
        .expect("the uninstall's execution is recorded with the request")
        .to_owned();

    let again = api
        .send("DELETE", &format!("/installs/{id}"), None, true)
        .await
        .unwrap();
    assert_eq!(again.status, 202, "{}", again.text);
    assert_eq!(again.json["execution_arn"], started.as_str());
    let execution = stack.wait_for_execution(&started, TIMEOUT).await.unwrap();
    assert_eq!(execution, "SUCCEEDED");

    let sfn = aws_sdk_sfn::Client::new(&stack.config);
    let machine = started
        .rsplit_once(':')
        .and_then(|(prefix, _)| prefix.split_once(":execution:"))
        .map(|(head, machine)| format!("{head}:stateMachine:{machine}"))
        .unwrap();
    let removals: Vec<String> = sfn
        .list_executions()
        .state_machine_arn(&machine)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name().to_owned())
        .filter(|name| name.starts_with(&id))
        .collect();
    assert_eq!(removals.len(), 1, "one uninstall execution: {removals:?}");
    let record = api.get(&format!("/installs/{id}")).await.unwrap().json;
    assert_eq!(record["status"], "removed", "{record:#}");
    let left = tagged(&ec2(&stack, &place.account), &id, true)
        .await
        .unwrap();
    let live = left.live_ids();
    assert!(live.is_empty(), "left in the account: {live:?}");
    assert!(!cluster_exists(&stack, &place.account, &id).await);
}
