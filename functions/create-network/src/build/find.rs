//! The one way a wave comes by a resource, and the one way what it came by goes on the record.
//! A resource is looked up by its tags first (an earlier run, perhaps one that crashed before
//! recording it, may have made it) and made only when none is found; the create call tags it, so
//! it is findable from the moment it exists.

use std::future::Future;

use aws_sdk_ec2::types::{Address, InternetGateway, NatGateway, RouteTable, Subnet, Tag, Vpc};

use super::{Builder, Result};
use crate::record::{set, NetworkRecord, Recorder};
use crate::tagging::find_named;

/// A resource as this run came by it.
pub(super) struct Ensured<T> {
    pub value: T,
    /// Made by this run; false when an earlier run made it and this one adopted it.
    pub created: bool,
}

/// What a lookup by tag reads of an EC2 resource: its tags, and the id that breaks a tie
/// between two of the same name.
pub(super) trait Tagged {
    fn tag_list(&self) -> &[Tag];
    fn id(&self) -> Option<&str>;
}

macro_rules! tagged {
    ($($kind:ty => $id:ident),* $(,)?) => {
        $(impl Tagged for $kind {
            fn tag_list(&self) -> &[Tag] {
                self.tags()
            }
            fn id(&self) -> Option<&str> {
                self.$id()
            }
        })*
    };
}

tagged!(
    Vpc => vpc_id,
    Subnet => subnet_id,
    InternetGateway => internet_gateway_id,
    RouteTable => route_table_id,
    Address => allocation_id,
    NatGateway => nat_gateway_id,
);

impl Builder<'_> {
    /// The install's resource called `name`: the one among `existing` (read from the account at
    /// the start of the run) that carries the install's tags and that name, as `adopt` reads it;
    /// else the one `create` makes, as `made` reads it from the call's answer.
    ///
    /// `point` is the crash point right after the create call took effect and before anything is
    /// read from its answer or recorded: the crash tests stop there to show that the next run
    /// adopts what this one made. `create` runs only when nothing was found, so whatever it
    /// needs first (a plan, an id from the record) is looked at only then.
    pub(super) async fn find_or_create<'i, I, T, O, Fut>(
        &self,
        existing: &'i [I],
        name: &str,
        adopt: impl FnOnce(&'i I) -> Result<T>,
        point: &str,
        create: impl FnOnce() -> Fut,
        made: impl FnOnce(O) -> Result<T>,
    ) -> Result<Ensured<T>>
    where
        I: Tagged,
        Fut: Future<Output = Result<O>>,
    {
        if let Some(found) = find_named(existing, self.install, name, I::tag_list, I::id) {
            return Ok(Ensured {
                value: adopt(found)?,
                created: false,
            });
        }
        let out = create().await?;
        self.fault.point(point);
        Ok(Ensured {
            value: made(out)?,
            created: true,
        })
    }
}

/// How a resource came to be, as the timeline tells it.
fn how(created: bool) -> &'static str {
    if created {
        "created"
    } else {
        "adopted (made by an earlier run)"
    }
}

/// Notes `id` under `resource` as one timeline event: "created …" or "adopted … …", then `what`.
pub(super) fn note(rec: &mut Recorder<'_>, resource: &str, id: &str, created: bool, what: &str) {
    rec.note(resource, id, format!("{} {what}", how(created)));
}

/// Puts `id` in the network record where `slot` says and, only when that changes the record,
/// notes it: a run that finds everything as recorded writes nothing.
pub(super) fn keep(
    rec: &mut Recorder<'_>,
    slot: impl FnOnce(&mut NetworkRecord) -> &mut Option<String>,
    resource: &str,
    id: &str,
    created: bool,
    what: &str,
) {
    if set(slot(&mut rec.network), id) {
        note(rec, resource, id, created, what);
    }
}
