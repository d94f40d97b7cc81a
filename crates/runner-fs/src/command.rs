//! `io.kestra.plugin.fs.ssh.Command`: commands run on a remote host over SSH, as one script
//! (joined with line breaks, in one `exec` channel), their stdout and stderr relayed line by
//! line as script tasks relay theirs (the `::{json}::` protocol gives `vars`).

use crate::ssh::{self, Auth, HostKeys, Target};
use runner_core::plugin::*;
use runner_scripts::kit::{Collected, relay};
use russh::ChannelMsg;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use tokio::io::AsyncWriteExt;

pub(crate) const COMMAND: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.fs.ssh.Command",
    aliases: &[],
    doc: "Run commands on a remote host over SSH (password or private key), their output relayed line by line into the logs, `::{json}::` lines into `vars`. The host key is checked against known_hosts unless `strictHostKeyChecking: \"no\"`.",
    example: "id: ssh\ntype: io.kestra.plugin.fs.ssh.Command\nhost: localhost\nport: \"2222\"\nusername: deploy\nauthMethod: PASSWORD\npassword: \"{{ secret('SSH_PASSWORD') }}\"\nstrictHostKeyChecking: \"no\"\ncommands:\n  - echo \"Hello from $(hostname)\"\n  - echo '::{\"outputs\":{\"deployed\":true}}::'",
    shape: runnable::<Command>(),
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum AuthMethod {
    Password,
    PublicKey,
    OpenSsh,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Command {
    /// The host to connect to.
    host: Property<String>,
    /// The SSH port (default "22").
    port: Option<Property<String>>,
    /// PASSWORD (default), PUBLIC_KEY, or OPEN_SSH (refused: it reads the host's OpenSSH configuration, which Kestra allows only by a plugin setting runner does not have).
    auth_method: Option<Property<AuthMethod>>,
    /// The user to log in as (default: the local user, USER).
    username: Option<Property<String>>,
    /// The password (PASSWORD).
    #[prop(secret)]
    password: Option<Property<String>>,
    /// The private key's content, OpenSSH or PEM (PUBLIC_KEY); kept in memory, never written to disk.
    #[prop(secret)]
    private_key: Option<Property<String>>,
    /// The private key's passphrase.
    #[prop(secret)]
    private_key_passphrase: Option<Property<String>>,
    /// Deprecated (OPEN_SSH only): the OpenSSH config file.
    #[serde(rename = "openSSHConfigDir")]
    #[allow(dead_code)]
    open_ssh_config_dir: Option<Property<String>>,
    /// OPEN_SSH only: the OpenSSH config file.
    #[serde(rename = "openSSHConfigPath")]
    #[allow(dead_code)]
    open_ssh_config_path: Option<Property<String>>,
    /// A local command whose stdin and stdout carry the connection (`%h`, `%p`, `%r`: host, port, user), run with /bin/sh.
    proxy_command: Option<Property<String>>,
    /// The commands, run as one script by the remote login shell (joined with line breaks): the exit status is the last command's unless the script says `set -e`.
    commands: Property<Vec<String>>,
    /// Environment variables sent to the server (most servers accept only those their AcceptEnv lists).
    env: Option<Property<BTreeMap<String, String>>>,
    /// "no" accepts any host key; otherwise (the default here, "yes", "ask") the key must be in known_hosts: the file RUNNER_SSH_KNOWN_HOSTS names, else ~/.ssh/known_hosts.
    strict_host_key_checking: Option<Property<String>>,
    /// Deprecated and ignored, as in Kestra.
    #[allow(dead_code)]
    warning_on_std_err: Option<Property<bool>>,
    /// Accept RSA/SHA1 (`ssh-rsa`) keys.
    enable_ssh_rsa1: Option<Property<bool>>,
}

/// Host and user names a proxyCommand may substitute (Kestra's shell-injection guard).
fn safe_for_proxy(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'))
}

impl RunnableTask for Command {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let method = ctx
                .render_opt(&self.auth_method, "authMethod")?
                .unwrap_or(AuthMethod::Password);
            let password = ctx
                .render_opt(&self.password, "password")?
                .filter(|p| !p.is_empty());
            let key = ctx
                .render_opt(&self.private_key, "privateKey")?
                .filter(|k| !k.trim().is_empty());
            let auth = match method {
                AuthMethod::Password => Auth::Password(password.ok_or_else(|| {
                    TaskError::failed("Password is necessary for given SSH auth method: PASSWORD")
                })?),
                AuthMethod::PublicKey => Auth::Key {
                    pem: key.ok_or_else(|| {
                        TaskError::failed(
                            "Private key is necessary for given SSH auth method: PUBLIC_KEY",
                        )
                    })?,
                    passphrase: ctx
                        .render_opt(&self.private_key_passphrase, "privateKeyPassphrase")?
                        .filter(|p| !p.is_empty()),
                    property: "privateKey",
                },
                AuthMethod::OpenSsh => {
                    return Err(TaskError::new(
                        ErrorKind::Unsupported,
                        "You need to allow access to the host OpenSSH configuration via the plugin configuration `allow-open-ssh-config`",
                    )
                    .hint("runner has no plugin configuration to allow it: use authMethod PASSWORD or PUBLIC_KEY with the key's content in `privateKey`"));
                }
            };
            let host = ctx.render(&self.host, "host")?;
            let port = match &self.port {
                Some(p) => ssh::parse_port(&ctx.render::<String>(p, "port")?, "port")?,
                None => 22,
            };
            let user = ssh::user_or_local(ctx, ctx.render_opt(&self.username, "username")?)?;
            let target = Target {
                host: host.clone(),
                port,
                user: user.clone(),
            };
            let commands: Vec<String> = ctx.render(&self.commands, "commands")?;
            if commands.is_empty() {
                return Err(TaskError::property("commands", "give at least one command"));
            }
            let env = ctx.render_opt(&self.env, "env")?.unwrap_or_default();
            if ctx
                .render_opt(&self.enable_ssh_rsa1, "enableSshRsa1")?
                .unwrap_or(false)
            {
                ctx.log(Level::Info, "RSA/SHA1 is enabled, be advise that SHA1 is no longer considered secure by the general cryptographic community.");
            }
            let strict = ctx.render_opt(&self.strict_host_key_checking, "strictHostKeyChecking")?;
            let host_keys = HostKeys::from_setting(ctx, strict.as_deref());
            let proxy = match ctx.render_opt(&self.proxy_command, "proxyCommand")? {
                Some(p) if !p.trim().is_empty() => {
                    if !safe_for_proxy(&host) {
                        return Err(TaskError::failed(format!(
                            "Invalid SSH host '{host}': only letters, digits, '.', '_', '@' and '-' are allowed when a `proxyCommand` is configured, to prevent shell injection."
                        )));
                    }
                    if !safe_for_proxy(&user) {
                        return Err(TaskError::failed(format!(
                            "Invalid SSH username '{user}': only letters, digits, '.', '_', '@' and '-' are allowed when a `proxyCommand` is configured, to prevent shell injection."
                        )));
                    }
                    Some(
                        p.replace("%h", &host)
                            .replace("%p", &port.to_string())
                            .replace("%r", &user),
                    )
                }
                _ => None,
            };
            let connection = ssh::connect(ctx, &target, &auth, host_keys, proxy.as_deref()).await?;
            let session = &connection.session;
            let mut channel = session.channel_open_session().await.map_err(|e| {
                TaskError::new(
                    ErrorKind::Remote,
                    format!("{target}: the server refused a session channel"),
                )
                .caused_by(e)
            })?;
            for (k, v) in &env {
                // Servers drop what their AcceptEnv does not list; a refusal is not an error.
                let _ = channel.set_env(false, k.clone(), v.clone()).await;
            }
            let script = commands.join("\n");
            ctx.log(
                Level::Debug,
                &format!("Running {} command(s) on {target}", commands.len()),
            );
            channel.exec(true, script.as_bytes()).await.map_err(|e| {
                TaskError::new(
                    ErrorKind::Remote,
                    format!("{target}: the server refused to run the commands"),
                )
                .caused_by(e)
            })?;
            let collected = Mutex::new(Collected::default());
            let (mut out_w, out_r) = tokio::io::duplex(64 << 10);
            let (mut err_w, err_r) = tokio::io::duplex(64 << 10);
            let pump = async move {
                let mut status: Option<Result<u32, String>> = None;
                let io = |e: std::io::Error| {
                    TaskError::new(ErrorKind::Io, "cannot relay the command's output").caused_by(e)
                };
                while let Some(msg) = channel.wait().await {
                    match msg {
                        ChannelMsg::Data { data } => out_w.write_all(&data).await.map_err(io)?,
                        ChannelMsg::ExtendedData { data, ext: 1 } => {
                            err_w.write_all(&data).await.map_err(io)?
                        }
                        ChannelMsg::ExitStatus { exit_status } => status = Some(Ok(exit_status)),
                        ChannelMsg::ExitSignal {
                            signal_name,
                            error_message,
                            ..
                        } => {
                            status = Some(Err(format!(
                                "{signal_name:?}{}",
                                if error_message.is_empty() {
                                    String::new()
                                } else {
                                    format!(": {error_message}")
                                }
                            )))
                        }
                        ChannelMsg::Close => break,
                        _ => {}
                    }
                }
                out_w.shutdown().await.map_err(io)?;
                err_w.shutdown().await.map_err(io)?;
                Ok::<_, TaskError>(status)
            };
            let (status, out, err) = tokio::join!(
                pump,
                relay(ctx, out_r, false, &collected),
                relay(ctx, err_r, true, &collected)
            );
            for r in [out, err] {
                r.map_err(|e| {
                    TaskError::new(ErrorKind::Io, "cannot relay the command's output").caused_by(e)
                })?;
            }
            let _ = session
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await;
            let collected = collected.into_inner().expect("relay state");
            match status? {
                Some(Ok(0)) => {}
                Some(Ok(code)) => {
                    return Err(TaskError::failed(format!(
                        "SSH command fails with exit status {code}"
                    )));
                }
                Some(Err(signal)) => {
                    return Err(TaskError::failed(format!(
                        "SSH command was ended by signal {signal} on {target}"
                    )));
                }
                None => {
                    return Err(TaskError::new(
                        ErrorKind::Remote,
                        format!(
                            "{target}: the connection closed before the commands reported an exit status"
                        ),
                    ));
                }
            }
            ctx.log(
                Level::Debug,
                &format!(
                    "{} line(s) on stdout, {} on stderr",
                    collected.stdout_lines, collected.stderr_lines
                ),
            );
            let mut outputs = Outputs::new();
            outputs.insert("vars".into(), Json::Object(collected.vars));
            outputs.insert("exitCode".into(), Json::from(0));
            Ok(outputs)
        })
    }
}
