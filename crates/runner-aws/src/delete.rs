//! `io.kestra.plugin.aws.s3.Delete`: removes one object.

use crate::connection::{Connection, describe, with_connection};
use runner_core::registry::{PropDoc, TaskDescriptor};
use runner_core::task::{BoxFuture, Outputs, RunnableTask, TaskKind};
use runner_core::{Property, RunContext, TaskError};
use serde::Deserialize;
use serde_json::json;

pub(crate) const DELETE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.aws.s3.Delete",
    aliases: &[],
    doc: "Delete one object. Outputs: `versionId`, `deleteMarker`.",
    properties: with_connection![
        PropDoc::value("key", "string", "The object to delete.").required(),
        PropDoc::value(
            "bypassGovernanceRetention",
            "boolean",
            "Bypass governance-mode object lock."
        ),
        PropDoc::value("mfa", "string", "MFA token for versioned buckets."),
        PropDoc::value(
            "requestPayer",
            "string",
            "requester, for requester-pays buckets."
        ),
    ],
    example: "id: rm\ntype: io.kestra.plugin.aws.s3.Delete\nbucket: my-bucket\nkey: data/old.csv",
    flowable: false,
    build: |b| Some(TaskKind::Runnable(Box::new(b.properties::<Delete>()?))),
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Delete {
    #[serde(flatten)]
    connection: Connection,
    key: Property<String>,
    bypass_governance_retention: Option<Property<bool>>,
    mfa: Option<Property<String>>,
    request_payer: Option<Property<String>>,
}

impl RunnableTask for Delete {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let key = ctx.render(&self.key, "key")?;
            let s3 = self.connection.connect(ctx).await?;
            let r = s3
                .client
                .delete_object()
                .bucket(&s3.bucket)
                .key(&key)
                .set_bypass_governance_retention(ctx.render_opt(
                    &self.bypass_governance_retention,
                    "bypassGovernanceRetention",
                )?)
                .set_mfa(ctx.render_opt(&self.mfa, "mfa")?)
                .set_request_payer(
                    ctx.render_opt(&self.request_payer, "requestPayer")?
                        .map(|p| aws_sdk_s3::types::RequestPayer::from(p.as_str())),
                )
                .send()
                .await
                .map_err(|e| describe(&e, &s3, &format!("`{key}`")))?;
            Ok(Outputs::from_iter([
                ("versionId".to_string(), json!(r.version_id)),
                ("deleteMarker".to_string(), json!(r.delete_marker)),
                (
                    "requestCharged".to_string(),
                    json!(r.request_charged.map(|c| c.as_str().to_string())),
                ),
            ]))
        })
    }
}
