//! A Redis connection speaking RESP2: the `url` Kestra's tasks take (`redis://[[user]:password@]
//! host[:port][/db]`), the run's network policy checked on every address, AUTH and SELECT, then
//! one command at a time. Replies are bounded (Redis' own 512 MiB bulk limit), so a server can
//! not make runner allocate without end.

use runner_core::plugin::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;

/// How long connecting, and each command, may take.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Redis' largest string.
const MAX_BULK: usize = 512 * 1024 * 1024;
/// The most elements runner reads in one array reply.
const MAX_ARRAY: usize = 1 << 20;
/// How deep nested arrays may go (RESP replies of the commands runner sends are shallow).
const MAX_DEPTH: usize = 8;

/// Where to connect, from `url`: never shown with its credentials.
#[derive(Clone, PartialEq)]
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) db: u32,
}

/// Debug without the credentials: a password must not reach a Debug print.
impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self;
        f.debug_struct("Target")
            .field("at", &t.shown())
            .field("user", &t.user)
            .field("password", &t.password.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Target {
    /// `redis://host:port/db`, for messages.
    pub(crate) fn shown(&self) -> String {
        format!("redis://{}:{}/{}", self.host, self.port, self.db)
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a `%` that is not followed by two hex digits")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent-encoded text that is not UTF-8".to_string())
}

/// Parses Kestra's Redis `url`. Errors never quote the URL: it may hold a password.
pub(crate) fn parse_url(url: &str) -> Result<Target, String> {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(
            "`url` must start with redis:// (for example redis://:password@localhost:6379/0)"
                .into(),
        );
    };
    match scheme {
        "redis" => {}
        "rediss" => {
            return Err("rediss:// (TLS) is not supported by runner yet: connect with redis:// to a server on a trusted network, or through a TLS tunnel".into());
        }
        "redis-sentinel" | "redis-socket" | "redis+socket" | "redis+sentinel" => {
            return Err(format!(
                "{scheme}:// is not supported by runner: give the server's redis:// address"
            ));
        }
        other => {
            return Err(format!(
                "`{other}://` is not a Redis URL scheme; use redis://"
            ));
        }
    }
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(u) => {
            let (user, pass) = match u.split_once(':') {
                Some((user, pass)) => (user, Some(pass)),
                // `redis://password@host` is how Lettuce reads a single userinfo part.
                None => ("", Some(u)),
            };
            let user = (!user.is_empty())
                .then(|| percent_decode(user))
                .transpose()?;
            let pass = pass
                .filter(|p| !p.is_empty())
                .map(percent_decode)
                .transpose()?;
            (user, pass)
        }
    };
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
        return Err("`url` names no host".into());
    }
    let port = match port {
        None | Some("") => 6379,
        Some(p) => p
            .parse()
            .map_err(|_| format!("the port `{p}` is not a number from 1 to 65535"))?,
    };
    let db = match path.trim_matches('/') {
        "" => 0,
        d => d
            .parse()
            .map_err(|_| format!("the database `{d}` is not a number"))?,
    };
    Ok(Target {
        host,
        port,
        user,
        password,
        db,
    })
}

/// A reply.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Reply {
    Nil,
    Status(String),
    Int(i64),
    Bulk(Vec<u8>),
    Array(Vec<Reply>),
}

pub(crate) struct Redis {
    io: BufStream<TcpStream>,
    shown: String,
}

fn unreachable(t: &Target, e: impl std::fmt::Display) -> TaskError {
    TaskError::new(
        ErrorKind::Unreachable,
        format!("cannot connect to Redis at {}: {e}", t.shown()),
    )
    .hint("check `url`: the host and port, and that the server is running")
}

impl Redis {
    /// Connects, authenticates and selects the database.
    pub(crate) async fn connect(ctx: &RunContext, t: &Target) -> Result<Redis, TaskError> {
        let lookup = tokio::net::lookup_host((t.host.as_str(), t.port));
        let addrs: Vec<SocketAddr> = match tokio::time::timeout(TIMEOUT, lookup).await {
            Ok(Ok(a)) => a.collect(),
            Ok(Err(e)) => return Err(unreachable(t, e)),
            Err(_) => return Err(unreachable(t, "timed out resolving the host")),
        };
        let policy = ctx.network();
        if let Some(refused) = addrs.iter().find(|a| !policy.allows(a.ip())) {
            return Err(TaskError::new(
                ErrorKind::Denied,
                format!(
                    "`{}` is (or resolves to) the link-local address {}, where cloud instance-metadata services answer; flows may not reach it",
                    t.host,
                    refused.ip()
                ),
            )
            .hint("run runner with --allow-link-local if this flow must reach that address"));
        }
        let mut last = None;
        let mut stream = None;
        for addr in addrs {
            match tokio::time::timeout(TIMEOUT, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => {
                    stream = Some(s);
                    break;
                }
                Ok(Err(e)) => last = Some(e.to_string()),
                Err(_) => last = Some("timed out".into()),
            }
        }
        let Some(stream) = stream else {
            return Err(unreachable(
                t,
                last.unwrap_or_else(|| "the host resolves to no address".into()),
            ));
        };
        let _ = stream.set_nodelay(true);
        let mut redis = Redis {
            io: BufStream::new(stream),
            shown: t.shown(),
        };
        if let Some(password) = &t.password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = &t.user {
                args.push(user.as_bytes());
            }
            args.push(password.as_bytes());
            if let Err(e) = redis.raw(&args).await? {
                // The server's words only: they never hold the password.
                return Err(TaskError::new(
                    ErrorKind::Denied,
                    format!(
                        "Redis at {} refused the credentials of `url`: {e}",
                        t.shown()
                    ),
                )
                .hint(
                    "check the user and password in `url` (redis://user:password@host:port/db)",
                ));
            }
        }
        if t.db != 0 {
            redis
                .command(&[b"SELECT", t.db.to_string().as_bytes()])
                .await?;
        }
        Ok(redis)
    }

    /// Sends one command; a server error reply is a task error.
    pub(crate) async fn command(&mut self, args: &[&[u8]]) -> Result<Reply, TaskError> {
        let name =
            String::from_utf8_lossy(args.first().copied().unwrap_or_default()).to_uppercase();
        match self.raw(args).await? {
            Ok(reply) => Ok(reply),
            Err(e) if e.starts_with("NOAUTH") => Err(TaskError::new(
                ErrorKind::Denied,
                format!("Redis at {} needs a password: {e}", self.shown),
            )
            .hint("give it in `url`: redis://:password@host:port/db")),
            Err(e) => Err(TaskError::new(
                ErrorKind::Remote,
                format!("Redis refused {name}: {e}"),
            )),
        }
    }

    /// Sends one command; the reply, or the server's error text.
    async fn raw(&mut self, args: &[&[u8]]) -> Result<Result<Reply, String>, TaskError> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        let shown = self.shown.clone();
        let io_error = |e: std::io::Error| {
            TaskError::new(
                ErrorKind::Unreachable,
                format!("the connection to Redis at {shown} failed"),
            )
            .caused_by(e)
        };
        let exchange = async {
            self.io.write_all(&out).await?;
            self.io.flush().await?;
            read_reply(&mut self.io, 0).await
        };
        match tokio::time::timeout(TIMEOUT, exchange).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(io_error(e)),
            Err(_) => Err(TaskError::new(
                ErrorKind::Unreachable,
                format!(
                    "Redis at {} did not answer within {}s",
                    self.shown,
                    TIMEOUT.as_secs()
                ),
            )),
        }
    }
}

fn bad(what: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.into())
}

async fn read_line<R: AsyncBufReadExt + Unpin>(r: &mut R) -> std::io::Result<String> {
    let mut line = Vec::new();
    // A header line is short; a longer one is not RESP.
    let n = (&mut *r)
        .take(64 * 1024)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ));
    }
    if !line.ends_with(b"\r\n") {
        return Err(bad("a reply line without its end (not a Redis server?)"));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| bad("a reply line that is not UTF-8"))
}

/// A reply read, or the server's error text; boxed, as arrays recurse.
type ReplyFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = std::io::Result<Result<Reply, String>>> + Send + 'a>,
>;

/// One reply; `Err` inside for a server error.
fn read_reply<'a, R: AsyncBufReadExt + Unpin + Send>(
    r: &'a mut R,
    depth: usize,
) -> ReplyFuture<'a> {
    Box::pin(async move {
        let line = read_line(r).await?;
        let (kind, rest) = line.split_at(line.len().min(1));
        let number = || {
            rest.parse::<i64>()
                .map_err(|_| bad(format!("a reply length `{rest}` that is not a number")))
        };
        Ok(Ok(match kind {
            "+" => Reply::Status(rest.to_string()),
            "-" => return Ok(Err(rest.to_string())),
            ":" => Reply::Int(number()?),
            "$" => {
                let n = number()?;
                if n < 0 {
                    Reply::Nil
                } else if n as usize > MAX_BULK {
                    return Err(bad("a string longer than Redis allows"));
                } else {
                    let mut buf = vec![0u8; n as usize + 2];
                    r.read_exact(&mut buf).await?;
                    buf.truncate(n as usize);
                    Reply::Bulk(buf)
                }
            }
            "*" => {
                let n = number()?;
                if n < 0 {
                    Reply::Nil
                } else if n as usize > MAX_ARRAY || depth >= MAX_DEPTH {
                    return Err(bad("an array reply too large or too deep"));
                } else {
                    let mut items = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        match read_reply(r, depth + 1).await? {
                            Ok(item) => items.push(item),
                            Err(e) => return Ok(Err(e)),
                        }
                    }
                    Reply::Array(items)
                }
            }
            _ => return Err(bad("a reply that is not RESP (not a Redis server?)")),
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_as_lettuce_reads_them() {
        let t = parse_url("redis://:p%40ss@localhost:6380/2").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.db), ("localhost", 6380, 2));
        assert_eq!((t.user, t.password.as_deref()), (None, Some("p@ss")));
        let t = parse_url("redis://app:secret@[::1]").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.user.as_deref()),
            ("::1", 6379, Some("app"))
        );
        assert_eq!(
            parse_url("redis://secret@h").unwrap().password.as_deref(),
            Some("secret")
        );
        assert_eq!(parse_url("redis://h").unwrap().password, None);
        let debug = format!("{:?}", parse_url("redis://app:pw-secret@h").unwrap());
        assert!(
            !debug.contains("pw-secret") && debug.contains("redis://h:6379/0"),
            "{debug}"
        );
        for bad in [
            "localhost:6379",
            "redis://:pw@h:x",
            "redis://h/db",
            "http://h",
            "rediss://:pw@h",
        ] {
            let e = parse_url(bad).unwrap_err();
            assert!(!e.contains("pw"), "{e}");
        }
    }

    #[tokio::test]
    async fn replies_are_bounded() {
        let mut r = tokio::io::BufReader::new(&b"*2\r\n$3\r\nabc\r\n:5\r\n"[..]);
        assert_eq!(
            read_reply(&mut r, 0).await.unwrap(),
            Ok(Reply::Array(vec![
                Reply::Bulk(b"abc".to_vec()),
                Reply::Int(5)
            ]))
        );
        let mut r = tokio::io::BufReader::new(&b"$999999999999\r\n"[..]);
        assert!(read_reply(&mut r, 0).await.is_err());
        let mut r = tokio::io::BufReader::new(&b"-ERR wrong\r\n"[..]);
        assert_eq!(
            read_reply(&mut r, 0).await.unwrap(),
            Err("ERR wrong".into())
        );
        let mut r = tokio::io::BufReader::new(&b"HTTP/1.1 200 OK\r\n"[..]);
        assert!(read_reply(&mut r, 0).await.is_err());
    }
}
