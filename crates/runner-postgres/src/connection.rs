//! Connecting: pgjdbc's URL grammar, Kestra's properties, and errors that say what to check.

use runner_core::plugin::{ErrorKind, TaskError};
use std::time::Duration;
use tokio_postgres::config::SslMode as PgSslMode;

/// Kestra's `sslMode` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, runner_core::plugin::PropType)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Option<SslMode> {
        Some(match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }
}

/// Where and how to connect, after the URL and the task's properties are combined.
#[derive(Clone, PartialEq)]
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) database: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) ssl_mode: SslMode,
    pub(crate) application_name: Option<String>,
    pub(crate) current_schema: Option<String>,
    pub(crate) connect_timeout: Duration,
    pub(crate) socket_timeout: Option<Duration>,
    pub(crate) options: Option<String>,
    /// Where the password came from, for messages: the property's expression (`{{ secret(..) }}`).
    pub(crate) password_source: Option<String>,
}

impl std::fmt::Debug for Target {
    // The password is a secret: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Target({}:{}/{:?} as {:?})",
            self.host, self.port, self.database, self.user
        )
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads `jdbc:postgresql://host[:port][/db][?k=v&...]` (IPv6 in brackets; several hosts: the
/// first is used). URL parameters win over the task's properties, as in pgjdbc.
pub(crate) fn parse_url(
    url: &str,
    username: Option<String>,
    password: Option<String>,
    ssl: bool,
    ssl_mode: Option<SslMode>,
) -> Result<Target, TaskError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(TaskError::property(
            "url",
            "Rendered value of `url` is blank.",
        ));
    }
    let Some(rest) = url.strip_prefix("jdbc:postgresql:") else {
        return Err(TaskError::property(
            "url",
            "URL scheme is invalid. URL should start with `jdbc:postgresql`",
        ));
    };
    let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (host, port, database) = if let Some(hosts_db) = location.strip_prefix("//") {
        let (hosts, db) = hosts_db.split_once('/').unwrap_or((hosts_db, ""));
        let first = hosts.split(',').next().unwrap_or("");
        let (host, port) = if let Some(v6) = first.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| {
                TaskError::property("url", format!("`{url}`: an IPv6 host needs a closing `]`"))
            })?;
            (h.to_string(), after.strip_prefix(':').unwrap_or(""))
        } else {
            match first.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p),
                None => (first.to_string(), ""),
            }
        };
        let port = if port.is_empty() {
            5432
        } else {
            port.parse().map_err(|_| {
                TaskError::property("url", format!("`{url}`: `{port}` is not a port number"))
            })?
        };
        let host = if host.is_empty() {
            "localhost".to_string()
        } else {
            host
        };
        (host, port, decode(db))
    } else {
        (
            "localhost".to_string(),
            5432,
            decode(location.trim_start_matches('/')),
        )
    };
    let mut t = Target {
        host,
        port,
        database: (!database.is_empty()).then_some(database),
        user: username,
        password,
        ssl_mode: ssl_mode.unwrap_or(if ssl {
            SslMode::VerifyFull
        } else {
            SslMode::Prefer
        }),
        application_name: None,
        current_schema: None,
        connect_timeout: Duration::from_secs(10),
        socket_timeout: None,
        options: None,
        password_source: None,
    };
    let mut url_ssl = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = decode(v);
        match k {
            "user" => t.user = Some(v),
            "password" => t.password = Some(v),
            "sslmode" => {
                t.ssl_mode = SslMode::parse(&v).ok_or_else(|| TaskError::property("url", format!("`sslmode={v}` is not one of disable, allow, prefer, require, verify-ca, verify-full")))?
            }
            "ssl" => url_ssl = Some(v == "true"),
            "currentSchema" => t.current_schema = Some(v),
            "ApplicationName" | "applicationName" => t.application_name = Some(v),
            "connectTimeout" => t.connect_timeout = Duration::from_secs(v.parse().map_err(|_| TaskError::property("url", format!("`connectTimeout={v}` is not a number of seconds")))?),
            "socketTimeout" => {
                let secs: u64 = v.parse().map_err(|_| TaskError::property("url", format!("`socketTimeout={v}` is not a number of seconds")))?;
                t.socket_timeout = (secs > 0).then(|| Duration::from_secs(secs));
            }
            "options" => t.options = Some(v),
            // Other pgjdbc parameters do not change what runner does.
            _ => {}
        }
    }
    if url_ssl == Some(true) && !query.contains("sslmode=") && ssl_mode.is_none() {
        t.ssl_mode = SslMode::VerifyFull;
    }
    Ok(t)
}

impl Target {
    pub(crate) fn config(&self) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        c.host(&self.host)
            .port(self.port)
            .connect_timeout(self.connect_timeout);
        if let Some(u) = &self.user {
            c.user(u);
        }
        if let Some(p) = &self.password {
            c.password(p);
        }
        c.dbname(
            self.database
                .as_deref()
                .or(self.user.as_deref())
                .unwrap_or("postgres"),
        );
        if let Some(a) = &self.application_name {
            c.application_name(a);
        }
        let mut options = self.options.clone().unwrap_or_default();
        if let Some(schema) = &self.current_schema {
            options.push_str(&format!(" -c search_path={schema}"));
        }
        if !options.trim().is_empty() {
            c.options(options.trim());
        }
        c.ssl_mode(match self.ssl_mode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Allow | SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
        });
        c
    }

    pub(crate) fn endpoint(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A PostgreSQL error as the task reports it: SQLSTATE, the server's message, where in the SQL,
/// and what to check. The password never appears.
pub(crate) fn describe(e: &tokio_postgres::Error, target: &Target, sql: Option<&str>) -> TaskError {
    let endpoint = target.endpoint();
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let mut message = format!("{} (SQLSTATE {code})", db.message());
        if let (Some(tokio_postgres::error::ErrorPosition::Original(pos)), Some(sql)) =
            (db.position(), sql)
        {
            let at = (*pos as usize).saturating_sub(1);
            let line = sql[..at.min(sql.len())].matches('\n').count() + 1;
            let near: String = sql.chars().skip(at).take(30).collect();
            message.push_str(&format!(
                " at character {pos} (line {line}, near `{}`)",
                near.trim()
            ));
        }
        if let Some(detail) = db.detail() {
            message.push_str(&format!("; detail: {detail}"));
        }
        if let Some(hint) = db.hint() {
            message.push_str(&format!("; hint: {hint}"));
        }
        // Where the server was: the line and column of a COPY, the function that raised.
        if let Some(context) = db.where_() {
            message.push_str(&format!("; where: {context}"));
        }
        let (kind, help) = match code {
            "28P01" | "28000" => (
                ErrorKind::Denied,
                Some(match &target.password_source {
                    Some(src) => format!("check `username` and `password` ({src}) for {endpoint}"),
                    None => format!("check `username` and `password` for {endpoint}"),
                }),
            ),
            "3D000" => (
                ErrorKind::NotFound,
                Some(format!(
                    "the database does not exist on {endpoint}: check the database in `url`"
                )),
            ),
            "57014" => (
                ErrorKind::Remote,
                Some("the query was cancelled".to_string()),
            ),
            _ => (ErrorKind::Remote, None),
        };
        let error = TaskError::new(kind, message);
        return match help {
            Some(h) => error.hint(h),
            None => error,
        };
    }
    let text = e.to_string();
    let cause = std::error::Error::source(e)
        .map(|s| s.to_string())
        .unwrap_or_default();
    if text.contains("timeout") || cause.contains("timed out") {
        return TaskError::new(
            ErrorKind::Unreachable,
            format!(
                "cannot connect to PostgreSQL at {endpoint}: timed out after {}s",
                target.connect_timeout.as_secs()
            ),
        )
        .hint("is the server up, and is `connectTimeout` long enough?");
    }
    if text.starts_with("error connecting")
        || text.contains("connect")
        || text.contains("TLS handshake")
    {
        let reason = if cause.is_empty() {
            text.clone()
        } else {
            cause.clone()
        };
        let hint = if reason.contains("failed to lookup")
            || reason.contains("Name or service not known")
            || reason.contains("nodename")
        {
            Some("the host name does not resolve: check the host in `url`")
        } else if reason.contains("refused") {
            Some("nothing listens there: is the server running, and is the port right?")
        } else if reason.contains("TLS") || reason.contains("tls") || reason.contains("SSL") {
            Some(
                "use `sslMode: DISABLE` or `PREFER` for a server without TLS, or turn `ssl` on in the server",
            )
        } else {
            None
        };
        let error = TaskError::new(
            ErrorKind::Unreachable,
            format!("cannot connect to PostgreSQL at {endpoint}: {reason}"),
        );
        return match hint {
            Some(h) => error.hint(h),
            None => error,
        };
    }
    let message = if cause.is_empty() {
        format!("PostgreSQL error on {endpoint}: {text}")
    } else {
        format!("PostgreSQL error on {endpoint}: {text}: {cause}")
    };
    TaskError::new(ErrorKind::Remote, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(url: &str) -> Target {
        parse_url(
            url,
            Some("prop_user".into()),
            Some("prop_pw".into()),
            false,
            None,
        )
        .unwrap()
    }

    #[test]
    fn urls_in_pgjdbc_grammar() {
        let a = t("jdbc:postgresql://127.0.0.1:56982/");
        assert_eq!(
            (a.host.as_str(), a.port, a.database.as_deref()),
            ("127.0.0.1", 56982, None)
        );
        assert_eq!(
            a.config().get_dbname(),
            Some("prop_user"),
            "database defaults to the user"
        );
        let b = t(
            "jdbc:postgresql://db.example.com/sales?user=u&password=p%40ss&sslmode=disable&currentSchema=s1&ApplicationName=app&connectTimeout=3",
        );
        assert_eq!((b.host.as_str(), b.port), ("db.example.com", 5432));
        assert_eq!(b.database.as_deref(), Some("sales"));
        assert_eq!(b.user.as_deref(), Some("u"), "URL parameters win");
        assert_eq!(b.password.as_deref(), Some("p@ss"));
        assert_eq!(b.ssl_mode, SslMode::Disable);
        assert_eq!(b.current_schema.as_deref(), Some("s1"));
        assert_eq!(b.connect_timeout, Duration::from_secs(3));
        let c = t("jdbc:postgresql://[::1]:6000/db");
        assert_eq!((c.host.as_str(), c.port), ("::1", 6000));
        assert_eq!(c.endpoint(), "[::1]:6000");
        let d = t("jdbc:postgresql:mydb");
        assert_eq!(
            (d.host.as_str(), d.database.as_deref()),
            ("localhost", Some("mydb"))
        );
        assert_eq!(
            t("jdbc:postgresql://h/?ssl=true").ssl_mode,
            SslMode::VerifyFull
        );
        assert!(
            format!("{c:?}").find("prop_pw").is_none(),
            "Debug hides the password"
        );
    }

    #[test]
    fn bad_urls_have_kestra_messages() {
        let e = parse_url("mysql://x", None, None, false, None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "property `url`: URL scheme is invalid. URL should start with `jdbc:postgresql`"
        );
        let e = parse_url("  ", None, None, false, None)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "property `url`: Rendered value of `url` is blank.");
        assert!(parse_url("jdbc:postgresql://h:port/", None, None, false, None).is_err());
    }
}
