//! `EVENTSTORE_WEBHOOK_ALLOWLIST`: where webhooks may be sent, so that a subscription cannot be
//! used to reach internal services (SSRF).
//!
//! A comma-separated list of entries, each a host name (`projection`, `api.example.com`), a
//! wildcard domain (`*.svc.cluster.local`: its subdomains), an IP address or a CIDR block
//! (`10.0.0.0/8`, `::1/128`). A URL is allowed when its host matches a name entry, or when its
//! host is an IP address — given literally or resolved by DNS — inside an allowed block. With a
//! block list, the check is made on the addresses the connection actually uses (see
//! [`AllowlistResolver`]), so DNS rebinding cannot get around it. Unset: every target is allowed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The name of the setting, for messages.
pub const ALLOWLIST_VAR: &str = "EVENTSTORE_WEBHOOK_ALLOWLIST";

/// A parsed allowlist.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allowlist {
    hosts: Vec<String>,
    domains: Vec<String>,
    blocks: Vec<Cidr>,
}

/// An address block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `addr/prefix` or a bare address (a block of one).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR block"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { network, prefix })
    }

    /// Whether an address is inside the block (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, addr) {
            (IpAddr::V4(net), IpAddr::V4(a)) => prefix_eq(&net.octets(), &a.octets(), self.prefix),
            (IpAddr::V6(net), IpAddr::V6(a)) => prefix_eq(&net.octets(), &a.octets(), self.prefix),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let (full, rest) = (usize::from(prefix / 8), prefix % 8);
    if a[..full] != b[..full] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        a[full] & mask == b[full] & mask
    }
}

impl Allowlist {
    /// Parses the setting's value; the error names the bad entry.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut list = Self::default();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let lower = entry.to_ascii_lowercase();
            if let Some(domain) = lower.strip_prefix("*.") {
                check_host_name(entry, domain)?;
                list.domains.push(format!(".{domain}"));
            } else if lower.contains('/') || lower.parse::<IpAddr>().is_ok() {
                list.blocks.push(Cidr::parse(&lower)?);
            } else {
                check_host_name(entry, &lower)?;
                list.hosts.push(lower);
            }
        }
        if list.hosts.is_empty() && list.domains.is_empty() && list.blocks.is_empty() {
            return Err("the list is empty".to_owned());
        }
        Ok(list)
    }

    /// Whether a host name is allowed by name (exact or wildcard entry).
    pub fn allows_name(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.contains(&host) || self.domains.iter().any(|d| host.ends_with(d.as_str()))
    }

    /// Whether an address is inside an allowed block.
    pub fn allows_addr(&self, addr: IpAddr) -> bool {
        self.blocks.iter().any(|b| b.contains(addr))
    }

    /// Whether a URL's host is allowed without resolving it: a name entry matches, or it is an
    /// IP literal inside a block. `None` when only DNS can tell (a name and a block list).
    /// `host` is a URL's `host_str()` (IPv6 in brackets).
    pub fn allows_host_statically(&self, host: &str) -> Option<bool> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(addr) = bare.parse::<IpAddr>() {
            return Some(self.allows_addr(addr));
        }
        if self.allows_name(host) {
            Some(true)
        } else if self.blocks.is_empty() {
            Some(false)
        } else {
            None
        }
    }

    /// Checks a URL, resolving its host when the answer depends on DNS.
    pub async fn check_url(&self, url: &reqwest::Url) -> Result<(), String> {
        let host = url.host_str().ok_or("has no host")?;
        let allowed = match self.allows_host_statically(host) {
            Some(allowed) => allowed,
            None => {
                let port = url.port_or_known_default().unwrap_or(80);
                let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
                    .await
                    .map_err(|e| format!("host cannot be resolved: {e}"))?
                    .collect();
                !addrs.is_empty() && addrs.iter().all(|a| self.allows_addr(a.ip()))
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(format!("the target is not allowed by {ALLOWLIST_VAR}"))
        }
    }
}

fn check_host_name(entry: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{entry:?} is not a host name, *.domain, IP address or CIDR block"
        ))
    }
}

/// A DNS resolver for the delivery client that only hands out allowed addresses: all of them
/// for names allowed by name, those inside an allowed block otherwise.
#[derive(Debug)]
pub struct AllowlistResolver {
    allowlist: Arc<Allowlist>,
}

impl AllowlistResolver {
    pub fn new(allowlist: Arc<Allowlist>) -> Self {
        Self { allowlist }
    }
}

impl Resolve for AllowlistResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allowlist = Arc::clone(&self.allowlist);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let by_name = allowlist.allows_name(&host);
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|a| by_name || allowlist.allows_addr(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(format!("{host}: the target is not allowed by {ALLOWLIST_VAR}").into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url_host(url: &str) -> Option<bool> {
        let url = reqwest::Url::parse(url).unwrap();
        let list = Allowlist::parse("projection, *.svc.local, 127.0.0.0/8, ::1").unwrap();
        list.allows_host_statically(url.host_str().unwrap())
    }

    #[test]
    fn names_wildcards_and_blocks() {
        assert_eq!(url_host("http://projection:8082/x"), Some(true));
        assert_eq!(url_host("http://PROJECTION./x"), Some(true));
        assert_eq!(url_host("http://a.b.svc.local/x"), Some(true));
        assert_eq!(url_host("http://svc.local/x"), None);
        assert_eq!(url_host("http://127.0.0.9/x"), Some(true));
        assert_eq!(url_host("http://[::1]/x"), Some(true));
        assert_eq!(url_host("http://10.0.0.1/x"), Some(false));
        assert_eq!(url_host("http://169.254.169.254/latest"), Some(false));
    }

    #[test]
    fn names_only_list_refuses_other_names_without_dns() {
        let list = Allowlist::parse("projection").unwrap();
        let url = reqwest::Url::parse("http://evil.example/").unwrap();
        assert_eq!(
            list.allows_host_statically(url.host_str().unwrap()),
            Some(false)
        );
    }

    #[test]
    fn cidr_containment() {
        let block = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(block.contains("10.1.255.3".parse().unwrap()));
        assert!(!block.contains("10.2.0.1".parse().unwrap()));
        assert!(block.contains("::ffff:10.1.0.1".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            Cidr::parse("fd00::/8")
                .unwrap()
                .contains("fd12::1".parse().unwrap())
        );
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("10.0.0/8").is_err());
    }

    #[test]
    fn bad_entries_are_named() {
        let err = Allowlist::parse("ok, bad host").unwrap_err();
        assert!(err.contains("bad host"), "{err}");
        assert!(Allowlist::parse(" , ").is_err());
    }

    #[tokio::test]
    async fn names_resolving_into_a_block_are_allowed() {
        let list = Allowlist::parse("127.0.0.0/8").unwrap();
        let url = reqwest::Url::parse("http://localhost:1/").unwrap();
        // localhost may resolve to ::1 as well; allow both loopbacks.
        let list_both = Allowlist::parse("127.0.0.0/8, ::1").unwrap();
        assert!(list_both.check_url(&url).await.is_ok());
        let outside = Allowlist::parse("10.0.0.0/8").unwrap();
        assert!(outside.check_url(&url).await.is_err());
        let _ = list;
    }
}
