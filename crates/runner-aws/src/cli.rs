//! `io.kestra.plugin.aws.cli.AwsCLI`: AWS CLI commands on the script kit. The keys go to a
//! credentials file in the working directory (mode 0600, removed once the CLI ended), which the CLI reads
//! through AWS_SHARED_CREDENTIALS_FILE: unlike Kestra's AWS_SECRET_ACCESS_KEY variable, the
//! secret is in no process's environment. Region, endpoint and output format are variables,
//! as Kestra sets them.

use runner_core::plugin::*;
use runner_scripts::kit::{self, Body, Extra, Language, ScriptProps};
use serde::Deserialize;

pub(crate) const AWS_CLI: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.aws.cli.AwsCLI",
    aliases: &[],
    doc: "Run AWS CLI commands (`aws ...`) in a shell on the Process or Docker task runner (image amazon/aws-cli), with the flow's credentials, region and endpoint; outputs, metrics and outputFiles as the script tasks give them.",
    example: "id: buckets\ntype: io.kestra.plugin.aws.cli.AwsCLI\naccessKeyId: \"{{ secret('AWS_ACCESS_KEY_ID') }}\"\nsecretKeyId: \"{{ secret('AWS_SECRET_KEY_ID') }}\"\nregion: eu-central-1\ncommands:\n  - aws s3 mb s3://test-bucket",
    shape: runnable::<AwsCli>(),
};

const AWS: Language = Language {
    default_image: "amazon/aws-cli",
    ..Language::POSIX
};

/// The CLI's default output format (AWS_DEFAULT_OUTPUT).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum OutputFormat {
    Json,
    Text,
    Table,
    Yaml,
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AwsCli {
    /// The commands, run in a shell.
    commands: Property<Vec<String>>,
    /// AWS region (AWS_DEFAULT_REGION).
    region: Option<Property<String>>,
    /// Access key (written to the CLI's credentials file).
    access_key_id: Option<Property<String>>,
    /// Secret key (written to the CLI's credentials file, never to a variable).
    #[prop(secret)]
    secret_key_id: Option<Property<String>>,
    /// Session token (written to the CLI's credentials file).
    #[prop(secret)]
    session_token: Option<Property<String>>,
    /// An AWS-compatible endpoint (AWS_ENDPOINT_URL).
    endpoint_override: Option<Property<String>>,
    /// The CLI's output format: JSON (default), TEXT, TABLE or YAML.
    output_format: Option<Property<OutputFormat>>,
    /// Accepted; the CLI chooses its addressing itself.
    #[allow(dead_code)]
    force_path_style: Option<Property<bool>>,
    /// Accepted; the CLI needs no special mode.
    #[allow(dead_code)]
    compatibility_mode: Option<Property<bool>>,
    /// AssumeRole: not supported by runner (the task fails saying so).
    sts_role_arn: Option<Property<String>>,
    /// See stsRoleArn.
    #[allow(dead_code)]
    sts_role_external_id: Option<Property<String>>,
    /// See stsRoleArn.
    #[allow(dead_code)]
    sts_role_session_name: Option<Property<String>>,
    /// See stsRoleArn.
    #[allow(dead_code)]
    #[prop(type = "duration")]
    sts_role_session_duration: Option<Property<String>>,
    /// See stsRoleArn.
    #[allow(dead_code)]
    sts_endpoint_override: Option<Property<String>>,
    #[serde(flatten)]
    props: ScriptProps,
}

/// One line of an INI file: a value with a line break would start another entry.
fn ini_value(name: &str, value: String) -> Result<String, TaskError> {
    if value.contains(['\n', '\r']) {
        return Err(TaskError::property(name, "holds a line break"));
    }
    Ok(value)
}

impl RunnableTask for AwsCli {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            if ctx.render_opt(&self.sts_role_arn, "stsRoleArn")?.is_some() {
                return Err(TaskError::new(
                    ErrorKind::Unsupported,
                    "stsRoleArn: runner does not assume roles",
                )
                .hint("give the role's keys (accessKeyId, secretKeyId, sessionToken), or run `aws sts assume-role` in the commands"));
            }
            let mut env = Vec::new();
            if let Some(region) = ctx.render_opt(&self.region, "region")? {
                env.push(("AWS_DEFAULT_REGION".to_string(), region));
            }
            if let Some(endpoint) = ctx.render_opt(&self.endpoint_override, "endpointOverride")? {
                env.push(("AWS_ENDPOINT_URL".to_string(), endpoint));
            }
            let format = match ctx
                .render_opt(&self.output_format, "outputFormat")?
                .unwrap_or(OutputFormat::Json)
            {
                OutputFormat::Json => "json",
                OutputFormat::Text => "text",
                OutputFormat::Table => "table",
                OutputFormat::Yaml => "yaml",
            };
            env.push(("AWS_DEFAULT_OUTPUT".to_string(), format.to_string()));
            let key = ctx.render_opt(&self.access_key_id, "accessKeyId")?;
            let secret = ctx.render_opt(&self.secret_key_id, "secretKeyId")?;
            let token = ctx.render_opt(&self.session_token, "sessionToken")?;
            let mut extra = Extra::with_env(env);
            if key.is_some() || secret.is_some() || token.is_some() {
                let mut text = String::from("[default]\n");
                for (name, entry, value) in [
                    ("accessKeyId", "aws_access_key_id", key),
                    ("secretKeyId", "aws_secret_access_key", secret),
                    ("sessionToken", "aws_session_token", token),
                ] {
                    if let Some(v) = value {
                        text.push_str(&format!("{entry} = {}\n", ini_value(name, v)?));
                    }
                }
                extra =
                    extra.credentials_file(".aws-credentials", text, "AWS_SHARED_CREDENTIALS_FILE");
            }
            kit::run(
                ctx,
                &self.props,
                &AWS,
                Body::Commands(&self.commands),
                extra,
            )
            .await
        })
    }
}
