//! Default routes: the public table's to the internet gateway (third wave) and each private
//! table's to a NAT gateway (last wave, once that gateway is available).

use aws_sdk_ec2::types::RouteTable;
use futures_util::future::join_all;

use super::nat::Nat;
use super::route_tables::Table;
use super::{rejected_with, Builder, Result};
use crate::error::ec2_error;
use crate::record::Recorder;

const DEFAULT_ROUTE: &str = "0.0.0.0/0";

/// Where a default route leads.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target<'a> {
    Gateway(&'a str),
    Nat(&'a str),
}

/// Whether `table`'s default route already leads to `target`.
fn routes_to(table: &RouteTable, target: Target<'_>) -> bool {
    table.routes().iter().any(|r| {
        r.destination_cidr_block() == Some(DEFAULT_ROUTE)
            && match target {
                Target::Gateway(igw) => r.gateway_id() == Some(igw),
                Target::Nat(nat) => r.nat_gateway_id() == Some(nat),
            }
    })
}

impl Builder<'_> {
    /// Last wave: each private subnet's default route through its zone's NAT gateway (the one
    /// NAT gateway in `single` mode), once that is available. A route to a gateway that is not
    /// up yet would be a blackhole; it waits for the run that sees the gateway available.
    /// Whether every private table now routes to an available gateway.
    pub(super) async fn ensure_private_routes(
        &self,
        rec: &mut Recorder<'_>,
        private_tables: &[Option<Table>],
        live: &[Nat],
    ) -> Result<bool> {
        let mut routes = Vec::new();
        let mut routed = true;
        for (i, table) in private_tables.iter().enumerate() {
            let nat = live.iter().find(|n| n.zone == i).or_else(|| live.first());
            match (nat, table) {
                (Some(nat), Some((id, table))) if nat.available => {
                    if !routes_to(table, Target::Nat(&nat.id)) {
                        routes.push(self.ensure_default_route(table, id, Target::Nat(&nat.id)));
                    }
                }
                _ => routed = false,
            }
        }
        if !routes.is_empty() {
            // The routes name the NAT gateways: those are on the record first.
            rec.flush().await?;
            for result in join_all(routes).await {
                result?;
            }
        }
        Ok(routed)
    }

    pub(super) async fn ensure_default_route(
        &self,
        table: &RouteTable,
        id: &str,
        target: Target<'_>,
    ) -> Result<()> {
        let current = table
            .routes()
            .iter()
            .find(|r| r.destination_cidr_block() == Some(DEFAULT_ROUTE));
        match current {
            Some(_) if routes_to(table, target) => Ok(()),
            // Points elsewhere (a NAT gateway that was replaced): repoint it.
            Some(_) => self.replace_default_route(id, target).await,
            None => self.create_default_route(id, target).await,
        }
    }

    async fn create_default_route(&self, id: &str, target: Target<'_>) -> Result<()> {
        let call = self
            .ec2
            .create_route()
            .route_table_id(id)
            .destination_cidr_block(DEFAULT_ROUTE);
        let call = match target {
            Target::Gateway(igw) => call.gateway_id(igw),
            Target::Nat(nat) => call.nat_gateway_id(nat),
        };
        match call.send().await.map_err(ec2_error("CreateRoute")) {
            // The SDK's repeat of a create that took effect (its answer was lost), or
            // a route made since the table was read: point it where it must go.
            Err(err) if rejected_with(&err, "RouteAlreadyExists") => {
                self.replace_default_route(id, target).await
            }
            other => other.map(|_| ()),
        }
    }

    async fn replace_default_route(&self, id: &str, target: Target<'_>) -> Result<()> {
        let call = self
            .ec2
            .replace_route()
            .route_table_id(id)
            .destination_cidr_block(DEFAULT_ROUTE);
        let call = match target {
            Target::Gateway(igw) => call.gateway_id(igw),
            Target::Nat(nat) => call.nat_gateway_id(nat),
        };
        call.send().await.map_err(ec2_error("ReplaceRoute"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::Route;

    fn table(routes: Vec<Route>) -> RouteTable {
        RouteTable::builder().set_routes(Some(routes)).build()
    }

    #[test]
    fn only_the_default_route_to_the_same_target_counts() {
        let to_igw = Route::builder()
            .destination_cidr_block(DEFAULT_ROUTE)
            .gateway_id("igw-1")
            .build();
        let to_nat = Route::builder()
            .destination_cidr_block(DEFAULT_ROUTE)
            .nat_gateway_id("nat-1")
            .build();
        let local = Route::builder()
            .destination_cidr_block("10.0.0.0/16")
            .gateway_id("local")
            .build();
        assert!(routes_to(
            &table(vec![to_igw.clone()]),
            Target::Gateway("igw-1")
        ));
        assert!(!routes_to(&table(vec![to_igw]), Target::Gateway("igw-2")));
        let private = table(vec![local.clone(), to_nat]);
        assert!(routes_to(&private, Target::Nat("nat-1")));
        assert!(
            !routes_to(&private, Target::Nat("nat-2")),
            "a replaced gateway"
        );
        assert!(
            !routes_to(&private, Target::Gateway("local")),
            "not the default route"
        );
        assert!(!routes_to(&table(vec![local]), Target::Nat("nat-1")));
    }
}
