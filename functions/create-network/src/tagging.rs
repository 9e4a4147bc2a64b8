//! The names and tags of what the network step makes. The `Name` tag is unique per install and
//! resource, so a resource found by its install tag and name is the one an earlier run made.

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use byoc_domain::model::Install;
use byoc_domain::tags::{cluster_name, install_tags, INSTALL_TAG};

/// Which kind of subnet, for names and the EKS load balancer tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Public,
    Private,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Public => "public",
            Tier::Private => "private",
        }
    }
}

/// Resource names: `byoc-<install>-<what>`, like the cluster they serve.
pub fn name(install: &Install, what: &str) -> String {
    format!("{}-{what}", cluster_name(install))
}

pub fn vpc_name(install: &Install) -> String {
    name(install, "vpc")
}

pub fn subnet_name(install: &Install, tier: Tier, zone: &str) -> String {
    name(install, &format!("{}-{zone}", tier.as_str()))
}

pub fn igw_name(install: &Install) -> String {
    name(install, "igw")
}

pub fn public_route_table_name(install: &Install) -> String {
    name(install, "public-rt")
}

pub fn private_route_table_name(install: &Install, zone: &str) -> String {
    name(install, &format!("private-rt-{zone}"))
}

pub fn eip_name(install: &Install, zone: &str) -> String {
    name(install, &format!("nat-eip-{zone}"))
}

pub fn nat_name(install: &Install, zone: &str) -> String {
    name(install, &format!("nat-{zone}"))
}

/// The install tags plus, for subnets, what EKS reads: which subnets take internet-facing or
/// internal load balancers, and that the cluster may use them.
pub fn tags(install: &Install, name: &str, subnet: Option<Tier>) -> Vec<Tag> {
    let mut pairs = install_tags(install, name);
    if let Some(tier) = subnet {
        let role = match tier {
            Tier::Public => "kubernetes.io/role/elb",
            Tier::Private => "kubernetes.io/role/internal-elb",
        };
        pairs.push((role.to_owned(), "1".to_owned()));
        pairs.push((
            format!("kubernetes.io/cluster/{}", cluster_name(install)),
            "shared".to_owned(),
        ));
    }
    pairs
        .into_iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect()
}

/// Tags applied by the create call itself: the resource never exists untagged, so a crash
/// right after the create still leaves it findable (and the customer role only allows
/// creates that carry the install tag).
pub fn tag_spec(resource: ResourceType, tags: Vec<Tag>) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .set_tags(Some(tags))
        .build()
}

pub fn filter(name: &str, value: impl Into<String>) -> Filter {
    Filter::builder().name(name).values(value).build()
}

pub fn install_filter(install: &Install) -> Filter {
    filter(&format!("tag:{INSTALL_TAG}"), install.install_id.as_str())
}

/// Whether `tags` mark a resource as this install's `name`. Checked here as well as in the
/// request filter, so a lookup never adopts something that is not ours.
pub fn is_named(tags: &[Tag], install: &Install, name: &str) -> bool {
    let has = |key: &str, value: &str| {
        tags.iter()
            .any(|t| t.key() == Some(key) && t.value() == Some(value))
    };
    has(INSTALL_TAG, install.install_id.as_str()) && has("Name", name)
}

/// The resource of this install called `name`, when there is one. Should two exist (two
/// concurrent first runs), the lowest id wins, so every run settles on the same one.
pub fn find_named<'a, T>(
    items: &'a [T],
    install: &Install,
    name: &str,
    tags: impl Fn(&T) -> &[Tag],
    id: impl Fn(&T) -> Option<&str>,
) -> Option<&'a T> {
    items
        .iter()
        .filter(|item| is_named(tags(item), install, name))
        .min_by(|a, b| id(a).cmp(&id(b)))
}
