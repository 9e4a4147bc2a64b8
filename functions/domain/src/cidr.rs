//! IPv4 CIDR blocks: parsing and the overlap arithmetic the network planner builds on.
//!
//! The block itself and its arithmetic (masks, last address, containment) are `ipnet`'s
//! [`Ipv4Net`]; this type only adds what the installer needs on top: a block must be its own
//! network address (no host bits), and the text it accepts and the errors it gives are the ones
//! the API has always had.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// An IPv4 network block whose address is its network address (`10.42.0.0/16`, never
/// `10.42.1.0/16`). Serialized as that text.
///
/// Ordered by network address, then prefix length (`Ipv4Net`'s order, which is the order the
/// hand-written `(network, prefix)` struct had).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ipv4Cidr(Ipv4Net);

/// The RFC 1918 private ranges. Built at compile time: `new_assert` cannot fail here.
const PRIVATE_RANGES: [Ipv4Cidr; 3] = [
    Ipv4Cidr(Ipv4Net::new_assert(Ipv4Addr::new(10, 0, 0, 0), 8)),
    Ipv4Cidr(Ipv4Net::new_assert(Ipv4Addr::new(172, 16, 0, 0), 12)),
    Ipv4Cidr(Ipv4Net::new_assert(Ipv4Addr::new(192, 168, 0, 0), 16)),
];

impl Ipv4Cidr {
    /// A block from its network address and prefix length; `None` when the prefix is over 32
    /// or host bits are set.
    pub fn new(address: Ipv4Addr, prefix: u8) -> Option<Self> {
        let net = Ipv4Net::new(address, prefix).ok()?;
        (net.network() == address).then_some(Self(net))
    }

    pub fn prefix(&self) -> u8 {
        self.0.prefix_len()
    }

    /// The network address, as a number so the planner can step through blocks.
    pub fn first(&self) -> u32 {
        u32::from(self.0.network())
    }

    /// The last address of the block (its broadcast address), as a number.
    pub fn last(&self) -> u32 {
        u32::from(self.0.broadcast())
    }

    /// How many addresses the block spans; a `u64` because `/0` spans 2^32.
    pub fn size(&self) -> u64 {
        u64::from(u32::from(self.0.hostmask())) + 1
    }

    /// Whether the two blocks share an address. Two CIDR blocks are either nested or disjoint,
    /// so they overlap exactly when one contains the other.
    pub fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        self.contains(other) || other.contains(self)
    }

    pub fn contains(&self, other: &Ipv4Cidr) -> bool {
        self.0.contains(&other.0)
    }

    /// The RFC 1918 private ranges, where VPCs are planned.
    pub fn private_ranges() -> [Ipv4Cidr; 3] {
        PRIVATE_RANGES
    }

    pub fn is_private(&self) -> bool {
        PRIVATE_RANGES.iter().any(|r| r.contains(self))
    }

    /// The block of `prefix` starting at `first` (which must be aligned).
    pub fn from_first(first: u32, prefix: u8) -> Option<Self> {
        Self::new(Ipv4Addr::from(first), prefix)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CidrError(String);

impl FromStr for Ipv4Cidr {
    type Err = CidrError;

    /// The address is read by `std` and the prefix as a `u8`, not by `Ipv4Net::from_str`, so
    /// the accepted text stays what it was: `ipnet` would also take octets with leading zeros
    /// (`010.0.0.0/8`, which some tools read as octal) and refuse a zero-padded prefix (`/016`).
    fn from_str(text: &str) -> Result<Self, CidrError> {
        let bad = || {
            CidrError(format!(
                "\"{}\" is not an IPv4 CIDR block like \"10.42.0.0/16\"",
                text.chars().take(40).collect::<String>()
            ))
        };
        let (address, prefix) = text.split_once('/').ok_or_else(bad)?;
        let address: Ipv4Addr = address.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        let net = Ipv4Net::new(address, prefix).map_err(|_| bad())?;
        if net.network() != address {
            return Err(CidrError(format!(
                "\"{text}\" has host bits set; the network address is {}",
                net.trunc()
            )));
        }
        Ok(Self(net))
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl TryFrom<String> for Ipv4Cidr {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        value.parse().map_err(|e: CidrError| e.0)
    }
}

impl From<Ipv4Cidr> for String {
    fn from(cidr: Ipv4Cidr) -> String {
        cidr.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_prints() {
        let c: Ipv4Cidr = "10.42.0.0/16".parse().unwrap();
        assert_eq!(c.to_string(), "10.42.0.0/16");
        assert_eq!(c.size(), 65536);
        assert!(c.is_private());
        assert!("10.42.1.0/16"
            .parse::<Ipv4Cidr>()
            .unwrap_err()
            .0
            .contains("10.42.0.0/16"));
        for bad in ["10.0.0.0", "10.0.0.0/33", "300.0.0.0/8", "x/8", ""] {
            assert!(bad.parse::<Ipv4Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn overlap_and_containment() {
        let a: Ipv4Cidr = "10.0.0.0/16".parse().unwrap();
        let b: Ipv4Cidr = "10.0.128.0/17".parse().unwrap();
        let c: Ipv4Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(a.overlaps(&b) && a.contains(&b) && !b.contains(&a));
        assert!(!a.overlaps(&c));
        assert!(!"100.64.0.0/16".parse::<Ipv4Cidr>().unwrap().is_private());
    }

    /// The text accepted and the messages given are the ones from before `ipnet`.
    #[test]
    fn accepted_text_and_messages_are_unchanged() {
        for (text, shown) in [
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("10.0.0.0/08", "10.0.0.0/8"),
            ("10.0.0.0/+8", "10.0.0.0/8"),
            ("10.1.2.3/32", "10.1.2.3/32"),
        ] {
            let c: Ipv4Cidr = text.parse().unwrap();
            assert_eq!(c.to_string(), shown);
        }
        for bad in [
            "010.0.0.0/8",
            "10.0.0.0/ 8",
            " 10.0.0.0/8",
            "10.0.0.0/8/8",
            "10.0.0.0/256",
            "10.0.0/8",
            "::/0",
        ] {
            assert_eq!(
                bad.parse::<Ipv4Cidr>().unwrap_err().0,
                format!("\"{bad}\" is not an IPv4 CIDR block like \"10.42.0.0/16\"")
            );
        }
        assert_eq!(
            "10.42.1.0/16".parse::<Ipv4Cidr>().unwrap_err().0,
            "\"10.42.1.0/16\" has host bits set; the network address is 10.42.0.0/16"
        );
        assert_eq!(Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 0), 33), None);
        assert_eq!(Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 1), 31), None);
    }

    #[test]
    fn sizes_ends_and_serde() {
        let all: Ipv4Cidr = "0.0.0.0/0".parse().unwrap();
        assert_eq!(
            (all.first(), all.last(), all.size()),
            (0, u32::MAX, 1 << 32)
        );
        let one: Ipv4Cidr = "10.0.0.7/32".parse().unwrap();
        assert_eq!((one.last() - one.first(), one.size()), (0, 1));
        let json = serde_json::to_string(&one).unwrap();
        assert_eq!(json, "\"10.0.0.7/32\"");
        assert_eq!(serde_json::from_str::<Ipv4Cidr>(&json).unwrap(), one);
        let err = serde_json::from_str::<Ipv4Cidr>("\"10.0.0.7/24\"").unwrap_err();
        assert!(err.to_string().contains("host bits set"), "{err}");
        assert_eq!(
            Ipv4Cidr::private_ranges().map(|r| r.to_string()),
            ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
        );
    }

    fn arbitrary_block() -> impl Strategy<Value = Ipv4Cidr> {
        (any::<u32>(), 0u8..=32).prop_map(|(address, prefix)| {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            Ipv4Cidr::from_first(address & mask, prefix).unwrap()
        })
    }

    proptest! {
        /// Against the interval arithmetic the hand-written type used.
        #[test]
        fn arithmetic_matches_address_intervals(a in arbitrary_block(), b in arbitrary_block()) {
            prop_assert_eq!(u64::from(a.last() - a.first()) + 1, a.size());
            prop_assert_eq!(a.size(), 1u64 << (32 - a.prefix()));
            prop_assert_eq!(a.overlaps(&b), a.first() <= b.last() && b.first() <= a.last());
            prop_assert_eq!(a.contains(&b), a.first() <= b.first() && b.last() <= a.last());
            prop_assert_eq!(a.cmp(&b), (a.first(), a.prefix()).cmp(&(b.first(), b.prefix())));
            prop_assert_eq!(a.to_string().parse::<Ipv4Cidr>().unwrap(), a);
        }
    }
}
