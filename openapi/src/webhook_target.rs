//! Where a webhook may send, and how its address is shown. A webhook's URL is chosen by whoever
//! can call the API, so without a rule the server would POST, on their behalf, to its own
//! loopback services, to the private network it sits in, or to a cloud's metadata service
//! (169.254.169.254). By default such targets are refused: loopback (127/8, ::1), link-local
//! (169.254/16, fe80::/10), private (10/8, 172.16/12, 192.168/16, fc00::/7), shared (100.64/10,
//! where some clouds keep their metadata service), unspecified (0/8, ::, which Linux connects
//! to the host itself), multicast, broadcast and reserved ranges, in IPv4 and in the IPv6 forms
//! that carry an IPv4 address (`::ffff:a.b.c.d`, `::a.b.c.d`, NAT64's `64:ff9b::a.b.c.d`, 6to4's
//! `2002:…`). `webhook_allow_private` allows them all; `webhook_allow_networks` allows the
//! networks it lists.
//!
//! The check runs when a webhook is created and again before each delivery connects, since
//! what a name resolves to can change: [`CheckedResolver`] resolves, checks every address, and
//! hands the connector only addresses it checked, so the check and the connection use the same
//! address. (An address written in the URL is not resolved; [`TargetPolicy::check_url`] checks it.)
//!
//! [`TargetPolicy::check`] and [`masked`] are pure; the resolver is their thin async adapter.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

/// How long a name may take to resolve (getaddrinfo has no deadline of its own).
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// The kinds of address refused by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restricted {
    Loopback,
    LinkLocal,
    Private,
    Shared,
    Unspecified,
    Multicast,
    Broadcast,
}

impl Restricted {
    fn describe(self) -> &'static str {
        match self {
            Restricted::Loopback => "a loopback address",
            Restricted::LinkLocal => "a link-local address",
            Restricted::Private => "a private address",
            Restricted::Shared => "a shared (carrier-grade NAT) address",
            Restricted::Unspecified => "an unspecified address",
            Restricted::Multicast => "a multicast address",
            Restricted::Broadcast => "the broadcast address",
        }
    }
}

/// Why a target is not reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error(
        "{addr} is {}: webhooks may not reach it unless `webhook_allow_private` is true or \
         `webhook_allow_networks` lists it",
        .kind.describe()
    )]
    Refused { addr: IpAddr, kind: Restricted },
    #[error("'{host}' does not resolve: {reason}")]
    Unresolved { host: String, reason: String },
    #[error("the URL names no host")]
    NoHost,
}

/// What a restricted address is, or `None` for an address on the public internet.
pub fn classify(ip: IpAddr) -> Option<Restricted> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Restricted> {
    let [a, b, ..] = ip.octets();
    if a == 0 {
        Some(Restricted::Unspecified)
    } else if ip.is_loopback() {
        Some(Restricted::Loopback)
    } else if ip.is_link_local() {
        Some(Restricted::LinkLocal)
    } else if ip.is_private() {
        Some(Restricted::Private)
    } else if a == 100 && (64..128).contains(&b) {
        Some(Restricted::Shared)
    } else if ip.is_multicast() {
        Some(Restricted::Multicast)
    } else if ip.is_broadcast() {
        Some(Restricted::Broadcast)
    } else if (a == 192 && b == 0 && ip.octets()[2] == 0) || (a == 198 && (b & 0xfe) == 18) || a >= 240 {
        // 192.0.0/24 (protocol assignments), 198.18/15 (benchmarking, often inside networks),
        // 240/4 (reserved): none is a public receiver's.
        Some(Restricted::Private)
    } else {
        None
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<Restricted> {
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        Some(Restricted::Unspecified)
    } else if ip.is_loopback() {
        Some(Restricted::Loopback)
    } else if ip.is_unicast_link_local() {
        Some(Restricted::LinkLocal)
    } else if ip.is_unique_local() || first & 0xffc0 == 0xfec0 {
        // fec0::/10 (site-local) is deprecated, and as private as fc00::/7.
        Some(Restricted::Private)
    } else if ip.is_multicast() {
        Some(Restricted::Multicast)
    } else {
        None
    }
}

/// The IPv4 address an IPv6 one stands for, where it may reach that IPv4 address: IPv4-mapped
/// (`::ffff:a.b.c.d`), the deprecated IPv4-compatible form (`::a.b.c.d`), NAT64's prefixes
/// (`64:ff9b::/96`, the local-use `64:ff9b:1::/48`, IPv4 in its last 32 bits) and 6to4
/// (`2002:AABB:CCDD::/48`, IPv4 in bits 16..48).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let o = ip.octets();
    let last = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    let compatible = s[..6].iter().all(|&x| x == 0) && !ip.is_loopback() && !ip.is_unspecified();
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0);
    let nat64_local = s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1;
    if compatible || nat64 || nat64_local {
        return Some(last);
    }
    (s[0] == 0x2002).then(|| Ipv4Addr::new(o[2], o[3], o[4], o[5]))
}

/// Parses `webhook_allow_networks`: CIDRs (`10.1.2.0/24`, `fd00::/8`) or single addresses.
pub fn parse_networks(list: &[String]) -> Result<Vec<IpNet>, String> {
    list.iter()
        .map(|text| {
            let t = text.trim();
            t.parse::<IpNet>()
                .map(|n| n.trunc())
                .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("'{text}' is not a network (CIDR such as 10.1.2.0/24) or an address"))
        })
        .collect()
}

/// The rule a server applies to webhook targets, from `webhook_allow_private` and
/// `webhook_allow_networks`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    allow_private: bool,
    allow: Vec<IpNet>,
}

impl TargetPolicy {
    /// `networks` passed `ServerConfig::validate`; one that does not parse is left out (and
    /// logged), which only ever refuses more.
    pub fn new(allow_private: bool, networks: &[String]) -> TargetPolicy {
        let allow = networks
            .iter()
            .filter_map(|n| match parse_networks(std::slice::from_ref(n)) {
                Ok(mut parsed) => parsed.pop(),
                Err(why) => {
                    tracing::warn!("webhook_allow_networks: {why}; left out");
                    None
                }
            })
            .collect();
        TargetPolicy { allow_private, allow }
    }

    /// Whether a webhook may connect to `ip`.
    pub fn check(&self, ip: IpAddr) -> Result<(), TargetError> {
        let Some(kind) = classify(ip) else {
            return Ok(());
        };
        // An allowed IPv4 network also covers the IPv6 forms of its addresses.
        let plain = match ip {
            IpAddr::V6(v6) => embedded_v4(v6).map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if self.allow_private || self.allow.iter().any(|n| n.contains(&ip) || n.contains(&plain)) {
            return Ok(());
        }
        Err(TargetError::Refused { addr: ip, kind })
    }

    /// Checks an address written in the URL (the connector does not resolve those). `Ok(false)`:
    /// the host is a name, for the resolver to check.
    pub fn check_url(&self, url: &reqwest::Url) -> Result<bool, TargetError> {
        match host_ip(url)? {
            Some(ip) => self.check(ip).map(|()| true),
            None => Ok(false),
        }
    }

    /// Resolves the URL's host (when it is a name) and checks every address it has: what a
    /// webhook's creation asks.
    pub async fn check_target(&self, url: &reqwest::Url) -> Result<(), TargetError> {
        if self.check_url(url)? {
            return Ok(());
        }
        let host = url.host_str().ok_or(TargetError::NoHost)?;
        for addr in resolve(host).await? {
            self.check(addr.ip())?;
        }
        Ok(())
    }
}

/// The URL's host when it is an address (IPv6 ones come bracketed).
fn host_ip(url: &reqwest::Url) -> Result<Option<IpAddr>, TargetError> {
    let host = url.host_str().ok_or(TargetError::NoHost)?;
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    Ok(bare.parse::<IpAddr>().ok())
}

/// The system resolver (getaddrinfo, as reqwest's own), off the async threads, with a deadline.
async fn resolve(host: &str) -> Result<Vec<SocketAddr>, TargetError> {
    let unresolved = |reason: String| TargetError::Unresolved {
        host: host.to_string(),
        reason,
    };
    let name = host.to_string();
    let lookup = tokio::task::spawn_blocking(move || (name.as_str(), 0).to_socket_addrs().map(Vec::from_iter));
    match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
        Ok(Ok(Ok(addrs))) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(Ok(_))) => Err(unresolved("no address".into())),
        Ok(Ok(Err(e))) => Err(unresolved(e.to_string())),
        Ok(Err(e)) => Err(unresolved(e.to_string())),
        Err(_) => Err(unresolved(format!("no answer within {RESOLVE_TIMEOUT:?}"))),
    }
}

/// reqwest's resolver for webhook deliveries: the connector connects only to addresses that
/// passed the policy, and to none when any address of the name fails it (a name that answers
/// with a public and a private address is refused, not raced).
pub struct CheckedResolver(pub Arc<TargetPolicy>);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = resolve(&host).await?;
            for a in &addrs {
                policy.check(a.ip())?;
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A URL as it may be shown or logged: its password, if any, replaced by `***`.
pub fn masked(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            // Only URLs that cannot have a password fail this, and this one has one.
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        // Not a URL (an error message quotes what was sent): whatever precedes an `@` may be
        // credentials, and goes.
        Err(_) => match url.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => url.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn restricted_addresses_are_classified_in_both_families() {
        for (addr, kind) in [
            ("127.0.0.1", Restricted::Loopback),
            ("127.255.0.9", Restricted::Loopback),
            ("::1", Restricted::Loopback),
            ("169.254.169.254", Restricted::LinkLocal),
            ("fe80::1", Restricted::LinkLocal),
            ("10.0.0.1", Restricted::Private),
            ("172.16.0.1", Restricted::Private),
            ("172.31.255.255", Restricted::Private),
            ("192.168.1.1", Restricted::Private),
            ("fc00::1", Restricted::Private),
            ("fd12:3456::1", Restricted::Private),
            ("100.100.100.200", Restricted::Shared),
            ("0.0.0.0", Restricted::Unspecified),
            ("0.1.2.3", Restricted::Unspecified),
            ("::", Restricted::Unspecified),
            ("224.0.0.1", Restricted::Multicast),
            ("ff02::1", Restricted::Multicast),
            ("255.255.255.255", Restricted::Broadcast),
            // IPv4 in IPv6 clothing.
            ("::ffff:127.0.0.1", Restricted::Loopback),
            ("::ffff:169.254.169.254", Restricted::LinkLocal),
            ("::ffff:10.0.0.1", Restricted::Private),
            ("64:ff9b::a00:1", Restricted::Private),
            ("::ffff:0.0.0.0", Restricted::Unspecified),
            ("::127.0.0.1", Restricted::Loopback),
            ("64:ff9b:1::a9fe:a9fe", Restricted::LinkLocal),
            ("2002:a9fe:a9fe::1", Restricted::LinkLocal),
            ("2002:7f00:1::", Restricted::Loopback),
            // Reserved IPv4 ranges no public receiver lives in.
            ("192.0.0.8", Restricted::Private),
            ("198.18.0.1", Restricted::Private),
            ("198.19.255.1", Restricted::Private),
            ("240.0.0.1", Restricted::Private),
        ] {
            assert_eq!(classify(ip(addr)), Some(kind), "{addr}");
        }
        for public in [
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "198.20.0.1",
            "192.0.2.1",
        ] {
            assert_eq!(classify(ip(public)), None, "{public}");
        }
    }

    #[test]
    fn the_default_refuses_naming_the_settings_and_the_settings_allow() {
        let strict = TargetPolicy::default();
        let refused = strict.check(ip("169.254.169.254")).expect_err("metadata service");
        let text = refused.to_string();
        assert!(text.contains("169.254.169.254 is a link-local address"), "{text}");
        assert!(
            text.contains("webhook_allow_private") && text.contains("webhook_allow_networks"),
            "{text}"
        );
        assert!(strict.check(ip("93.184.216.34")).is_ok());

        let open = TargetPolicy::new(true, &[]);
        assert!(open.check(ip("10.0.0.1")).is_ok() && open.check(ip("::1")).is_ok());

        let listed = TargetPolicy::new(false, &["127.0.0.0/8".into(), "fd00::/8".into(), "10.1.2.3".into()]);
        assert!(listed.check(ip("127.0.0.1")).is_ok());
        assert!(
            listed.check(ip("::ffff:127.0.0.1")).is_ok(),
            "a mapped form of a listed address"
        );
        assert!(listed.check(ip("fd00::5")).is_ok());
        assert!(listed.check(ip("10.1.2.3")).is_ok());
        assert!(listed.check(ip("10.1.2.4")).is_err());
        assert!(listed.check(ip("::1")).is_err(), "::1 is not in 127/8");
        assert!(listed.check(ip("169.254.169.254")).is_err());
    }

    #[test]
    fn networks_parse_or_say_which_does_not() {
        let parsed = parse_networks(&["10.1.2.9/24".into(), " ::1 ".into()]).expect("parses");
        assert_eq!(parsed[0].to_string(), "10.1.2.0/24");
        assert_eq!(parsed[1].to_string(), "::1/128");
        for bad in ["10.0.0.0/33", "localhost", "10.0.0/8", ""] {
            let e = parse_networks(&[bad.into()]).expect_err(bad);
            assert!(e.contains(&format!("'{bad}'")), "{e}");
        }
    }

    #[test]
    fn addresses_in_urls_are_checked_and_names_left_to_the_resolver() {
        let strict = TargetPolicy::default();
        let url = |s: &str| reqwest::Url::parse(s).expect("url");
        assert!(matches!(
            strict.check_url(&url("http://[::ffff:7f00:1]:8080/x")),
            Err(TargetError::Refused {
                kind: Restricted::Loopback,
                ..
            })
        ));
        // The URL parser reads old numeric forms as the address they are.
        assert!(strict.check_url(&url("http://2130706433/")).is_err());
        assert!(strict.check_url(&url("http://0x7f.1/")).is_err());
        assert_eq!(strict.check_url(&url("https://hooks.example.org/x")), Ok(false));
        assert_eq!(strict.check_url(&url("https://93.184.216.34/x")), Ok(true));
    }

    #[tokio::test]
    async fn a_name_is_checked_by_every_address_it_resolves_to() {
        // `localhost` resolves from /etc/hosts, without the network.
        let strict = TargetPolicy::default();
        let url = reqwest::Url::parse("http://localhost:9/").expect("url");
        assert!(matches!(
            strict.check_target(&url).await,
            Err(TargetError::Refused {
                kind: Restricted::Loopback,
                ..
            })
        ));
        let allowed = TargetPolicy::new(false, &["127.0.0.0/8".into(), "::1".into()]);
        assert_eq!(allowed.check_target(&url).await, Ok(()));
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            masked("https://user:s3cret@hooks.example.org/in?x=1"),
            "https://user:***@hooks.example.org/in?x=1"
        );
        assert_eq!(masked("https://:s3cret@h/"), "https://:***@h/");
        assert_eq!(masked("https://user@h/"), "https://user@h/");
        assert_eq!(masked("http://h:8080/a"), "http://h:8080/a");
        assert_eq!(masked("not a url"), "not a url");
        assert_eq!(masked("http://user:s3cret@bad host/"), "***@bad host/");
    }
}
