//! What one sweep pass found and did, as the install's timeline shows it: a sentence for the
//! event and a `sweep` record (kinds, ids and reasons only; never a secret).

use std::collections::{BTreeMap, BTreeSet};

use byoc_domain::deletion_order::{held, Found, Kind};
use byoc_domain::leftover::{delete_command, one_line, Leftover};
use byoc_domain::sweep_record::{AttemptEntry, FoundEntry, KeptEntry, SweepRecord};

use crate::attempt::Attempt;
use crate::cost::{monthly_usd, total_monthly_usd};
use crate::input::Mode;

/// The key of the sweep's record in the install's step data.
pub const RECORD_KEY: &str = byoc_domain::leftover::SWEEP_RECORD_KEY;

#[derive(Debug, Default)]
pub struct Pass {
    pub found: Vec<Found>,
    pub kept: Vec<(Found, String)>,
    pub unhandled: Vec<String>,
    /// Each deletion issued, with its answer.
    pub attempts: Vec<(Kind, String, Attempt)>,
    /// What is still there after this pass (including deletions under way).
    pub remaining: Vec<Found>,
    /// What discovery could not look at, and why.
    pub notes: Vec<String>,
    /// What of `remaining` (and of `unhandled`) waiting will not remove, once [`Pass::settle`]
    /// has looked.
    pub leftovers: Vec<Leftover>,
}

/// Error codes that say the caller may not: the role was not granted the deletion.
const NOT_ALLOWED: [&str; 4] = [
    "UnauthorizedOperation",
    "AccessDenied",
    "AccessDeniedException",
    "OperationNotPermitted",
];

fn refusal_text(code: &str, message: &str) -> String {
    if NOT_ALLOWED.contains(&code) {
        format!("the installer's role may not delete it ({code}): it lacks a tag that lets the role act on it")
    } else {
        // Messages can be long (an encoded authorization message); the code says enough.
        let short: String = message.chars().take(200).collect();
        format!("AWS refused to delete it: {code}: {short}")
    }
}

/// `ec2:launch-template` from an ARN, for a kind this step does not know.
fn arn_type(arn: &str) -> String {
    let mut parts = arn.splitn(6, ':');
    let service = parts.nth(2).unwrap_or("unknown");
    let resource = parts.nth(2).unwrap_or_default();
    format!(
        "{service}:{}",
        resource.split(['/', ':']).next().unwrap_or_default()
    )
}

/// "3 nat-gateway, 1 vpc", in deletion order.
pub fn count_by_kind<'a>(kinds: impl Iterator<Item = &'a Kind>) -> String {
    let mut counts: BTreeMap<Kind, usize> = BTreeMap::new();
    for kind in kinds {
        *counts.entry(*kind).or_default() += 1;
    }
    counts
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Pass {
    /// Nothing remains that a later pass could still remove: everything left is a leftover.
    pub fn done(&self) -> bool {
        self.remaining.iter().all(|f| self.is_leftover(f))
    }

    fn is_leftover(&self, found: &Found) -> bool {
        let kind = found.kind.to_string();
        self.leftovers
            .iter()
            .any(|l| l.kind == kind && l.id == found.id)
    }

    /// The refusal this pass got for `found`, if AWS refused it for good.
    fn refusal(&self, found: &Found) -> Option<String> {
        self.attempts
            .iter()
            .rev()
            .find(|(kind, id, _)| *kind == found.kind && *id == found.id)
            .and_then(|(_, _, attempt)| match attempt {
                Attempt::Failed { code, message } => Some(refusal_text(code, message)),
                _ => None,
            })
    }

    /// After a deleting pass: which remaining resources waiting will not remove — refused for
    /// good, or held (by the deletion order) only by refused ones or by resources inside the
    /// install's VPC that are not the install's — and the tagged resources of kinds this step
    /// does not delete. Each becomes a [`Leftover`] with what deletes it in `region`.
    pub fn settle(&mut self, region: &str, cluster: &str) {
        let install_vpcs: BTreeSet<&str> = self
            .found
            .iter()
            .filter(|f| f.kind == Kind::Vpc)
            .map(|f| f.id.as_str())
            .collect();
        let foreign: Vec<&Found> = self
            .kept
            .iter()
            .map(|(f, _)| f)
            .filter(|f| {
                f.vpc_id
                    .as_deref()
                    .is_some_and(|v| install_vpcs.contains(v))
            })
            .collect();
        let refusals: Vec<Option<String>> =
            self.remaining.iter().map(|f| self.refusal(f)).collect();
        let stuck: Vec<bool> = refusals.iter().map(Option::is_some).collect();
        let held = held(
            &self.remaining,
            &stuck,
            &foreign.iter().map(|f| f.kind).collect(),
        );
        let holders: Vec<&Found> = self
            .remaining
            .iter()
            .zip(&held)
            .filter(|(_, h)| **h)
            .map(|(f, _)| f)
            .chain(foreign.iter().copied())
            .collect();
        let mut leftovers = vec![];
        for ((found, refusal), held) in self.remaining.iter().zip(refusals).zip(held) {
            if !held {
                continue;
            }
            let why_remains = refusal.unwrap_or_else(|| {
                let by: Vec<String> = holders
                    .iter()
                    .filter(|h| found.kind.blockers().contains(&h.kind))
                    .map(|h| format!("{} {}", h.kind, h.id))
                    .collect();
                let verb = if by.len() == 1 { "is" } else { "are" };
                format!("it can only go once {} {verb} gone", by.join(", "))
            });
            leftovers.push(Leftover {
                kind: found.kind.to_string(),
                id: found.id.clone(),
                why_ours: found.reason.describe(),
                why_remains,
                monthly_cost_usd: (monthly_usd(found) * 100.0).round() / 100.0,
                command: Some(delete_command(found.kind, &found.id, region, cluster)),
            });
        }
        leftovers.extend(self.unhandled.iter().map(|arn| Leftover {
            kind: arn_type(arn),
            id: arn.clone(),
            why_ours: "tagged for the install or made for its cluster".into(),
            why_remains: "the installer does not delete this kind of resource".into(),
            monthly_cost_usd: 0.0,
            command: None,
        }));
        self.leftovers = leftovers;
    }

    pub fn deleted(&self) -> impl Iterator<Item = &(Kind, String, Attempt)> {
        self.attempts.iter().filter(|(_, _, a)| *a == Attempt::Gone)
    }

    pub fn monthly_cost_usd(&self) -> f64 {
        total_monthly_usd(&self.remaining)
    }

    pub fn message(&self, mode: Mode) -> String {
        let found = self.found.len();
        let mut text = match mode {
            Mode::DryRun if found == 0 => "dry run: nothing of the install is left in the account".to_owned(),
            Mode::DryRun => format!(
                "dry run: {found} resources would be deleted ({}); they cost about ${:.2} a month while they stay; nothing was deleted",
                count_by_kind(self.found.iter().map(|f| &f.kind)),
                self.monthly_cost_usd()
            ),
            // A rollback is reported as what it did: a delete pass (or a dry run when kept).
            Mode::Delete | Mode::Rollback if self.done() && self.leftovers.is_empty() => {
                format!("nothing of the install is left: deleted {} of {found} resources found", self.deleted().count())
            }
            Mode::Delete | Mode::Rollback if self.done() => format!(
                "deleted {} of {found} resources found; {} remain that the installer cannot delete ({}), about ${:.2} a month: the sweep record lists why and the command that deletes each",
                self.deleted().count(),
                self.leftovers.len(),
                one_line(&self.leftovers),
                byoc_domain::leftover::total_monthly_usd(&self.leftovers)
            ),
            Mode::Delete | Mode::Rollback => format!(
                "deleted {} of {found} resources found; {} remain ({}), to be retried on the next pass",
                self.deleted().count(),
                self.remaining.len(),
                count_by_kind(self.remaining.iter().map(|f| &f.kind))
            ),
        };
        if !self.kept.is_empty() {
            text.push_str(&format!(
                "; left alone {} resources that are not the install's",
                self.kept.len()
            ));
        }
        if !self.unhandled.is_empty() && self.leftovers.is_empty() {
            text.push_str(&format!("; {} tagged resources are of kinds this step does not delete (see the sweep record)", self.unhandled.len()));
        }
        text
    }

    pub fn record(&self, mode: Mode) -> SweepRecord {
        let attempts = |wanted: fn(&Attempt) -> bool| -> Vec<AttemptEntry> {
            self.attempts
                .iter()
                .filter(|(_, _, a)| wanted(a))
                .map(|(kind, id, attempt)| {
                    let (code, message) = match attempt {
                        Attempt::Later { code } => (Some(code.clone()), None),
                        Attempt::Failed { code, message } => {
                            (Some(code.clone()), Some(message.clone()))
                        }
                        Attempt::Gone | Attempt::Started => (None, None),
                    };
                    AttemptEntry {
                        kind: *kind,
                        id: id.clone(),
                        code,
                        message,
                    }
                })
                .collect()
        };
        SweepRecord {
            mode,
            found: self
                .found
                .iter()
                .map(|f| FoundEntry {
                    kind: f.kind,
                    id: f.id.clone(),
                    reason: f.reason.describe(),
                })
                .collect(),
            deleted: attempts(|a| *a == Attempt::Gone),
            started: attempts(|a| *a == Attempt::Started),
            deferred: attempts(|a| matches!(a, Attempt::Later { .. })),
            failed: attempts(|a| matches!(a, Attempt::Failed { .. })),
            kept: self
                .kept
                .iter()
                .map(|(f, why)| KeptEntry {
                    kind: f.kind,
                    id: f.id.clone(),
                    why: why.clone(),
                })
                .collect(),
            unhandled: self.unhandled.clone(),
            leftovers: self.leftovers.clone(),
            notes: self.notes.clone(),
            remaining: self.remaining.len(),
            done: self.done(),
            monthly_cost_usd: self.monthly_cost_usd(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use byoc_domain::deletion_order::Reason;
    use byoc_domain::step_record::StepRecord;
    use serde_json::json;

    #[test]
    fn a_pass_reads_as_counts_and_the_record_lists_ids_with_reasons() {
        let nat = Found::new(Kind::NatGateway, "nat-1", Reason::InstallTag).deleting(true);
        let sg = Found::new(
            Kind::SecurityGroup,
            "sg-1",
            Reason::InVpc {
                vpc_id: "vpc-1".into(),
            },
        );
        let pass = Pass {
            found: vec![nat.clone(), sg.clone()],
            kept: vec![(
                Found::new(Kind::Volume, "vol-9", Reason::InstallTag),
                "tagged for tenant globex".into(),
            )],
            unhandled: vec![],
            attempts: vec![(
                Kind::SecurityGroup,
                "sg-1".into(),
                Attempt::Later {
                    code: "DependencyViolation".into(),
                },
            )],
            remaining: vec![nat, sg],
            notes: vec![],
            leftovers: vec![],
        };
        assert_eq!(
            pass.message(Mode::Delete),
            "deleted 0 of 2 resources found; 2 remain (1 nat-gateway, 1 security-group), to be retried on the next pass; left alone 1 resources that are not the install's"
        );
        let record = pass.record(Mode::Delete).to_value();
        assert_eq!(
            record["found"][1],
            json!({"kind": "security-group", "id": "sg-1", "reason": "inside vpc-1"})
        );
        assert_eq!(
            record["deferred"],
            json!([{"kind": "security-group", "id": "sg-1", "code": "DependencyViolation"}])
        );
        assert_eq!(record["kept"][0]["why"], "tagged for tenant globex");
        assert_eq!(
            (
                record["remaining"].clone(),
                record["done"].clone(),
                record["monthly_cost_usd"].clone()
            ),
            (json!(2), json!(false), json!(32.85))
        );
        assert!(pass.message(Mode::DryRun).contains("about $32.85 a month"));
    }

    #[test]
    fn a_refused_deletion_and_what_waits_on_it_are_leftovers_with_commands() {
        let in_vpc = Reason::InVpc {
            vpc_id: "vpc-1".into(),
        };
        let elb = Found::new(
            Kind::ClassicLoadBalancer,
            "a0f3",
            Reason::KubernetesTag {
                tag: "kubernetes.io/cluster/byoc-inst-a".into(),
            },
        )
        .in_vpc(Some("vpc-1".into()));
        let subnet = Found::new(Kind::Subnet, "subnet-1", Reason::InstallTag);
        let vpc = Found::new(Kind::Vpc, "vpc-1", Reason::InstallTag);
        let customer_instance =
            Found::new(Kind::Instance, "i-9", in_vpc).in_vpc(Some("vpc-1".into()));
        let mut pass = Pass {
            found: vec![elb.clone(), subnet.clone(), vpc.clone()],
            kept: vec![(customer_instance, "not the install's".into())],
            unhandled: vec!["arn:aws:ec2:us-east-1:111122223333:launch-template/lt-1".into()],
            attempts: vec![(
                Kind::ClassicLoadBalancer,
                "a0f3".into(),
                Attempt::Failed {
                    code: "AccessDenied".into(),
                    message: "User: … is not authorized".into(),
                },
            )],
            remaining: vec![elb, subnet, vpc],
            notes: vec![],
            leftovers: vec![],
        };
        assert!(!pass.done(), "not settled yet");
        pass.settle("us-east-1", "byoc-inst-a");
        assert!(pass.done(), "nothing left that waiting would remove");
        let listed: Vec<(&str, &str)> = pass
            .leftovers
            .iter()
            .map(|l| (l.kind.as_str(), l.id.as_str()))
            .collect();
        assert_eq!(
            listed,
            vec![
                ("classic-load-balancer", "a0f3"),
                ("subnet", "subnet-1"),
                ("vpc", "vpc-1"),
                (
                    "ec2:launch-template",
                    "arn:aws:ec2:us-east-1:111122223333:launch-template/lt-1"
                )
            ]
        );
        let elb = &pass.leftovers[0];
        assert_eq!(
            elb.why_ours,
            "tagged kubernetes.io/cluster/byoc-inst-a by Kubernetes"
        );
        assert!(
            elb.why_remains
                .starts_with("the installer's role may not delete it (AccessDenied)"),
            "{}",
            elb.why_remains
        );
        assert_eq!(
            elb.command.as_deref(),
            Some("aws elb delete-load-balancer --region us-east-1 --load-balancer-name a0f3")
        );
        assert_eq!(elb.monthly_cost_usd, 18.25);
        assert_eq!(
            pass.leftovers[1].why_remains,
            "it can only go once classic-load-balancer a0f3, instance i-9 are gone"
        );
        assert!(pass.leftovers[3].command.is_none());
        let message = pass.message(Mode::Delete);
        assert!(message.starts_with("deleted 0 of 3 resources found; 4 remain that the installer cannot delete (classic-load-balancer a0f3, subnet subnet-1, vpc vpc-1, ec2:launch-template"), "{message}");
        assert!(
            !message.contains("nothing of the install is left"),
            "{message}"
        );
        assert_eq!(
            json!(pass.record(Mode::Delete).leftovers)
                .as_array()
                .map(Vec::len),
            Some(4)
        );
    }

    #[test]
    fn a_deletion_that_waits_on_aws_is_no_leftover() {
        let nat = Found::new(Kind::NatGateway, "nat-1", Reason::InstallTag).deleting(true);
        let subnet = Found::new(Kind::Subnet, "subnet-1", Reason::InstallTag);
        let mut pass = Pass {
            found: vec![nat.clone(), subnet.clone()],
            remaining: vec![nat, subnet],
            ..Default::default()
        };
        pass.attempts.push((
            Kind::Subnet,
            "subnet-1".into(),
            Attempt::Later {
                code: "DependencyViolation".into(),
            },
        ));
        pass.settle("us-east-1", "byoc-inst-a");
        assert!(pass.leftovers.is_empty() && !pass.done());
    }
}
