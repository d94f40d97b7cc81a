//! `io.kestra.plugin.aws.s3.Delete`: removes one object.

use crate::connection::{Connection, describe};
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::json;

pub(crate) const DELETE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.aws.s3.Delete",
    aliases: &[],
    doc: "Delete one object. Outputs: `versionId`, `deleteMarker`.",
    example: "id: rm\ntype: io.kestra.plugin.aws.s3.Delete\nbucket: my-bucket\nkey: data/old.csv",
    shape: runnable::<Delete>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Delete {
    #[serde(flatten)]
    connection: Connection,
    /// The object to delete.
    key: Property<String>,
    /// Bypass governance-mode object lock.
    bypass_governance_retention: Option<Property<bool>>,
    /// MFA token for versioned buckets.
    mfa: Option<Property<String>>,
    /// requester, for requester-pays buckets.
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
