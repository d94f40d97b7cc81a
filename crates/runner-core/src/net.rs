//! Network checks several task families need (S3 endpoints, HTTP requests).

use std::net::IpAddr;

/// The link-local address `host` is or resolves to (169.254.0.0/16, fe80::/10), if any. Cloud
/// instance-metadata services answer there, so tasks refuse such endpoints, as Kestra does:
/// a flow must not read the machine's cloud credentials. A host that does not resolve has no
/// such address (the request itself then fails and says so).
pub async fn link_local_address(host: &str) -> Option<IpAddr> {
    let bare = host.trim_matches(['[', ']']);
    let addrs: Vec<IpAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((bare, 443))
            .await
            .map(|a| a.map(|s| s.ip()).collect())
            .unwrap_or_default(),
    };
    addrs.into_iter().find(|ip| match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn metadata_addresses_are_found() {
        assert!(link_local_address("169.254.169.254").await.is_some());
        assert!(link_local_address("[fe80::1]").await.is_some());
        assert!(link_local_address("127.0.0.1").await.is_none());
        assert!(link_local_address("[::1]").await.is_none());
        assert!(link_local_address("localhost").await.is_none());
    }
}
