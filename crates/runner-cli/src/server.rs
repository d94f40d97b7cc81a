//! What `deploy`, `run --server` and `kv push/pull` share: the Kestra server they talk to,
//! its credentials (never printed: every line that shows the server's words goes through a
//! masker that knows them), and Kestra's refusals shown at the local file's line.

use crate::diagnostics::{Source, Style, render};
use crate::files::{self, EnvFiles};
use runner_kestra::{ApiError, Auth, Server};
use runner_model::{Diagnostic, Node, NodeValue, Problem, Span};
use runner_secrets::Masker;
use std::path::Path;
use std::sync::Arc;

/// A connection to the server, and the masker of its credentials.
pub(crate) struct Remote {
    pub(crate) server: Arc<Server>,
    pub(crate) masker: Arc<Masker>,
}

impl Remote {
    /// `text` with the credentials masked, for anything shown that the server said.
    pub(crate) fn mask(&self, text: &str) -> String {
        self.masker.mask(text)
    }

    /// An API error as a line for the user.
    pub(crate) fn explain(&self, e: &ApiError) -> String {
        self.mask(&e.to_string())
    }
}

/// The server at `url`, with KESTRA_API_TOKEN, else KESTRA_USER and KESTRA_PASSWORD, from the
/// env files or the environment.
pub(crate) fn connect(url: &str, tenant: &str, env: &EnvFiles) -> Result<Remote, String> {
    let found = files::settings(env, &["KESTRA_API_TOKEN", "KESTRA_USER", "KESTRA_PASSWORD"])?;
    let mut found = found.into_iter();
    let (token, user, password) = (
        found.next().flatten(),
        found.next().flatten(),
        found.next().flatten(),
    );
    let masker = Masker::default();
    let auth = match (token, user, password) {
        (Some(token), _, _) => {
            masker.add(&token);
            Some(Auth::Token(token))
        }
        (None, Some(user), Some(password)) => {
            masker.add(&password);
            Some(Auth::Basic { user, password })
        }
        (None, Some(_), None) => {
            return Err("KESTRA_USER is set but KESTRA_PASSWORD is not: set both (basic auth), or KESTRA_API_TOKEN".into());
        }
        (None, None, Some(_)) => {
            return Err("KESTRA_PASSWORD is set but KESTRA_USER is not: set both (basic auth), or KESTRA_API_TOKEN".into());
        }
        (None, None, None) => None,
    };
    let has_auth = auth.is_some();
    let server = Server::new(url, tenant, auth)?;
    if has_auth && server.address().starts_with("http://") && !is_loopback(server.address()) {
        crate::say!(
            "warning: {} is plain http: the credentials cross the network unencrypted (use https)",
            server.address()
        );
    }
    Ok(Remote {
        server: Arc::new(server),
        masker: Arc::new(masker),
    })
}

/// Whether an http address names this machine.
fn is_loopback(address: &str) -> bool {
    let rest = address.split_once("://").map_or(address, |(_, r)| r);
    if rest.starts_with("[::1]") {
        return true;
    }
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    host == "localhost"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Remote {
    /// Checks that a Kestra server of 0.24 or later is there, before anything is sent.
    pub(crate) async fn check(&self) -> Result<String, String> {
        self.server.version().await.map_err(|e| self.explain(&e))
    }
}

/// A current-thread runtime for the requests of one command.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Kestra's refusal of a flow, each problem at the line of `doc` its path names
/// (`tasks[1].type`, `flow.id`, `inputs.name`) when it names one.
pub(crate) fn show_refusal(
    remote: &Remote,
    e: &ApiError,
    doc: Option<&Node>,
    path: &Path,
    text: &Source,
) {
    let style = Style::stderr();
    let ApiError::Refused {
        status,
        message,
        errors,
    } = e
    else {
        crate::say!("{}: {}", style.error_label(), remote.explain(e));
        return;
    };
    if errors.is_empty() {
        let span = doc.and_then(|d| d.get("id")).map(|n| n.span);
        let d = Diagnostic::error(
            Problem::InvalidValue {
                property: "flow".into(),
                reason: format!(
                    "the Kestra server refused it ({status}): {}",
                    remote.mask(message)
                ),
            },
            span,
            "",
        );
        crate::say_raw!("{}", render(&d, path, text, &style));
        return;
    }
    for field in errors {
        let at = field.path.as_deref().unwrap_or("flow");
        let span = doc.and_then(|d| locate(d, at));
        let d = Diagnostic::error(
            Problem::InvalidValue {
                property: at.to_string(),
                reason: format!(
                    "the Kestra server refused it ({status}): {}",
                    remote.mask(&field.message)
                ),
            },
            span,
            "",
        );
        crate::say_raw!("{}", render(&d, path, text, &style));
    }
}

/// The position of a Kestra property path (`tasks[1].type`, `flow.id`) in a flow document:
/// the deepest node the path reaches.
pub(crate) fn locate(doc: &Node, path: &str) -> Option<Span> {
    let path = path.strip_prefix("flow.").unwrap_or(path);
    let mut node = doc;
    let mut found = None;
    for part in path.split('.') {
        let (key, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            match node.get(key) {
                Some(n) => node = n,
                None => return found,
            }
            found = Some(node.span);
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            let Ok(i) = index.trim_end_matches(']').parse::<usize>() else {
                return found;
            };
            match &node.value {
                NodeValue::Seq(items) if i < items.len() => node = &items[i],
                _ => return found,
            }
            found = Some(node.span);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kestra_paths_find_their_line() {
        let doc = runner_model::load_str(
            "id: a\nnamespace: company.team\ntasks:\n  - id: one\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n  - id: two\n    type: io.kestra.plugin.ee.Nope\n",
        )
        .unwrap()
        .remove(0);
        assert_eq!(
            locate(&doc, "tasks[1].type").map(|s| (s.line, s.col)),
            Some((8, 11))
        );
        assert_eq!(locate(&doc, "flow.id").map(|s| s.line), Some(1));
        // As deep as the flow goes: a property the flow lacks points at its parent.
        assert_eq!(locate(&doc, "tasks[0].retry").map(|s| s.line), Some(4));
        assert_eq!(locate(&doc, "triggers[0]"), None);
    }
}
