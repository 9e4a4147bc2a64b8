//! Webhook destinations must be public: every spelling of an inward address is refused at
//! registration, names are judged by every address they resolve to, and the classification
//! agrees with the standard library's stable predicates and with itself across spellings.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use byoc_core::destination::{
    check_url, is_public, non_public_reason, DestinationPolicy, Refused, StaticResolver,
};
use byoc_domain::webhook::WebhookUrl;
use proptest::prelude::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn url(text: &str) -> WebhookUrl {
    WebhookUrl::parse("url", text).unwrap()
}

fn check(
    policy: &DestinationPolicy,
    resolver: &StaticResolver,
    text: &str,
) -> Result<Vec<IpAddr>, Refused> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(check_url(policy, resolver, &url(text)))
}

#[test]
fn the_url_parser_normalises_every_spelling_of_an_ipv4_address() {
    // The WHATWG host parser (url crate) does this for special schemes; the check relies on it.
    for (written, host) in [
        ("https://0x7f000001/", "127.0.0.1"),
        ("https://2130706433/", "127.0.0.1"),
        ("https://0177.0.0.1/", "127.0.0.1"),
        ("https://127.1/", "127.0.0.1"),
        ("https://127.0.0.1./", "127.0.0.1"),
        ("https://0x7f.0.0.1/", "127.0.0.1"),
        ("https://0xa9fea9fe/", "169.254.169.254"),
        ("https://%31%32%37.0.0.1/", "127.0.0.1"),
        ("https://[::ffff:127.0.0.1]/", "[::ffff:7f00:1]"),
    ] {
        let parsed = url::Url::parse(written).unwrap();
        assert_eq!(parsed.host_str(), Some(host), "{written}");
    }
}

#[test]
fn every_inward_address_from_the_issue_is_refused_naming_url() {
    let policy = DestinationPolicy::public_only();
    // Literal addresses are judged without a lookup: the resolver knows nothing.
    let resolver = StaticResolver::default();
    for written in [
        "https://169.254.169.254/latest/meta-data/",
        "https://169.254.170.2/v2/credentials",
        "https://localhost/",
        "https://LOCALHOST./x",
        "https://hooks.localhost/",
        "https://127.0.0.1:8080/",
        "https://[::1]/",
        "https://10.0.0.5/",
        "https://192.168.1.1/",
        "https://172.16.0.1/",
        "https://0x7f000001/",
        "https://2130706433/",
        "https://0177.0.0.1/",
        "https://127.1/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:a9fe:a9fe]/",
        "https://[64:ff9b::10.0.0.5]/",
        "https://[fd00:ec2::254]/",
        "https://[fe80::1]/",
        "https://[ff02::1]/",
        "https://[::]/",
        "https://0.0.0.0/",
        "https://0/",
        "https://100.64.0.1/",
        "https://224.0.0.1/",
        "https://255.255.255.255/",
        "https://192.0.2.10/",
        "https://198.18.0.1/",
        "https://240.0.0.1/",
        "https://[2001:db8::1]/",
    ] {
        let refused = check(&policy, &resolver, written).expect_err(written);
        let input = refused.invalid_input("url");
        assert_eq!(input.field, "url", "{written}");
        assert!(
            input.message.contains("public internet addresses"),
            "{written}: {}",
            input.message
        );
    }
    let metadata = check(&policy, &resolver, "https://0xa9fea9fe/latest").unwrap_err();
    assert!(
        metadata
            .to_string()
            .contains("169.254.169.254 is a link-local address"),
        "{metadata}"
    );
}

#[test]
fn names_are_judged_by_every_address_they_resolve_to() {
    let policy = DestinationPolicy::public_only();
    let resolver = StaticResolver::default()
        .with(
            "hooks.example.com",
            &[
                ip("93.184.215.14"),
                ip("2606:2800:21f:cb07:6820:80da:af6b:8b2c"),
            ],
        )
        .with("internal.example.com", &[ip("10.0.0.5")])
        .with(
            "mixed.example.com",
            &[ip("93.184.215.14"), ip("169.254.169.254")],
        );
    assert_eq!(
        check(&policy, &resolver, "https://hooks.example.com/byoc")
            .unwrap()
            .len(),
        2
    );
    let internal = check(&policy, &resolver, "https://internal.example.com/").unwrap_err();
    assert_eq!(
        internal.to_string(),
        "internal.example.com resolves to 10.0.0.5, a private address (RFC 1918); webhooks are delivered only to public internet addresses"
    );
    assert!(matches!(
        check(&policy, &resolver, "https://mixed.example.com/").unwrap_err(),
        Refused::Resolved { address, .. } if address == ip("169.254.169.254")
    ));
    let unknown = check(&policy, &resolver, "https://nowhere.example.com/").unwrap_err();
    assert!(matches!(unknown, Refused::Unresolved { .. }), "{unknown}");
    assert!(unknown
        .invalid_input("url")
        .message
        .contains("could not be resolved"));
}

#[test]
fn a_test_stack_may_allow_its_own_receiver_and_nothing_more() {
    let policy = DestinationPolicy::allowing("127.0.0.1/32").unwrap();
    let resolver = StaticResolver::default();
    assert!(check(&policy, &resolver, "https://127.0.0.1:8443/hooks/a").is_ok());
    for other in [
        "https://127.0.0.2/",
        "https://[::1]/",
        "https://10.0.0.5/",
        "https://localhost/",
    ] {
        assert!(check(&policy, &resolver, other).is_err(), "{other}");
    }
    assert_eq!(
        DestinationPolicy::allowing(" ").unwrap(),
        DestinationPolicy::public_only()
    );
    assert!(DestinationPolicy::allowing("10.0.0.5, ::1/128").is_ok());
    let bad = DestinationPolicy::allowing("127.0.0.1/33").unwrap_err();
    assert!(
        bad.contains("WEBHOOK_ALLOWED_CIDRS") && bad.contains("127.0.0.1/32"),
        "{bad}"
    );
}

#[test]
fn public_addresses_pass() {
    for public in [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "100.63.255.255",
        "100.128.0.0",
        "172.32.0.1",
        "192.0.3.1",
        "2606:4700:4700::1111",
        "2a00:1450:4001::200e",
        "::ffff:8.8.8.8",
        "64:ff9b::8.8.8.8",
    ] {
        assert_eq!(non_public_reason(ip(public)), None, "{public}");
    }
}

fn v4_in(net: (u8, u8, u8, u8), len: u32) -> impl Strategy<Value = Ipv4Addr> {
    let base = u32::from(Ipv4Addr::new(net.0, net.1, net.2, net.3));
    let host_bits = if len == 0 {
        u32::MAX
    } else {
        (1u64 << (32 - len)) as u32 - 1
    };
    any::<u32>().prop_map(move |r| Ipv4Addr::from(base | (r & host_bits)))
}

proptest! {
    #[test]
    fn every_address_in_an_inward_block_is_refused(
        addr in prop_oneof![
            v4_in((10, 0, 0, 0), 8), v4_in((127, 0, 0, 0), 8), v4_in((169, 254, 0, 0), 16),
            v4_in((172, 16, 0, 0), 12), v4_in((192, 168, 0, 0), 16), v4_in((100, 64, 0, 0), 10),
            v4_in((0, 0, 0, 0), 8), v4_in((224, 0, 0, 0), 4), v4_in((240, 0, 0, 0), 4),
        ]
    ) {
        prop_assert!(!is_public(IpAddr::V4(addr)));
        prop_assert!(!is_public(IpAddr::V6(addr.to_ipv6_mapped())), "mapped {addr}");
    }

    #[test]
    fn stable_std_predicates_never_disagree(bits in any::<u32>(), bits6 in any::<u128>()) {
        let v4 = Ipv4Addr::from(bits);
        if v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_broadcast()
            || v4.is_documentation() || v4.is_multicast() || v4.is_unspecified() {
            prop_assert!(!is_public(IpAddr::V4(v4)), "{v4}");
        }
        let v6 = Ipv6Addr::from(bits6);
        if v6.is_loopback() || v6.is_unspecified() || v6.is_multicast()
            || v6.is_unique_local() || v6.is_unicast_link_local() {
            prop_assert!(!is_public(IpAddr::V6(v6)), "{v6}");
        }
    }

    #[test]
    fn an_ipv4_address_is_judged_the_same_in_every_spelling(bits in any::<u32>()) {
        let v4 = Ipv4Addr::from(bits);
        let expected = is_public(IpAddr::V4(v4));
        prop_assert_eq!(is_public(IpAddr::V6(v4.to_ipv6_mapped())), expected);
        let [a, b, c, d] = v4.octets();
        let nat64 = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]));
        prop_assert_eq!(is_public(IpAddr::V6(nat64)), expected);
        for written in [
            format!("https://{bits}/"),
            format!("https://{bits:#x}/"),
            format!("https://0{:o}.0{:o}.0{:o}.0{:o}/", a, b, c, d),
            format!("https://[::ffff:{v4}]/"),
        ] {
            let parsed = url::Url::parse(&written).unwrap();
            let host = match parsed.host() {
                Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
                Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
                other => return Err(TestCaseError::fail(format!("{written}: {other:?}"))),
            };
            prop_assert_eq!(is_public(host), expected, "{}", written);
        }
    }

    #[test]
    fn outside_global_unicast_nothing_is_public(bits6 in any::<u128>()) {
        let v6 = Ipv6Addr::from(bits6);
        let global_unicast = (v6.segments()[0] & 0xe000) == 0x2000;
        if !global_unicast && v6.to_ipv4_mapped().is_none() && v6.segments()[..6] != [0x64, 0xff9b, 0, 0, 0, 0] {
            prop_assert!(!is_public(IpAddr::V6(v6)), "{v6}");
        }
    }
}
