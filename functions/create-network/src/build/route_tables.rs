//! The route tables (second wave: the public one and one private one per zone, found by their
//! tags or made) and their subnet associations (third wave).

use aws_sdk_ec2::operation::create_route_table::CreateRouteTableOutput;
use aws_sdk_ec2::types::{ResourceType, RouteTable};
use futures_util::future::join_all;

use super::find::{keep, Ensured};
use super::state::associates;
use super::{settle_one, unless_done_before, Builder, Result};
use crate::discover::Inventory;
use crate::error::{ec2_error, incomplete, CreateNetworkError};
use crate::record::{zone_key, Recorder, ZoneRecord};
use crate::tagging::{self, tag_spec};
use crate::unrepeatable::{one_attempt, send_once};

/// A route table and its id.
pub(super) type Table = (String, RouteTable);

impl Builder<'_> {
    /// The route table `name`, found or made.
    pub(super) async fn ensure_route_table(
        &self,
        vpc_id: &str,
        name: &str,
        inventory: &Inventory,
    ) -> Result<Ensured<RouteTable>> {
        self.find_or_create(
            &inventory.route_tables,
            name,
            |t| Ok(t.clone()),
            "route-table",
            || self.create_route_table(vpc_id, name),
            |out: CreateRouteTableOutput| {
                out.route_table()
                    .cloned()
                    .ok_or_else(|| incomplete("CreateRouteTable", "route table"))
            },
        )
        .await
    }

    async fn create_route_table(&self, vpc_id: &str, name: &str) -> Result<CreateRouteTableOutput> {
        send_once("CreateRouteTable", || {
            self.ec2
                .create_route_table()
                .vpc_id(vpc_id)
                .tag_specifications(tag_spec(
                    ResourceType::RouteTable,
                    tagging::tags(self.install, name, None),
                ))
                .customize()
                .config_override(one_attempt())
                .send()
        })
        .await
    }

    /// Each zone's public subnet associated with the public table and its private subnet with
    /// the zone's private table, all at once; one result per association.
    pub(super) async fn ensure_associations(
        &self,
        zones: &[ZoneRecord],
        public: &Table,
        private_tables: &[Option<Table>],
    ) -> Vec<Result<()>> {
        let mut associations = Vec::new();
        for (zone, private) in zones.iter().zip(private_tables) {
            if let Some(subnet) = &zone.public_subnet_id {
                associations.push(self.ensure_association(public, subnet));
            }
            if let (Some(subnet), Some(table)) = (&zone.private_subnet_id, private) {
                associations.push(self.ensure_association(table, subnet));
            }
        }
        join_all(associations).await
    }

    async fn ensure_association(&self, (id, table): &Table, subnet: &str) -> Result<()> {
        if associates(table, subnet) {
            return Ok(());
        }
        let associate = self
            .ec2
            .associate_route_table()
            .route_table_id(id)
            .subnet_id(subnet)
            .send()
            .await
            .map(|_| ())
            .map_err(ec2_error("AssociateRouteTable"));
        // The SDK's repeat of an association that took effect (its answer was lost).
        unless_done_before(associate, "Resource.AlreadyAssociated", || {
            self.subnet_associated_with(subnet, id)
        })
        .await
    }

    async fn subnet_associated_with(&self, subnet: &str, table_id: &str) -> Result<bool> {
        let out = self
            .ec2
            .describe_route_tables()
            .route_table_ids(table_id)
            .send()
            .await
            .map_err(ec2_error("DescribeRouteTables"))?;
        Ok(out.route_tables().iter().any(|t| associates(t, subnet)))
    }
}

/// The table with its id, which EC2 always gives: a table without one is an incomplete answer.
fn with_id(table: Result<Ensured<RouteTable>>) -> Result<(String, Ensured<RouteTable>)> {
    let table = table?;
    let id = table
        .value
        .route_table_id()
        .ok_or_else(|| incomplete("CreateRouteTable", "route table id"))?
        .to_owned();
    Ok((id, table))
}

/// Puts the public route table on the record (noted when new); the table, unless its call failed.
pub(super) fn record_public_table(
    rec: &mut Recorder<'_>,
    table: Result<Ensured<RouteTable>>,
    error: &mut Option<CreateNetworkError>,
) -> Option<Table> {
    let (id, table) = settle_one(with_id(table), error)?;
    let what = format!("public route table {id}");
    keep(
        rec,
        |network| &mut network.public_route_table_id,
        "public_route_table_id",
        &id,
        table.created,
        &what,
    );
    Some((id, table.value))
}

/// Puts each zone's private route table on the record (noted when new); the tables by zone, none
/// where the call failed.
pub(super) fn record_private_tables(
    rec: &mut Recorder<'_>,
    zones: &[ZoneRecord],
    tables: Vec<Result<Ensured<RouteTable>>>,
    error: &mut Option<CreateNetworkError>,
) -> Vec<Option<Table>> {
    let mut private_tables: Vec<Option<Table>> = vec![None; zones.len()];
    for (i, table) in tables.into_iter().enumerate() {
        let Some((id, table)) = settle_one(with_id(table), error) else {
            continue;
        };
        let zone = &zones[i].zone.name;
        let what = format!("private route table {id} for {zone}");
        keep(
            rec,
            |network| &mut network.zones[i].private_route_table_id,
            &zone_key("private_route_table_id", zone),
            &id,
            table.created,
            &what,
        );
        private_tables[i] = Some((id, table.value));
    }
    private_tables
}
