//! What Kubernetes and EKS make by themselves goes with the install, and what cannot go is
//! said, never hidden: a removal that leaves something lists each leftover (why it is the
//! install's, why it stays, its cost, the command that deletes it) on the record, in the
//! email and in an event, and the scheduled sweep records when it is gone. IAM evaluation is
//! on: what the installer's role may not delete stays, as it would on AWS.

use std::time::Duration;

use byoc_e2e::customer_sweep::steer;
use byoc_e2e::customer_sweep::{install_leftovers, still_there, Account};
use byoc_e2e::event_queue::EventQueue;
use byoc_e2e::installed::{install_with, place, remove};
use byoc_e2e::kubernetes_api::Kubernetes;
use byoc_e2e::kubernetes_made::{
    customers_instance_with_cluster_volume, in_tree_classic_load_balancer, in_tree_volume,
    karpenter_node,
};
use byoc_e2e::scheduled::ScheduledJob;
use byoc_e2e::{Api, LocalStack};
use serde_json::{json, Value};

const SCHEDULED_SWEEP: ScheduledJob = ScheduledJob {
    function: "sweep-dangling",
    rule: "byoc-sweep-dangling",
    record_key: "scheduled_sweep",
    max_runs: 15,
};

/// (zone, subnet id) of the install's subnets whose resource key starts with `prefix`.
fn subnets(record: &Value, prefix: &str) -> Vec<(String, String)> {
    let resources = record["resources"].as_object().unwrap();
    resources
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_owned(), v.as_str()?.to_owned())))
        .collect()
}

/// What the timeline entry that marked the install removed says.
fn removal_message(record: &Value) -> String {
    let entries = record["timeline"].as_array().unwrap();
    let removed = entries
        .iter()
        .rev()
        .find(|e| e["status"] == "removed")
        .unwrap_or_else(|| panic!("no removal entry: {entries:#?}"));
    removed["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn what_karpenter_and_in_tree_volumes_leave_goes_with_the_install() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "karpenter").await;
    let (id, execution, record) = install_with(&stack, &api, &place, json!({})).await;
    assert_eq!(execution, "SUCCEEDED", "{record:#}");
    let cluster = format!("byoc-{id}");
    let account = Account::new(&stack, &place.account);
    let (zone, private) = subnets(&record, "private_subnet_id:").remove(0);
    let node = karpenter_node(&account, &cluster, &private).await.unwrap();
    let volume = in_tree_volume(&account, &cluster, &zone).await.unwrap();
    let made = vec![("instance", node.clone()), ("volume", volume.clone())];

    let (execution, record) = remove(&stack, &api, &id).await;
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("SUCCEEDED", Some("removed")),
        "{:#}",
        record["step_data"]["sweep"]
    );
    let sweep = &record["step_data"]["sweep"];
    assert_eq!(sweep["leftovers"], json!([]), "{sweep:#}");
    assert_eq!(
        removal_message(&record),
        "install removed: nothing it made is left"
    );
    assert!(
        still_there(&account, &cluster, &made)
            .await
            .unwrap()
            .is_empty(),
        "{made:?}"
    );
    let vpc = record["resources"]["vpc_id"].as_str().unwrap().to_owned();
    let left = install_leftovers(&account, &id, &[vpc]).await.unwrap();
    assert!(left.is_empty(), "left behind: {left:#?}");
}

#[tokio::test]
async fn what_the_installer_may_not_delete_is_reported_with_commands_until_the_customer_deletes_it()
{
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "leftover").await;
    let events = EventQueue::for_tenant(&stack, &place.tenant_id)
        .await
        .unwrap();
    let (id, execution, record) = install_with(&stack, &api, &place, json!({})).await;
    assert_eq!(execution, "SUCCEEDED", "{record:#}");
    let cluster = format!("byoc-{id}");
    let account = Account::new(&stack, &place.account);
    let vpc = record["resources"]["vpc_id"].as_str().unwrap().to_owned();
    let public: Vec<String> = subnets(&record, "public_subnet_id:")
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    let zone = subnets(&record, "private_subnet_id:").remove(0).0;
    // A Classic ELB names the cluster only in a tag key; IAM cannot scope a delete by that.
    let elb = in_tree_classic_load_balancer(&account, &cluster, &vpc, &public)
        .await
        .unwrap();
    let elb_name = elb.id("classic-load-balancer").unwrap().to_owned();
    let (customers_instance, volume) =
        customers_instance_with_cluster_volume(&account, &cluster, &zone)
            .await
            .unwrap();

    let (execution, record) = remove(&stack, &api, &id).await;
    let sweep = &record["step_data"]["sweep"];
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("SUCCEEDED", Some("removed")),
        "{sweep:#}"
    );
    let leftovers = sweep["leftovers"].as_array().unwrap();
    let leftover = |kind: &str, id: &str| {
        leftovers
            .iter()
            .find(|l| l["kind"] == kind && l["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{kind} {id} not listed: {sweep:#}"))
    };
    let elb_left = leftover("classic-load-balancer", &elb_name);
    assert_eq!(
        elb_left["why_ours"],
        format!("tagged kubernetes.io/cluster/{cluster} by Kubernetes")
    );
    assert!(
        elb_left["why_remains"]
            .as_str()
            .unwrap()
            .starts_with("the installer's role may not delete it"),
        "{elb_left:#}"
    );
    assert_eq!(
        elb_left["command"],
        format!("aws elb delete-load-balancer --region us-east-1 --load-balancer-name {elb_name}")
    );
    assert_eq!(elb_left["monthly_cost_usd"], 18.25);
    let volume_left = leftover("volume", &volume);
    assert_eq!(
        volume_left["command"],
        format!("aws ec2 delete-volume --region us-east-1 --volume-id {volume}")
    );
    // The network the ELB sits in waits for it, and says so.
    let vpc_left = leftover("vpc", &vpc);
    assert!(
        vpc_left["why_remains"]
            .as_str()
            .unwrap()
            .contains(&format!("classic-load-balancer {elb_name}")),
        "{vpc_left:#}"
    );
    assert_eq!(sweep["done"], true);

    // The status's last word does not say "nothing left"; the email and an event list them.
    let said = removal_message(&record);
    assert!(
        said.starts_with("install removed, except")
            && said.contains(&elb_name)
            && said.contains(&volume),
        "{said}"
    );
    let emails = place
        .inbox
        .wait_for(2, Duration::from_secs(20))
        .await
        .unwrap();
    let email = emails.last().unwrap();
    assert!(
        email.subject.starts_with("Action needed"),
        "{}",
        email.subject
    );
    assert!(email.body.contains(&format!("delete it: aws elb delete-load-balancer --region us-east-1 --load-balancer-name {elb_name}")), "{}", email.body);
    assert!(
        email.body.contains(&format!(
            "delete it: aws ec2 delete-volume --region us-east-1 --volume-id {volume}"
        )),
        "{}",
        email.body
    );
    assert!(
        !email.body.contains("no longer costs you anything"),
        "{}",
        email.body
    );
    let seq = record["version"].as_u64().unwrap() as usize;
    let delivered = events
        .wait_for(&id, seq, Duration::from_secs(30))
        .await
        .unwrap();
    let action_needed = delivered
        .iter()
        .find(|e| e["detail-type"] == "Action Needed" && e["detail"]["step"] == "sweep-dangling")
        .unwrap_or_else(|| panic!("{delivered:#?}"));
    assert!(
        action_needed["detail"]["message"]
            .as_str()
            .unwrap()
            .contains(&elb_name),
        "{action_needed:#}"
    );
    // The customer's own instance was not touched.
    assert_eq!(
        still_there(
            &account,
            &cluster,
            &[("instance", customers_instance.clone())]
        )
        .await
        .unwrap()
        .len(),
        1
    );

    // The customer deletes what Kubernetes made with their own permissions (the load balancer,
    // its group, the volume); the scheduled sweep removes the rest and records that nothing
    // is left.
    let elb_group = elb.id("security-group").unwrap().to_owned();
    assert!(leftover("security-group", &elb_group)["why_remains"]
        .as_str()
        .unwrap()
        .contains(&elb_name));
    account
        .classic_elb
        .delete_load_balancer()
        .load_balancer_name(&elb_name)
        .send()
        .await
        .unwrap();
    account
        .ec2
        .delete_security_group()
        .group_id(&elb_group)
        .send()
        .await
        .unwrap();
    account
        .ec2
        .detach_volume()
        .volume_id(&volume)
        .instance_id(&customers_instance)
        .send()
        .await
        .unwrap();
    account
        .ec2
        .delete_volume()
        .volume_id(&volume)
        .send()
        .await
        .unwrap();
    let since = chrono::Utc::now();
    let record = SCHEDULED_SWEEP
        .run_until_checked(&stack, &api, &[&id], since)
        .await
        .remove(0);
    let findings = &record["step_data"]["scheduled_sweep"];
    assert_eq!(
        (findings["remaining"].clone(), findings["leftovers"].clone()),
        (json!(0), json!([])),
        "{findings:#}"
    );
    let left = install_leftovers(&account, &id, &[vpc]).await.unwrap();
    assert!(left.is_empty(), "left behind: {left:#?}");
    assert_eq!(record["status"], "removed");
}

#[tokio::test]
async fn what_kubernetes_controllers_made_is_released_through_the_cluster_before_it_goes() {
    let stack = LocalStack::connect().await.unwrap();
    let api = Api::new(&stack);
    let place = place(&stack, &api, "release").await;
    let (id, execution, record) = install_with(&stack, &api, &place, json!({})).await;
    assert_eq!(execution, "SUCCEEDED", "{record:#}");
    let cluster = format!("byoc-{id}");
    let account = Account::new(&stack, &place.account);
    let vpc = record["resources"]["vpc_id"].as_str().unwrap().to_owned();
    // The installer's role got its own entry to reach the API at removal.
    let role = record["resources"]["customer_role_arn"].as_str().unwrap();
    let policies = account
        .eks
        .list_associated_access_policies()
        .cluster_name(&cluster)
        .principal_arn(role)
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = policies
        .associated_access_policies()
        .iter()
        .filter_map(|p| p.policy_arn())
        .collect();
    assert_eq!(
        names,
        vec!["arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"]
    );

    // The EBS CSI driver's controller gets the customer stack's role through EKS Pod Identity
    // (AL2023 nodes give pods no node-role credentials): without it, no claim gets a volume.
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
    let [association] = csi.pod_identity_associations() else {
        panic!("{csi:?}")
    };
    let association_id = association.rsplit('/').next().unwrap();
    let described = account
        .eks
        .describe_pod_identity_association()
        .cluster_name(&cluster)
        .association_id(association_id)
        .send()
        .await
        .unwrap()
        .association
        .unwrap();
    assert_eq!(
        (
            described.namespace(),
            described.service_account(),
            described.role_arn()
        ),
        (
            Some("kube-system"),
            Some("ebs-csi-controller-sa"),
            record["resources"]["ebs_csi_role_arn"].as_str()
        )
    );

    // The vendor's software, deployed as the vendor's deploy role: a Service of type
    // LoadBalancer (a Classic ELB, which names the cluster only in a tag key), an NLB Service,
    // an ALB Ingress and a volume claim.
    let endpoint = account
        .eks
        .describe_cluster()
        .name(&cluster)
        .send()
        .await
        .unwrap()
        .cluster
        .unwrap()
        .endpoint
        .unwrap();
    let vendor = record["step_data"]["cluster"]["vendor_access"]
        .as_str()
        .unwrap();
    let kube = Kubernetes::as_role(&stack, vendor, &cluster, &endpoint)
        .await
        .unwrap();
    let service = |name: &str, annotations: Value| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "annotations": annotations},
               "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}})
    };
    kube.create(
        "/api/v1/namespaces/shop/services",
        &service("web", json!({})),
    )
    .await
    .unwrap();
    kube.create(
        "/api/v1/namespaces/shop/services",
        &service(
            "api",
            json!({"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}),
        ),
    )
    .await
    .unwrap();
    let ingress = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "site", "annotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing"}},
        "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "api", "port": {"number": 80}}}}]}}]}});
    kube.create(
        "/apis/networking.k8s.io/v1/namespaces/shop/ingresses",
        &ingress,
    )
    .await
    .unwrap();
    let claim = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
        "spec": {"storageClassName": "gp3", "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}}});
    kube.create("/api/v1/namespaces/shop/persistentvolumeclaims", &claim)
        .await
        .unwrap();

    // What the controllers made, by the account's own listings.
    let classic: Vec<String> = account
        .classic_elb
        .describe_load_balancers()
        .send()
        .await
        .unwrap()
        .load_balancer_descriptions()
        .iter()
        .filter(|l| l.vpc_id() == Some(vpc.as_str()))
        .filter_map(|l| l.load_balancer_name().map(str::to_owned))
        .collect();
    let balancers: Vec<String> = account
        .elb
        .describe_load_balancers()
        .send()
        .await
        .unwrap()
        .load_balancers()
        .iter()
        .filter(|l| l.vpc_id() == Some(vpc.as_str()))
        .filter_map(|l| l.load_balancer_arn().map(str::to_owned))
        .collect();
    let volumes = account
        .ec2
        .describe_volumes()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:kubernetes.io/created-for/pvc/name")
                .values("data")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let volume = volumes
        .volumes()
        .first()
        .and_then(|v| v.volume_id())
        .expect("the claim's volume")
        .to_owned();
    assert_eq!(
        (classic.len(), balancers.len()),
        (1, 2),
        "a Classic ELB, an NLB and an ALB: {classic:?} {balancers:?}"
    );
    let mut made: Vec<(&'static str, String)> = vec![
        ("classic-load-balancer", classic[0].clone()),
        ("volume", volume),
    ];
    made.extend(balancers.iter().map(|b| ("load-balancer", b.clone())));

    // Kubernetes takes a while to finish each deletion: the removal waits for it.
    steer(&stack, "k8s", &place.account, json!({"finalize_polls": 2}))
        .await
        .unwrap();
    let (execution, record) = remove(&stack, &api, &id).await;
    let sweep = &record["step_data"]["sweep"];
    assert_eq!(
        (execution.as_str(), record["status"].as_str()),
        ("SUCCEEDED", Some("removed")),
        "{sweep:#}"
    );
    assert_eq!(sweep["leftovers"], json!([]), "{sweep:#}");
    assert_eq!(
        removal_message(&record),
        "install removed: nothing it made is left"
    );
    let released: Vec<&str> = record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["message"].as_str())
        .filter(|m| m.contains("kubernetes-service"))
        .collect();
    assert!(
        !released.is_empty(),
        "the timeline shows the Services being deleted"
    );
    assert!(
        still_there(&account, &cluster, &made)
            .await
            .unwrap()
            .is_empty(),
        "{made:?}"
    );
    let left = install_leftovers(&account, &id, &[vpc]).await.unwrap();
    assert!(left.is_empty(), "left behind: {left:#?}");
}
