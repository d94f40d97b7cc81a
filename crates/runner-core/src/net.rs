//! Where tasks may connect: one guard for every family that opens connections (HTTP, S3, mail,
//! AI providers...). Cloud instance-metadata services answer on link-local addresses, so a flow
//! must not reach them unless the run allows it: a flow is untrusted code, and those services
//! hand out the machine's cloud credentials.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where a run's tasks may connect; a run service (`RunContext::network`). By default,
/// link-local addresses are refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NetworkPolicy {
    /// `--allow-link-local`: the flow may reach link-local addresses.
    pub allow_link_local: bool,
}

impl NetworkPolicy {
    /// Whether a connection to `ip` is allowed.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allow_link_local || !is_metadata_address(ip)
    }

    /// The refused address among those `host` is or resolves to, if any. A host that does not
    /// resolve has none (the connection itself then fails and says so). Clients that resolve
    /// names themselves check each address they connect to with [`Self::allows`] instead, so
    /// that a name resolving differently the second time cannot pass.
    pub async fn refused_address(&self, host: &str) -> Option<IpAddr> {
        if self.allow_link_local {
            return None;
        }
        let bare = host.trim_matches(['[', ']']);
        let addrs: Vec<IpAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => tokio::net::lookup_host((bare, 443))
                .await
                .map(|a| a.map(|s| s.ip()).collect())
                .unwrap_or_default(),
        };
        addrs.into_iter().find(|ip| !self.allows(*ip))
    }
}

/// The link-local address `host` is or resolves to (169.254.0.0/16, fe80::/10, in any of their
/// IPv6 wrappings), if any. Kestra refuses such endpoints too.
pub async fn link_local_address(host: &str) -> Option<IpAddr> {
    NetworkPolicy::default().refused_address(host).await
}

/// Whether `ip` is where instance-metadata services answer: link-local IPv4 (169.254.0.0/16) or
/// IPv6 (fe80::/10), AWS's IPv6 metadata address (fd00:ec2::254), and an IPv4 address of those
/// written in an IPv6 form that reaches it (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
/// `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`).
pub fn is_metadata_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_ipv4(v6) {
                return v4.is_link_local();
            }
            (v6.segments()[0] & 0xffc0) == 0xfe80 || v6 == AWS_METADATA_V6
        }
    }
}

const AWS_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

/// The IPv4 address an IPv6 address stands for, when it is one of the forms that reach it.
fn embedded_ipv4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    // NAT64's well-known prefix 64:ff9b::/96.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(low);
    }
    // IPv4-compatible (deprecated, still routed by some stacks); :: and ::1 are not.
    if s[..6] == [0; 6] && (s[6] != 0 || s[7] > 1) {
        return Some(low);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(s: &str) -> bool {
        is_metadata_address(s.parse().unwrap())
    }

    #[test]
    fn metadata_addresses_in_every_form_are_refused() {
        for s in [
            "169.254.169.254",
            "169.254.0.1",
            "fe80::1",
            "febf::1",
            "::ffff:169.254.169.254",
            "::ffff:a9fe:a9fe",
            "::169.254.169.254",
            "64:ff9b::169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "fd00:ec2::254",
        ] {
            assert!(refused(s), "{s} must be refused");
        }
        for s in [
            "127.0.0.1",
            "10.0.0.1",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "64:ff9b::10.0.0.1",
            "2001:db8::1",
            "fec0::1",
        ] {
            assert!(!refused(s), "{s} must be allowed");
        }
    }

    #[test]
    fn the_policy_can_allow_them() {
        let ip = "::ffff:169.254.169.254".parse().unwrap();
        assert!(!NetworkPolicy::default().allows(ip));
        assert!(
            NetworkPolicy {
                allow_link_local: true
            }
            .allows(ip)
        );
    }

    #[tokio::test]
    async fn hosts_are_checked_by_what_they_are_or_resolve_to() {
        assert!(link_local_address("169.254.169.254").await.is_some());
        assert!(link_local_address("[fe80::1]").await.is_some());
        assert!(
            link_local_address("[::ffff:169.254.169.254]")
                .await
                .is_some()
        );
        assert!(link_local_address("127.0.0.1").await.is_none());
        assert!(link_local_address("[::1]").await.is_none());
        assert!(link_local_address("localhost").await.is_none());
        let open = NetworkPolicy {
            allow_link_local: true,
        };
        assert!(open.refused_address("169.254.169.254").await.is_none());
    }
}
