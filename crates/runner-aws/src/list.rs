//! `io.kestra.plugin.aws.s3.List`: the objects under a prefix, filtered.

use crate::connection::{Connection, S3, describe};
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::json;

pub(crate) const LIST: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.aws.s3.List",
    aliases: &[],
    doc: "List the objects of a bucket under a prefix. Output: `objects`.",
    example: "id: list\ntype: io.kestra.plugin.aws.s3.List\nbucket: my-bucket\nprefix: data/",
    shape: runnable::<List>(),
};

/// What to list; Download's multi-file mode uses it too.
#[derive(Deserialize, Default, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Selection {
    /// Only keys starting with this.
    prefix: Option<Property<String>>,
    /// Group keys by this (usually `/`).
    delimiter: Option<Property<String>>,
    /// Start after this key.
    marker: Option<Property<String>>,
    /// Accepted; keys are returned decoded.
    #[allow(dead_code)]
    encoding_type: Option<Property<String>>,
    /// At most this many keys listed in total (default 1000).
    max_keys: Option<Property<u32>>,
    /// The account expected to own the bucket.
    expected_bucket_owner: Option<Property<String>>,
    /// Only keys matching this regular expression (whole key).
    regexp: Option<Property<String>>,
    /// Files, directories (keys ending in `/`) or both (List's default; Download takes files).
    filter: Option<Property<Filter>>,
    /// Keep at most this many objects (default 25), with a warning.
    max_files: Option<Property<u32>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Filter {
    Files,
    Directory,
    Both,
}

impl Selection {
    pub(crate) fn is_set(&self) -> bool {
        self.prefix.is_some() || self.delimiter.is_some() || self.regexp.is_some()
    }

    /// The matching objects, as `{key, etag, size, lastModified}`.
    pub(crate) async fn objects(
        &self,
        ctx: &RunContext,
        s3: &S3,
        forced: Option<Filter>,
    ) -> Result<Vec<Json>, TaskError> {
        let prefix = ctx.render_opt(&self.prefix, "prefix")?;
        let delimiter = ctx.render_opt(&self.delimiter, "delimiter")?;
        let marker = ctx.render_opt(&self.marker, "marker")?;
        let max_keys = ctx.render_opt(&self.max_keys, "maxKeys")?.unwrap_or(1000) as usize;
        let owner = ctx.render_opt(&self.expected_bucket_owner, "expectedBucketOwner")?;
        let regexp = match ctx.render_opt(&self.regexp, "regexp")? {
            Some(r) => Some(regex::Regex::new(&format!("^(?:{r})$")).map_err(|e| {
                TaskError::property(
                    "regexp",
                    format!("`{r}` is not a valid regular expression: {e}"),
                )
            })?),
            None => None,
        };
        let filter = forced.unwrap_or(
            ctx.render_opt(&self.filter, "filter")?
                .unwrap_or(Filter::Both),
        );
        let max_files = ctx.render_opt(&self.max_files, "maxFiles")?.unwrap_or(25) as usize;
        let what = format!("the listing of `{}`", prefix.as_deref().unwrap_or(""));
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = s3
                .client
                .list_objects_v2()
                .bucket(&s3.bucket)
                .set_prefix(prefix.clone())
                .set_delimiter(delimiter.clone())
                .set_start_after(marker.clone())
                .set_expected_bucket_owner(owner.clone())
                .set_continuation_token(token.take())
                .max_keys((max_keys - keys.len()).min(1000) as i32)
                .send()
                .await
                .map_err(|e| describe(&e, s3, &what))?;
            for o in page.contents() {
                keys.push(o.clone());
            }
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() || keys.len() >= max_keys || !page.is_truncated().unwrap_or(false) {
                break;
            }
        }
        keys.truncate(max_keys);
        let mut out: Vec<Json> = keys
            .into_iter()
            .filter(|o| {
                let key = o.key().unwrap_or("");
                let dir = key.ends_with('/');
                let kind_ok = match filter {
                    Filter::Files => !dir,
                    Filter::Directory => dir,
                    Filter::Both => true,
                };
                kind_ok && regexp.as_ref().is_none_or(|r| r.is_match(key))
            })
            .map(|o| {
                json!({
                    "key": o.key(),
                    "etag": o.e_tag(),
                    "size": o.size(),
                    "lastModified": o.last_modified().map(|d| d.to_string()),
                    "owner": o.owner().map(|w| json!({"id": w.id(), "displayName": w.display_name()})),
                })
            })
            .collect();
        if out.len() > max_files {
            ctx.log(
                Level::Warn,
                &format!(
                    "{} objects match; keeping the first {max_files} (maxFiles)",
                    out.len()
                ),
            );
            out.truncate(max_files);
        }
        Ok(out)
    }
}

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct List {
    #[serde(flatten)]
    connection: Connection,
    #[serde(flatten)]
    selection: Selection,
}

impl RunnableTask for List {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let s3 = self.connection.connect(ctx).await?;
            let objects = self.selection.objects(ctx, &s3, None).await?;
            Ok(Outputs::from_iter([(
                "objects".to_string(),
                Json::Array(objects),
            )]))
        })
    }
}
