//! Kestra's HTTP tasks: `io.kestra.plugin.core.http.Request` and `Download` (and their
//! `io.kestra.plugin.fs.http` names), on one client per set of options (`client`), with the
//! options Kestra's HttpConfiguration has (`options`); and the incoming-webhook notification
//! tasks (`notify`), which post a JSON payload on the same client.

pub mod client;
mod download;
mod execution_notify;
mod function;
mod notify;
mod options;
mod request;
pub mod sse;

use runner_core::plugin::TaskDescriptor;

pub use function::function;

/// The HTTP task types.
pub const TASKS: &[TaskDescriptor] = &[
    request::REQUEST,
    download::DOWNLOAD,
    notify::SLACK,
    execution_notify::SLACK_EXECUTION,
    notify::TEAMS,
    notify::DISCORD,
    notify::GOOGLE_CHAT,
    notify::ZULIP,
    execution_notify::DISCORD_EXECUTION,
    execution_notify::GOOGLE_CHAT_EXECUTION,
    execution_notify::TEAMS_EXECUTION,
    execution_notify::ZULIP_EXECUTION,
];
