//! IPv4 CIDR blocks: parsing and the overlap arithmetic the network planner builds on.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ipv4Cidr {
    network: u32,
    prefix: u8,
}

impl Ipv4Cidr {
    /// A block from its network address and prefix length; `None` when host bits are set.
    pub fn new(address: Ipv4Addr, prefix: u8) -> Option<Self> {
        if prefix > 32 {
            return None;
        }
        let network = u32::from(address);
        (network & Self::mask(prefix) == network).then_some(Self { network, prefix })
    }

    fn mask(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        }
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn first(&self) -> u32 {
        self.network
    }

    pub fn last(&self) -> u32 {
        self.network | !Self::mask(self.prefix)
    }

    pub fn size(&self) -> u64 {
        1u64 << (32 - self.prefix)
    }

    pub fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        self.first() <= other.last() && other.first() <= self.last()
    }

    pub fn contains(&self, other: &Ipv4Cidr) -> bool {
        self.first() <= other.first() && other.last() <= self.last()
    }

    /// The RFC 1918 private ranges, where VPCs are planned.
    pub fn private_ranges() -> [Ipv4Cidr; 3] {
        [
            Ipv4Cidr {
                network: u32::from(Ipv4Addr::new(10, 0, 0, 0)),
                prefix: 8,
            },
            Ipv4Cidr {
                network: u32::from(Ipv4Addr::new(172, 16, 0, 0)),
                prefix: 12,
            },
            Ipv4Cidr {
                network: u32::from(Ipv4Addr::new(192, 168, 0, 0)),
                prefix: 16,
            },
        ]
    }

    pub fn is_private(&self) -> bool {
        Self::private_ranges().iter().any(|r| r.contains(self))
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
        if prefix > 32 {
            return Err(bad());
        }
        Ipv4Cidr::new(address, prefix).ok_or_else(|| {
            CidrError(format!(
                "\"{text}\" has host bits set; the network address is {}/{prefix}",
                Ipv4Addr::from(u32::from(address) & Ipv4Cidr::mask(prefix))
            ))
        })
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.prefix)
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
}
