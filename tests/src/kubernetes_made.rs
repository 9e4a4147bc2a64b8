//! What Kubernetes and its node provisioners make in an install's account by themselves, made
//! here through the account's own APIs the way they make it (the tags are theirs, never the
//! install's), and a customer's own instance and volume that a removal must not touch.

use aws_sdk_ec2::types::{InstanceType, ResourceType, VolumeType};
use aws_sdk_elasticloadbalancing::types::{Listener, Tag as ElbTag};

use crate::customer_sweep::{err, spec, Account, Footprint};

/// An image the emulator knows (EKS's AMIs are not in it).
async fn any_image(account: &Account) -> Result<String, String> {
    let images = account
        .ec2
        .describe_images()
        .owners("amazon")
        .send()
        .await
        .map_err(|e| err("DescribeImages")(&e))?;
    images
        .images()
        .iter()
        .find_map(|i| i.image_id().map(str::to_owned))
        .ok_or_else(|| "the emulator lists no image".to_owned())
}

/// A node Karpenter launched for `cluster` in `subnet` (its EC2NodeClass default tags:
/// `karpenter.sh/nodepool`, `eks:eks-cluster-name`, the cluster's owned tag).
pub async fn karpenter_node(
    account: &Account,
    cluster: &str,
    subnet: &str,
) -> Result<String, String> {
    let owned = format!("kubernetes.io/cluster/{cluster}");
    let tags = [
        ("karpenter.sh/nodepool", "default"),
        ("karpenter.k8s.aws/ec2nodeclass", "default"),
        ("eks:eks-cluster-name", cluster),
        (owned.as_str(), "owned"),
    ];
    let run = account
        .ec2
        .run_instances()
        .image_id(any_image(account).await?)
        .instance_type(InstanceType::M5Large)
        .min_count(1)
        .max_count(1)
        .subnet_id(subnet)
        .tag_specifications(spec(ResourceType::Instance, &tags))
        .send()
        .await
        .map_err(|e| err("RunInstances")(&e))?;
    run.instances()
        .first()
        .and_then(|i| i.instance_id())
        .map(str::to_owned)
        .ok_or_else(|| "RunInstances made no instance".to_owned())
}

/// A 20 GiB gp2 volume of the in-tree `kubernetes.io/aws-ebs` provisioner for a claim.
pub async fn in_tree_volume(
    account: &Account,
    cluster: &str,
    zone: &str,
) -> Result<String, String> {
    let owned = format!("kubernetes.io/cluster/{cluster}");
    let tags = [
        (owned.as_str(), "owned"),
        ("KubernetesCluster", cluster),
        ("kubernetes.io/created-for/pvc/name", "data-web-0"),
        ("kubernetes.io/created-for/pvc/namespace", "default"),
        ("kubernetes.io/created-for/pv/name", "pvc-7f3e"),
        ("Name", "kubernetes-dynamic-pvc-7f3e"),
    ];
    let volume = account
        .ec2
        .create_volume()
        .availability_zone(zone)
        .size(20)
        .volume_type(VolumeType::Gp2)
        .tag_specifications(spec(ResourceType::Volume, &tags))
        .send()
        .await
        .map_err(|e| err("CreateVolume")(&e))?;
    volume
        .volume_id()
        .map(str::to_owned)
        .ok_or_else(|| "CreateVolume made no volume".to_owned())
}

/// What the in-tree service controller makes for a Service of type LoadBalancer: a Classic
/// load balancer in `public` subnets with a `k8s-elb-<name>` security group, both tagged only
/// `kubernetes.io/cluster/<cluster>=owned` and `kubernetes.io/service-name`.
pub async fn in_tree_classic_load_balancer(
    account: &Account,
    cluster: &str,
    vpc: &str,
    public: &[String],
) -> Result<Footprint, String> {
    let mut fp = Footprint::default();
    let name = "a1f0c2d3e4b5a6978899aabbccddeeff";
    let owned = format!("kubernetes.io/cluster/{cluster}");
    let tags = [
        (owned.as_str(), "owned"),
        ("kubernetes.io/service-name", "default/web"),
    ];
    let group = account
        .ec2
        .create_security_group()
        .group_name(format!("k8s-elb-{name}"))
        .description(
            "Security group for Kubernetes ELB a1f0c2d3e4b5a6978899aabbccddeeff (default/web)",
        )
        .vpc_id(vpc)
        .tag_specifications(spec(ResourceType::SecurityGroup, &tags))
        .send()
        .await
        .map_err(|e| err("CreateSecurityGroup")(&e))?;
    let group = fp.add("security-group", group.group_id().unwrap_or_default());
    let listener = Listener::builder()
        .protocol("TCP")
        .load_balancer_port(80)
        .instance_protocol("TCP")
        .instance_port(31080)
        .build()
        .map_err(|e| format!("{e}"))?;
    let elb_tags: Vec<ElbTag> = tags
        .iter()
        .map(|(k, v)| {
            ElbTag::builder()
                .key(*k)
                .value(*v)
                .build()
                .map_err(|e| format!("{e}"))
        })
        .collect::<Result<_, _>>()?;
    account
        .classic_elb
        .create_load_balancer()
        .load_balancer_name(name)
        .listeners(listener)
        .set_subnets(Some(public.to_vec()))
        .security_groups(&group)
        .set_tags(Some(elb_tags))
        .send()
        .await
        .map_err(|e| err("CreateLoadBalancer (Classic)")(&e))?;
    fp.add("classic-load-balancer", name);
    Ok(fp)
}

/// The customer's own instance, in a VPC of their own, with a volume attached that names the
/// install's cluster only in its owned tag (a claim's volume a self-installed CSI driver made
/// with `--k8s-tag-cluster-id`): the installer's role may not delete it, and it is in use.
/// (instance id, volume id).
pub async fn customers_instance_with_cluster_volume(
    account: &Account,
    cluster: &str,
    zone: &str,
) -> Result<(String, String), String> {
    let ec2 = &account.ec2;
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.200.0.0/16")
        .send()
        .await
        .map_err(|e| err("CreateVpc")(&e))?;
    let vpc = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .unwrap_or_default()
        .to_owned();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.200.1.0/24")
        .availability_zone(zone)
        .send()
        .await
        .map_err(|e| err("CreateSubnet")(&e))?;
    let subnet = subnet
        .subnet()
        .and_then(|s| s.subnet_id())
        .unwrap_or_default()
        .to_owned();
    let run = ec2
        .run_instances()
        .image_id(any_image(account).await?)
        .instance_type(InstanceType::T3Medium)
        .min_count(1)
        .max_count(1)
        .subnet_id(&subnet)
        .tag_specifications(spec(ResourceType::Instance, &[("Name", "customer-own-db")]))
        .send()
        .await
        .map_err(|e| err("RunInstances")(&e))?;
    let instance = run
        .instances()
        .first()
        .and_then(|i| i.instance_id())
        .unwrap_or_default()
        .to_owned();
    let owned = format!("kubernetes.io/cluster/{cluster}");
    let tags = [
        (owned.as_str(), "owned"),
        ("ebs.csi.aws.com/cluster", "true"),
        ("CSIVolumeName", "pvc-91ab"),
        ("kubernetes.io/created-for/pvc/name", "cache-0"),
    ];
    let volume = ec2
        .create_volume()
        .availability_zone(zone)
        .size(20)
        .volume_type(VolumeType::Gp3)
        .tag_specifications(spec(ResourceType::Volume, &tags))
        .send()
        .await
        .map_err(|e| err("CreateVolume")(&e))?;
    let volume = volume.volume_id().unwrap_or_default().to_owned();
    ec2.attach_volume()
        .volume_id(&volume)
        .instance_id(&instance)
        .device("/dev/sdf")
        .send()
        .await
        .map_err(|e| err("AttachVolume")(&e))?;
    Ok((instance, volume))
}
