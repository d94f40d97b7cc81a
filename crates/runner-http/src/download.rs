//! `io.kestra.plugin.core.http.Download`: the response body streamed into storage, whatever
//! its size; a transfer that fails halfway leaves no file.

use crate::client::send_error;
use crate::request::{HttpProps, headers_json, refuse};
use futures_util::StreamExt;
use runner_core::plugin::*;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

pub(crate) const DOWNLOAD: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.core.http.Download",
    aliases: &["io.kestra.plugin.fs.http.Download"],
    doc: "Download a file over HTTP into internal storage (streamed); `uri` is the stored file.",
    example: "id: fetch\ntype: io.kestra.plugin.core.http.Download\nuri: https://example.com/data/orders.csv",
    shape: runnable::<Download>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Download {
    #[serde(flatten)]
    http: HttpProps,
    /// Fail when the body is empty (default true).
    fail_on_empty_response: Option<Property<bool>>,
    /// The stored file's name (default: from `Content-Disposition`, else a generated one).
    save_as: Option<Property<String>>,
}

impl RunnableTask for Download {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let prepared = self.http.prepare(ctx)?;
            let fail_on_empty = ctx
                .render_opt(&self.fail_on_empty_response, "failOnEmptyResponse")?
                .unwrap_or(true);
            let save_as = ctx.render_opt(&self.save_as, "saveAs")?;
            let response = prepared.send(ctx).await?;
            let code = response.status().as_u16();
            if !prepared.settings.accepts(code) {
                return Err(refuse(response).await);
            }
            let headers = headers_json(response.headers());
            let expected = response.content_length();
            let disposition = response
                .headers()
                .get(reqwest::header::CONTENT_DISPOSITION)
                .and_then(|v| v.to_str().ok())
                .and_then(file_name_of);
            let name = match (save_as, disposition) {
                (Some(n), _) => n,
                (None, Some(n)) => n,
                (None, None) => format!(
                    "{}{}",
                    runner_core::ids::random_u64(),
                    extension_of(prepared.url.path())
                ),
            };
            if name.contains('/') || name == ".." || name.is_empty() {
                return Err(TaskError::property(
                    "saveAs",
                    format!("`{name}` is not a file name (no folders)"),
                ));
            }
            let uri = ctx.output_file_uri(&name);
            let path = ctx.storage().path(&uri).map_err(|e| {
                TaskError::new(ErrorKind::Io, "cannot place the downloaded file").caused_by(e)
            })?;
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await.map_err(|e| {
                    TaskError::new(ErrorKind::Io, "cannot create the storage folder").caused_by(e)
                })?;
            }
            let part = path.with_extension(format!(
                "{}part",
                path.extension()
                    .map(|e| format!("{}.", e.to_string_lossy()))
                    .unwrap_or_default()
            ));
            let guard = PartialFile::new(part.clone());
            let mut file = tokio::fs::File::create(&part).await.map_err(|e| {
                TaskError::new(ErrorKind::Io, "cannot create the downloaded file").caused_by(e)
            })?;
            let mut received: u64 = 0;
            let progress = ctx.progress("downloading", ProgressUnit::Bytes, expected);
            let mut stream = response.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| {
                    let mut err = send_error(prepared.url.as_str(), e);
                    if let TaskError::Plugin { message, .. } = &mut err {
                        message.push_str(&format!(" after {received} bytes of the body"));
                    }
                    err
                })?;
                file.write_all(&chunk).await.map_err(|e| {
                    TaskError::new(ErrorKind::Io, "cannot write the downloaded file").caused_by(e)
                })?;
                received += chunk.len() as u64;
                progress.set(received);
            }
            drop(progress);
            file.flush().await.map_err(|e| {
                TaskError::new(ErrorKind::Io, "cannot write the downloaded file").caused_by(e)
            })?;
            drop(file);
            if let Some(len) = expected
                && len != received
            {
                return Err(TaskError::failed(format!(
                    "Invalid size, got {received}, expected {len}"
                )));
            }
            if received == 0 {
                if fail_on_empty && !prepared.settings.allow_failed {
                    return Err(TaskError::failed("No response from server"));
                }
                ctx.log(Level::Warn, &format!("File '{uri}' is empty"));
            }
            tokio::fs::rename(&part, &path).await.map_err(|e| {
                TaskError::new(ErrorKind::Io, "cannot keep the downloaded file").caused_by(e)
            })?;
            guard.keep();
            let mut out = Outputs::new();
            out.insert("uri".into(), Json::String(uri));
            out.insert("code".into(), Json::from(code));
            out.insert("length".into(), Json::from(received));
            out.insert("headers".into(), headers);
            Ok(out)
        })
    }
}

/// The file name a `Content-Disposition` gives, by Kestra's rules: `filename*=` or
/// `filename=`, quotes and any folder removed, spaces as `+`, `[` `]` %-encoded.
pub(crate) fn file_name_of(header: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    for param in header.split(';').map(str::trim) {
        let Some((k, v)) = param.split_once('=') else {
            continue;
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "filename*" => {
                // charset'language'percent-encoded
                let v = v.trim().trim_matches('"');
                let encoded = v.splitn(3, '\'').nth(2).unwrap_or(v);
                extended = Some(percent_decode(encoded));
            }
            "filename" => plain = Some(v.trim().trim_matches('"').to_string()),
            _ => {}
        }
    }
    let name = extended.or(plain)?;
    let name = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    if name.is_empty() || name == "." || name == ".." {
        return None;
    }
    Some(
        name.replace(' ', "+")
            .replace('[', "%5B")
            .replace(']', "%5D"),
    )
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&text[i + 1..(i + 3).min(text.len())], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The extension of the URI path's last segment (`.csv`), or none.
fn extension_of(path: &str) -> String {
    let last = path.rsplit('/').next().unwrap_or("");
    match last.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty()
                && !ext.is_empty()
                && ext.len() <= 10
                && ext.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            format!(".{ext}")
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_content_disposition() {
        assert_eq!(
            file_name_of(r#"attachment; filename="report 2026.csv""#).as_deref(),
            Some("report+2026.csv")
        );
        assert_eq!(
            file_name_of("attachment; filename=../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            file_name_of(
                "attachment; filename=\"a.txt\"; filename*=UTF-8''%C3%A9t%C3%A9%20[1].txt"
            )
            .as_deref(),
            Some("été+%5B1%5D.txt")
        );
        assert_eq!(file_name_of("inline"), None);
        assert_eq!(file_name_of("attachment; filename=\"..\""), None);
    }

    #[test]
    fn extensions_come_from_the_last_segment() {
        assert_eq!(extension_of("/data/orders.csv"), ".csv");
        assert_eq!(extension_of("/data/"), "");
        assert_eq!(extension_of("/v1.2/items"), "");
        assert_eq!(extension_of("/.hidden"), "");
    }
}
