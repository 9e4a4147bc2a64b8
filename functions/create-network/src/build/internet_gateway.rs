//! The internet gateway (second wave): found by its tags or made, and attached to the VPC.

use aws_sdk_ec2::operation::create_internet_gateway::CreateInternetGatewayOutput;
use aws_sdk_ec2::types::ResourceType;

use super::find::Ensured;
use super::state::attached_to;
use super::{unless_done_before, Builder, Result};
use crate::discover::Inventory;
use crate::error::{ec2_error, incomplete};
use crate::tagging::{self, tag_spec};
use crate::unrepeatable::{one_attempt, send_once};

impl Builder<'_> {
    /// The internet gateway's id, found or made, and attached to the VPC.
    pub(super) async fn ensure_internet_gateway(
        &self,
        vpc_id: &str,
        inventory: &Inventory,
    ) -> Result<Ensured<String>> {
        let name = tagging::igw_name(self.install);
        let Ensured {
            value: gateway,
            created,
        } = self
            .find_or_create(
                &inventory.internet_gateways,
                &name,
                |g| Ok(g.clone()),
                "internet-gateway",
                || self.create_internet_gateway(&name),
                |out: CreateInternetGatewayOutput| {
                    out.internet_gateway()
                        .cloned()
                        .ok_or_else(|| incomplete("CreateInternetGateway", "internet gateway"))
                },
            )
            .await?;
        let id = gateway
            .internet_gateway_id()
            .ok_or_else(|| incomplete("CreateInternetGateway", "internet gateway id"))?
            .to_owned();
        if !attached_to(&gateway, vpc_id) {
            self.attach_internet_gateway(&id, vpc_id).await?;
        }
        Ok(Ensured { value: id, created })
    }

    async fn create_internet_gateway(&self, name: &str) -> Result<CreateInternetGatewayOutput> {
        send_once("CreateInternetGateway", || {
            self.ec2
                .create_internet_gateway()
                .tag_specifications(tag_spec(
                    ResourceType::InternetGateway,
                    tagging::tags(self.install, name, None),
                ))
                .customize()
                .config_override(one_attempt())
                .send()
        })
        .await
    }

    async fn attach_internet_gateway(&self, id: &str, vpc_id: &str) -> Result<()> {
        let attach = self
            .ec2
            .attach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc_id)
            .send()
            .await
            .map(|_| ())
            .map_err(ec2_error("AttachInternetGateway"));
        // The SDK's repeat of an attach that took effect (its answer was lost).
        unless_done_before(attach, "Resource.AlreadyAssociated", || {
            self.gateway_attached(id, vpc_id)
        })
        .await
    }

    async fn gateway_attached(&self, gateway_id: &str, vpc_id: &str) -> Result<bool> {
        let out = self
            .ec2
            .describe_internet_gateways()
            .internet_gateway_ids(gateway_id)
            .send()
            .await
            .map_err(ec2_error("DescribeInternetGateways"))?;
        Ok(out
            .internet_gateways()
            .iter()
            .any(|g| attached_to(g, vpc_id)))
    }
}
