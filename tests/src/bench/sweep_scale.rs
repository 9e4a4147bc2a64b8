//! 6. Sweep at scale: an install that owns 1,000+ resources — its own network and cluster,
//!    plus security groups, network interfaces, volumes and Elastic IPs the bench makes in its
//!    VPC with the install's tags, as Kubernetes controllers and operators would leave them —
//!    then a dry run (discovery alone) and the removal (`DELETE /installs/{id}`, the uninstall
//!    state machine calling sweep-dangling until nothing remains), each timed, with the AWS
//!    calls counted. Afterwards nothing carrying the install's tag may remain.

use std::collections::BTreeMap;
use std::time::Instant;

use aws_sdk_ec2::types::{DomainType, Filter, ResourceType, Tag, TagSpecification};
use aws_sdk_ec2::Client;
use byoc_domain::tags::{INSTALL_TAG, TENANT_TAG};
use serde_json::json;

use super::history::History;
use super::overhead::fitting_options;
use super::recording::{tally, Caller};
use super::session::{Session, INSTALL_TIMEOUT};
use crate::customer_ec2::{ec2, tagged};
use crate::invoke::invoke;

/// Resources made at once.
const IN_FLIGHT: usize = 16;
pub const KINDS: [&str; 4] = [
    "security-group",
    "network-interface",
    "volume",
    "elastic-ip",
];

#[derive(Debug, Clone, Default)]
pub struct SweepScale {
    pub install_id: String,
    /// Resources the bench made, by kind.
    pub made: BTreeMap<&'static str, usize>,
    /// What the dry run found to delete (the install's network and cluster included).
    pub found: usize,
    pub dry_run_seconds: f64,
    pub dry_run_calls: BTreeMap<String, usize>,
    pub removal_seconds: f64,
    pub removal_status: String,
    pub passes: usize,
    pub removal_transitions: usize,
    pub removal_calls: BTreeMap<String, usize>,
    /// What still carries the install's tag afterwards, by kind.
    pub left: BTreeMap<&'static str, usize>,
    pub unreadable: usize,
}

impl SweepScale {
    pub fn made_total(&self) -> usize {
        self.made.values().sum()
    }

    pub fn calls(calls: &BTreeMap<String, usize>) -> usize {
        calls.values().sum()
    }
}

/// The calls the functions made (in the vendor's account and the customer's).
fn functions_calls(calls: &[super::recording::Call]) -> BTreeMap<String, usize> {
    tally(calls, |c| matches!(c, Caller::Customer | Caller::Vendor))
}

pub async fn measure(session: &Session, resources: usize) -> Result<SweepScale, String> {
    let place = session.place("bench-sweep", 1).await?;
    let account = place.accounts[0].clone();
    let started = session
        .start(&place.tenant_id, &account, &fitting_options())
        .await?;
    session
        .email(&place.inbox, &started.install_id, "ready", INSTALL_TIMEOUT)
        .await?;
    let id = started.install_id.clone();
    let mut result = SweepScale {
        install_id: id.clone(),
        ..Default::default()
    };

    let client = ec2(&session.observer, &account);
    let network = tagged(&client, &id, false).await?;
    let vpc_id = network
        .vpcs
        .first()
        .and_then(|v| v.vpc_id())
        .ok_or("the install has no VPC")?
        .to_owned();
    let subnets: Vec<(String, String)> = network
        .subnets
        .iter()
        .filter_map(|s| Some((s.subnet_id()?.to_owned(), s.availability_zone()?.to_owned())))
        .collect();
    let clock = Instant::now();
    result.made = make(&client, &id, &place.tenant_id, &vpc_id, &subnets, resources).await?;
    eprintln!(
        "  made {} resources in the install's VPC in {:.1} s",
        result.made_total(),
        clock.elapsed().as_secs_f64()
    );

    // Discovery alone: a dry run, invoked as the state machine would.
    session.recorder.start().await?;
    session.recorder.mark("dry-begin").await?;
    let clock = Instant::now();
    let dry = invoke(
        &session.observer,
        "sweep-dangling",
        &json!({"install_id": id, "tenant_id": place.tenant_id, "mode": "dry_run"}),
    )
    .await
    .map_err(|(kind, message)| format!("sweep-dangling dry run failed: {kind}: {message}"))?;
    result.dry_run_seconds = clock.elapsed().as_secs_f64();
    session.recorder.mark("dry-end").await?;
    let recording = session.recorder.stop().await?;
    result.dry_run_calls = functions_calls(&recording.window("dry-begin", "dry-end"));
    result.found = dry["remaining"].as_u64().unwrap_or_default() as usize;
    result.unreadable += recording.unreadable;

    // The removal, as a vendor starts it.
    session.recorder.start().await?;
    session.recorder.mark("removal-begin").await?;
    let clock = Instant::now();
    let removing = session
        .api
        .send("DELETE", &format!("/installs/{id}"), None, true)
        .await?;
    if removing.status != 202 {
        return Err(format!(
            "DELETE /installs/{id} answered {}: {}",
            removing.status, removing.text
        ));
    }
    let arn = removing.json["execution_arn"]
        .as_str()
        .ok_or("DELETE answered no execution_arn")?
        .to_owned();
    result.removal_status = session
        .observer
        .wait_for_execution(&arn, INSTALL_TIMEOUT * 3)
        .await?;
    result.removal_seconds = clock.elapsed().as_secs_f64();
    session.recorder.mark("removal-end").await?;
    let recording = session.recorder.stop().await?;
    result.removal_calls = functions_calls(&recording.window("removal-begin", "removal-end"));
    result.unreadable += recording.unreadable;
    let history = History::fetch(&session.observer.sfn(), &arn).await?;
    result.passes = history
        .states
        .iter()
        .filter(|s| s.kind == "Task" && s.name.to_lowercase().contains("sweep"))
        .count();
    result.removal_transitions = history.transitions();
    result.left = left_behind(&client, &id).await?;
    Ok(result)
}

fn tags(resource: ResourceType, install_id: &str, tenant_id: &str, name: &str) -> TagSpecification {
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
    TagSpecification::builder()
        .resource_type(resource)
        .tags(tag(INSTALL_TAG, install_id))
        .tags(tag(TENANT_TAG, tenant_id))
        .tags(tag("Name", name))
        .build()
}

/// `count` resources of the [`KINDS`] in turn, tagged as the install's, in its VPC.
async fn make(
    client: &Client,
    id: &str,
    tenant: &str,
    vpc_id: &str,
    subnets: &[(String, String)],
    count: usize,
) -> Result<BTreeMap<&'static str, usize>, String> {
    if subnets.is_empty() {
        return Err(format!("the install's VPC {vpc_id} has no subnets"));
    }
    let mut made: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut tasks = std::collections::VecDeque::new();
    for n in 0..count {
        let kind = KINDS[n % KINDS.len()];
        let (client, id, tenant, vpc_id) = (
            client.clone(),
            id.to_owned(),
            tenant.to_owned(),
            vpc_id.to_owned(),
        );
        let (subnet, zone) = subnets[n % subnets.len()].clone();
        tasks.push_back(tokio::spawn(async move {
            let name = format!("bench-{kind}-{n}");
            let made = match kind {
                "security-group" => {
                    let request = client
                        .create_security_group()
                        .group_name(&name)
                        .description("left by a controller (infra/bench)")
                        .vpc_id(vpc_id);
                    request
                        .tag_specifications(tags(ResourceType::SecurityGroup, &id, &tenant, &name))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| format!("CreateSecurityGroup: {e:?}"))
                }
                "network-interface" => {
                    // As the VPC CNI leaves them: named after the cluster in its own tag (the
                    // installer's role may delete interfaces only by that tag).
                    let cni = Tag::builder()
                        .key("cluster.k8s.amazonaws.com/name")
                        .value(format!("byoc-{id}"))
                        .build();
                    let mut spec = tags(ResourceType::NetworkInterface, &id, &tenant, &name);
                    spec.tags.get_or_insert_with(Vec::new).push(cni);
                    let request = client.create_network_interface().subnet_id(subnet);
                    request
                        .tag_specifications(spec)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| format!("CreateNetworkInterface: {e:?}"))
                }
                "volume" => {
                    let request = client.create_volume().availability_zone(zone).size(1);
                    request
                        .tag_specifications(tags(ResourceType::Volume, &id, &tenant, &name))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| format!("CreateVolume: {e:?}"))
                }
                _ => {
                    let request = client.allocate_address().domain(DomainType::Vpc);
                    request
                        .tag_specifications(tags(ResourceType::ElasticIp, &id, &tenant, &name))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| format!("AllocateAddress: {e:?}"))
                }
            };
            made.map(|_| kind)
        }));
        if tasks.len() >= IN_FLIGHT {
            if let Some(task) = tasks.pop_front() {
                *made
                    .entry(task.await.map_err(|e| e.to_string())??)
                    .or_default() += 1;
            }
        }
    }
    for task in tasks {
        *made
            .entry(task.await.map_err(|e| e.to_string())??)
            .or_default() += 1;
    }
    Ok(made)
}

/// A person's check: what still carries the install's tag, by kind (kinds with none left out).
async fn left_behind(client: &Client, id: &str) -> Result<BTreeMap<&'static str, usize>, String> {
    let by_install = || {
        Filter::builder()
            .name(format!("tag:{INSTALL_TAG}"))
            .values(id)
            .build()
    };
    let err = |what: &'static str| move |e: &dyn std::fmt::Debug| format!("{what}: {e:?}");
    let left = [
        (
            "security-group",
            client
                .describe_security_groups()
                .filters(by_install())
                .send()
                .await
                .map_err(|e| err("DescribeSecurityGroups")(&e))?
                .security_groups()
                .len(),
        ),
        (
            "network-interface",
            client
                .describe_network_interfaces()
                .filters(by_install())
                .send()
                .await
                .map_err(|e| err("DescribeNetworkInterfaces")(&e))?
                .network_interfaces()
                .len(),
        ),
        (
            "volume",
            client
                .describe_volumes()
                .filters(by_install())
                .send()
                .await
                .map_err(|e| err("DescribeVolumes")(&e))?
                .volumes()
                .len(),
        ),
        (
            "elastic-ip",
            client
                .describe_addresses()
                .filters(by_install())
                .send()
                .await
                .map_err(|e| err("DescribeAddresses")(&e))?
                .addresses()
                .len(),
        ),
        (
            "vpc",
            client
                .describe_vpcs()
                .filters(by_install())
                .send()
                .await
                .map_err(|e| err("DescribeVpcs")(&e))?
                .vpcs()
                .len(),
        ),
    ];
    Ok(left.into_iter().filter(|(_, n)| *n > 0).collect())
}
