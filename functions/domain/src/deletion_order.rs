//! What sweep-dangling may delete, and in which order. Pure: discovery hands in what it found
//! in the customer's account; these rules say which of it belongs to the install and which of
//! it can go now, given what is still there.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::tags::{made_for_cluster, INSTALL_TAG, TENANT_TAG};

/// The kinds of resource an install leaves behind, listed in the order they are deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Kubernetes objects whose controllers made AWS resources (ids `<namespace>/<name>`):
    /// deleted through the cluster's API first, so their controllers remove what they made
    /// (what eksctl does before it deletes a cluster).
    KubernetesService,
    KubernetesIngress,
    KubernetesVolumeClaim,
    Nodegroup,
    Addon,
    AccessEntry,
    Cluster,
    /// EC2 instances made for the cluster outside managed node groups (Karpenter, self-managed).
    Instance,
    /// A Classic load balancer (the in-tree Kubernetes service controller's default).
    ClassicLoadBalancer,
    LoadBalancer,
    TargetGroup,
    VpcEndpoint,
    Volume,
    NatGateway,
    ElasticIp,
    NetworkInterface,
    SecurityGroup,
    Subnet,
    RouteTable,
    InternetGateway,
    Vpc,
    LogGroup,
}

/// Every kind, in deletion order: a topological order of [`Kind::blockers`].
pub const ORDER: [Kind; 22] = [
    Kind::KubernetesService,
    Kind::KubernetesIngress,
    Kind::KubernetesVolumeClaim,
    Kind::Nodegroup,
    Kind::Addon,
    Kind::AccessEntry,
    Kind::Cluster,
    Kind::Instance,
    Kind::ClassicLoadBalancer,
    Kind::LoadBalancer,
    Kind::TargetGroup,
    Kind::VpcEndpoint,
    Kind::Volume,
    Kind::NatGateway,
    Kind::ElasticIp,
    Kind::NetworkInterface,
    Kind::SecurityGroup,
    Kind::Subnet,
    Kind::RouteTable,
    Kind::InternetGateway,
    Kind::Vpc,
    Kind::LogGroup,
];

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::KubernetesService => "kubernetes-service",
            Kind::KubernetesIngress => "kubernetes-ingress",
            Kind::KubernetesVolumeClaim => "kubernetes-volume-claim",
            Kind::Nodegroup => "nodegroup",
            Kind::Addon => "addon",
            Kind::AccessEntry => "access-entry",
            Kind::Cluster => "cluster",
            Kind::Instance => "instance",
            Kind::ClassicLoadBalancer => "classic-load-balancer",
            Kind::LoadBalancer => "load-balancer",
            Kind::TargetGroup => "target-group",
            Kind::VpcEndpoint => "vpc-endpoint",
            Kind::Volume => "volume",
            Kind::NatGateway => "nat-gateway",
            Kind::ElasticIp => "elastic-ip",
            Kind::NetworkInterface => "network-interface",
            Kind::SecurityGroup => "security-group",
            Kind::Subnet => "subnet",
            Kind::RouteTable => "route-table",
            Kind::InternetGateway => "internet-gateway",
            Kind::Vpc => "vpc",
            Kind::LogGroup => "log-group",
        }
    }

    /// The kinds that must all be gone before this kind can be deleted, and why.
    pub fn blockers(self) -> &'static [Kind] {
        use Kind::*;
        match self {
            KubernetesService | KubernetesIngress | KubernetesVolumeClaim => &[],
            // Their controllers run on the nodes and remove what they made only while they run.
            Nodegroup => &[KubernetesService, KubernetesIngress, KubernetesVolumeClaim],
            // Removing the CNI or the CSI driver under running nodes strands their pods and
            // volumes; with the nodes gone they go with the cluster anyway. The installer's
            // access entry and the cluster serve the Kubernetes API the objects go through.
            Addon | AccessEntry | Cluster => &[
                KubernetesService,
                KubernetesIngress,
                KubernetesVolumeClaim,
                Nodegroup,
            ],
            // While the cluster runs, Karpenter (or an Auto Scaling group it scales) would
            // launch them again; its load balancer controllers would make them again.
            Instance | ClassicLoadBalancer | LoadBalancer | VpcEndpoint => &[Nodegroup, Cluster],
            // A listener of a load balancer holds its target groups.
            TargetGroup => &[Nodegroup, Cluster, LoadBalancer],
            // Volumes are attached to nodes until the nodes are gone.
            Volume => &[Nodegroup, Cluster, Instance],
            // Nodes reach the control plane through NAT while they drain.
            NatGateway => &[Nodegroup, Cluster, Instance],
            // A NAT gateway (or an NLB, or an instance) holds its address until it is deleted.
            ElasticIp => &[NatGateway, LoadBalancer, Instance],
            // Requester-managed interfaces go with their owners; what is left is detached.
            NetworkInterface => &[
                Nodegroup,
                Cluster,
                Instance,
                ClassicLoadBalancer,
                LoadBalancer,
                VpcEndpoint,
                NatGateway,
            ],
            // Groups are attached to interfaces, instances and load balancers (their rules are
            // revoked first, so groups referencing each other do not block one another).
            SecurityGroup => &[
                Nodegroup,
                Cluster,
                Instance,
                ClassicLoadBalancer,
                LoadBalancer,
                VpcEndpoint,
                NetworkInterface,
            ],
            // Anything with an interface in a subnet holds it.
            Subnet => &[
                Nodegroup,
                Cluster,
                Instance,
                ClassicLoadBalancer,
                LoadBalancer,
                VpcEndpoint,
                NatGateway,
                NetworkInterface,
            ],
            // Routes to a NAT gateway and associations with subnets.
            RouteTable => &[NatGateway, Subnet],
            // AWS refuses to detach while public addresses are mapped in the VPC.
            InternetGateway => &[
                Instance,
                ClassicLoadBalancer,
                LoadBalancer,
                NatGateway,
                ElasticIp,
                NetworkInterface,
            ],
            Vpc => &[
                Nodegroup,
                Cluster,
                Instance,
                ClassicLoadBalancer,
                LoadBalancer,
                TargetGroup,
                VpcEndpoint,
                NatGateway,
                NetworkInterface,
                SecurityGroup,
                Subnet,
                RouteTable,
                InternetGateway,
            ],
            // EKS writes (and would recreate) the cluster's log group until the cluster is gone.
            LogGroup => &[Cluster],
        }
    }

    /// Whether a resource of this kind may be deleted while `remaining` kinds still exist.
    pub fn ready(self, remaining: &BTreeSet<Kind>) -> bool {
        self.blockers().iter().all(|k| !remaining.contains(k))
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why discovery found a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by")]
pub enum Reason {
    /// It carries `byoc:install-id` = the install.
    InstallTag,
    /// A Kubernetes controller tagged it for the install's cluster (the tag key).
    KubernetesTag { tag: String },
    /// It lies inside the install's VPC.
    InVpc { vpc_id: String },
    /// It is named after the install's cluster (the cluster, its node groups, add-ons,
    /// access entries, its log group): the name holds the install id, unique to it.
    ClusterName { cluster: String },
}

impl Reason {
    pub fn describe(&self) -> String {
        match self {
            Reason::InstallTag => format!("tagged {INSTALL_TAG}"),
            Reason::KubernetesTag { tag } => format!("tagged {tag} by Kubernetes"),
            Reason::InVpc { vpc_id } => format!("inside {vpc_id}"),
            Reason::ClusterName { cluster } => format!("part of cluster {cluster}"),
        }
    }
}

/// A resource discovery found, with what the safety rule and the cost estimate look at.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub kind: Kind,
    pub id: String,
    pub reason: Reason,
    pub tags: Vec<(String, String)>,
    /// The VPC it lies in, when it lies in one.
    pub vpc_id: Option<String>,
    /// Its deletion was already accepted and AWS is finishing it (a NAT gateway
    /// `deleting`, a cluster `DELETING`): nothing to issue, only to wait for.
    pub deleting: bool,
    /// Size in GiB (volumes) for the cost estimate.
    pub size_gib: Option<i64>,
    /// EBS volume type (gp2, gp3, …) for the cost estimate.
    pub volume_type: Option<String>,
    /// EC2 instance type (instances) for the cost estimate.
    pub instance_type: Option<String>,
    /// What it is attached through and must be undone first: the VPCs an internet gateway is
    /// attached to.
    pub links: Vec<String>,
}

impl Found {
    pub fn new(kind: Kind, id: impl Into<String>, reason: Reason) -> Self {
        Self {
            kind,
            id: id.into(),
            reason,
            tags: vec![],
            vpc_id: None,
            deleting: false,
            size_gib: None,
            volume_type: None,
            instance_type: None,
            links: vec![],
        }
    }

    pub fn tags(mut self, tags: Vec<(String, String)>) -> Self {
        self.tags = tags;
        self
    }

    pub fn in_vpc(mut self, vpc_id: Option<String>) -> Self {
        self.vpc_id = vpc_id;
        self
    }

    pub fn deleting(mut self, deleting: bool) -> Self {
        self.deleting = deleting;
        self
    }

    pub fn links(mut self, links: Vec<String>) -> Self {
        self.links = links;
        self
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Whose resources a sweep may touch.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    pub install_id: String,
    pub tenant_id: String,
    pub cluster_name: String,
    /// The VPCs carrying the install's tag (normally one).
    pub vpc_ids: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Delete,
    /// Left alone, with why (shown in the sweep's record).
    Keep(String),
}

/// The safety rule. A found resource is deletable only if it carries the install's tag, lies
/// inside the install's VPC, is part of the install's cluster (named after the install), or
/// was made for that cluster by Kubernetes or EKS (owned, by [`made_for_cluster`]); and never
/// if it carries another install's or tenant's tag, whatever else holds.
pub fn verdict(found: &Found, scope: &Scope) -> Verdict {
    if let Some(other) = found.tag(INSTALL_TAG).filter(|v| *v != scope.install_id) {
        return Verdict::Keep(format!("tagged for install {other}"));
    }
    if let Some(other) = found.tag(TENANT_TAG).filter(|v| *v != scope.tenant_id) {
        return Verdict::Keep(format!("tagged for tenant {other}"));
    }
    let tagged = found.tag(INSTALL_TAG) == Some(scope.install_id.as_str());
    let in_vpc = found
        .vpc_id
        .as_ref()
        .is_some_and(|v| scope.vpc_ids.contains(v));
    let in_cluster =
        matches!(&found.reason, Reason::ClusterName { cluster } if *cluster == scope.cluster_name);
    let made_for_it = made_for_cluster(&found.tags, &scope.cluster_name).is_some();
    // Anyone may launch an instance into a VPC they can reach; being inside the install's
    // VPC does not make an instance the install's, only its tags do.
    if found.kind == Kind::Instance && !tagged && !made_for_it {
        return Verdict::Keep("an instance inside the install's VPC that neither the install nor its cluster launched".into());
    }
    if tagged || in_vpc || in_cluster || made_for_it {
        Verdict::Delete
    } else {
        Verdict::Keep("neither tagged for the install or its cluster nor inside its VPC".into())
    }
}

/// Which of `remaining` (by index) to delete now: those whose blockers are all gone and whose
/// deletion is not already under way. Deleting them may unblock more; callers apply this again
/// after each kind, in [`ORDER`].
pub fn ready_now(remaining: &[Found]) -> Vec<usize> {
    let kinds: BTreeSet<Kind> = remaining.iter().map(|f| f.kind).collect();
    remaining
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.deleting && f.kind.ready(&kinds))
        .map(|(i, _)| i)
        .collect()
}

/// Which of `remaining` cannot go while the stuck ones stay: each `stuck` one itself (AWS
/// refused its deletion for good), and, transitively, each one whose kind waits (by
/// [`Kind::blockers`]) only on stuck ones or on `foreign` kinds (resources inside the
/// install's VPC that are not the install's). A resource being deleted is never held: it
/// finishes by itself. What is held is what a removal reports as left, not what it waits for.
pub fn held(remaining: &[Found], stuck: &[bool], foreign: &BTreeSet<Kind>) -> Vec<bool> {
    let mut held: Vec<bool> = remaining
        .iter()
        .enumerate()
        .map(|(i, f)| !f.deleting && stuck.get(i).copied().unwrap_or(false))
        .collect();
    loop {
        let moving: BTreeSet<Kind> = remaining
            .iter()
            .zip(&held)
            .filter(|(_, h)| !**h)
            .map(|(f, _)| f.kind)
            .collect();
        let mut blocking: BTreeSet<Kind> = remaining
            .iter()
            .zip(&held)
            .filter(|(_, h)| **h)
            .map(|(f, _)| f.kind)
            .collect();
        blocking.extend(foreign);
        let mut changed = false;
        for (i, found) in remaining.iter().enumerate() {
            if held[i] || found.deleting {
                continue;
            }
            let blockers = found.kind.blockers();
            let waits_on_moving = blockers.iter().any(|k| moving.contains(k));
            if !waits_on_moving && blockers.iter().any(|k| blocking.contains(k)) {
                held[i] = true;
                changed = true;
            }
        }
        if !changed {
            return held;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scope() -> Scope {
        Scope {
            install_id: "inst-a".into(),
            tenant_id: "acme".into(),
            cluster_name: "byoc-inst-a".into(),
            vpc_ids: ["vpc-1".to_owned()].into(),
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn order_lists_every_kind_once_and_after_its_blockers() {
        let unique: BTreeSet<Kind> = ORDER.iter().copied().collect();
        assert_eq!(unique.len(), ORDER.len());
        for (i, kind) in ORDER.iter().enumerate() {
            for blocker in kind.blockers() {
                let at = ORDER.iter().position(|k| k == blocker).unwrap();
                assert!(at < i, "{kind} is listed before its blocker {blocker}");
            }
        }
    }

    #[test]
    fn the_documented_chain_holds() {
        use Kind::*;
        // node groups → cluster → LBs → TGs → NAT → EIP → ENI → SG → subnet → RT → IGW → VPC
        let chain = [
            Nodegroup,
            Cluster,
            LoadBalancer,
            TargetGroup,
            NatGateway,
            ElasticIp,
            NetworkInterface,
            SecurityGroup,
            Subnet,
            RouteTable,
            InternetGateway,
            Vpc,
        ];
        let pos = |k: Kind| ORDER.iter().position(|o| *o == k).unwrap();
        for pair in chain.windows(2) {
            assert!(
                pos(pair[0]) < pos(pair[1]),
                "{} before {}",
                pair[0],
                pair[1]
            );
        }
        assert!(Vpc.blockers().contains(&InternetGateway) && Vpc.blockers().contains(&Subnet));
        assert!(SecurityGroup.blockers().contains(&NetworkInterface));
        assert!(!Cluster.ready(&[Nodegroup].into()));
        assert!(
            LogGroup.ready(&[Vpc, Subnet].into()),
            "the log group does not wait for the network"
        );
    }

    #[test]
    fn another_installs_or_tenants_tag_wins_over_everything() {
        let s = scope();
        let in_vpc = Found::new(
            Kind::SecurityGroup,
            "sg-1",
            Reason::InVpc {
                vpc_id: "vpc-1".into(),
            },
        )
        .in_vpc(Some("vpc-1".into()));
        assert_eq!(verdict(&in_vpc, &s), Verdict::Delete);
        let other_install = in_vpc.clone().tags(tags(&[(INSTALL_TAG, "inst-b")]));
        assert_eq!(
            verdict(&other_install, &s),
            Verdict::Keep("tagged for install inst-b".into())
        );
        let other_tenant = in_vpc
            .clone()
            .tags(tags(&[(INSTALL_TAG, "inst-a"), (TENANT_TAG, "globex")]));
        assert_eq!(
            verdict(&other_tenant, &s),
            Verdict::Keep("tagged for tenant globex".into())
        );
    }

    #[test]
    fn only_kubernetes_tags_naming_the_installs_cluster_as_owner_make_a_resource_ours() {
        let s = scope();
        let k8s = Reason::KubernetesTag {
            tag: "ebs.csi.aws.com/cluster".into(),
        };
        let bare = Found::new(Kind::Volume, "vol-1", k8s.clone())
            .tags(tags(&[("ebs.csi.aws.com/cluster", "true")]));
        assert!(matches!(verdict(&bare, &s), Verdict::Keep(_)));
        let owned = Reason::KubernetesTag {
            tag: "kubernetes.io/cluster/byoc-inst-a".into(),
        };
        let in_tree = Found::new(Kind::Volume, "vol-2", owned.clone()).tags(tags(&[
            ("kubernetes.io/cluster/byoc-inst-a", "owned"),
            ("KubernetesCluster", "byoc-inst-a"),
        ]));
        assert_eq!(verdict(&in_tree, &s), Verdict::Delete);
        let shared = Found::new(Kind::Subnet, "subnet-9", owned)
            .tags(tags(&[("kubernetes.io/cluster/byoc-inst-a", "shared")]))
            .in_vpc(Some("vpc-9".into()));
        assert!(
            matches!(verdict(&shared, &s), Verdict::Keep(_)),
            "a customer's subnet shared with the cluster is not the install's"
        );
        let karpenter = Found::new(
            Kind::Instance,
            "i-1",
            Reason::KubernetesTag {
                tag: "eks:eks-cluster-name".into(),
            },
        )
        .tags(tags(&[
            ("eks:eks-cluster-name", "byoc-inst-a"),
            (TENANT_TAG, "globex"),
        ]));
        assert!(
            matches!(verdict(&karpenter, &s), Verdict::Keep(_)),
            "another tenant's tag still wins"
        );
        let tagged = Found::new(Kind::Volume, "vol-1", k8s).tags(tags(&[
            ("ebs.csi.aws.com/cluster", "true"),
            (INSTALL_TAG, "inst-a"),
        ]));
        assert_eq!(verdict(&tagged, &s), Verdict::Delete);
        let elsewhere = Found::new(
            Kind::LoadBalancer,
            "lb",
            Reason::KubernetesTag {
                tag: "elbv2.k8s.aws/cluster".into(),
            },
        )
        .in_vpc(Some("vpc-9".into()));
        assert!(matches!(verdict(&elsewhere, &s), Verdict::Keep(_)));
        let other_cluster = Found::new(
            Kind::LogGroup,
            "/aws/eks/byoc-inst-b/cluster",
            Reason::ClusterName {
                cluster: "byoc-inst-b".into(),
            },
        );
        assert!(matches!(verdict(&other_cluster, &s), Verdict::Keep(_)));
    }

    #[test]
    fn deleting_resources_block_but_are_not_issued_again() {
        let nat = Found::new(Kind::NatGateway, "nat-1", Reason::InstallTag).deleting(true);
        let eip = Found::new(Kind::ElasticIp, "eipalloc-1", Reason::InstallTag);
        let log = Found::new(Kind::LogGroup, "/aws/eks/x/cluster", Reason::InstallTag);
        assert_eq!(ready_now(&[nat, eip, log]), vec![2]);
    }

    #[test]
    fn a_refused_resource_holds_what_waits_only_on_it() {
        let elb = Found::new(
            Kind::ClassicLoadBalancer,
            "a1",
            Reason::InVpc {
                vpc_id: "vpc-1".into(),
            },
        );
        let subnet = Found::new(Kind::Subnet, "subnet-1", Reason::InstallTag);
        let vpc = Found::new(Kind::Vpc, "vpc-1", Reason::InstallTag);
        let log = Found::new(Kind::LogGroup, "/aws/eks/x/cluster", Reason::InstallTag);
        let set = [elb.clone(), subnet.clone(), vpc.clone(), log];
        assert_eq!(
            held(&set, &[true, false, false, false], &BTreeSet::new()),
            vec![true, true, true, false],
            "the log group waits on nothing left"
        );
        // A NAT gateway still deleting moves: the subnet waits on it, so is not held yet.
        let nat = Found::new(Kind::NatGateway, "nat-1", Reason::InstallTag).deleting(true);
        assert_eq!(
            held(
                &[elb.clone(), subnet.clone(), nat.clone()],
                &[true, false, true],
                &BTreeSet::new()
            ),
            vec![true, false, false],
            "a deletion under way is never held"
        );
        // A customer's instance in the VPC holds the subnet and the VPC.
        assert_eq!(
            held(&[subnet, vpc], &[false, false], &[Kind::Instance].into()),
            vec![true, true]
        );
        assert_eq!(held(&[nat], &[false], &BTreeSet::new()), vec![false]);
    }

    fn any_kind() -> impl Strategy<Value = Kind> {
        (0..ORDER.len()).prop_map(|i| ORDER[i])
    }

    proptest! {
        /// Deleting whatever `ready_now` offers, pass after pass, empties any set; and nothing
        /// is ever offered while a resource of one of its blockers is still there.
        #[test]
        fn passes_empty_any_set_in_dependency_order(kinds in proptest::collection::vec(any_kind(), 0..40), stuck in proptest::collection::vec(any::<bool>(), 40)) {
            let mut remaining: Vec<Found> = kinds.iter().enumerate().map(|(i, k)| Found::new(*k, format!("r{i}"), Reason::InstallTag)).collect();
            let mut deleted_kinds: Vec<Kind> = vec![];
            let mut pass = 0;
            while !remaining.is_empty() {
                pass += 1;
                prop_assert!(pass <= 2 * ORDER.len() + 2, "no progress: {:?}", remaining);
                let ready = ready_now(&remaining);
                prop_assert!(!ready.is_empty(), "nothing ready in {:?}", remaining);
                let present: BTreeSet<Kind> = remaining.iter().map(|f| f.kind).collect();
                for &i in &ready {
                    for b in remaining[i].kind.blockers() {
                        prop_assert!(!present.contains(b), "{} offered while a {} remains", remaining[i].kind, b);
                    }
                }
                // Some deletions fail this pass (DependencyViolation, throttling) on odd passes.
                let mut keep = vec![];
                for (i, f) in remaining.into_iter().enumerate() {
                    let fails = pass % 2 == 1 && stuck.get(i).copied().unwrap_or(false);
                    if ready.contains(&i) && !fails { deleted_kinds.push(f.kind) } else { keep.push(f) }
                }
                remaining = keep;
            }
            // Once a kind has been deleted, none of its blockers is deleted later.
            for (i, k) in deleted_kinds.iter().enumerate() {
                for later in &deleted_kinds[i + 1..] {
                    prop_assert!(!k.blockers().contains(later), "{} deleted before its blocker {}", k, later);
                }
            }
        }
    }
}
