//! What a removal could not remove. A sweep pass that ends with resources of the install still
//! in the customer's account — refused (the installer's role may not delete them), held by one
//! that was refused, or of a kind the installer does not delete — lists each one here, on the
//! sweep record (`step_data["sweep"].leftovers`); the removal's timeline entry, its event and
//! the customer's email say so, with what to run to delete each one. "Nothing it made is left"
//! is said only when this list is empty.

use serde::{Deserialize, Serialize};

use crate::deletion_order::Kind;
use crate::model::Install;

/// The key of the sweep's record in the install's step data (written by sweep-dangling).
pub const SWEEP_RECORD_KEY: &str = "sweep";
/// The key of the scheduled checks' findings (written by sweep-dangling on a schedule, after
/// the removal or rollback finished; a new sweep forgets them).
pub const SCHEDULED_FINDINGS_KEY: &str = "scheduled_sweep";

/// One resource of the install that is still in the customer's account and that waiting
/// will not remove.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leftover {
    /// The kind (`volume`, `classic-load-balancer`, …), or `service:type` from the ARN for a
    /// kind the installer does not delete.
    pub kind: String,
    pub id: String,
    /// Why it is the install's (`tagged kubernetes.io/cluster/byoc-inst-… by Kubernetes`).
    pub why_ours: String,
    /// Why it is still there (AWS's refusal, or what holds it).
    pub why_remains: String,
    /// What it costs a month while it stays (USD, us-east-1 list prices; 0 when it bills
    /// nothing by itself or its price is not known).
    pub monthly_cost_usd: f64,
    /// The AWS CLI command that deletes it, run with the customer's own permissions; none
    /// for a kind the installer does not know.
    pub command: Option<String>,
}

/// The leftovers as last seen: by the newest scheduled check when one ran since the sweep
/// (it keeps checking and records when they are gone), else by the sweep's last pass.
pub fn recorded(install: &Install) -> Vec<Leftover> {
    let listed = |key: &str| {
        install
            .step_data
            .get(key)
            .and_then(|record| record.get("leftovers"))
            .and_then(|list| serde_json::from_value(list.clone()).ok())
    };
    listed(SCHEDULED_FINDINGS_KEY)
        .or_else(|| listed(SWEEP_RECORD_KEY))
        .unwrap_or_default()
}

/// The AWS CLI command that deletes a resource of `kind` named `id` in `region` (EKS kinds
/// are inside `cluster`). What must be undone first is said in the leftover's `why_remains`.
pub fn delete_command(kind: Kind, id: &str, region: &str, cluster: &str) -> String {
    let kubernetes = |resource: &str| {
        let (namespace, name) = id.split_once('/').unwrap_or(("default", id));
        format!("aws eks update-kubeconfig --region {region} --name {cluster} && kubectl delete {resource} --namespace {namespace} {name}")
    };
    let (service, operation, args) = match kind {
        Kind::KubernetesService => return kubernetes("service"),
        Kind::KubernetesIngress => return kubernetes("ingress"),
        Kind::KubernetesVolumeClaim => return kubernetes("persistentvolumeclaim"),
        Kind::Nodegroup => (
            "eks",
            "delete-nodegroup",
            format!("--cluster-name {cluster} --nodegroup-name {id}"),
        ),
        Kind::Addon => (
            "eks",
            "delete-addon",
            format!("--cluster-name {cluster} --addon-name {id}"),
        ),
        Kind::AccessEntry => (
            "eks",
            "delete-access-entry",
            format!("--cluster-name {cluster} --principal-arn {id}"),
        ),
        Kind::Cluster => ("eks", "delete-cluster", format!("--name {id}")),
        Kind::Instance => ("ec2", "terminate-instances", format!("--instance-ids {id}")),
        Kind::ClassicLoadBalancer => (
            "elb",
            "delete-load-balancer",
            format!("--load-balancer-name {id}"),
        ),
        Kind::LoadBalancer => (
            "elbv2",
            "delete-load-balancer",
            format!("--load-balancer-arn {id}"),
        ),
        Kind::TargetGroup => (
            "elbv2",
            "delete-target-group",
            format!("--target-group-arn {id}"),
        ),
        Kind::VpcEndpoint => (
            "ec2",
            "delete-vpc-endpoints",
            format!("--vpc-endpoint-ids {id}"),
        ),
        Kind::Volume => ("ec2", "delete-volume", format!("--volume-id {id}")),
        Kind::NatGateway => (
            "ec2",
            "delete-nat-gateway",
            format!("--nat-gateway-id {id}"),
        ),
        Kind::ElasticIp => ("ec2", "release-address", format!("--allocation-id {id}")),
        Kind::NetworkInterface => (
            "ec2",
            "delete-network-interface",
            format!("--network-interface-id {id}"),
        ),
        Kind::SecurityGroup => ("ec2", "delete-security-group", format!("--group-id {id}")),
        Kind::Subnet => ("ec2", "delete-subnet", format!("--subnet-id {id}")),
        Kind::RouteTable => (
            "ec2",
            "delete-route-table",
            format!("--route-table-id {id}"),
        ),
        Kind::InternetGateway => (
            "ec2",
            "delete-internet-gateway",
            format!("--internet-gateway-id {id}"),
        ),
        Kind::Vpc => ("ec2", "delete-vpc", format!("--vpc-id {id}")),
        Kind::LogGroup => ("logs", "delete-log-group", format!("--log-group-name {id}")),
    };
    format!("aws {service} {operation} --region {region} {args}")
}

/// "2 resources (1 volume, 1 classic-load-balancer)" style list for messages: kind and id each.
pub fn one_line(leftovers: &[Leftover]) -> String {
    leftovers
        .iter()
        .map(|l| format!("{} {}", l.kind, l.id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the leftovers cost a month together, rounded to cents.
pub fn total_monthly_usd(leftovers: &[Leftover]) -> f64 {
    (leftovers
        .iter()
        .map(|l| l.monthly_cost_usd)
        .fold(0.0, |a, b| a + b)
        * 100.0)
        .round()
        / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deletion_order::ORDER;

    #[test]
    fn every_kind_has_a_command_naming_its_region_and_id() {
        for kind in ORDER {
            let command = delete_command(kind, "the-id", "eu-west-1", "byoc-inst-a");
            assert!(
                command.starts_with("aws ")
                    && command.contains("--region eu-west-1")
                    && command.contains("the-id"),
                "{command}"
            );
        }
        for kind in [
            Kind::KubernetesService,
            Kind::KubernetesIngress,
            Kind::KubernetesVolumeClaim,
        ] {
            let command = delete_command(kind, "shop/web", "eu-west-1", "byoc-inst-a");
            assert!(command.starts_with("aws eks update-kubeconfig --region eu-west-1 --name byoc-inst-a && kubectl delete ") && command.ends_with("--namespace shop web"), "{command}");
        }
        assert_eq!(
            delete_command(Kind::Volume, "vol-1", "us-east-1", "c"),
            "aws ec2 delete-volume --region us-east-1 --volume-id vol-1"
        );
        assert_eq!(
            delete_command(Kind::ClassicLoadBalancer, "a1b2", "us-east-1", "c"),
            "aws elb delete-load-balancer --region us-east-1 --load-balancer-name a1b2"
        );
    }

    #[test]
    fn the_record_is_read_back_and_absent_means_none() {
        let mut install: Install = serde_json::from_value(serde_json::json!({
            "install_id": "inst-01hzy0000000000000000000aa", "tenant_id": "acme", "account_id": "111122223333",
            "region": "us-east-1", "status": "removed", "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z", "version": 9,
        }))
        .unwrap();
        assert!(recorded(&install).is_empty());
        let leftover = Leftover {
            kind: "volume".into(),
            id: "vol-1".into(),
            why_ours: "tagged kubernetes.io/cluster/byoc-x by Kubernetes".into(),
            why_remains: "refused: UnauthorizedOperation".into(),
            monthly_cost_usd: 2.0,
            command: Some("aws ec2 delete-volume --region us-east-1 --volume-id vol-1".into()),
        };
        install.step_data.insert(
            SWEEP_RECORD_KEY.into(),
            serde_json::json!({"done": true, "leftovers": [leftover]}),
        );
        assert_eq!(recorded(&install), vec![leftover.clone()]);
        assert_eq!(
            one_line(&[leftover.clone(), leftover.clone()]),
            "volume vol-1, volume vol-1"
        );
        assert_eq!(total_monthly_usd(&[leftover.clone(), leftover]), 4.0);
    }
}
