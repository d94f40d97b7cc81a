//! The JDBC URL Kestra's MySQL and MariaDB tasks take, and one connection from it: the host
//! checked against the run's network policy, the addresses resolved once and handed to the
//! driver, the credentials from `username`/`password` (or the URL's `user`/`password`).

use mysql_async::{Conn, OptsBuilder};
use runner_core::plugin::*;
use std::net::IpAddr;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Which server family, for the URL scheme and the type mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    MySql,
    MariaDb,
}

impl Dialect {
    pub(crate) fn scheme(self) -> &'static str {
        match self {
            Dialect::MySql => "jdbc:mysql",
            Dialect::MariaDb => "jdbc:mariadb",
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Dialect::MySql => "MySQL",
            Dialect::MariaDb => "MariaDB",
        }
    }
}

/// A JDBC URL, read: never shown whole (it may hold a password parameter).
#[derive(Clone, PartialEq)]
pub(crate) struct Url {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) database: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) allow_multi_queries: bool,
}

/// Debug without the credentials: a password must not reach a Debug print.
impl std::fmt::Debug for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let u = self;
        f.debug_struct("Url")
            .field("at", &u.shown(Dialect::MySql))
            .field("user", &u.user)
            .field("password", &u.password.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Url {
    pub(crate) fn shown(&self, dialect: Dialect) -> String {
        format!(
            "{}://{}:{}/{}",
            dialect.scheme(),
            self.host,
            self.port,
            self.database.as_deref().unwrap_or_default()
        )
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (
            b[i],
            s.get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok()),
        ) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads `jdbc:mysql://host[:port][/database][?key=value&...]` (or `jdbc:mariadb://`). The
/// driver options Kestra's drivers take are accepted; the ones that change what runner does
/// (`user`, `password`, `allowMultiQueries`) are read.
pub(crate) fn parse_url(url: &str, dialect: Dialect) -> Result<Url, String> {
    let url = url.trim();
    if url.is_empty() {
        return Err("Rendered value of `url` is blank.".into());
    }
    // MariaDB's driver takes `jdbc:mysql:` URLs too.
    let accepted: &[&str] = match dialect {
        Dialect::MySql => &["jdbc:mysql://"],
        Dialect::MariaDb => &["jdbc:mariadb://", "jdbc:mysql://"],
    };
    let Some(rest) = accepted.iter().find_map(|p| url.strip_prefix(p)) else {
        return Err(format!(
            "URL scheme is invalid. URL should start with `{}` (for example {}://localhost:3306/db)",
            dialect.scheme(),
            dialect.scheme()
        ));
    };
    let (main, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = main.split_once('/').unwrap_or((main, ""));
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if hostport.contains(',') {
        return Err(
            "several hosts (failover or load balancing) are not supported by runner: give one host"
                .into(),
        );
    }
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or("an IPv6 host without its closing `]`")?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err("the URL names no host".into());
    }
    let port = match port {
        None | Some("") => 3306,
        Some(p) => p
            .parse()
            .map_err(|_| format!("the port `{p}` is not a number from 1 to 65535"))?,
    };
    let database = Some(percent_decode(path.trim_end_matches('/'))).filter(|d| !d.is_empty());
    let mut parsed = Url {
        host,
        port,
        database,
        user: None,
        password: None,
        allow_multi_queries: false,
    };
    if let Some(u) = userinfo {
        let (user, pass) = u.split_once(':').unwrap_or((u, ""));
        parsed.user = Some(percent_decode(user)).filter(|s| !s.is_empty());
        parsed.password = Some(percent_decode(pass)).filter(|s| !s.is_empty());
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "user" => parsed.user = Some(percent_decode(v)),
            "password" => parsed.password = Some(percent_decode(v)),
            "allowMultiQueries" => parsed.allow_multi_queries = v.eq_ignore_ascii_case("true"),
            "useSSL" | "requireSSL" | "verifyServerCertificate"
                if v.eq_ignore_ascii_case("true") =>
            {
                return Err("TLS (useSSL, sslMode) is not supported by runner's MySQL tasks yet: connect to a server on a trusted network, or through a TLS tunnel".into());
            }
            "sslMode" | "sslmode"
                if !matches!(
                    v.to_ascii_uppercase().as_str(),
                    "DISABLED" | "DISABLE" | "PREFERRED" | "PREFER"
                ) =>
            {
                return Err("TLS (useSSL, sslMode) is not supported by runner's MySQL tasks yet: connect to a server on a trusted network, or through a TLS tunnel".into());
            }
            _ => {}
        }
    }
    Ok(parsed)
}

/// The connection properties every MySQL and MariaDB task takes.
pub(crate) struct Credentials {
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
}

/// Connects, checking where first; `setup` statements run on the new connection.
pub(crate) async fn connect(
    ctx: &RunContext,
    dialect: Dialect,
    url: &Url,
    creds: Credentials,
    setup: Vec<String>,
    infile: Option<std::path::PathBuf>,
) -> Result<Conn, TaskError> {
    let shown = url.shown(dialect);
    let unreachable = |e: String| {
        TaskError::new(
            ErrorKind::Unreachable,
            format!("cannot connect to {} at {shown}: {e}", dialect.name()),
        )
        .hint("check `url`: the host and port, and that the server is running")
    };
    let lookup = tokio::net::lookup_host((url.host.as_str(), url.port));
    let ips: Vec<IpAddr> = match tokio::time::timeout(CONNECT_TIMEOUT, lookup).await {
        Ok(Ok(a)) => a.map(|s| s.ip()).collect(),
        Ok(Err(e)) => return Err(unreachable(e.to_string())),
        Err(_) => return Err(unreachable("timed out resolving the host".into())),
    };
    let policy = ctx.network();
    if let Some(refused) = ips.iter().find(|ip| !policy.allows(**ip)) {
        return Err(TaskError::new(
            ErrorKind::Denied,
            format!(
                "`{}` is (or resolves to) the link-local address {refused}, where cloud instance-metadata services answer; flows may not reach it",
                url.host
            ),
        )
        .hint("run runner with --allow-link-local if this flow must reach that address"));
    }
    if ips.is_empty() {
        return Err(unreachable("the host resolves to no address".into()));
    }
    let opts = OptsBuilder::default()
        .ip_or_hostname(url.host.clone())
        .resolved_ips(Some(ips))
        .tcp_port(url.port)
        .user(creds.username.or_else(|| url.user.clone()))
        .pass(creds.password.or_else(|| url.password.clone()))
        .db_name(url.database.clone())
        .prefer_socket(false)
        .stmt_cache_size(16)
        .init(setup)
        // LOAD DATA LOCAL reads only the task's `inputFile`: a server cannot ask for any other.
        .local_infile_handler(Some(mysql_async::WhiteListFsHandler::new(infile)));
    match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(opts)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(mysql_async::Error::Server(e)))
            if e.code == 1045 || e.code == 1044 || e.code == 1698 =>
        {
            // The server's words name the user, never the password.
            Err(TaskError::new(
                ErrorKind::Denied,
                format!(
                    "{} at {shown} refused the login: {}",
                    dialect.name(),
                    e.message
                ),
            )
            .hint("check `username` and `password`"))
        }
        Ok(Err(mysql_async::Error::Server(e))) if e.code == 1049 => Err(TaskError::new(
            ErrorKind::NotFound,
            format!("{} at {shown}: {}", dialect.name(), e.message),
        )
        .hint("check the database name at the end of `url`")),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable(format!(
            "no answer within {}s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// A server error as a task error: the server's code and message.
pub(crate) fn sql_error(dialect: Dialect, e: mysql_async::Error) -> TaskError {
    match e {
        mysql_async::Error::Server(s) => TaskError::new(
            ErrorKind::Remote,
            format!("{} error {} ({}): {}", dialect.name(), s.code, s.state, s.message),
        ),
        other if other.to_string().contains("LOCAL INFILE") => TaskError::new(
            ErrorKind::Denied,
            "LOAD DATA LOCAL INFILE may read only the task's `{{ inputFile }}`: the statement names another file",
        )
        .hint("give the file as `inputFile` (a kestra:// URI or text) and load '{{ inputFile }}'"),
        other => TaskError::new(
            ErrorKind::Unreachable,
            format!("the connection to {} failed: {other}", dialect.name()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jdbc_urls_are_read() {
        let u = parse_url(
            "jdbc:mysql://db.local:3307/shop?useUnicode=true&user=app&password=p%26w",
            Dialect::MySql,
        )
        .unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.database.as_deref()),
            ("db.local", 3307, Some("shop"))
        );
        assert_eq!(
            (u.user.as_deref(), u.password.as_deref()),
            (Some("app"), Some("p&w"))
        );
        assert!(!format!("{u:?}").contains("p&w"), "{u:?}");
        let u = parse_url("jdbc:mariadb://localhost/", Dialect::MariaDb).unwrap();
        assert_eq!((u.port, u.database), (3306, None));
        assert!(parse_url("jdbc:mysql://h/db", Dialect::MariaDb).is_ok());
        let e = parse_url("jdbc:postgresql://h/db", Dialect::MySql).unwrap_err();
        assert!(
            e.starts_with("URL scheme is invalid. URL should start with `jdbc:mysql`"),
            "{e}"
        );
        assert!(
            parse_url("  ", Dialect::MySql)
                .unwrap_err()
                .contains("blank")
        );
        assert!(parse_url("jdbc:mysql://a,b/db", Dialect::MySql).is_err());
        assert!(
            parse_url(
                "jdbc:mysql://h/db?password=secret&useSSL=true",
                Dialect::MySql
            )
            .is_err_and(|e| !e.contains("secret"))
        );
        assert!(
            parse_url("jdbc:mysql://h/db?allowMultiQueries=true", Dialect::MySql)
                .unwrap()
                .allow_multi_queries
        );
    }
}
