//! The first wave: the VPC, with the zones and subnets planned for it on the record; and its DNS
//! settings, which the second wave turns on.

use aws_sdk_ec2::operation::create_vpc::CreateVpcOutput;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, Vpc};
use byoc_core::aws::zones::{self, ZoneFacts};
use byoc_domain::cidr::Ipv4Cidr;
use byoc_domain::network_plan::{choose_vpc_cidr, plan_subnets, ZonePlan};

use super::find::{note, Ensured};
use super::{Builder, Result};
use crate::discover::{self, Inventory};
use crate::error::{ec2_error, incomplete};
use crate::record::{Recorder, ZoneRecord};
use crate::tagging::{self, tag_spec};
use crate::unrepeatable::{one_attempt, send_once};

/// The install's VPC as a run came by it.
struct VpcFacts {
    id: String,
    cidr: Ipv4Cidr,
    /// The plan this run made it with; none for a VPC an earlier run made.
    plan: Option<Vec<ZonePlan>>,
}

impl Builder<'_> {
    /// The install's VPC, found by its tags or made on a CIDR chosen to miss the account's other
    /// VPCs; on the record with its zones (noted) unless the record already has it.
    pub(super) async fn ensure_vpc(
        &self,
        rec: &mut Recorder<'_>,
        inventory: &Inventory,
    ) -> Result<String> {
        let name = tagging::vpc_name(self.install);
        let Ensured { value, created } = self
            .find_or_create(
                &inventory.vpcs,
                &name,
                adopt_vpc,
                "vpc",
                || self.create_vpc(&name),
                |(out, cidr, plan): (CreateVpcOutput, Ipv4Cidr, Vec<ZonePlan>)| {
                    let id = out
                        .vpc()
                        .and_then(|v| v.vpc_id())
                        .ok_or_else(|| incomplete("CreateVpc", "VPC id"))?;
                    Ok(VpcFacts {
                        id: id.to_owned(),
                        cidr,
                        plan: Some(plan),
                    })
                },
            )
            .await?;
        let VpcFacts { id, cidr, plan } = value;
        let plan = match plan {
            Some(plan) => plan,
            None if known(rec, &id, cidr) => return Ok(id),
            None => {
                // Crashed after the create, before the record: the plan is the same one
                // again, from the VPC's own CIDR rather than a fresh choice.
                let zones = self.zone_facts().await?;
                self.plan(cidr, &zones)?
            }
        };
        self.note_vpc(rec, &id, cidr, &plan, created);
        Ok(id)
    }

    /// Chooses the CIDR and plans the zones (failing before anything is made when they do not
    /// fit), then makes the VPC.
    async fn create_vpc(&self, name: &str) -> Result<(CreateVpcOutput, Ipv4Cidr, Vec<ZonePlan>)> {
        let options = &self.install.options;
        let (existing, zones) =
            tokio::try_join!(discover::existing_vpcs(self.ec2), self.zone_facts())?;
        let cidr = choose_vpc_cidr(options.vpc_cidr, options.vpc_prefix_length, &existing)?;
        let plan = self.plan(cidr, &zones)?;
        let out = send_once("CreateVpc", || {
            self.ec2
                .create_vpc()
                .cidr_block(cidr.to_string())
                .tag_specifications(tag_spec(
                    ResourceType::Vpc,
                    tagging::tags(self.install, name, None),
                ))
                .customize()
                .config_override(one_attempt())
                .send()
        })
        .await?;
        Ok((out, cidr, plan))
    }

    /// Zones and subnets for `cidr`, checked before anything is made so a bad fit fails fast.
    /// The zones are chosen as check-quotas chose them (`byoc_core::aws::zones`).
    fn plan(&self, cidr: Ipv4Cidr, zones: &ZoneFacts) -> Result<Vec<ZonePlan>> {
        let options = &self.install.options;
        let chosen = zones.choose(
            self.install.region.as_str(),
            &options.node_instance_type,
            options.az_count,
        )?;
        Ok(plan_subnets(cidr, &chosen)?)
    }

    /// What the planner reads about the account: zones and where the node type is offered.
    async fn zone_facts(&self) -> Result<ZoneFacts> {
        Ok(zones::facts(self.ec2, &self.install.options.node_instance_type).await?)
    }

    fn note_vpc(
        &self,
        rec: &mut Recorder<'_>,
        vpc_id: &str,
        cidr: Ipv4Cidr,
        plan: &[ZonePlan],
        created: bool,
    ) {
        let network = &mut rec.network;
        network.vpc_id = Some(vpc_id.to_owned());
        network.vpc_cidr = Some(cidr);
        network.nat_mode = Some(self.install.options.nat_mode);
        network.zones = plan.iter().map(ZoneRecord::planned).collect();
        // A VPC made (or first recorded) by this run has had no DNS settings from it yet.
        network.dns_enabled = false;
        let zones: Vec<&str> = plan.iter().map(|z| z.zone.name.as_str()).collect();
        let what = format!("VPC {vpc_id} ({cidr}) over {}", zones.join(", "));
        note(
            rec,
            byoc_domain::step_record::resource::VPC_ID,
            vpc_id,
            created,
            &what,
        );
    }

    /// EKS needs both for its private endpoint and node registration. Done once per VPC (the
    /// record says when); EC2 takes one attribute per call.
    pub(super) async fn enable_dns(&self, vpc_id: &str) -> Result<()> {
        let on = || AttributeBooleanValue::builder().value(true).build();
        tokio::try_join!(
            async {
                self.ec2
                    .modify_vpc_attribute()
                    .vpc_id(vpc_id)
                    .enable_dns_support(on())
                    .send()
                    .await
                    .map_err(ec2_error("ModifyVpcAttribute"))
            },
            async {
                self.ec2
                    .modify_vpc_attribute()
                    .vpc_id(vpc_id)
                    .enable_dns_hostnames(on())
                    .send()
                    .await
                    .map_err(ec2_error("ModifyVpcAttribute"))
            },
        )?;
        Ok(())
    }
}

/// The id and CIDR of a VPC an earlier run made.
fn adopt_vpc(vpc: &Vpc) -> Result<VpcFacts> {
    let id = vpc
        .vpc_id()
        .ok_or_else(|| incomplete("DescribeVpcs", "VPC id"))?
        .to_owned();
    let cidr: Ipv4Cidr = vpc
        .cidr_block()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| incomplete("DescribeVpcs", "IPv4 CIDR"))?;
    Ok(VpcFacts {
        id,
        cidr,
        plan: None,
    })
}

/// Whether the record already names this VPC, with its CIDR and zones.
fn known(rec: &Recorder<'_>, vpc_id: &str, cidr: Ipv4Cidr) -> bool {
    let network = &rec.network;
    network.vpc_id.as_deref() == Some(vpc_id)
        && network.vpc_cidr == Some(cidr)
        && !network.zones.is_empty()
}
