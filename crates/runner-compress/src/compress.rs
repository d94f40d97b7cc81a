//! `ArchiveCompress` (storage files into one archive) and `FileCompress` (one stream).

use crate::codec::{self, Archive, Compression};
use crate::decompress::literal;
use crate::stream::{self, Budget, Failure};
use runner_core::plugin::*;
use serde::Deserialize;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

pub(crate) const ARCHIVE_COMPRESS: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.compress.ArchiveCompress",
    aliases: &[],
    doc: "Pack storage or namespace files into a ZIP, JAR or TAR archive, optionally compressed (TAR with GZIP is a `.tar.gz`). `from` maps each entry's name to its file. Output: `uri`.",
    example: "id: archive\ntype: io.kestra.plugin.compress.ArchiveCompress\nfrom:\n  data/users.csv: \"{{ outputs.extract.uri }}\"\n  README.md: nsfile:///README.md\nalgorithm: TAR\ncompression: GZIP",
    shape: runnable::<ArchiveCompress>(),
};

pub(crate) const FILE_COMPRESS: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.compress.FileCompress",
    aliases: &[],
    doc: "Compress one file of the execution's storage (GZIP, BZIP2, XZ, LZMA, ZSTD, LZ4FRAME, SNAPPYFRAME, DEFLATE). Output: `uri`.",
    example: "id: gzip\ntype: io.kestra.plugin.compress.FileCompress\nfrom: \"{{ outputs.extract.uri }}\"\ncompression: GZIP",
    shape: runnable::<FileCompress>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ArchiveCompress {
    /// Each entry's name in the archive (folders with `/`) to its `kestra://` or `nsfile://`
    /// file: a map, or a JSON string of one.
    #[prop(type = "map of entry name to file URI")]
    from: Property<Json>,
    /// The archive format: ZIP, JAR or TAR (Kestra's AR and CPIO are not supported).
    algorithm: Property<Archive>,
    /// A compressor around the archive (GZIP for `.tar.gz`).
    compression: Option<Property<Compression>>,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct FileCompress {
    /// The `kestra://` file to compress.
    from: Property<String>,
    /// The compressor.
    compression: Property<Compression>,
}

impl RunnableTask for ArchiveCompress {
    fn check(&self) -> Result<(), String> {
        if let Some(a) = literal(&self.algorithm) {
            a.supported()?;
        }
        if let Some(c) = self.compression.as_ref().and_then(literal) {
            codec::check_writable(c)?;
        }
        Ok(())
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let archive = ctx.render(&self.algorithm, "algorithm")?;
            archive
                .supported()
                .map_err(|why| TaskError::property("algorithm", why))?;
            let compression = ctx.render_opt(&self.compression, "compression")?;
            if let Some(c) = compression {
                codec::check_writable(c).map_err(|why| TaskError::property("compression", why))?;
            }
            let entries = entries(ctx, ctx.render(&self.from, "from")?)?;
            let ext = match compression {
                Some(c) => format!("{}.{}", archive.extension(), c.extension()),
                None => archive.extension().to_string(),
            };
            let (uri, path) = stream::output_file(ctx, &ext)?;
            let progress = ctx.progress("packing", ProgressUnit::Bytes, None);
            let done = stream::blocking(&uri, move |stop| {
                let partial = PartialFile::new(&path);
                pack(archive, compression, &entries, &path, stop)?;
                Ok(partial)
            })
            .await;
            drop(progress);
            done?.keep();
            let mut outputs = Outputs::new();
            outputs.insert("uri".into(), Json::String(uri));
            Ok(outputs)
        })
    }
}

/// The entries `from` names, checked: each name a relative path inside the archive, each file
/// one this execution may read.
fn entries(ctx: &RunContext, from: Json) -> Result<Vec<(String, PathBuf)>, TaskError> {
    let map = match from {
        Json::Object(map) => map,
        Json::String(text) if text.trim_start().starts_with('{') => {
            match serde_json::from_str::<Json>(&text) {
                Ok(Json::Object(map)) => map,
                _ => {
                    return Err(TaskError::property(
                        "from",
                        "the string is not a JSON map of entry name to file URI",
                    ));
                }
            }
        }
        Json::String(text) if text.starts_with("kestra://") => {
            return Err(TaskError::new(
                ErrorKind::Unsupported,
                "`from`: an Ion file of entries is not supported by runner",
            )
            .hint("give `from` as a map of entry name to file URI"));
        }
        _ => {
            return Err(TaskError::property(
                "from",
                "must be a map of entry name to file URI",
            ));
        }
    };
    if map.is_empty() {
        return Err(TaskError::property(
            "from",
            "names no file: the archive would be empty",
        ));
    }
    let mut out = Vec::with_capacity(map.len());
    for (name, value) in map {
        let property = format!("from.{name}");
        let unified = name.replace('\\', "/");
        if name.is_empty()
            || unified.starts_with('/')
            || unified.split('/').any(|s| s == "..")
            || unified.ends_with('/')
        {
            return Err(TaskError::property(
                &property,
                "an entry name is a relative file path inside the archive (no leading `/`, no `..`)",
            ));
        }
        let Json::String(file) = value else {
            return Err(TaskError::property(
                &property,
                "must be a `kestra://` or `nsfile://` file URI",
            ));
        };
        let path = if file.starts_with("kestra://") {
            ctx.execution_file_path(&file)?
        } else if let Some(rest) = file.strip_prefix("nsfile://") {
            ctx.namespace_file_path(rest)?
        } else {
            return Err(TaskError::property(
                &property,
                format!("`{file}` is not a `kestra://` or `nsfile://` file URI"),
            ));
        };
        out.push((unified, path));
    }
    Ok(out)
}

/// Writes the archive, on the blocking thread.
fn pack(
    archive: Archive,
    compression: Option<Compression>,
    entries: &[(String, PathBuf)],
    path: &Path,
    stop: &AtomicBool,
) -> Result<(), Failure> {
    let file = stream::create(path)?;
    let write_err = |e: std::io::Error| Failure::Write(path.to_path_buf(), e);
    match (archive, compression) {
        (Archive::Zip | Archive::Jar, None) => {
            let mut zip = zip::ZipWriter::new(BufWriter::with_capacity(256 << 10, file));
            zip_entries(&mut zip, entries, path, stop)?;
            zip.finish()
                .map_err(|e| write_err(std::io::Error::other(e.to_string())))?
                .flush()
                .map_err(write_err)?;
        }
        (Archive::Zip | Archive::Jar, Some(c)) => {
            let encoder =
                codec::encoder(c, BufWriter::with_capacity(256 << 10, file)).map_err(write_err)?;
            let mut zip = zip::ZipWriter::new_stream(encoder);
            zip_entries(&mut zip, entries, path, stop)?;
            let encoder = zip
                .finish()
                .map_err(|e| write_err(std::io::Error::other(e.to_string())))?
                .into_inner();
            encoder.finish().map_err(write_err)?;
        }
        (Archive::Tar, c) => {
            let sink: Box<dyn codec::Encoder> = match c {
                None => Box::new(Plain(BufWriter::with_capacity(256 << 10, file))),
                Some(c) => codec::encoder(c, BufWriter::with_capacity(256 << 10, file))
                    .map_err(write_err)?,
            };
            let mut tar = tar::Builder::new(sink);
            for (name, source) in entries {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    return Err(Failure::Cancelled);
                }
                let mut file = std::fs::File::open(source)
                    .map_err(|e| Failure::Read(format!("`{name}`"), e))?;
                let meta = file
                    .metadata()
                    .map_err(|e| Failure::Read(format!("`{name}`"), e))?;
                let mut header = tar::Header::new_gnu();
                header.set_metadata(&meta);
                header.set_mode(0o644);
                header.set_size(meta.len());
                tar.append_data(
                    &mut header,
                    name,
                    &mut Counted {
                        inner: &mut file,
                        stop,
                    },
                )
                .map_err(|e| {
                    if e.kind() == std::io::ErrorKind::Interrupted {
                        Failure::Cancelled
                    } else {
                        write_err(e)
                    }
                })?;
            }
            tar.into_inner()
                .map_err(write_err)?
                .finish()
                .map_err(write_err)?;
        }
        (other, _) => {
            return Err(Failure::Entry(
                other.name().into(),
                other.supported().unwrap_err(),
            ));
        }
    }
    Ok(())
}

fn zip_entries<W: Write + std::io::Seek>(
    zip: &mut zip::ZipWriter<W>,
    entries: &[(String, PathBuf)],
    path: &Path,
    stop: &AtomicBool,
) -> Result<(), Failure> {
    for (name, source) in entries {
        let mut file =
            std::fs::File::open(source).map_err(|e| Failure::Read(format!("`{name}`"), e))?;
        let size = file
            .metadata()
            .map_err(|e| Failure::Read(format!("`{name}`"), e))?
            .len();
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o644)
            .large_file(size >= u32::MAX as u64);
        zip.start_file(name.as_str(), options).map_err(|e| {
            Failure::Write(path.to_path_buf(), std::io::Error::other(e.to_string()))
        })?;
        let mut budget = Budget::unlimited();
        stream::copy(
            &mut file,
            zip,
            path,
            &format!("`{name}`"),
            &mut budget,
            stop,
        )?;
    }
    Ok(())
}

/// A plain (uncompressed) sink with the encoders' interface.
struct Plain<W: Write + Send>(W);

impl<W: Write + Send> Write for Plain<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write + Send> codec::Encoder for Plain<W> {
    fn finish(mut self: Box<Self>) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// A reader that stops (with `Interrupted`) once the task is cancelled.
struct Counted<'a, R> {
    inner: &'a mut R,
    stop: &'a AtomicBool,
}

impl<R: std::io::Read> std::io::Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.stop.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "cancelled",
            ));
        }
        self.inner.read(buf)
    }
}

impl RunnableTask for FileCompress {
    fn check(&self) -> Result<(), String> {
        match literal(&self.compression) {
            Some(c) => codec::check_writable(c),
            None => Ok(()),
        }
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            let compression = ctx.render(&self.compression, "compression")?;
            codec::check_writable(compression)
                .map_err(|why| TaskError::property("compression", why))?;
            let source = ctx.execution_file_path(&from)?;
            let inner = from
                .rsplit('/')
                .next()
                .and_then(|n| n.rsplit_once('.'))
                .map(|(_, e)| e)
                .filter(|e| {
                    !e.is_empty() && e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric())
                })
                .unwrap_or("tmp");
            let (uri, path) =
                stream::output_file(ctx, &format!("{inner}.{}", compression.extension()))?;
            let progress = ctx.progress("compressing", ProgressUnit::Bytes, None);
            let done = stream::blocking(&from, move |stop| {
                let mut file = std::fs::File::open(&source)
                    .map_err(|e| Failure::Read("the file".into(), e))?;
                let partial = PartialFile::new(&path);
                let out = stream::create(&path)?;
                let mut encoder =
                    codec::encoder(compression, BufWriter::with_capacity(256 << 10, out))
                        .map_err(|e| Failure::Write(path.clone(), e))?;
                let mut budget = Budget::unlimited();
                stream::copy(
                    &mut file,
                    &mut encoder,
                    &path,
                    "the file",
                    &mut budget,
                    stop,
                )?;
                encoder
                    .finish()
                    .map_err(|e| Failure::Write(path.clone(), e))?;
                Ok(partial)
            })
            .await;
            drop(progress);
            done?.keep();
            let mut outputs = Outputs::new();
            outputs.insert("uri".into(), Json::String(uri));
            Ok(outputs)
        })
    }
}
