//! The create-network step against the local stack, checked the way a person would check an
//! install's network in the customer's account: the VPC, its subnets per zone and their CIDRs,
//! the routes and where they lead, where the NAT gateways sit, the tags EKS and the sweeper
//! rely on; and that the step is idempotent, survives a crash, polls instead of waiting, and
//! leaves the vendor's own account alone.
//!
//! The tests deploy their own copies of create-network (a bootstrap that execs this checkout's
//! `target/debug/create-network`, with the environment of the deployed validate-trust function,
//! some with a fault hook switched on) and invoke them as the state machine would, so nothing
//! else drives the records under test. Build first: `cargo build --workspace --bins`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_ec2::types::{NatGatewayState, RouteTable, VpcAttributeName};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
use byoc_e2e::customer_ec2::{self, steer_nat, tag, tagged, Tagged};
use byoc_e2e::{random_account_id, random_tenant_id, Api, LocalStack};
use serde_json::{json, Value};

const FUNCTION: &str = "byoc-create-network-test";
/// The same code, deployed with the crash-after-VPC fault switched on.
const CRASHING_FUNCTION: &str = "byoc-create-network-crash-after-vpc";
const CRASHING_AT_NAT_FUNCTION: &str = "byoc-create-network-crash-after-nat";

struct Bed {
    stack: LocalStack,
    api: Api,
    lambda: aws_sdk_lambda::Client,
}

/// An install whose customer stack is in place and whose own execution has finished, so the
/// only writer left on the record is the step under test.
struct Installed {
    id: String,
    tenant: String,
    account: String,
}

impl Bed {
    async fn new() -> Self {
        let stack = LocalStack::connect()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let api = Api::new(&stack);
        let lambda = aws_sdk_lambda::Client::new(&stack.config);
        let bed = Self { stack, api, lambda };
        bed.deploy(FUNCTION, &[]).await;
        bed
    }

    fn ec2(&self, account: &str) -> aws_sdk_ec2::Client {
        customer_ec2::ec2(&self.stack, account)
    }

    async fn install(&self, prefix: &str, account: &str, options: Value) -> Installed {
        let tenant = random_tenant_id(prefix);
        let created = self.api.post("/tenants", &json!({"tenant_id": tenant, "name": "Customer Co", "email": "ops@customer.example"})).await.unwrap();
        assert_eq!(created.status, 201, "{}", created.text);
        let external_id = created.json["external_id"].as_str().unwrap();
        self.stack
            .customer(account)
            .create_access_stack(&self.stack.outputs.vendor_account_id, external_id)
            .await
            .unwrap();
        let id = byoc_e2e::stepwise::recorded_install(&self.stack, &tenant, account, options)
            .await
            .unwrap();
        Installed {
            id,
            tenant,
            account: account.to_owned(),
        }
    }

    /// Invokes `function` as the state machine would: the output, or (errorType, errorMessage).
    async fn run_as(&self, function: &str, install: &Installed) -> Result<Value, (String, String)> {
        let payload = json!({"install_id": install.id, "tenant_id": install.tenant}).to_string();
        let out = self
            .lambda
            .invoke()
            .function_name(function)
            .payload(Blob::new(payload))
            .send()
            .await
            .unwrap();
        let body: Value = out
            .payload()
            .map(|p| serde_json::from_slice(p.as_ref()).unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        match out.function_error() {
            None => Ok(body),
            Some(_) => Err((
                body["errorType"].as_str().unwrap_or_default().to_owned(),
                body["errorMessage"].as_str().unwrap_or_default().to_owned(),
            )),
        }
    }

    async fn run(&self, install: &Installed) -> Result<Value, (String, String)> {
        self.run_as(FUNCTION, install).await
    }

    async fn record(&self, install: &Installed) -> Value {
        let found = self
            .api
            .get(&format!("/installs/{}", install.id))
            .await
            .unwrap();
        assert_eq!(found.status, 200, "{}", found.text);
        found.json
    }

    /// Deploys create-network under `name`, with the environment the deployed validate-trust
    /// function has (table, customer role and stack names) plus `extra`. Tests share the
    /// function: whoever comes first creates it.
    async fn deploy(&self, name: &str, extra: &[(&str, &str)]) {
        if self
            .lambda
            .get_function()
            .function_name(name)
            .send()
            .await
            .is_ok()
        {
            return;
        }
        let template = self
            .lambda
            .get_function_configuration()
            .function_name("byoc-validate-trust")
            .send()
            .await
            .expect("byoc-validate-trust is deployed");
        let mut variables: HashMap<String, String> = template
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default();
        variables.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let created = self
            .lambda
            .create_function()
            .function_name(name)
            .runtime(Runtime::Providedal2023)
            .handler("bootstrap")
            .role(template.role().unwrap())
            .timeout(60)
            .memory_size(256)
            .environment(
                Environment::builder()
                    .set_variables(Some(variables))
                    .build(),
            )
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(byoc_e2e::function_package::linked_bootstrap_zip(
                        "create-network",
                    )))
                    .build(),
            )
            .send()
            .await;
        if let Err(err) = created {
            let conflict = err
                .as_service_error()
                .is_some_and(|e| e.is_resource_conflict_exception());
            assert!(conflict, "CreateFunction {name}: {err:?}");
        }
    }
}

fn expect_ready(status: Result<Value, (String, String)>, install: &Installed) {
    let status = status.unwrap_or_else(|e| panic!("create-network failed: {e:?}"));
    assert_eq!(
        status,
        json!({"install_id": install.id, "tenant_id": install.tenant, "subnets_ready": true, "nat_ready": true})
    );
}

fn name(install: &Installed, what: &str) -> String {
    format!("byoc-{}-{what}", install.id)
}

fn default_route(table: &RouteTable) -> Option<&aws_sdk_ec2::types::Route> {
    table
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
}

fn associated_subnets(table: &RouteTable) -> BTreeSet<String> {
    table
        .associations()
        .iter()
        .filter_map(|a| a.subnet_id().map(str::to_owned))
        .collect()
}

fn timeline(record: &Value) -> Vec<(String, String, String)> {
    record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["step"] == "create-network")
        .map(|e| {
            (
                e["outcome"].as_str().unwrap().to_owned(),
                e["message"].as_str().unwrap().to_owned(),
                e["seq"].to_string(),
            )
        })
        .collect()
}

fn assert_install_tags(tags: &[aws_sdk_ec2::types::Tag], install: &Installed, name: &str) {
    assert_eq!(
        tag(tags, "byoc:install-id"),
        Some(install.id.as_str()),
        "{name}: {tags:?}"
    );
    assert_eq!(
        tag(tags, "byoc:tenant-id"),
        Some(install.tenant.as_str()),
        "{name}: {tags:?}"
    );
    assert_eq!(tag(tags, "Name"), Some(name), "{tags:?}");
}

#[tokio::test]
async fn builds_the_network_eks_needs_in_the_customer_account_and_nothing_in_the_vendors() {
    let bed = Bed::new().await;
    let install = bed.install("net", &random_account_id(), json!({})).await;

    expect_ready(bed.run(&install).await, &install);

    let ec2 = bed.ec2(&install.account);
    let net = tagged(&ec2, &install.id, true).await.unwrap();

    // One VPC, on the first free /16 (the account's default VPC holds 172.31.0.0/16), with
    // the DNS settings EKS needs.
    assert_eq!(net.vpcs.len(), 1, "{:?}", net.vpcs);
    let vpc = &net.vpcs[0];
    let vpc_id = vpc.vpc_id().unwrap();
    assert_eq!(vpc.cidr_block(), Some("10.0.0.0/16"));
    assert_install_tags(vpc.tags(), &install, &name(&install, "vpc"));
    for attribute in [
        VpcAttributeName::EnableDnsSupport,
        VpcAttributeName::EnableDnsHostnames,
    ] {
        let out = ec2
            .describe_vpc_attribute()
            .vpc_id(vpc_id)
            .attribute(attribute.clone())
            .send()
            .await
            .unwrap();
        let on = out
            .enable_dns_support()
            .or(out.enable_dns_hostnames())
            .and_then(|v| v.value());
        assert_eq!(on, Some(true), "{attribute:?}");
    }

    // A public and a private subnet in each of three zones (us-east-1e is use1-az3, which EKS
    // does not support, and comes later anyway); private /18s for pods, public /20s.
    let zones = ["us-east-1a", "us-east-1b", "us-east-1c"];
    let private_cidrs = ["10.0.0.0/18", "10.0.64.0/18", "10.0.128.0/18"];
    let public_cidrs = ["10.0.192.0/20", "10.0.208.0/20", "10.0.224.0/20"];
    assert_eq!(net.subnets.len(), 6);
    let cluster_tag = format!("kubernetes.io/cluster/byoc-{}", install.id);
    let mut public_subnets = BTreeMap::new();
    let mut private_subnets = BTreeMap::new();
    for (i, zone) in zones.iter().enumerate() {
        let public_name = name(&install, &format!("public-{zone}"));
        let public = net
            .named_subnet(&public_name)
            .unwrap_or_else(|| panic!("no {public_name}"));
        let private_name = name(&install, &format!("private-{zone}"));
        let private = net
            .named_subnet(&private_name)
            .unwrap_or_else(|| panic!("no {private_name}"));
        for (subnet, cidr, subnet_name) in [
            (public, public_cidrs[i], &public_name),
            (private, private_cidrs[i], &private_name),
        ] {
            assert_eq!(subnet.vpc_id(), Some(vpc_id));
            assert_eq!(subnet.availability_zone(), Some(*zone));
            assert_eq!(subnet.cidr_block(), Some(cidr), "{subnet_name}");
            assert_install_tags(subnet.tags(), &install, subnet_name);
            assert_eq!(
                tag(subnet.tags(), &cluster_tag),
                Some("shared"),
                "{subnet_name}"
            );
        }
        assert_eq!(tag(public.tags(), "kubernetes.io/role/elb"), Some("1"));
        assert_eq!(tag(public.tags(), "kubernetes.io/role/internal-elb"), None);
        assert_eq!(
            tag(private.tags(), "kubernetes.io/role/internal-elb"),
            Some("1")
        );
        assert_eq!(tag(private.tags(), "kubernetes.io/role/elb"), None);
        assert_eq!(public.map_public_ip_on_launch(), Some(true));
        assert_ne!(private.map_public_ip_on_launch(), Some(true));
        public_subnets.insert(*zone, public.subnet_id().unwrap().to_owned());
        private_subnets.insert(*zone, private.subnet_id().unwrap().to_owned());
    }

    // The internet gateway, attached; the public route table sends 0.0.0.0/0 to it and serves
    // exactly the public subnets.
    assert_eq!(net.internet_gateways.len(), 1);
    let igw = &net.internet_gateways[0];
    assert_install_tags(igw.tags(), &install, &name(&install, "igw"));
    assert!(
        igw.attachments().iter().any(|a| a.vpc_id() == Some(vpc_id)),
        "{igw:?}"
    );
    let public_rt = net
        .named_route_table(&name(&install, "public-rt"))
        .expect("public route table");
    assert_eq!(
        default_route(public_rt).and_then(|r| r.gateway_id()),
        igw.internet_gateway_id()
    );
    assert_eq!(
        associated_subnets(public_rt),
        public_subnets.values().cloned().collect()
    );

    // One NAT gateway per zone, available, each in its zone's public subnet with its own
    // tagged Elastic IP; each private subnet's default route goes to its zone's gateway.
    assert_eq!(net.nat_gateways.len(), 3);
    assert_eq!(net.addresses.len(), 3);
    assert_eq!(net.route_tables.len(), 4);
    for zone in zones {
        let nat_name = name(&install, &format!("nat-{zone}"));
        let nat = net
            .nat_gateways
            .iter()
            .find(|n| tag(n.tags(), "Name") == Some(nat_name.as_str()))
            .unwrap_or_else(|| panic!("no {nat_name}"));
        assert_install_tags(nat.tags(), &install, &nat_name);
        assert_eq!(nat.state(), Some(&NatGatewayState::Available));
        assert_eq!(
            nat.subnet_id(),
            Some(public_subnets[zone].as_str()),
            "{nat_name} is in its zone's public subnet"
        );
        let allocation = nat
            .nat_gateway_addresses()
            .first()
            .and_then(|a| a.allocation_id())
            .unwrap();
        let address = net
            .addresses
            .iter()
            .find(|a| a.allocation_id() == Some(allocation))
            .expect("the NAT's address is the install's");
        assert_install_tags(
            address.tags(),
            &install,
            &name(&install, &format!("nat-eip-{zone}")),
        );

        let private_rt = net
            .named_route_table(&name(&install, &format!("private-rt-{zone}")))
            .unwrap();
        assert_eq!(
            default_route(private_rt).and_then(|r| r.nat_gateway_id()),
            nat.nat_gateway_id(),
            "{zone}"
        );
        assert_eq!(
            associated_subnets(private_rt),
            BTreeSet::from([private_subnets[zone].clone()])
        );
    }

    // The record names everything, and says the network is ready.
    let record = bed.record(&install).await;
    assert_eq!(record["resources"]["vpc_id"], vpc_id);
    assert_eq!(
        record["resources"]["internet_gateway_id"],
        igw.internet_gateway_id().unwrap()
    );
    assert_eq!(
        record["resources"]["nat_gateway_id:us-east-1b"],
        net.nat_gateways
            .iter()
            .find(|n| n.subnet_id() == Some(public_subnets["us-east-1b"].as_str()))
            .unwrap()
            .nat_gateway_id()
            .unwrap()
    );
    let network = &record["step_data"]["network"];
    assert_eq!(network["vpc_cidr"], "10.0.0.0/16");
    assert_eq!(
        (
            network["subnets_ready"].as_bool(),
            network["nat_ready"].as_bool()
        ),
        (Some(true), Some(true))
    );
    let recorded_zones: Vec<&str> = network["zones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["zone"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(recorded_zones, zones);
    assert_eq!(
        network["zones"][2]["private_subnet_id"],
        private_subnets["us-east-1c"].as_str()
    );
    let events = timeline(&record);
    assert_eq!(
        events.first().map(|e| e.0.as_str()),
        Some("started"),
        "{events:?}"
    );
    let last = events.last().unwrap();
    assert_eq!(last.0, "succeeded", "{events:?}");
    assert!(
        last.1.starts_with(&format!("network ready: VPC {vpc_id}")),
        "{last:?}"
    );

    // The vendor's own account has none of it.
    let vendor = tagged(
        &bed.ec2(&bed.stack.outputs.vendor_account_id),
        &install.id,
        true,
    )
    .await
    .unwrap();
    assert!(
        vendor.is_empty(),
        "created in the vendor account: {vendor:?}"
    );
}

#[tokio::test]
async fn a_second_run_finds_everything_and_changes_nothing() {
    let bed = Bed::new().await;
    let install = bed
        .install("net-again", &random_account_id(), json!({}))
        .await;
    expect_ready(bed.run(&install).await, &install);
    let ec2 = bed.ec2(&install.account);
    let first = tagged(&ec2, &install.id, true).await.unwrap();
    let before = bed.record(&install).await;

    expect_ready(bed.run(&install).await, &install);

    let second = tagged(&ec2, &install.id, true).await.unwrap();
    assert_eq!(
        second.ids(),
        first.ids(),
        "a second run made or replaced something"
    );
    let vpcs = ec2.describe_vpcs().send().await.unwrap();
    assert_eq!(vpcs.vpcs().len(), 2, "the default VPC and the install's");
    let after = bed.record(&install).await;
    assert_eq!(
        after["version"], before["version"],
        "a run that found everything in place records nothing"
    );
    assert_eq!(after["step_data"], before["step_data"]);
}

#[tokio::test]
async fn the_chosen_cidr_avoids_vpcs_already_in_the_account() {
    let bed = Bed::new().await;
    let account = random_account_id();
    let ec2 = bed.ec2(&account);
    // The customer's own VPCs: 10.0/16, and 10.1/16 with 10.2/16 as a secondary block.
    ec2.create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap();
    let second = ec2
        .create_vpc()
        .cidr_block("10.1.0.0/16")
        .send()
        .await
        .unwrap();
    ec2.associate_vpc_cidr_block()
        .vpc_id(second.vpc().unwrap().vpc_id().unwrap())
        .cidr_block("10.2.0.0/16")
        .send()
        .await
        .unwrap();
    let install = bed
        .install(
            "net-cidr",
            &account,
            json!({"az_count": 2, "nat_mode": "single"}),
        )
        .await;

    expect_ready(bed.run(&install).await, &install);

    let net = tagged(&ec2, &install.id, true).await.unwrap();
    assert_eq!(net.vpcs.len(), 1);
    assert_eq!(net.vpcs[0].cidr_block(), Some("10.3.0.0/16"));
    let mut cidrs: Vec<(&str, &str)> = net
        .subnets
        .iter()
        .map(|s| (s.availability_zone().unwrap(), s.cidr_block().unwrap()))
        .collect();
    cidrs.sort();
    assert_eq!(
        cidrs,
        [
            ("us-east-1a", "10.3.0.0/18"),
            ("us-east-1a", "10.3.128.0/20"),
            ("us-east-1b", "10.3.144.0/20"),
            ("us-east-1b", "10.3.64.0/18")
        ]
    );

    // Single mode: one NAT gateway, in the first zone's public subnet, serving both zones.
    assert_eq!(net.nat_gateways.len(), 1);
    assert_eq!(net.addresses.len(), 1);
    let nat = &net.nat_gateways[0];
    let first_public = net
        .named_subnet(&name(&install, "public-us-east-1a"))
        .unwrap();
    assert_eq!(nat.subnet_id(), first_public.subnet_id());
    for zone in ["us-east-1a", "us-east-1b"] {
        let table = net
            .named_route_table(&name(&install, &format!("private-rt-{zone}")))
            .unwrap();
        assert_eq!(
            default_route(table).and_then(|r| r.nat_gateway_id()),
            nat.nat_gateway_id(),
            "{zone}"
        );
    }
}

#[tokio::test]
async fn a_requested_cidr_that_overlaps_is_refused_before_anything_is_made() {
    let bed = Bed::new().await;
    let account = random_account_id();
    let ec2 = bed.ec2(&account);
    let theirs = ec2
        .create_vpc()
        .cidr_block("10.40.0.0/16")
        .send()
        .await
        .unwrap();
    let theirs = theirs.vpc().unwrap().vpc_id().unwrap().to_owned();
    ec2.associate_vpc_cidr_block()
        .vpc_id(&theirs)
        .cidr_block("10.50.0.0/24")
        .send()
        .await
        .unwrap();
    let install = bed
        .install("net-taken", &account, json!({"vpc_cidr": "10.50.0.0/16"}))
        .await;

    let (error, message) = bed.run(&install).await.unwrap_err();

    assert_eq!(error, "NetworkInvalid");
    assert!(
        message.contains("10.50.0.0/16")
            && message.contains(&theirs)
            && message.contains("10.50.0.0/24"),
        "{message}"
    );
    assert!(
        tagged(&ec2, &install.id, true).await.unwrap().is_empty(),
        "nothing is made for a plan that cannot work"
    );
    let record = bed.record(&install).await;
    let last = timeline(&record).last().cloned().unwrap();
    assert_eq!(last.0, "failed");
    assert!(last.1.contains(&theirs), "{last:?}");
}

#[tokio::test]
async fn a_crash_right_after_the_vpc_is_made_is_adopted_by_the_next_run() {
    let bed = Bed::new().await;
    bed.deploy(
        CRASHING_FUNCTION,
        &[("BYOC_FAULT_CRASH_AFTER", "create-network:vpc")],
    )
    .await;
    let install = bed
        .install("net-crash", &random_account_id(), json!({}))
        .await;
    let ec2 = bed.ec2(&install.account);

    let (error, _) = bed.run_as(CRASHING_FUNCTION, &install).await.unwrap_err();

    assert_eq!(error, "Runtime.ExitError");
    let orphan = tagged(&ec2, &install.id, true).await.unwrap();
    assert_eq!(orphan.vpcs.len(), 1, "the VPC was made before the crash");
    assert!(orphan.subnets.is_empty());
    let orphan_id = orphan.vpcs[0].vpc_id().unwrap().to_owned();
    assert!(
        bed.record(&install).await["resources"]
            .get("vpc_id")
            .is_none(),
        "the crash came before the record write"
    );

    expect_ready(bed.run(&install).await, &install);

    let net = tagged(&ec2, &install.id, true).await.unwrap();
    assert_eq!(net.vpcs.len(), 1, "adopted, not made again");
    assert_eq!(net.vpcs[0].vpc_id(), Some(orphan_id.as_str()));
    assert_eq!(net.subnets.len(), 6);
    let record = bed.record(&install).await;
    assert_eq!(record["resources"]["vpc_id"], orphan_id.as_str());
    assert!(
        timeline(&record).iter().any(|e| e
            .1
            .starts_with(&format!("adopted (made by an earlier run) VPC {orphan_id}"))),
        "{:?}",
        timeline(&record)
    );
}

#[tokio::test]
async fn a_crash_right_after_a_nat_gateway_is_made_leaves_no_duplicate() {
    let bed = Bed::new().await;
    bed.deploy(
        CRASHING_AT_NAT_FUNCTION,
        &[("BYOC_FAULT_CRASH_AFTER", "create-network:nat-gateway")],
    )
    .await;
    let install = bed
        .install("net-crash-nat", &random_account_id(), json!({}))
        .await;
    let ec2 = bed.ec2(&install.account);

    let (error, _) = bed
        .run_as(CRASHING_AT_NAT_FUNCTION, &install)
        .await
        .unwrap_err();

    assert_eq!(error, "Runtime.ExitError");
    let orphan = tagged(&ec2, &install.id, true).await.unwrap();
    assert_eq!(
        orphan.nat_gateways.len(),
        1,
        "the first zone's gateway was made before the crash"
    );
    let orphan_id = orphan.nat_gateways[0].nat_gateway_id().unwrap().to_owned();
    let record = bed.record(&install).await;
    assert!(
        record["resources"]
            .get("eip_allocation_id:us-east-1a")
            .is_some(),
        "its address was recorded"
    );
    assert!(
        record["resources"]
            .get("nat_gateway_id:us-east-1a")
            .is_none(),
        "the crash came before the record write"
    );

    expect_ready(bed.run(&install).await, &install);

    let net = tagged(&ec2, &install.id, true).await.unwrap();
    assert_eq!(
        net.nat_gateways.len(),
        3,
        "one per zone, the orphan adopted"
    );
    assert_eq!(net.addresses.len(), 3);
    let first = net
        .nat_gateways
        .iter()
        .find(|n| tag(n.tags(), "Name") == Some(name(&install, "nat-us-east-1a").as_str()))
        .unwrap();
    assert_eq!(first.nat_gateway_id(), Some(orphan_id.as_str()));
    assert_eq!(
        bed.record(&install).await["resources"]["nat_gateway_id:us-east-1a"],
        orphan_id.as_str()
    );
}

#[tokio::test]
async fn pending_nat_gateways_are_polled_not_waited_for() {
    let bed = Bed::new().await;
    let account = random_account_id();
    steer_nat(&bed.stack, &account, json!({"pending_polls": 2}))
        .await
        .unwrap();
    let install = bed.install("net-nat", &account, json!({})).await;
    let ec2 = bed.ec2(&install.account);
    let not_yet = json!({"install_id": install.id, "tenant_id": install.tenant, "subnets_ready": true, "nat_ready": false});

    // Run 1 creates the gateways (pending); runs 2 and 3 each poll them once, still pending.
    for run in 1..=3 {
        assert_eq!(bed.run(&install).await.unwrap(), not_yet, "run {run}");
        let net: Tagged = tagged(&ec2, &install.id, false).await.unwrap();
        for zone in ["us-east-1a", "us-east-1b", "us-east-1c"] {
            let table = net
                .named_route_table(&name(&install, &format!("private-rt-{zone}")))
                .unwrap();
            assert!(
                default_route(table).is_none(),
                "run {run}: no default route to a gateway that is not up"
            );
            assert_eq!(
                associated_subnets(table).len(),
                1,
                "the subnet is associated already"
            );
        }
    }
    // Run 4's poll finds them available and adds the routes.
    expect_ready(bed.run(&install).await, &install);
    let net = tagged(&ec2, &install.id, true).await.unwrap();
    assert_eq!(net.nat_gateways.len(), 3, "polling made no extra gateway");
    assert!(net
        .nat_gateways
        .iter()
        .all(|n| n.state() == Some(&NatGatewayState::Available)));
    for zone in ["us-east-1a", "us-east-1b", "us-east-1c"] {
        let table = net
            .named_route_table(&name(&install, &format!("private-rt-{zone}")))
            .unwrap();
        assert!(
            default_route(table)
                .and_then(|r| r.nat_gateway_id())
                .is_some(),
            "{zone}"
        );
    }

    // The timeline tells the story once, not once per poll.
    let outcomes: Vec<String> = timeline(&bed.record(&install).await)
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| *o == "waiting").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(outcomes.last().map(String::as_str), Some("succeeded"));
}

#[tokio::test]
async fn a_failed_nat_gateway_fails_the_step_with_ec2s_reason() {
    let bed = Bed::new().await;
    let account = random_account_id();
    steer_nat(
        &bed.stack,
        &account,
        json!({"fail": "Elastic IP address is already associated"}),
    )
    .await
    .unwrap();
    let install = bed
        .install("net-natfail", &account, json!({"nat_mode": "single"}))
        .await;

    let first = bed.run(&install).await.unwrap();
    assert_eq!(first["nat_ready"], false);
    let (error, message) = bed.run(&install).await.unwrap_err();

    assert_eq!(error, "NetworkFailed");
    assert!(
        message.contains("Elastic IP address is already associated")
            && message.contains("us-east-1a"),
        "{message}"
    );
}

#[tokio::test]
async fn a_nat_gateway_deleted_behind_the_installs_back_is_replaced_and_the_route_repointed() {
    let bed = Bed::new().await;
    let install = bed
        .install(
            "net-renat",
            &random_account_id(),
            json!({"nat_mode": "single"}),
        )
        .await;
    expect_ready(bed.run(&install).await, &install);
    let ec2 = bed.ec2(&install.account);
    let before = tagged(&ec2, &install.id, true).await.unwrap();
    let old = before
        .nat_gateways
        .iter()
        .find(|n| n.state() == Some(&NatGatewayState::Available))
        .expect("an available NAT gateway");
    let old_id = old.nat_gateway_id().unwrap().to_owned();
    ec2.delete_nat_gateway()
        .nat_gateway_id(&old_id)
        .send()
        .await
        .unwrap();

    // The replacement is pending at first: the state machine polls the step until it is ready.
    let mut status = bed
        .run(&install)
        .await
        .unwrap_or_else(|e| panic!("create-network failed: {e:?}"));
    for _ in 0..5 {
        if status["nat_ready"] == true {
            break;
        }
        status = bed
            .run(&install)
            .await
            .unwrap_or_else(|e| panic!("create-network failed: {e:?}"));
    }
    expect_ready(Ok(status), &install);

    let after = tagged(&ec2, &install.id, true).await.unwrap();
    let live: Vec<_> = after
        .nat_gateways
        .iter()
        .filter(|n| n.state() == Some(&NatGatewayState::Available))
        .collect();
    assert_eq!(
        live.len(),
        1,
        "one live NAT gateway: {:?}",
        after.nat_gateways
    );
    let new_id = live[0].nat_gateway_id().unwrap();
    assert_ne!(new_id, old_id, "the deleted gateway was adopted");
    let private_tables: Vec<_> = after
        .route_tables
        .iter()
        .filter(|t| tag(t.tags(), "Name").is_some_and(|n| n.contains("private")))
        .collect();
    assert!(!private_tables.is_empty());
    for table in private_tables {
        let route = default_route(table)
            .unwrap_or_else(|| panic!("{:?} has no default route", table.route_table_id()));
        assert_eq!(
            route.nat_gateway_id(),
            Some(new_id),
            "{:?} still routes to {:?}",
            table.route_table_id(),
            route.nat_gateway_id()
        );
    }
    let record = bed.record(&install).await;
    assert_eq!(
        record["step_data"]["network"]["zones"][0]["nat_gateway_id"], new_id,
        "the record names the new gateway"
    );
}
