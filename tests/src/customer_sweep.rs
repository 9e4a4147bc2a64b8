//! What an install leaves in a customer's account, made by hand the way the installer and
//! Kubernetes would make it (so sweep tests do not depend on the other steps), decoys that a
//! sweep must not touch, and a person's check of what of an install is still there.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    Filter, IpPermission, ResourceType, Tag, TagSpecification, UserIdGroupPair, VolumeType,
};
use aws_sdk_eks::types::{AuthenticationMode, CreateAccessConfigRequest, VpcConfigRequest};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, LoadBalancerTypeEnum, ProtocolEnum, TargetTypeEnum,
};
use byoc_domain::controller_tags::EBS_CSI_ADDON;
use serde_json::{json, Value};

use crate::account_header::AccountHeader;
use crate::stack::LocalStack;

pub const INSTALL_TAG: &str = "byoc:install-id";
pub const TENANT_TAG: &str = "byoc:tenant-id";

/// The customer-account clients a sweep test uses.
pub struct Account {
    pub id: String,
    pub ec2: aws_sdk_ec2::Client,
    pub eks: aws_sdk_eks::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub classic_elb: aws_sdk_elasticloadbalancing::Client,
    stack: LocalStack,
}

impl Account {
    /// A role of this account (EKS makes access entries only for principals that exist).
    pub async fn ensure_role(&self, name: &str) -> Result<(), String> {
        let header = AccountHeader(self.id.clone());
        let iam = aws_sdk_iam::Client::from_conf(
            aws_sdk_iam::config::Builder::from(&self.stack.config)
                .interceptor(header)
                .build(),
        );
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"sts:AssumeRole"}}]}}"#,
            self.id
        );
        match iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_entity_already_exists_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(format!("CreateRole {name}: {e:?}")),
        }
    }

    pub fn new(stack: &LocalStack, id: &str) -> Self {
        let header = || AccountHeader(id.to_owned());
        Self {
            id: id.to_owned(),
            ec2: aws_sdk_ec2::Client::from_conf(
                aws_sdk_ec2::config::Builder::from(&stack.config)
                    .interceptor(header())
                    .build(),
            ),
            eks: aws_sdk_eks::Client::from_conf(
                aws_sdk_eks::config::Builder::from(&stack.config)
                    .interceptor(header())
                    .build(),
            ),
            elb: aws_sdk_elasticloadbalancingv2::Client::from_conf(
                aws_sdk_elasticloadbalancingv2::config::Builder::from(&stack.config)
                    .interceptor(header())
                    .build(),
            ),
            classic_elb: aws_sdk_elasticloadbalancing::Client::from_conf(
                aws_sdk_elasticloadbalancing::config::Builder::from(&stack.config)
                    .interceptor(header())
                    .build(),
            ),
            stack: stack.clone(),
        }
    }

    /// A JSON-protocol call (CloudWatch Logs, the tagging API) as this account: the SDKs for
    /// those are not worth a dependency of the test crate.
    pub async fn json_call(&self, target: &str, body: Value) -> Result<Value, String> {
        let region = &self.stack.outputs.region;
        // moto picks the service, and the region, from the credential scope.
        let service = if target.starts_with("Logs_") {
            "logs"
        } else {
            "tagging"
        };
        let response = reqwest::Client::new()
            .post(format!("{}/", self.stack.endpoint))
            .header("x-amz-target", target)
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-moto-account-id", &self.id)
            .header("authorization", format!("AWS4-HMAC-SHA256 Credential=test/20250101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"))
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("{target}: {e}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("{target}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{target} answered {status}: {text}"));
        }
        Ok(if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|e| format!("{target}: {e}: {text}"))?
        })
    }

    /// ARNs the tagging API lists for `key` = `value`.
    pub async fn tagged_arns(&self, key: &str, value: &str) -> Result<Vec<String>, String> {
        let out = self
            .json_call(
                "ResourceGroupsTaggingAPI_20170126.GetResources",
                json!({"TagFilters": [{"Key": key, "Values": [value]}]}),
            )
            .await?;
        Ok(out["ResourceTagMappingList"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["ResourceARN"].as_str().map(str::to_owned))
            .collect())
    }

    pub async fn log_groups(&self, prefix: &str) -> Result<Vec<String>, String> {
        let out = self
            .json_call(
                "Logs_20140328.DescribeLogGroups",
                json!({"logGroupNamePrefix": prefix}),
            )
            .await?;
        Ok(out["logGroups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g["logGroupName"].as_str().map(str::to_owned))
            .collect())
    }
}

pub(crate) fn spec(resource: ResourceType, tags: &[(&str, &str)]) -> TagSpecification {
    let tags = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build());
    TagSpecification::builder()
        .resource_type(resource)
        .set_tags(Some(tags.collect()))
        .build()
}

pub(crate) fn err(what: &str) -> impl Fn(&dyn std::fmt::Debug) -> String + '_ {
    move |e| format!("{what}: {e:?}")
}

/// Posts emulator settings for `account` under `section` (e.g. "sweep", "nat").
pub async fn steer(
    stack: &LocalStack,
    section: &str,
    account: &str,
    settings: Value,
) -> Result<(), String> {
    stack.steer(section, account, settings).await
}

/// Everything one install made, by kind, with the ids a test checks.
#[derive(Debug, Clone, Default)]
pub struct Footprint {
    pub cluster: String,
    pub log_group: String,
    /// (kind as the sweep names it, id), for every resource made here.
    pub resources: Vec<(&'static str, String)>,
}

impl Footprint {
    pub(crate) fn add(&mut self, kind: &'static str, id: impl Into<String>) -> String {
        let id = id.into();
        self.resources.push((kind, id.clone()));
        id
    }

    pub fn id(&self, kind: &str) -> Option<&str> {
        self.resources
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, id)| id.as_str())
    }

    pub fn vpc(&self) -> &str {
        self.id("vpc").unwrap_or_default()
    }
}

/// Builds what an install and its cluster's Kubernetes controllers leave: a VPC with public
/// and private subnets in two zones, an internet gateway, route tables, a NAT gateway with its
/// address, the EKS cluster (node group, add-ons, access entry) and its log group; then what
/// Kubernetes makes: an NLB with its security group and a target group, a nodes' security
/// group whose rule references the NLB's, a leaked `available` ENI with no tag, and a PVC's
/// EBS volume.
pub async fn build_footprint(
    account: &Account,
    install_id: &str,
    tenant_id: &str,
) -> Result<Footprint, String> {
    let ec2 = &account.ec2;
    let cluster = format!("byoc-{install_id}");
    let k8s_key = format!("kubernetes.io/cluster/{cluster}");
    let ours = |name: &str| {
        vec![
            (INSTALL_TAG, install_id.to_owned()),
            (TENANT_TAG, tenant_id.to_owned()),
            ("Name", format!("{cluster}-{name}")),
        ]
    };
    let spec_of = |resource: ResourceType, tags: &[(&str, String)]| {
        let pairs: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (*k, v.as_str())).collect();
        spec(resource, &pairs)
    };
    let mut fp = Footprint {
        cluster: cluster.clone(),
        log_group: format!("/aws/eks/{cluster}/cluster"),
        ..Default::default()
    };

    let vpc = ec2
        .create_vpc()
        .cidr_block("10.40.0.0/16")
        .tag_specifications(spec_of(ResourceType::Vpc, &ours("vpc")))
        .send()
        .await
        .map_err(|e| err("CreateVpc")(&e))?;
    let vpc = fp.add(
        "vpc",
        vpc.vpc().and_then(|v| v.vpc_id()).unwrap_or_default(),
    );
    let igw = ec2
        .create_internet_gateway()
        .tag_specifications(spec_of(ResourceType::InternetGateway, &ours("igw")))
        .send()
        .await
        .map_err(|e| err("CreateInternetGateway")(&e))?;
    let igw = fp.add(
        "internet-gateway",
        igw.internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .unwrap_or_default(),
    );
    ec2.attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc)
        .send()
        .await
        .map_err(|e| err("AttachInternetGateway")(&e))?;

    let mut public = vec![];
    let mut private = vec![];
    for (i, zone) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        for (list, role, cidr) in [
            (&mut public, "public", format!("10.40.{}.0/24", 100 + i)),
            (&mut private, "private", format!("10.40.{i}.0/24")),
        ] {
            let mut tags = ours(&format!("{role}-{zone}"));
            tags.push((k8s_key.as_str(), "shared".to_owned()));
            let subnet = ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(cidr)
                .availability_zone(*zone)
                .tag_specifications(spec_of(ResourceType::Subnet, &tags))
                .send()
                .await
                .map_err(|e| err("CreateSubnet")(&e))?;
            list.push(
                fp.add(
                    "subnet",
                    subnet
                        .subnet()
                        .and_then(|s| s.subnet_id())
                        .unwrap_or_default(),
                ),
            );
        }
    }
    let eip = ec2
        .allocate_address()
        .domain(aws_sdk_ec2::types::DomainType::Vpc)
        .tag_specifications(spec_of(ResourceType::ElasticIp, &ours("nat-a")))
        .send()
        .await
        .map_err(|e| err("AllocateAddress")(&e))?;
    let eip = fp.add("elastic-ip", eip.allocation_id().unwrap_or_default());
    let nat = ec2
        .create_nat_gateway()
        .subnet_id(&public[0])
        .allocation_id(&eip)
        .tag_specifications(spec_of(ResourceType::Natgateway, &ours("nat-a")))
        .send()
        .await
        .map_err(|e| err("CreateNatGateway")(&e))?;
    let nat = fp.add(
        "nat-gateway",
        nat.nat_gateway()
            .and_then(|n| n.nat_gateway_id())
            .unwrap_or_default(),
    );
    for (name, subnets, via_nat) in [("public", &public, false), ("private", &private, true)] {
        let table = ec2
            .create_route_table()
            .vpc_id(&vpc)
            .tag_specifications(spec_of(ResourceType::RouteTable, &ours(name)))
            .send()
            .await
            .map_err(|e| err("CreateRouteTable")(&e))?;
        let table = fp.add(
            "route-table",
            table
                .route_table()
                .and_then(|t| t.route_table_id())
                .unwrap_or_default(),
        );
        let route = ec2
            .create_route()
            .route_table_id(&table)
            .destination_cidr_block("0.0.0.0/0");
        let route = if via_nat {
            route.nat_gateway_id(&nat)
        } else {
            route.gateway_id(&igw)
        };
        route.send().await.map_err(|e| err("CreateRoute")(&e))?;
        for subnet in subnets {
            ec2.associate_route_table()
                .route_table_id(&table)
                .subnet_id(subnet)
                .send()
                .await
                .map_err(|e| err("AssociateRouteTable")(&e))?;
        }
    }

    // The cluster, as create-cluster leaves it.
    let role = format!("arn:aws:iam::{}:role/byoc/cluster", account.id);
    let tags: std::collections::HashMap<String, String> = ours("cluster")
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    account
        .eks
        .create_cluster()
        .name(&cluster)
        .role_arn(&role)
        .resources_vpc_config(
            VpcConfigRequest::builder()
                .set_subnet_ids(Some(private.clone()))
                .build(),
        )
        .access_config(
            CreateAccessConfigRequest::builder()
                .authentication_mode(AuthenticationMode::ApiAndConfigMap)
                .build(),
        )
        .set_tags(Some(tags.clone()))
        .send()
        .await
        .map_err(|e| err("CreateCluster")(&e))?;
    fp.add("cluster", &cluster);
    account
        .eks
        .describe_cluster()
        .name(&cluster)
        .send()
        .await
        .map_err(|e| err("DescribeCluster")(&e))?;
    account
        .eks
        .create_nodegroup()
        .cluster_name(&cluster)
        .nodegroup_name("default")
        .node_role(format!("arn:aws:iam::{}:role/byoc/node", account.id))
        .set_subnets(Some(private.clone()))
        .set_tags(Some(tags.clone()))
        .send()
        .await
        .map_err(|e| err("CreateNodegroup")(&e))?;
    fp.add("nodegroup", "default");
    for addon in ["vpc-cni", EBS_CSI_ADDON] {
        // The CSI driver as create-cluster configures it: its volumes carry the install's tags.
        let configuration = (addon == EBS_CSI_ADDON)
            .then(|| ebs_csi_configuration_for(install_id, tenant_id))
            .transpose()?;
        account
            .eks
            .create_addon()
            .cluster_name(&cluster)
            .addon_name(addon)
            .set_configuration_values(configuration)
            .set_tags(Some(tags.clone()))
            .send()
            .await
            .map_err(|e| err("CreateAddon")(&e))?;
        fp.add("addon", addon);
    }
    // The vendor's access entry, tagged as create-cluster tags it; the customer's own entry
    // (untagged, not ours to delete) goes with the cluster, as EKS deletes a cluster's entries.
    account.ensure_role("vendor-deploy").await?;
    account.ensure_role("platform-admins").await?;
    let vendor = format!("arn:aws:iam::{}:role/vendor-deploy", account.id);
    account
        .eks
        .create_access_entry()
        .cluster_name(&cluster)
        .principal_arn(&vendor)
        .set_tags(Some(tags.clone()))
        .send()
        .await
        .map_err(|e| err("CreateAccessEntry")(&e))?;
    fp.add("access-entry", vendor);
    let admin = format!("arn:aws:iam::{}:role/platform-admins", account.id);
    account
        .eks
        .create_access_entry()
        .cluster_name(&cluster)
        .principal_arn(&admin)
        .send()
        .await
        .map_err(|e| err("CreateAccessEntry")(&e))?;
    let log_tags: BTreeMap<&str, String> = ours("logs").into_iter().collect();
    account
        .json_call(
            "Logs_20140328.CreateLogGroup",
            json!({"logGroupName": fp.log_group, "tags": log_tags}),
        )
        .await?;
    fp.add("log-group", fp.log_group.clone());

    let leftovers = kubernetes_leftovers(account, install_id, &vpc, &public, &private[0]).await?;
    fp.resources.extend(leftovers.resources);
    Ok(fp)
}

/// What Kubernetes makes in an install's VPC, none of it with the install tag: an NLB with its
/// security group and a target group, a nodes' security group whose rule references the NLB's,
/// a leaked `available` ENI; and a PVC's EBS volume, which carries the install tag only if the
/// cluster's CSI driver add-on is configured to give it (as create-cluster configures it).
pub async fn kubernetes_leftovers(
    account: &Account,
    install_id: &str,
    vpc: &str,
    public: &[String],
    private_subnet: &str,
) -> Result<Footprint, String> {
    let ec2 = &account.ec2;
    let cluster = format!("byoc-{install_id}");
    let k8s_key = format!("kubernetes.io/cluster/{cluster}");
    let mut fp = Footprint::default();
    // What Kubernetes made: no install tag on any of it.
    let k8s_tags = [
        (k8s_key.as_str(), "owned"),
        ("elbv2.k8s.aws/cluster", cluster.as_str()),
    ];
    let lb_group = ec2
        .create_security_group()
        .group_name("k8s-traffic-nlb")
        .description("[k8s] Shared Backend SecurityGroup for LoadBalancer")
        .vpc_id(vpc)
        .tag_specifications(spec(ResourceType::SecurityGroup, &k8s_tags))
        .send()
        .await
        .map_err(|e| err("CreateSecurityGroup")(&e))?;
    let lb_group = fp.add("security-group", lb_group.group_id().unwrap_or_default());
    // A second controller-made group whose rule lets the first in: the sweep revokes the rule
    // before either group can go.
    let node_group = ec2
        .create_security_group()
        .group_name("k8s-default-web-nodes")
        .description("[k8s] Managed SecurityGroup for the targets")
        .vpc_id(vpc)
        .tag_specifications(spec(ResourceType::SecurityGroup, &k8s_tags))
        .send()
        .await
        .map_err(|e| err("CreateSecurityGroup")(&e))?;
    let node_group = fp.add("security-group", node_group.group_id().unwrap_or_default());
    let from_lb = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(30000)
        .to_port(32767)
        .user_id_group_pairs(UserIdGroupPair::builder().group_id(&lb_group).build())
        .build();
    ec2.authorize_security_group_ingress()
        .group_id(&node_group)
        .ip_permissions(from_lb)
        .send()
        .await
        .map_err(|e| err("AuthorizeSecurityGroupIngress")(&e))?;

    let (lb, tg) = balancer_and_targets(
        account,
        "k8s-default-web",
        LoadBalancerTypeEnum::Network,
        public,
        &lb_group,
        vpc,
        &k8s_tags,
    )
    .await?;
    let (lb, tg) = (fp.add("load-balancer", lb), fp.add("target-group", tg));
    let forward = Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(&tg)
        .build();
    account
        .elb
        .create_listener()
        .load_balancer_arn(&lb)
        .protocol(ProtocolEnum::Tcp)
        .port(80)
        .default_actions(forward)
        .send()
        .await
        .map_err(|e| err("CreateListener")(&e))?;

    // The VPC CNI tags the interfaces it makes with the cluster's name (its own tag, not ours).
    let cni_tags = [("cluster.k8s.amazonaws.com/name", cluster.as_str())];
    let eni = ec2
        .create_network_interface()
        .subnet_id(private_subnet)
        .groups(&node_group)
        .description("aws-K8S-i-0leaked")
        .tag_specifications(spec(ResourceType::NetworkInterface, &cni_tags))
        .send()
        .await
        .map_err(|e| err("CreateNetworkInterface")(&e))?;
    fp.add(
        "network-interface",
        eni.network_interface()
            .and_then(|n| n.network_interface_id())
            .unwrap_or_default(),
    );
    fp.add(
        "volume",
        csi_volume(account, &cluster, "data-postgres-0").await?,
    );
    // Not here: an untagged interface endpoint an operator made by hand in the VPC. IAM cannot
    // scope ec2:DeleteVpcEndpoints to a VPC (the vpc-endpoint resource type has no ec2:Vpc
    // key), so the installer's role may not delete it; removal reports it (issue #17).
    Ok(fp)
}

/// What the AWS Load Balancer Controller makes for an Ingress when installed with the Helm
/// `values` the install record offers (`step_data.load_balancer_controller.values`): an ALB in
/// `public` subnets with its security group and a target group, each tagged with the chart's
/// `defaultTags` and the controller's own tags, none of it by us.
pub async fn controller_load_balancer(
    account: &Account,
    values: &Value,
    public: &[String],
) -> Result<Footprint, String> {
    let cluster = values["clusterName"]
        .as_str()
        .ok_or("the Helm values name no clusterName")?;
    let vpc = values["vpcId"]
        .as_str()
        .ok_or("the Helm values name no vpcId")?;
    let mut tags: Vec<(String, String)> = values["defaultTags"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    tags.extend([
        ("elbv2.k8s.aws/cluster".to_owned(), cluster.to_owned()),
        ("ingress.k8s.aws/stack".to_owned(), "default/web".to_owned()),
        (
            "ingress.k8s.aws/resource".to_owned(),
            "LoadBalancer".to_owned(),
        ),
    ]);
    let pairs: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut fp = Footprint::default();
    let group = account
        .ec2
        .create_security_group()
        .group_name("k8s-default-web")
        .description("[k8s] Managed SecurityGroup for LoadBalancer")
        .vpc_id(vpc)
        .tag_specifications(spec(ResourceType::SecurityGroup, &pairs))
        .send()
        .await
        .map_err(|e| err("CreateSecurityGroup")(&e))?;
    let group = fp.add("security-group", group.group_id().unwrap_or_default());
    let (lb, tg) = balancer_and_targets(
        account,
        "k8s-ingress-web",
        LoadBalancerTypeEnum::Application,
        public,
        &group,
        vpc,
        &pairs,
    )
    .await?;
    fp.add("load-balancer", lb);
    fp.add("target-group", tg);
    Ok(fp)
}

/// A load balancer of `kind` named `name` in `subnets` behind `group`, and an IP target group
/// of the same name in `vpc` (TCP for an NLB, HTTP for an ALB, port 80), both tagged `tags`:
/// their ARNs.
async fn balancer_and_targets(
    account: &Account,
    name: &str,
    kind: LoadBalancerTypeEnum,
    subnets: &[String],
    group: &str,
    vpc: &str,
    tags: &[(&str, &str)],
) -> Result<(String, String), String> {
    let elb_tags = || {
        tags.iter()
            .map(|(k, v)| {
                aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                    .key(*k)
                    .value(*v)
                    .build()
            })
            .collect::<Vec<_>>()
    };
    let protocol = if kind == LoadBalancerTypeEnum::Application {
        ProtocolEnum::Http
    } else {
        ProtocolEnum::Tcp
    };
    let lb = account
        .elb
        .create_load_balancer()
        .name(name)
        .r#type(kind)
        .set_subnets(Some(subnets.to_vec()))
        .security_groups(group)
        .set_tags(Some(elb_tags()))
        .send()
        .await
        .map_err(|e| err("CreateLoadBalancer")(&e))?;
    let tg = account
        .elb
        .create_target_group()
        .name(name)
        .protocol(protocol)
        .port(80)
        .vpc_id(vpc)
        .target_type(TargetTypeEnum::Ip)
        .set_tags(Some(elb_tags()))
        .send()
        .await
        .map_err(|e| err("CreateTargetGroup")(&e))?;
    let lb = lb
        .load_balancers()
        .first()
        .and_then(|l| l.load_balancer_arn())
        .unwrap_or_default()
        .to_owned();
    Ok((
        lb,
        tg.target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .unwrap_or_default()
            .to_owned(),
    ))
}

fn ebs_csi_configuration_for(install_id: &str, tenant_id: &str) -> Result<String, String> {
    let install =
        byoc_domain::ids::InstallId::parse("install_id", install_id).map_err(|e| e.to_string())?;
    let tenant =
        byoc_domain::ids::TenantId::parse("tenant_id", tenant_id).map_err(|e| e.to_string())?;
    Ok(byoc_domain::controller_tags::ebs_csi_configuration(
        &install, &tenant,
    ))
}

/// The tags the EBS CSI driver of `cluster` puts on a volume it provisions for the claim
/// `pvc` (namespace `default`), read from the add-on's configuration (DescribeAddon) as the
/// driver reads its own: `controller.extraVolumeTags`, then its own tags, then the claim's
/// (the provisioner's `extraCreateMetadata`, on by default).
pub async fn csi_volume_tags(
    account: &Account,
    cluster: &str,
    pvc: &str,
) -> Result<Vec<(String, String)>, String> {
    let addon = account
        .eks
        .describe_addon()
        .cluster_name(cluster)
        .addon_name(EBS_CSI_ADDON)
        .send()
        .await
        .map_err(|e| err("DescribeAddon")(&e))?;
    let configuration = addon
        .addon()
        .and_then(|a| a.configuration_values())
        .unwrap_or("{}");
    let values: Value = serde_json::from_str(configuration)
        .map_err(|e| format!("the add-on's configurationValues: {e}: {configuration}"))?;
    let mut tags: Vec<(String, String)> = values["controller"]["extraVolumeTags"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    let pv = format!(
        "pvc-{:08x}-0000-4000-8000-000000000000",
        u32::from_le_bytes(random_bytes())
    );
    tags.extend([
        ("CSIVolumeName".to_owned(), pv.clone()),
        ("ebs.csi.aws.com/cluster".to_owned(), "true".to_owned()),
        (
            "kubernetes.io/created-for/pvc/name".to_owned(),
            pvc.to_owned(),
        ),
        (
            "kubernetes.io/created-for/pvc/namespace".to_owned(),
            "default".to_owned(),
        ),
        ("kubernetes.io/created-for/pv/name".to_owned(), pv),
    ]);
    Ok(tags)
}

/// A 10 GiB gp3 volume (the driver's default type) made as the CSI driver of `cluster`
/// makes one for the claim `pvc`; its id.
pub async fn csi_volume(account: &Account, cluster: &str, pvc: &str) -> Result<String, String> {
    let tags = csi_volume_tags(account, cluster, pvc).await?;
    let pairs: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let volume = account
        .ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(10)
        .volume_type(VolumeType::Gp3)
        .tag_specifications(spec(ResourceType::Volume, &pairs))
        .send()
        .await
        .map_err(|e| err("CreateVolume")(&e))?;
    Ok(volume.volume_id().unwrap_or_default().to_owned())
}

fn random_bytes() -> [u8; 4] {
    let mut bytes = [0u8; 4];
    // A fixed id is fine when the OS gives no randomness: only its uniqueness per test helps.
    let _ = getrandom::fill(&mut bytes);
    bytes
}

/// What must survive a sweep of `install_id`: another install's VPC (with a subnet and a
/// group), the customer's own untagged VPC, a volume Kubernetes tagged for our cluster but
/// that carries another tenant's tag, and a load balancer of another cluster.
#[derive(Debug, Clone, Default)]
pub struct Decoys {
    pub resources: Vec<(&'static str, String)>,
}

pub async fn build_decoys(account: &Account, install_id: &str) -> Result<Decoys, String> {
    let ec2 = &account.ec2;
    let mut decoys = Decoys::default();
    let other = spec(
        ResourceType::Vpc,
        &[(INSTALL_TAG, "inst-someone-else"), (TENANT_TAG, "globex")],
    );
    let other_vpc = ec2
        .create_vpc()
        .cidr_block("10.41.0.0/16")
        .tag_specifications(other)
        .send()
        .await
        .map_err(|e| err("CreateVpc")(&e))?;
    let other_vpc = other_vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .unwrap_or_default()
        .to_owned();
    let other_subnet = ec2
        .create_subnet()
        .vpc_id(&other_vpc)
        .cidr_block("10.41.0.0/24")
        .availability_zone("us-east-1a")
        .send()
        .await
        .map_err(|e| err("CreateSubnet")(&e))?;
    let other_subnet = other_subnet
        .subnet()
        .and_then(|s| s.subnet_id())
        .unwrap_or_default()
        .to_owned();
    let other_group = ec2
        .create_security_group()
        .group_name("other-install")
        .description("x")
        .vpc_id(&other_vpc)
        .send()
        .await
        .map_err(|e| err("CreateSecurityGroup")(&e))?;
    let own = ec2
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .send()
        .await
        .map_err(|e| err("CreateVpc")(&e))?;
    let own_vpc = own
        .vpc()
        .and_then(|v| v.vpc_id())
        .unwrap_or_default()
        .to_owned();
    let own_subnet = ec2
        .create_subnet()
        .vpc_id(&own_vpc)
        .cidr_block("10.42.0.0/24")
        .availability_zone("us-east-1b")
        .send()
        .await
        .map_err(|e| err("CreateSubnet")(&e))?;
    let cluster_key = format!("kubernetes.io/cluster/byoc-{install_id}");
    let foreign = spec(
        ResourceType::Volume,
        &[(cluster_key.as_str(), "owned"), (TENANT_TAG, "globex")],
    );
    let volume = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(5)
        .tag_specifications(foreign)
        .send()
        .await
        .map_err(|e| err("CreateVolume")(&e))?;
    let other_cluster_tag = aws_sdk_elasticloadbalancingv2::types::Tag::builder()
        .key("elbv2.k8s.aws/cluster")
        .value("byoc-inst-someone-else")
        .build();
    let lb = account
        .elb
        .create_load_balancer()
        .name("k8s-other-cluster")
        .r#type(LoadBalancerTypeEnum::Network)
        .subnets(&other_subnet)
        .tags(other_cluster_tag)
        .send()
        .await
        .map_err(|e| err("CreateLoadBalancer")(&e))?;
    decoys.resources = vec![
        ("vpc", other_vpc),
        ("subnet", other_subnet),
        (
            "security-group",
            other_group.group_id().unwrap_or_default().to_owned(),
        ),
        ("vpc", own_vpc),
        (
            "subnet",
            own_subnet
                .subnet()
                .and_then(|s| s.subnet_id())
                .unwrap_or_default()
                .to_owned(),
        ),
        ("volume", volume.volume_id().unwrap_or_default().to_owned()),
        (
            "load-balancer",
            lb.load_balancers()
                .first()
                .and_then(|l| l.load_balancer_arn())
                .unwrap_or_default()
                .to_owned(),
        ),
    ];
    Ok(decoys)
}

/// Which of `resources` (kind, id) still exist, read back one Describe call at a time
/// (`cluster` names the cluster that node groups, add-ons and access entries belong to).
pub async fn still_there(
    account: &Account,
    cluster: &str,
    resources: &[(&'static str, String)],
) -> Result<Vec<(&'static str, String)>, String> {
    let mut there = vec![];
    for (kind, id) in resources {
        if exists(account, cluster, kind, id).await? {
            there.push((*kind, id.clone()));
        }
    }
    Ok(there)
}

async fn exists(account: &Account, cluster: &str, kind: &str, id: &str) -> Result<bool, String> {
    let ec2 = &account.ec2;
    let by_id = |name: &str| Filter::builder().name(name).values(id).build();
    Ok(match kind {
        "vpc" => !ec2
            .describe_vpcs()
            .filters(by_id("vpc-id"))
            .send()
            .await
            .map_err(|e| err("DescribeVpcs")(&e))?
            .vpcs()
            .is_empty(),
        "subnet" => !ec2
            .describe_subnets()
            .filters(by_id("subnet-id"))
            .send()
            .await
            .map_err(|e| err("DescribeSubnets")(&e))?
            .subnets()
            .is_empty(),
        "security-group" => !ec2
            .describe_security_groups()
            .filters(by_id("group-id"))
            .send()
            .await
            .map_err(|e| err("DescribeSecurityGroups")(&e))?
            .security_groups()
            .is_empty(),
        "route-table" => !ec2
            .describe_route_tables()
            .filters(by_id("route-table-id"))
            .send()
            .await
            .map_err(|e| err("DescribeRouteTables")(&e))?
            .route_tables()
            .is_empty(),
        "internet-gateway" => !ec2
            .describe_internet_gateways()
            .filters(by_id("internet-gateway-id"))
            .send()
            .await
            .map_err(|e| err("DescribeInternetGateways")(&e))?
            .internet_gateways()
            .is_empty(),
        "nat-gateway" => ec2
            .describe_nat_gateways()
            .filter(by_id("nat-gateway-id"))
            .send()
            .await
            .map_err(|e| err("DescribeNatGateways")(&e))?
            .nat_gateways()
            .iter()
            .any(|n| n.state().map(|s| s.as_str()) != Some("deleted")),
        "elastic-ip" => ec2
            .describe_addresses()
            .send()
            .await
            .map_err(|e| err("DescribeAddresses")(&e))?
            .addresses()
            .iter()
            .any(|a| a.allocation_id() == Some(id)),
        "network-interface" => !ec2
            .describe_network_interfaces()
            .filters(by_id("network-interface-id"))
            .send()
            .await
            .map_err(|e| err("DescribeNetworkInterfaces")(&e))?
            .network_interfaces()
            .is_empty(),
        // Terminated instances stay listed for a while, as `terminated`.
        "instance" => ec2
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .map(|out| {
                out.reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .any(|i| {
                        i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated")
                    })
            })
            .unwrap_or(false),
        "classic-load-balancer" => account
            .classic_elb
            .describe_load_balancers()
            .send()
            .await
            .map_err(|e| err("DescribeLoadBalancers (Classic)")(&e))?
            .load_balancer_descriptions()
            .iter()
            .any(|l| l.load_balancer_name() == Some(id)),
        "volume" => !ec2
            .describe_volumes()
            .filters(by_id("volume-id"))
            .send()
            .await
            .map_err(|e| err("DescribeVolumes")(&e))?
            .volumes()
            .is_empty(),
        // Deleted endpoints stay listed for a while, as `deleted`.
        "vpc-endpoint" => ec2
            .describe_vpc_endpoints()
            .vpc_endpoint_ids(id)
            .send()
            .await
            .map(|out| {
                out.vpc_endpoints()
                    .iter()
                    .any(|e| !matches!(e.state().map(|s| s.as_str()), Some("deleted" | "deleting")))
            })
            .unwrap_or(false),
        "load-balancer" => account
            .elb
            .describe_load_balancers()
            .send()
            .await
            .map_err(|e| err("DescribeLoadBalancers")(&e))?
            .load_balancers()
            .iter()
            .any(|l| l.load_balancer_arn() == Some(id)),
        "target-group" => account
            .elb
            .describe_target_groups()
            .send()
            .await
            .map_err(|e| err("DescribeTargetGroups")(&e))?
            .target_groups()
            .iter()
            .any(|t| t.target_group_arn() == Some(id)),
        // EKS answers NotFound for a missing cluster and for what hung off it alike.
        "cluster" => account.eks.describe_cluster().name(id).send().await.is_ok(),
        "nodegroup" => account
            .eks
            .describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(id)
            .send()
            .await
            .is_ok(),
        "addon" => account
            .eks
            .describe_addon()
            .cluster_name(cluster)
            .addon_name(id)
            .send()
            .await
            .is_ok(),
        "access-entry" => account
            .eks
            .describe_access_entry()
            .cluster_name(cluster)
            .principal_arn(id)
            .send()
            .await
            .is_ok(),
        "log-group" => account.log_groups(id).await?.iter().any(|g| g == id),
        other => return Err(format!("no check for kind {other}")),
    })
}

/// Everything in the account that still says it belongs to `install_id`: the tagging API's
/// listing, Describe calls by the install tag, and anything inside the given VPCs.
pub async fn install_leftovers(
    account: &Account,
    install_id: &str,
    vpc_ids: &[String],
) -> Result<Vec<String>, String> {
    let ec2 = &account.ec2;
    let mut left = account.tagged_arns(INSTALL_TAG, install_id).await?;
    let tagged = || {
        Filter::builder()
            .name(format!("tag:{INSTALL_TAG}"))
            .values(install_id)
            .build()
    };
    let in_vpcs = || {
        Filter::builder()
            .name("vpc-id")
            .set_values(Some(vpc_ids.to_vec()))
            .build()
    };
    for filter in [tagged(), in_vpcs()] {
        let subnets = ec2
            .describe_subnets()
            .filters(filter.clone())
            .send()
            .await
            .map_err(|e| err("DescribeSubnets")(&e))?;
        left.extend(
            subnets
                .subnets()
                .iter()
                .filter_map(|s| s.subnet_id().map(str::to_owned)),
        );
        let groups = ec2
            .describe_security_groups()
            .filters(filter.clone())
            .send()
            .await
            .map_err(|e| err("DescribeSecurityGroups")(&e))?;
        left.extend(
            groups
                .security_groups()
                .iter()
                .filter_map(|g| g.group_id().map(str::to_owned)),
        );
        let enis = ec2
            .describe_network_interfaces()
            .filters(filter.clone())
            .send()
            .await
            .map_err(|e| err("DescribeNetworkInterfaces")(&e))?;
        left.extend(
            enis.network_interfaces()
                .iter()
                .filter_map(|n| n.network_interface_id().map(str::to_owned)),
        );
        let tables = ec2
            .describe_route_tables()
            .filters(filter.clone())
            .send()
            .await
            .map_err(|e| err("DescribeRouteTables")(&e))?;
        left.extend(
            tables
                .route_tables()
                .iter()
                .filter_map(|t| t.route_table_id().map(str::to_owned)),
        );
        let nats = ec2
            .describe_nat_gateways()
            .filter(filter.clone())
            .send()
            .await
            .map_err(|e| err("DescribeNatGateways")(&e))?;
        left.extend(
            nats.nat_gateways()
                .iter()
                .filter(|n| n.state().map(|s| s.as_str()) != Some("deleted"))
                .filter_map(|n| n.nat_gateway_id().map(str::to_owned)),
        );
    }
    let vpcs = ec2
        .describe_vpcs()
        .filters(tagged())
        .send()
        .await
        .map_err(|e| err("DescribeVpcs")(&e))?;
    left.extend(
        vpcs.vpcs()
            .iter()
            .filter_map(|v| v.vpc_id().map(str::to_owned)),
    );
    let gateways = ec2
        .describe_internet_gateways()
        .filters(tagged())
        .send()
        .await
        .map_err(|e| err("DescribeInternetGateways")(&e))?;
    left.extend(
        gateways
            .internet_gateways()
            .iter()
            .filter_map(|g| g.internet_gateway_id().map(str::to_owned)),
    );
    let addresses = ec2
        .describe_addresses()
        .filters(tagged())
        .send()
        .await
        .map_err(|e| err("DescribeAddresses")(&e))?;
    left.extend(
        addresses
            .addresses()
            .iter()
            .filter_map(|a| a.allocation_id().map(str::to_owned)),
    );
    let volumes = ec2
        .describe_volumes()
        .filters(tagged())
        .send()
        .await
        .map_err(|e| err("DescribeVolumes")(&e))?;
    left.extend(
        volumes
            .volumes()
            .iter()
            .filter_map(|v| v.volume_id().map(str::to_owned)),
    );
    let balancers = account
        .elb
        .describe_load_balancers()
        .send()
        .await
        .map_err(|e| err("DescribeLoadBalancers")(&e))?;
    left.extend(
        balancers
            .load_balancers()
            .iter()
            .filter(|l| l.vpc_id().is_some_and(|v| vpc_ids.iter().any(|x| x == v)))
            .filter_map(|l| l.load_balancer_arn().map(str::to_owned)),
    );
    let groups = account
        .elb
        .describe_target_groups()
        .send()
        .await
        .map_err(|e| err("DescribeTargetGroups")(&e))?;
    left.extend(
        groups
            .target_groups()
            .iter()
            .filter(|t| t.vpc_id().is_some_and(|v| vpc_ids.iter().any(|x| x == v)))
            .filter_map(|t| t.target_group_arn().map(str::to_owned)),
    );
    let cluster = format!("byoc-{install_id}");
    let clusters = account
        .eks
        .list_clusters()
        .send()
        .await
        .map_err(|e| err("ListClusters")(&e))?;
    left.extend(
        clusters
            .clusters()
            .iter()
            .filter(|c| **c == cluster)
            .cloned(),
    );
    left.extend(account.log_groups(&format!("/aws/eks/{cluster}/")).await?);
    left.sort();
    left.dedup();
    Ok(left)
}
