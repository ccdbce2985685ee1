//! Which URLs may be fetched or stored: the scheme rule (https, with `http:` only where a
//! policy allows it) and, for a server-side deployment, the refusal of private, loopback,
//! link-local and cloud-metadata addresses (SSRF).

use std::net::{Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// When `http:` is acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpRule {
    /// https only.
    Never,
    /// `http:` to loopback hosts (localhost, 127.0.0.0/8, `[::1]`) only.
    LoopbackOnly,
    /// `http:` anywhere (the npm package's `allowHttp`).
    Any,
}

/// A policy for outbound or stored URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetPolicy {
    pub http: HttpRule,
    /// Refuse private, loopback, link-local and metadata addresses.
    pub block_private: bool,
}

impl TargetPolicy {
    /// The npm package's default: https, or http to loopback; any host.
    pub const CLIENT: TargetPolicy = TargetPolicy {
        http: HttpRule::LoopbackOnly,
        block_private: false,
    };
    /// A server-side deployment: https to public hosts only.
    pub const SERVER: TargetPolicy = TargetPolicy {
        http: HttpRule::Never,
        block_private: true,
    };
    /// Local development of a server (`ALLOW_PRIVATE_TARGETS=true`): private targets and
    /// `http:` loopback accepted.
    pub const SERVER_DEV: TargetPolicy = TargetPolicy {
        http: HttpRule::LoopbackOnly,
        block_private: false,
    };

    /// The client policy with `allowHttp` applied.
    pub fn client(allow_http: bool) -> TargetPolicy {
        if allow_http {
            TargetPolicy {
                http: HttpRule::Any,
                block_private: false,
            }
        } else {
            TargetPolicy::CLIENT
        }
    }

    /// Checks a parsed URL.
    pub fn check(&self, url: &Url) -> Result<(), Refusal> {
        match url.scheme() {
            "https" => {}
            "http" => {
                let ok = match self.http {
                    HttpRule::Never => false,
                    HttpRule::LoopbackOnly => is_loopback(url),
                    HttpRule::Any => true,
                };
                if !ok {
                    return Err(Refusal::Insecure);
                }
            }
            _ => return Err(Refusal::NotHttp),
        }
        if url.host().is_none() {
            return Err(Refusal::NotHttp);
        }
        if self.block_private && is_private(url) {
            return Err(Refusal::Private);
        }
        Ok(())
    }

    /// Parses and checks a URL string.
    pub fn check_str(&self, url: &str) -> Result<Url, Refusal> {
        let parsed = Url::parse(url).map_err(|_| Refusal::NotUrl)?;
        self.check(&parsed)?;
        Ok(parsed)
    }
}

/// Why a URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not an absolute URL.
    NotUrl,
    /// Not an http(s) URL with a host.
    NotHttp,
    /// `http:` where https is required.
    Insecure,
    /// A private, loopback, link-local or metadata address.
    Private,
}

impl Refusal {
    /// A sentence naming the fix.
    pub fn message(self, url: &str) -> String {
        match self {
            Refusal::NotUrl => format!("{url:?} is not an absolute URL: give the full https:// URL"),
            Refusal::NotHttp => format!("{url:?} is not an http(s) URL with a host: give the full https:// URL"),
            Refusal::Insecure => {
                format!("{url:?} uses http: use https (http is accepted only for loopback hosts in local development)")
            }
            Refusal::Private => format!(
                "{url:?} points at a private, loopback, link-local or metadata address: use a public https host \
                 (private targets are allowed only with ALLOW_PRIVATE_TARGETS=true in local development)"
            ),
        }
    }
}

/// localhost, `*.localhost`, 127.0.0.0/8 or [::1].
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        None => false,
    }
}

/// Whether the URL's host is an address no server-side fetch should reach.
pub(crate) fn is_private(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost"
                || d.ends_with(".localhost")
                || d.ends_with(".local")
                || d.ends_with(".internal")
                || d.ends_with(".home.arpa")
                || !d.contains('.')
        }
        Some(Host::Ipv4(ip)) => is_private_v4(ip),
        Some(Host::Ipv6(ip)) => is_private_v6(ip),
        None => true,
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16, cloud metadata included
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // 100.64/10 shared address space
        || (a == 192 && b == 0 && c == 0) // 192.0.0/24 IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // 198.18/15 benchmarking
        || a >= 240 // reserved
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_private_v4(v4);
    }
    let seg = ip.segments();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00 // fc00::/7 unique local
        || (seg[0] & 0xffc0) == 0xfe80 // fe80::/10 link-local
        || (seg[0] & 0xffc0) == 0xfec0 // fec0::/10 site-local (deprecated)
        // 64:ff9b::/32: the NAT64 prefixes 64:ff9b::/96 and 64:ff9b:1::/48 (local NAT64)
        // both reach any v4 address.
        || (seg[0] == 0x64 && seg[1] == 0xff9b)
        || seg[0] == 0x2002 // 2002::/16 6to4 embeds any v4
        || (seg[0] == 0x2001 && seg[1] == 0) // 2001::/32 Teredo embeds any v4
        || (seg[0] == 0 && seg[1] == 0 && seg[2] == 0 && seg[3] == 0 && seg[4] == 0 && seg[5] == 0)
    // ::a.b.c.d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(p: TargetPolicy, u: &str) -> Result<Url, Refusal> {
        p.check_str(u)
    }

    #[test]
    fn client_policy_allows_https_and_loopback_http() {
        let p = TargetPolicy::CLIENT;
        assert!(check(p, "https://mcp.example.com/mcp").is_ok());
        assert!(check(p, "http://127.0.0.1:3000/mcp").is_ok());
        assert!(check(p, "http://127.9.9.9/mcp").is_ok());
        assert!(check(p, "http://localhost:8787/").is_ok());
        assert!(check(p, "http://[::1]:8787/").is_ok());
        assert_eq!(
            check(p, "http://mcp.example.com/mcp"),
            Err(Refusal::Insecure)
        );
        assert_eq!(check(p, "ftp://mcp.example.com/"), Err(Refusal::NotHttp));
        assert_eq!(check(p, "/relative"), Err(Refusal::NotUrl));
        assert!(check(TargetPolicy::client(true), "http://mcp.example.com/mcp").is_ok());
    }

    #[test]
    fn server_policy_refuses_private_targets_in_every_spelling() {
        let p = TargetPolicy::SERVER;
        assert!(check(p, "https://mcp.example.com/mcp").is_ok());
        assert!(check(p, "https://8.8.8.8/").is_ok());
        for u in [
            "https://127.0.0.1/",
            "https://2130706433/", // 127.0.0.1 as a number
            "https://0x7f.1/",
            "https://10.1.2.3/",
            "https://172.20.0.1/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://100.100.100.200/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:a9fe:a9fe]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[64:ff9b:1::a9fe:a9fe]/",
            "https://[64:ff9b:1:ffff:ffff:ffff:ffff:ffff]/",
            "https://[2002:a9fe:a9fe::]/",
            "https://[2002::1]/",
            "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
            "https://[2001::]/",
            "https://localhost/",
            "https://api.localhost/",
            "https://metadata.google.internal/",
            "https://printer.local/",
            "https://intranet/",
        ] {
            assert_eq!(check(p, u), Err(Refusal::Private), "{u}");
        }
        // Neighbours of the refused ranges stay public.
        for u in [
            "https://[2001:db9::1]/",
            "https://[2001:1::1]/",
            "https://[2003::1]/",
            "https://[2606:4700::1111]/",
        ] {
            assert!(check(p, u).is_ok(), "{u}");
        }
        assert_eq!(check(p, "http://127.0.0.1/"), Err(Refusal::Insecure));
        assert!(check(TargetPolicy::SERVER_DEV, "http://127.0.0.1:9000/").is_ok());
        assert_eq!(
            check(TargetPolicy::SERVER_DEV, "http://example.com/"),
            Err(Refusal::Insecure)
        );
    }
}
