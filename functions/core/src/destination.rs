//! Where a webhook may be delivered: only to public internet addresses. The signed POSTs come
//! from our Lambda, inside the vendor's AWS account; a URL pointing at loopback, a private
//! network or a link-local service (the instance metadata at 169.254.169.254, the container
//! credentials at 169.254.170.2) would turn them into requests against our own network.
//!
//! The same check runs at registration (the API refuses with a 400 naming `url`) and at every
//! delivery (publish-events resolves, checks, and connects only to the addresses it checked).
//! Spellings do not matter: the URL is parsed by the WHATWG rules (`url` crate), which turn
//! `0x7f000001`, `2130706433`, `0177.0.0.1` and `127.1` into `127.0.0.1` before we look, and an
//! IPv6 address that carries an IPv4 one (`::ffff:127.0.0.1`, NAT64 `64:ff9b::a00:5`) is judged
//! by the IPv4 address inside it.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use byoc_domain::ids::InvalidInput;
use byoc_domain::webhook::WebhookUrl;

/// Extra blocks a deployment lets webhooks reach, comma-separated CIDRs (e.g. `127.0.0.1/32`).
/// Only the local test stack sets it, for the tests' receiver on 127.0.0.1; a deployment to
/// AWS leaves it unset, and then only public addresses are reached.
pub const ALLOWED_CIDRS_ENV: &str = "WEBHOOK_ALLOWED_CIDRS";
/// How long a registration waits for DNS before refusing the name.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

const fn v6(segments: [u16; 8], len: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), len)
}

/// IPv4 blocks that are not globally reachable: the IANA IPv4 Special-Purpose Address Registry
/// (RFC 6890 and its updates) entries marked "Globally Reachable: False", plus multicast and
/// the reserved class E. 192.0.0.0/24 is refused whole (its two reachable anycast addresses,
/// .9 and .10, are no webhook receivers).
const V4_BLOCKS: &[(Ipv4Net, &str)] = &[
    (v4(0, 0, 0, 0, 8), "a \"this network\" address (RFC 791)"),
    (v4(10, 0, 0, 0, 8), "a private address (RFC 1918)"),
    (v4(100, 64, 0, 0, 10), "a carrier-grade NAT address (RFC 6598)"),
    (v4(127, 0, 0, 0, 8), "a loopback address (RFC 1122)"),
    (v4(169, 254, 0, 0, 16), "a link-local address (RFC 3927; the cloud metadata and container credential services live there)"),
    (v4(172, 16, 0, 0, 12), "a private address (RFC 1918)"),
    (v4(192, 0, 0, 0, 24), "an IETF protocol assignment (RFC 6890)"),
    (v4(192, 0, 2, 0, 24), "a documentation address (RFC 5737)"),
    (v4(192, 88, 99, 0, 24), "a deprecated 6to4 relay address (RFC 7526)"),
    (v4(192, 168, 0, 0, 16), "a private address (RFC 1918)"),
    (v4(198, 18, 0, 0, 15), "a benchmarking address (RFC 2544)"),
    (v4(198, 51, 100, 0, 24), "a documentation address (RFC 5737)"),
    (v4(203, 0, 113, 0, 24), "a documentation address (RFC 5737)"),
    (v4(224, 0, 0, 0, 4), "a multicast address (RFC 5771)"),
    (v4(255, 255, 255, 255, 32), "the broadcast address (RFC 919)"),
    (v4(240, 0, 0, 0, 4), "a reserved address (RFC 1112)"),
];

/// IPv6 blocks refused inside global unicast (2000::/3), from the IANA IPv6 Special-Purpose
/// Address Registry. Everything outside 2000::/3 is refused too (loopback, unspecified,
/// unique-local fc00::/7, link-local fe80::/10, multicast ff00::/8, discard 100::/64, NAT64
/// local-use 64:ff9b:1::/48, ...), except the two forms that carry an IPv4 address.
/// 2001::/23 is refused whole (Teredo, benchmarking, ORCHID and the like).
const V6_GLOBAL_BLOCKS: &[(Ipv6Net, &str)] = &[
    (
        v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
        "an IETF protocol assignment (RFC 2928; Teredo, benchmarking)",
    ),
    (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        "a documentation address (RFC 3849)",
    ),
    (
        v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16),
        "a 6to4 address (RFC 3056)",
    ),
    (
        v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
        "a documentation address (RFC 9637)",
    ),
    (
        v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16),
        "a segment routing address (RFC 9602)",
    ),
];
const V6_GLOBAL_UNICAST: Ipv6Net = v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);
const V6_NAT64: Ipv6Net = v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);
const V6_MAPPED: Ipv6Net = v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96);

/// Why `ip` is not a public internet address, or `None` when it is one. Pure; judged by the
/// IANA special-purpose registries (RFC 6890), so it never consults the network.
pub fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => V4_BLOCKS
            .iter()
            .find(|(net, _)| net.contains(&ip))
            .map(|(_, why)| *why),
        IpAddr::V6(ip) => v6_reason(ip),
    }
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    // An IPv4 address inside an IPv6 one reaches that IPv4 address: judge it instead.
    if V6_MAPPED.contains(&ip) || V6_NAT64.contains(&ip) {
        let [.., a, b, c, d] = ip.octets();
        return non_public_reason(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
    }
    if ip.is_unspecified() {
        return Some("the unspecified address (RFC 4291)");
    }
    if ip.is_loopback() {
        return Some("a loopback address (RFC 4291)");
    }
    if !V6_GLOBAL_UNICAST.contains(&ip) {
        let first = ip.segments()[0];
        return Some(match first {
            0xfc00..=0xfdff => "a unique-local address (RFC 4193)",
            0xfe80..=0xfebf => "a link-local address (RFC 4291)",
            0xfec0..=0xfeff => "a site-local address (RFC 3879)",
            0xff00..=0xffff => "a multicast address (RFC 4291)",
            _ => "not a global unicast address (RFC 4291)",
        });
    }
    V6_GLOBAL_BLOCKS
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, why)| *why)
}

pub fn is_public(ip: IpAddr) -> bool {
    non_public_reason(ip).is_none()
}

/// Which addresses webhooks may reach: public ones, and the blocks a test stack adds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationPolicy {
    also_allowed: Vec<IpNet>,
}

impl DestinationPolicy {
    /// Public addresses only: what every deployment to AWS uses.
    pub fn public_only() -> Self {
        Self::default()
    }

    /// Public addresses and `list`, comma-separated CIDRs (`127.0.0.1/32`) or addresses.
    pub fn allowing(list: &str) -> Result<Self, String> {
        let mut also_allowed = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{ALLOWED_CIDRS_ENV}: \"{item}\" is not a CIDR block; write e.g. 127.0.0.1/32"))?;
            also_allowed.push(net);
        }
        Ok(Self { also_allowed })
    }

    /// From `WEBHOOK_ALLOWED_CIDRS`; public addresses only when it is unset or empty.
    pub fn from_env() -> Result<Self, String> {
        Self::allowing(&std::env::var(ALLOWED_CIDRS_ENV).unwrap_or_default())
    }

    /// Why `ip` may not be reached, or `None` when it may.
    pub fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        let reason = non_public_reason(ip)?;
        (!self.also_allowed.iter().any(|net| net.contains(&ip))).then_some(reason)
    }
}

/// A future of a name's addresses.
pub type Resolving<'a> = Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'a>>;

/// Name resolution, substituted in tests.
pub trait Resolve: Send + Sync {
    fn resolve<'a>(&'a self, host: &'a str) -> Resolving<'a>;
}

/// The system's resolver (getaddrinfo, as the HTTP client would use).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> Resolving<'a> {
        Box::pin(async move {
            let found = tokio::net::lookup_host((host, 0)).await?;
            Ok(found.map(|addr| addr.ip()).collect())
        })
    }
}

/// Fixed answers, for tests: a name not listed does not resolve.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver(pub std::collections::HashMap<String, Vec<IpAddr>>);

impl StaticResolver {
    pub fn with(mut self, name: &str, addresses: &[IpAddr]) -> Self {
        self.0.insert(name.to_owned(), addresses.to_vec());
        self
    }
}

impl Resolve for StaticResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> Resolving<'a> {
        let found = self
            .0
            .get(host)
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such host"));
        Box::pin(async move { found })
    }
}

/// Why a destination was refused. The messages name the host and the address, never the
/// path or query (which may hold the vendor's own token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{host} is {reason}; webhooks are delivered only to public internet addresses")]
    Address { host: String, reason: &'static str },
    #[error("{host} resolves to {address}, {reason}; webhooks are delivered only to public internet addresses")]
    Resolved {
        host: String,
        address: IpAddr,
        reason: &'static str,
    },
    #[error("{host} names this machine (RFC 6761); webhooks are delivered only to public internet addresses")]
    LocalName { host: String },
    #[error("{host} could not be resolved ({detail}); use a host name that resolves to a public address")]
    Unresolved { host: String, detail: String },
}

impl Refused {
    /// As a 400 naming `field`.
    pub fn invalid_input(&self, field: &str) -> InvalidInput {
        InvalidInput::new(
            field,
            format!("\"{field}\" is refused: {self}, e.g. https://hooks.example.com/byoc"),
        )
    }
}

/// The host to reach: an address written in the URL, or a name to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Address(IpAddr),
    Name(String),
}

pub fn target(url: &WebhookUrl) -> Option<Target> {
    match url::Url::parse(url.as_str()).ok()?.host()? {
        url::Host::Ipv4(ip) => Some(Target::Address(IpAddr::V4(ip))),
        url::Host::Ipv6(ip) => Some(Target::Address(IpAddr::V6(ip))),
        url::Host::Domain(name) => Some(Target::Name(name.to_owned())),
    }
}

/// `localhost` and `*.localhost` always mean this machine (RFC 6761 §6.3), whatever DNS says.
fn is_local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Checks every address `addresses` holds for `host`; all must be allowed.
pub fn check_addresses(
    policy: &DestinationPolicy,
    host: &str,
    addresses: &[IpAddr],
) -> Result<(), Refused> {
    if addresses.is_empty() {
        return Err(Refused::Unresolved {
            host: host.to_owned(),
            detail: "no addresses".into(),
        });
    }
    for &address in addresses {
        if let Some(reason) = policy.refusal(address) {
            return Err(Refused::Resolved {
                host: host.to_owned(),
                address,
                reason,
            });
        }
    }
    Ok(())
}

/// Resolves `name` (bounded in time) and checks every address; the checked addresses are
/// returned, for the caller to connect to those and no others.
pub async fn resolve_checked(
    policy: &DestinationPolicy,
    resolver: &dyn Resolve,
    name: &str,
) -> Result<Vec<IpAddr>, Refused> {
    if is_local_name(name) {
        return Err(Refused::LocalName {
            host: name.to_owned(),
        });
    }
    let unresolved = |detail: String| Refused::Unresolved {
        host: name.to_owned(),
        detail,
    };
    let addresses = tokio::time::timeout(RESOLVE_TIMEOUT, resolver.resolve(name))
        .await
        .map_err(|_| unresolved(format!("no answer in {} s", RESOLVE_TIMEOUT.as_secs())))?
        .map_err(|e| unresolved(e.to_string()))?;
    check_addresses(policy, name, &addresses)?;
    Ok(addresses)
}

/// The registration check: the URL's host is, or resolves only to, allowed addresses.
pub async fn check_url(
    policy: &DestinationPolicy,
    resolver: &dyn Resolve,
    url: &WebhookUrl,
) -> Result<Vec<IpAddr>, Refused> {
    match target(url) {
        Some(Target::Address(ip)) => match policy.refusal(ip) {
            Some(reason) => Err(Refused::Address {
                host: ip.to_string(),
                reason,
            }),
            None => Ok(vec![ip]),
        },
        Some(Target::Name(name)) => resolve_checked(policy, resolver, &name).await,
        // WebhookUrl guarantees a host; kept total for a value built some other way.
        None => Err(Refused::Unresolved {
            host: String::new(),
            detail: "the URL has no host".into(),
        }),
    }
}
