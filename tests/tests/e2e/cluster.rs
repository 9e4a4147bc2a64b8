//! create-cluster on the local stack, called as the state machine calls it: again and again
//! until it says `ready`. Each test makes an install through the API (so the customer's roles
//! are on the record), lays out the install's network in the customer's account the way the
//! network step does, and then checks what a person would find in the account: the cluster,
//! its node group, add-ons and access entry, and the install's record and timeline.

use std::collections::HashMap;
use std::path::PathBuf;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
use byoc_e2e::customer_ec2::ec2;
use byoc_e2e::customer_eks::{
    create_install_network, create_nat_gateway, eks, install_subnets, steer_eks, InstallNetwork,
};
use byoc_e2e::{random_account_id, random_tenant_id, Api, LocalStack};
use serde_json::{json, Value};

const FUNCTION: &str = "byoc-create-cluster-e2e";
const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];
const PUBLIC_CIDR: &str = "203.0.113.0/24";
const ADDONS: [&str; 5] = [
    "vpc-cni",
    "coredns",
    "kube-proxy",
    "eks-pod-identity-agent",
    "aws-ebs-csi-driver",
];
const ADMIN_POLICY: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";
/// Enough calls for every emulated wait in these tests, few enough to fail fast.
const MAX_CALLS: usize = 12;

fn vendor_deploy_role(stack: &LocalStack) -> String {
    format!(
        "arn:aws:iam::{}:role/byoc-vendor-deploy",
        stack.outputs.vendor_account_id
    )
}

/// EKS makes an access entry only for a principal that exists, so the role is made first.
async fn ensure_vendor_deploy_role(stack: &LocalStack) {
    let iam = aws_sdk_iam::Client::new(&stack.config);
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"sts:AssumeRole"}}]}}"#,
        stack.outputs.vendor_account_id
    );
    if let Err(err) = iam
        .create_role()
        .role_name("byoc-vendor-deploy")
        .assume_role_policy_document(trust)
        .send()
        .await
    {
        let exists = err
            .as_service_error()
            .is_some_and(|e| e.is_entity_already_exists_exception());
        assert!(exists, "CreateRole byoc-vendor-deploy: {err:?}");
    }
}

// ---------------------------------------------------------------- the function under test

fn lambda(stack: &LocalStack) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::new(&stack.config)
}

/// Deploys create-cluster as `infra/deploy.py --link-code` would (a bootstrap exec'ing the
/// binary in target/debug), with the deployed validate-trust's role and environment plus the
/// cluster settings. deploy.py does not deploy create-cluster yet; once it does, use that.
async fn ensure_function(stack: &LocalStack) {
    ensure_vendor_deploy_role(stack).await;
    let client = lambda(stack);
    let binary = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/create-cluster");
    let binary = binary.canonicalize().unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run cargo build --workspace --bins first",
            binary.display()
        )
    });
    let template = client
        .get_function_configuration()
        .function_name("byoc-validate-trust")
        .send()
        .await
        .expect("the deployed validate-trust function");
    let mut variables: HashMap<String, String> = template
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    variables.insert("VENDOR_DEPLOY_ROLE_ARN".into(), vendor_deploy_role(stack));
    variables.insert("CLUSTER_PUBLIC_ACCESS_CIDRS".into(), PUBLIC_CIDR.into());
    // The local Lambda host keeps warm processes per configuration; a new build must not be
    // served by a process still running the old binary.
    let built = std::fs::metadata(&binary)
        .and_then(|m| m.modified())
        .expect("binary mtime");
    variables.insert("BYOC_TEST_BINARY_BUILT".into(), format!("{built:?}"));
    let environment = Environment::builder()
        .set_variables(Some(variables.clone()))
        .build();

    if let Ok(current) = client
        .get_function_configuration()
        .function_name(FUNCTION)
        .send()
        .await
    {
        if current.environment().and_then(|e| e.variables()) != Some(&variables) {
            client
                .update_function_configuration()
                .function_name(FUNCTION)
                .environment(environment)
                .send()
                .await
                .expect("UpdateFunctionConfiguration");
        }
        return;
    }
    let bootstrap = format!("#!/bin/sh\nexec '{}' \"$@\"\n", binary.display());
    let created = client
        .create_function()
        .function_name(FUNCTION)
        .runtime(Runtime::Providedal2023)
        .handler("bootstrap")
        .role(template.role().expect("a role"))
        .timeout(60)
        .memory_size(256)
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(byoc_e2e::function_package::zip_one_executable(
                    "bootstrap",
                    bootstrap.as_bytes(),
                )))
                .build(),
        )
        .environment(environment)
        .send()
        .await;
    // Tests start in parallel: another one may have made it first.
    if let Err(err) = created {
        assert!(
            err.as_service_error()
                .is_some_and(|e| e.is_resource_conflict_exception()),
            "CreateFunction: {err:?}"
        );
    }
}

/// One call of the step: `Ok(output)` or `Err((errorType, errorMessage))`.
async fn call(stack: &LocalStack, install: &Install) -> Result<Value, (String, String)> {
    let payload = json!({"install_id": install.id, "tenant_id": install.tenant_id}).to_string();
    let out = lambda(stack)
        .invoke()
        .function_name(FUNCTION)
        .payload(Blob::new(payload))
        .send()
        .await
        .expect("Invoke");
    let body: Value = out
        .payload()
        .map(|p| serde_json::from_slice(p.as_ref()).expect("JSON payload"))
        .unwrap_or(Value::Null);
    match out.function_error() {
        None => Ok(body),
        Some(_) => Err((
            body["errorType"].as_str().unwrap_or_default().to_owned(),
            body["errorMessage"].as_str().unwrap_or_default().to_owned(),
        )),
    }
}

/// Calls the step until `done` says so (as the state machine's Wait/poll loop would).
async fn call_until(
    stack: &LocalStack,
    install: &Install,
    done: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let mut outputs = Vec::new();
    for _ in 0..MAX_CALLS {
        let output = call(stack, install)
            .await
            .unwrap_or_else(|e| panic!("create-cluster failed: {e:?}"));
        outputs.push(output.clone());
        if done(&output) {
            return outputs;
        }
    }
    panic!("not done after {MAX_CALLS} calls: {outputs:#?}");
}

// ---------------------------------------------------------------- an install to build on

struct Install {
    id: String,
    tenant_id: String,
    eks: aws_sdk_eks::Client,
    ec2: aws_sdk_ec2::Client,
}

/// A tenant, the customer's access stack, and an install whose trust is validated (its own
/// execution has finished), with `eks_settings` steering the emulator in its account.
async fn install(
    stack: &LocalStack,
    api: &Api,
    prefix: &str,
    options: Value,
    eks_settings: Value,
) -> Install {
    ensure_function(stack).await;
    let tenant_id = random_tenant_id(prefix);
    let tenant = api.post("/tenants", &json!({"tenant_id": tenant_id, "name": "Customer Co", "email": "ops@customer.example"})).await.unwrap();
    assert_eq!(tenant.status, 201, "{}", tenant.text);
    let account = random_account_id();
    steer_eks(stack, &account, eks_settings).await.unwrap();
    stack
        .customer(&account)
        .create_access_stack(
            &stack.outputs.vendor_account_id,
            tenant.json["external_id"].as_str().unwrap(),
        )
        .await
        .unwrap();
    let id = byoc_e2e::stepwise::recorded_install(stack, &tenant_id, &account, options)
        .await
        .unwrap();
    Install {
        id,
        tenant_id,
        eks: eks(stack, &account),
        ec2: ec2(stack, &account),
    }
}

async fn network(install: &Install, zones: &[&str]) -> InstallNetwork {
    let network = create_install_network(&install.ec2, &install.id, zones)
        .await
        .unwrap();
    // A subnet of another install in the same account must never be picked up.
    create_install_network(&install.ec2, "inst-someoneelse", &zones[..2])
        .await
        .unwrap();
    network
}

async fn nat_available(install: &Install, network: &InstallNetwork) {
    for subnet in &network.public {
        create_nat_gateway(&install.ec2, &install.id, subnet)
            .await
            .unwrap();
    }
}

async fn record(api: &Api, install: &Install) -> Value {
    let shown = api.get(&format!("/installs/{}", install.id)).await.unwrap();
    assert_eq!(shown.status, 200, "{}", shown.text);
    shown.json
}

fn cluster_events(record: &Value) -> Vec<(String, String)> {
    record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["step"] == "create-cluster")
        .map(|e| {
            (
                e["outcome"].as_str().unwrap().to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn cluster_name(install: &Install) -> String {
    format!("byoc-{}", install.id)
}

/// What EKS's catalogue says: the newest version in standard support, and EKS's default.
async fn catalogue_versions(eks: &aws_sdk_eks::Client) -> (String, String) {
    let versions = eks.describe_cluster_versions().send().await.unwrap();
    let minor = |v: &str| v.trim_start_matches("1.").parse::<u32>().unwrap();
    let newest_standard = versions
        .cluster_versions()
        .iter()
        .filter(|v| v.version_status().map(|s| s.as_str()) == Some("STANDARD_SUPPORT"))
        .filter_map(|v| v.cluster_version())
        .max_by_key(|v| minor(v))
        .unwrap()
        .to_owned();
    let default = versions
        .cluster_versions()
        .iter()
        .find(|v| v.default_version())
        .and_then(|v| v.cluster_version())
        .unwrap()
        .to_owned();
    (newest_standard, default)
}

/// The add-on version EKS marks as default for `kubernetes`, and the newest one offered.
async fn addon_default_and_newest(
    eks: &aws_sdk_eks::Client,
    addon: &str,
    kubernetes: &str,
) -> (String, String) {
    let out = eks
        .describe_addon_versions()
        .addon_name(addon)
        .kubernetes_version(kubernetes)
        .send()
        .await
        .unwrap();
    let versions = out.addons()[0].addon_versions();
    let default = versions
        .iter()
        .find(|v| {
            v.compatibilities()
                .iter()
                .any(|c| c.cluster_version() == Some(kubernetes) && c.default_version())
        })
        .and_then(|v| v.addon_version())
        .unwrap()
        .to_owned();
    (default, versions[0].addon_version().unwrap().to_owned())
}

// ---------------------------------------------------------------- the tests

#[tokio::test]
async fn the_cluster_starts_before_nat_and_nodes_and_addons_follow_until_ready() {
    let stack = LocalStack::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = Api::new(&stack);
    let options = json!({"node_min_size": 1, "node_desired_size": 2, "node_max_size": 3, "node_disk_size_gib": 80});
    // A day when EKS's default version lags its newest (both in standard support).
    let settings = json!({"cluster_creating_polls": 2, "nodegroup_creating_polls": 2, "addon_creating_polls": 1, "now": "2026-06-01T00:00:00Z"});
    let install = install(&stack, &api, "cluster", options, settings).await;
    let network = network(&install, &ZONES).await;
    let name = cluster_name(&install);
    let before = record(&api, &install).await;

    // First call: the control plane is requested with subnets only; no NAT gateway exists.
    let first = call(&stack, &install).await.unwrap();
    assert_eq!(
        first,
        json!({"install_id": install.id, "tenant_id": install.tenant_id, "cluster_status": "CREATING", "nodegroup_status": "NONE", "ready": false})
    );
    let cluster = install
        .eks
        .describe_cluster()
        .name(&name)
        .send()
        .await
        .unwrap()
        .cluster
        .unwrap();
    let (newest_standard, eks_default) = catalogue_versions(&install.eks).await;
    assert_ne!(
        newest_standard, eks_default,
        "the catalogue tells the two apart"
    );
    assert_eq!(
        cluster.version(),
        Some(newest_standard.as_str()),
        "no version asked for: the newest in standard support"
    );
    assert_eq!(
        cluster.role_arn(),
        before["resources"]["cluster_role_arn"].as_str()
    );
    let vpc = cluster.resources_vpc_config().unwrap();
    let mut subnets = vpc.subnet_ids().to_vec();
    subnets.sort();
    let mut expected: Vec<String> = network
        .private
        .iter()
        .chain(&network.public)
        .cloned()
        .collect();
    expected.sort();
    assert_eq!(
        subnets, expected,
        "private and public subnets of this install, nobody else's"
    );
    assert_eq!(vpc.vpc_id(), Some(network.vpc_id.as_str()));
    assert!(vpc.endpoint_public_access() && vpc.endpoint_private_access());
    assert_eq!(vpc.public_access_cidrs(), [PUBLIC_CIDR]);
    let logging = &cluster.logging().unwrap().cluster_logging()[0];
    let logged: Vec<&str> = logging.types().iter().map(|t| t.as_str()).collect();
    assert_eq!(
        (logged, logging.enabled()),
        (vec!["api", "audit", "authenticator"], Some(true))
    );
    let access = cluster.access_config().unwrap();
    assert_eq!(
        access.authentication_mode().map(|m| m.as_str()),
        Some("API")
    );
    assert_eq!(
        access.bootstrap_cluster_creator_admin_permissions(),
        Some(false),
        "the installer keeps no admin rights"
    );
    assert!(
        cluster.encryption_config().is_empty(),
        "EKS encrypts API data by default; no vendor key in a customer's cluster"
    );
    let tags = cluster.tags().unwrap();
    assert_eq!(
        (
            tags["byoc:install-id"].as_str(),
            tags["byoc:tenant-id"].as_str(),
            tags["Name"].as_str()
        ),
        (
            install.id.as_str(),
            install.tenant_id.as_str(),
            name.as_str()
        )
    );

    // Polled while CREATING: nothing else starts.
    let outputs = call_until(&stack, &install, |o| o["cluster_status"] == "ACTIVE").await;
    assert!(
        outputs.len() >= 2
            && outputs[..outputs.len() - 1]
                .iter()
                .all(|o| o["cluster_status"] == "CREATING"),
        "{outputs:?}"
    );
    let active = outputs.last().unwrap();
    assert_eq!(
        (
            active["nodegroup_status"].as_str(),
            active["ready"].as_bool()
        ),
        (Some("NONE"), Some(false)),
        "no NAT yet, so no nodes"
    );
    assert!(install
        .eks
        .list_nodegroups()
        .cluster_name(&name)
        .send()
        .await
        .unwrap()
        .nodegroups()
        .is_empty());

    // Once ACTIVE: the vendor's access and the add-ons, without waiting for NAT.
    let entries = install
        .eks
        .list_access_entries()
        .cluster_name(&name)
        .send()
        .await
        .unwrap();
    let installer = before["resources"]["customer_role_arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut expected = vec![vendor_deploy_role(&stack), installer.clone()];
    expected.sort();
    let mut listed = entries.access_entries().to_vec();
    listed.sort();
    assert_eq!(
        listed, expected,
        "the vendor's deploy role, and the installer's own role (for removals)"
    );
    let edit = install
        .eks
        .list_associated_access_policies()
        .cluster_name(&name)
        .principal_arn(&installer)
        .send()
        .await
        .unwrap();
    let [edit] = edit.associated_access_policies() else {
        panic!("{edit:?}")
    };
    assert_eq!(
        edit.policy_arn(),
        Some("arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy")
    );
    let policies = install
        .eks
        .list_associated_access_policies()
        .cluster_name(&name)
        .principal_arn(vendor_deploy_role(&stack))
        .send()
        .await
        .unwrap();
    let [policy] = policies.associated_access_policies() else {
        panic!("{policies:?}")
    };
    assert_eq!(policy.policy_arn(), Some(ADMIN_POLICY));
    assert_eq!(
        policy
            .access_scope()
            .and_then(|s| s.r#type())
            .map(|t| t.as_str()),
        Some("cluster")
    );
    let mut addons = install
        .eks
        .list_addons()
        .cluster_name(&name)
        .send()
        .await
        .unwrap()
        .addons()
        .to_vec();
    addons.sort();
    assert_eq!(
        addons,
        [
            "aws-ebs-csi-driver",
            "coredns",
            "eks-pod-identity-agent",
            "kube-proxy",
            "vpc-cni"
        ]
    );

    // NAT becomes available: the node group goes into the private subnets.
    nat_available(&install, &network).await;
    let outputs = call_until(&stack, &install, |o| o["ready"] == true).await;
    assert_eq!(outputs[0]["nodegroup_status"], "CREATING", "{outputs:?}");
    assert_eq!(outputs.last().unwrap()["nodegroup_status"], "ACTIVE");
    let nodegroup = install
        .eks
        .describe_nodegroup()
        .cluster_name(&name)
        .nodegroup_name(format!("{name}-nodes"))
        .send()
        .await
        .unwrap()
        .nodegroup
        .unwrap();
    let mut node_subnets = nodegroup.subnets().to_vec();
    node_subnets.sort();
    let mut private = network.private.clone();
    private.sort();
    assert_eq!(node_subnets, private, "nodes only in private subnets");
    assert_eq!(
        nodegroup.node_role(),
        before["resources"]["node_role_arn"].as_str()
    );
    assert_eq!(
        nodegroup.ami_type().map(|a| a.as_str()),
        Some("AL2023_x86_64_STANDARD")
    );
    assert_eq!(nodegroup.instance_types(), ["m6i.large"]);
    assert_eq!(nodegroup.disk_size(), Some(80));
    let scaling = nodegroup.scaling_config().unwrap();
    assert_eq!(
        (
            scaling.min_size(),
            scaling.desired_size(),
            scaling.max_size()
        ),
        (Some(1), Some(2), Some(3))
    );
    assert_eq!(nodegroup.labels().unwrap()["byoc/install-id"], install.id);
    assert_eq!(nodegroup.tags().unwrap()["byoc:install-id"], install.id);
    assert_eq!(nodegroup.version(), Some(newest_standard.as_str()));

    // Add-ons at EKS's default for the cluster version, which is not always the newest.
    for addon in ADDONS {
        let state = install
            .eks
            .describe_addon()
            .cluster_name(&name)
            .addon_name(addon)
            .send()
            .await
            .unwrap()
            .addon
            .unwrap();
        let (default, _) = addon_default_and_newest(&install.eks, addon, &newest_standard).await;
        assert_eq!(
            (state.addon_version(), state.status().map(|s| s.as_str())),
            (Some(default.as_str()), Some("ACTIVE")),
            "{addon}"
        );
    }
    let (cni_default, cni_newest) =
        addon_default_and_newest(&install.eks, "vpc-cni", &newest_standard).await;
    assert_ne!(
        cni_default, cni_newest,
        "the catalogue has a newer, non-default vpc-cni"
    );

    // The record: ids for later steps and the API, and a timeline that reads in order.
    let done = record(&api, &install).await;
    let resources = &done["resources"];
    assert_eq!(resources["cluster_name"], name.as_str());
    assert_eq!(resources["cluster_arn"], cluster.arn().unwrap());
    // EKS shows the endpoint only once the cluster is ACTIVE.
    let active = install
        .eks
        .describe_cluster()
        .name(&name)
        .send()
        .await
        .unwrap()
        .cluster
        .unwrap();
    assert_eq!(
        (cluster.endpoint(), resources["cluster_endpoint"].as_str()),
        (None, active.endpoint())
    );
    assert_eq!(resources["kubernetes_version"], newest_standard.as_str());
    // Created to be upgraded by AWS at the end of standard support, not to slide into
    // extended support (EKS's default), and the record says until when.
    assert_eq!(
        active
            .upgrade_policy()
            .and_then(|p| p.support_type())
            .map(|t| t.as_str()),
        Some("STANDARD")
    );
    let calendar = install
        .eks
        .describe_cluster_versions()
        .cluster_versions(&newest_standard)
        .send()
        .await
        .unwrap();
    let version = calendar.cluster_versions().first().unwrap();
    let day = |d: Option<&aws_sdk_eks::primitives::DateTime>| {
        d.unwrap()
            .fmt(aws_sdk_eks::primitives::DateTimeFormat::DateTime)
            .unwrap()[..10]
            .to_owned()
    };
    let (standard_end, extended_end) = (
        day(version.end_of_standard_support_date()),
        day(version.end_of_extended_support_date()),
    );
    assert_eq!(
        done["step_data"]["cluster"]["support"],
        json!({"policy": "STANDARD", "end_of_standard_support": standard_end, "end_of_extended_support": extended_end})
    );
    assert_eq!(
        resources["kubernetes_support"],
        format!("standard support until {standard_end}, then upgraded by AWS").as_str()
    );
    assert_eq!(
        resources["nodegroup_name"],
        format!("{name}-nodes").as_str()
    );
    let data = &done["step_data"]["cluster"];
    assert_eq!(
        data["update_kubeconfig"],
        format!("aws eks update-kubeconfig --name {name} --region us-east-1").as_str()
    );
    assert_eq!(
        (
            data["ready"].as_bool(),
            data["nodegroup"]["ami_type"].as_str()
        ),
        (Some(true), Some("AL2023_x86_64_STANDARD"))
    );
    let events = cluster_events(&done);
    assert_eq!(
        events[0],
        ("started".to_owned(), format!("creating EKS cluster {name}"))
    );
    assert!(events[1].1.starts_with(&format!("EKS cluster {name} requested: Kubernetes {newest_standard}, 3 private and 3 public subnets")), "{events:?}");
    let nodes_requested = events
        .iter()
        .position(|(_, m)| m.contains("node group") && m.contains("requested"))
        .unwrap();
    let addons_requested = events
        .iter()
        .position(|(_, m)| m.contains("add-ons requested"))
        .unwrap();
    assert!(
        1 < addons_requested && addons_requested < nodes_requested,
        "{events:?}"
    );
    let (outcome, message) = events.last().unwrap();
    assert_eq!(outcome, "succeeded");
    assert!(
        message.starts_with(&format!("EKS cluster {name} is ready")),
        "{message}"
    );
    assert_eq!(events.iter().filter(|(o, _)| o == "succeeded").count(), 1);

    // Called again: the same answer, nothing made twice, nothing recorded.
    let again = call(&stack, &install).await.unwrap();
    assert_eq!(again, *outputs.last().unwrap());
    assert_eq!(
        install.eks.list_clusters().send().await.unwrap().clusters(),
        [name.as_str()]
    );
    assert_eq!(
        install
            .eks
            .list_nodegroups()
            .cluster_name(&name)
            .send()
            .await
            .unwrap()
            .nodegroups()
            .len(),
        1
    );
    assert_eq!(
        install
            .eks
            .list_addons()
            .cluster_name(&name)
            .send()
            .await
            .unwrap()
            .addons()
            .len(),
        ADDONS.len()
    );
    // The vendor's entry, the installer's, and the one EKS makes itself for the node role
    // (API mode); none of them twice after the repeated call.
    let entries = install
        .eks
        .list_access_entries()
        .cluster_name(&name)
        .send()
        .await
        .unwrap()
        .access_entries()
        .to_vec();
    assert_eq!(entries.len(), 3, "{entries:?}");
    for principal in entries
        .iter()
        .filter(|p| **p != vendor_deploy_role(&stack) && **p != installer)
    {
        let entry = install
            .eks
            .describe_access_entry()
            .cluster_name(&name)
            .principal_arn(principal)
            .send()
            .await
            .unwrap();
        assert_eq!(
            entry.access_entry().and_then(|e| e.r#type()),
            Some("EC2_LINUX"),
            "{principal}"
        );
    }
    assert_eq!(
        record(&api, &install).await["version"],
        done["version"],
        "a call that changes nothing records nothing"
    );

    // Access is checked in the cluster, not on the record: an entry removed is made again.
    install
        .eks
        .delete_access_entry()
        .cluster_name(&name)
        .principal_arn(vendor_deploy_role(&stack))
        .send()
        .await
        .unwrap();
    assert_eq!(call(&stack, &install).await.unwrap()["ready"], true);
    assert!(install
        .eks
        .list_access_entries()
        .cluster_name(&name)
        .send()
        .await
        .unwrap()
        .access_entries()
        .contains(&vendor_deploy_role(&stack)));
    let (_, message) = cluster_events(&record(&api, &install).await).pop().unwrap();
    assert_eq!(
        message,
        format!(
            "cluster-admin access entry for {}",
            vendor_deploy_role(&stack)
        )
    );
}

#[tokio::test]
async fn a_graviton_instance_type_and_a_chosen_version_are_honoured() {
    let stack = LocalStack::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = Api::new(&stack);
    let options = json!({"node_instance_type": "m7g.large", "kubernetes_version": "1.32"});
    // 1.32 in standard support: before 2026-03-23 (EKS's calendar).
    let install = install(
        &stack,
        &api,
        "graviton",
        options,
        json!({"now": "2026-03-01T00:00:00Z"}),
    )
    .await;
    let network = network(&install, &ZONES[..2]).await;
    nat_available(&install, &network).await;

    call_until(&stack, &install, |o| o["ready"] == true).await;

    let name = cluster_name(&install);
    let cluster = install
        .eks
        .describe_cluster()
        .name(&name)
        .send()
        .await
        .unwrap()
        .cluster
        .unwrap();
    assert_eq!(cluster.version(), Some("1.32"));
    let nodegroup = install
        .eks
        .describe_nodegroup()
        .cluster_name(&name)
        .nodegroup_name(format!("{name}-nodes"))
        .send()
        .await
        .unwrap()
        .nodegroup
        .unwrap();
    assert_eq!(
        nodegroup.ami_type().map(|a| a.as_str()),
        Some("AL2023_ARM_64_STANDARD")
    );
    assert_eq!(nodegroup.instance_types(), ["m7g.large"]);
    let coredns = install
        .eks
        .describe_addon()
        .cluster_name(&name)
        .addon_name("coredns")
        .send()
        .await
        .unwrap()
        .addon
        .unwrap();
    let (default, newest) = addon_default_and_newest(&install.eks, "coredns", "1.32").await;
    assert_ne!(default, newest);
    assert_eq!(
        coredns.addon_version(),
        Some(default.as_str()),
        "coredns for 1.32 at EKS's default"
    );
}

#[tokio::test]
async fn a_failed_cluster_ends_the_step_with_eks_own_words() {
    let stack = LocalStack::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = Api::new(&stack);
    let why = "The specified cluster role does not trust eks.amazonaws.com.";
    let install = install(
        &stack,
        &api,
        "failed",
        json!({}),
        json!({"cluster_fail": why, "cluster_fail_code": "IamRoleNotFound"}),
    )
    .await;
    network(&install, &ZONES[..2]).await;

    assert_eq!(
        call(&stack, &install).await.unwrap()["cluster_status"],
        "CREATING"
    );
    let (error_type, message) = call(&stack, &install).await.unwrap_err();
    assert_eq!(error_type, "ClusterFailed");
    assert_eq!(
        message,
        format!(
            "EKS could not create cluster {}: IamRoleNotFound: {why}",
            cluster_name(&install)
        )
    );
    let (outcome, recorded) = cluster_events(&record(&api, &install).await).pop().unwrap();
    assert_eq!(
        (outcome.as_str(), recorded.as_str()),
        ("failed", message.as_str())
    );
}

#[tokio::test]
async fn a_degraded_node_group_ends_the_step_with_its_health_issue() {
    let stack = LocalStack::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = Api::new(&stack);
    let why = "Instances failed to join the kubernetes cluster";
    let install = install(
        &stack,
        &api,
        "degraded",
        json!({}),
        json!({"nodegroup_fail": why, "nodegroup_fail_status": "DEGRADED"}),
    )
    .await;
    let network = network(&install, &ZONES[..2]).await;
    nat_available(&install, &network).await;

    let mut last = Ok(Value::Null);
    for _ in 0..MAX_CALLS {
        last = call(&stack, &install).await;
        if last.is_err() {
            break;
        }
    }
    let (error_type, message) = last.unwrap_err();
    assert_eq!(error_type, "ClusterFailed");
    assert!(
        message.starts_with(&format!(
            "EKS node group {}-nodes is DEGRADED: NodeCreationFailure: {why}",
            cluster_name(&install)
        )),
        "{message}"
    );
}

#[tokio::test]
async fn a_version_eks_does_not_offer_is_refused_before_anything_is_made() {
    let stack = LocalStack::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = Api::new(&stack);
    let install = install(
        &stack,
        &api,
        "oldversion",
        json!({"kubernetes_version": "1.29"}),
        // EKS offered 1.31 to 1.34 then.
        json!({"now": "2025-12-01T00:00:00Z"}),
    )
    .await;
    network(&install, &ZONES[..2]).await;

    let (error_type, message) = call(&stack, &install).await.unwrap_err();
    assert_eq!(error_type, "ClusterInvalid");
    assert!(message.starts_with("Kubernetes 1.29 is not offered by EKS in this region (offered: 1.31, 1.32, 1.33, 1.34)"), "{message}");
    assert!(install
        .eks
        .list_clusters()
        .send()
        .await
        .unwrap()
        .clusters()
        .is_empty());
}

#[tokio::test]
async fn a_version_in_extended_support_needs_the_extended_support_type() {
    let stack = LocalStack::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = Api::new(&stack);
    let refused = install(
        &stack,
        &api,
        "extendedver",
        json!({"kubernetes_version": "1.31"}),
        // 1.31 in extended support, still offered.
        json!({"now": "2026-06-01T00:00:00Z"}),
    )
    .await;
    network(&refused, &ZONES[..2]).await;
    let (error_type, message) = call(&stack, &refused).await.unwrap_err();
    assert_eq!(error_type, "ClusterInvalid");
    assert!(
        message.starts_with("Kubernetes 1.31 is in extended support, which options.support_type \"standard\" rules out")
            && message.contains("options.kubernetes_version"),
        "{message}"
    );
    assert!(refused
        .eks
        .list_clusters()
        .send()
        .await
        .unwrap()
        .clusters()
        .is_empty());

    // Asked for, it is what the cluster gets.
    let chosen = install(
        &stack,
        &api,
        "extendedok",
        json!({"kubernetes_version": "1.31", "support_type": "extended"}),
        json!({"now": "2026-06-01T00:00:00Z"}),
    )
    .await;
    network(&chosen, &ZONES[..2]).await;
    call(&stack, &chosen).await.unwrap();
    let cluster = chosen
        .eks
        .describe_cluster()
        .name(format!("byoc-{}", chosen.id))
        .send()
        .await
        .unwrap()
        .cluster
        .unwrap();
    assert_eq!(cluster.version(), Some("1.31"));
    assert_eq!(
        cluster
            .upgrade_policy()
            .and_then(|p| p.support_type())
            .map(|t| t.as_str()),
        Some("EXTENDED")
    );
}

#[tokio::test]
async fn without_the_install_subnets_the_step_says_the_network_is_not_ready() {
    let stack = LocalStack::connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = Api::new(&stack);
    let install = install(&stack, &api, "nonetwork", json!({}), json!({})).await;
    // Only one zone so far: EKS needs two.
    create_install_network(&install.ec2, &install.id, &ZONES[..1])
        .await
        .unwrap();
    assert_eq!(
        install_subnets(&install.ec2, &install.id)
            .await
            .unwrap()
            .len(),
        2
    );

    let (error_type, message) = call(&stack, &install).await.unwrap_err();
    assert_eq!(error_type, "NetworkNotReady");
    assert!(
        message.contains("private subnets") && message.contains("two zones"),
        "{message}"
    );
    assert!(install
        .eks
        .list_clusters()
        .send()
        .await
        .unwrap()
        .clusters()
        .is_empty());
}
