//! `io.kestra.plugin.aws.s3.CreateBucket`: makes a bucket.

use crate::connection::{Connection, describe};
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::json;

pub(crate) const CREATE_BUCKET: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.aws.s3.CreateBucket",
    aliases: &[],
    doc: "Create a bucket (outside us-east-1, in the connection's region). Outputs: `bucket`, `region`.",
    example: "id: mb\ntype: io.kestra.plugin.aws.s3.CreateBucket\nbucket: my-bucket\nregion: eu-central-1",
    shape: runnable::<CreateBucket>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateBucket {
    #[serde(flatten)]
    connection: Connection,
    /// A canned ACL: private, public-read, public-read-write, authenticated-read.
    acl: Option<Property<String>>,
    /// Who gets every permission on the bucket.
    grant_full_control: Option<Property<String>>,
    /// Who may list the bucket's objects.
    grant_read: Option<Property<String>>,
    /// Who may read the bucket's ACL.
    #[serde(rename = "grantReadACP")]
    grant_read_acp: Option<Property<String>>,
    /// Who may create, overwrite and delete objects.
    grant_write: Option<Property<String>>,
    /// Who may write the bucket's ACL.
    #[serde(rename = "grantWriteACP")]
    grant_write_acp: Option<Property<String>>,
    /// Create it with S3 Object Lock on.
    object_lock_enabled_for_bucket: Option<Property<bool>>,
}

impl RunnableTask for CreateBucket {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let s3 = self.connection.connect(ctx).await?;
            let region = s3
                .client
                .config()
                .region()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "us-east-1".to_string());
            let mut request = s3
                .client
                .create_bucket()
                .bucket(&s3.bucket)
                .set_acl(
                    ctx.render_opt(&self.acl, "acl")?
                        .map(|a| aws_sdk_s3::types::BucketCannedAcl::from(a.as_str())),
                )
                .set_grant_full_control(
                    ctx.render_opt(&self.grant_full_control, "grantFullControl")?,
                )
                .set_grant_read(ctx.render_opt(&self.grant_read, "grantRead")?)
                .set_grant_read_acp(ctx.render_opt(&self.grant_read_acp, "grantReadACP")?)
                .set_grant_write(ctx.render_opt(&self.grant_write, "grantWrite")?)
                .set_grant_write_acp(ctx.render_opt(&self.grant_write_acp, "grantWriteACP")?)
                .set_object_lock_enabled_for_bucket(ctx.render_opt(
                    &self.object_lock_enabled_for_bucket,
                    "objectLockEnabledForBucket",
                )?);
            // us-east-1 is S3's default and takes no location constraint; any other region
            // must be named, or AWS refuses the request.
            if region != "us-east-1" {
                request = request.create_bucket_configuration(
                    aws_sdk_s3::types::CreateBucketConfiguration::builder()
                        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                            region.as_str(),
                        ))
                        .build(),
                );
            }
            request
                .send()
                .await
                .map_err(|e| describe(&e, &s3, &format!("bucket `{}`", s3.bucket)))?;
            ctx.info(&format!("Created bucket {}", s3.bucket));
            Ok(Outputs::from_iter([
                ("bucket".to_string(), json!(s3.bucket)),
                ("region".to_string(), json!(region)),
            ]))
        })
    }
}
