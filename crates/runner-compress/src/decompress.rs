//! `ArchiveDecompress` (every file of an archive to storage, by entry name) and
//! `FileDecompress` (one stream).

use crate::codec::{self, Archive, Compression};
use crate::stream::{self, Budget, Failure, MAX_ENTRIES};
use runner_core::plugin::*;
use serde::Deserialize;
use serde_json::Map;
use std::collections::HashSet;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

pub(crate) const ARCHIVE_DECOMPRESS: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.compress.ArchiveDecompress",
    aliases: &[],
    doc: "Unpack a ZIP, JAR or TAR archive (optionally compressed, as in `.tar.gz`) of the execution's storage: every file becomes a storage file. Output: `files`, entry name to `kestra://` URI. Entries that would escape (`..`, absolute paths) and decompression bombs are refused.",
    example: "id: unzip\ntype: io.kestra.plugin.compress.ArchiveDecompress\nfrom: \"{{ outputs.download.uri }}\"\nalgorithm: TAR\ncompression: GZIP",
    shape: runnable::<ArchiveDecompress>(),
};

pub(crate) const FILE_DECOMPRESS: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.compress.FileDecompress",
    aliases: &[],
    doc: "Decompress one file of the execution's storage (GZIP, BZIP2, XZ, LZMA, ZSTD, LZ4FRAME, SNAPPYFRAME, DEFLATE, BROTLI). Output: `uri`.",
    example: "id: gunzip\ntype: io.kestra.plugin.compress.FileDecompress\nfrom: \"{{ outputs.download.uri }}\"\ncompression: GZIP",
    shape: runnable::<FileDecompress>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ArchiveDecompress {
    /// The `kestra://` archive file.
    from: Property<String>,
    /// The archive format: ZIP, JAR or TAR (Kestra's AR, ARJ, CPIO and DUMP are not supported).
    algorithm: Property<Archive>,
    /// The compressor around the archive, if any (GZIP for `.tar.gz`).
    compression: Option<Property<Compression>>,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct FileDecompress {
    /// The `kestra://` compressed file.
    from: Property<String>,
    /// How the file is compressed.
    compression: Property<Compression>,
}

/// A literal enum value, for checks while validating.
pub(crate) fn literal<T: serde::de::DeserializeOwned>(p: &Property<T>) -> Option<T> {
    if p.is_dynamic() {
        return None;
    }
    serde_json::from_value(p.raw().clone()).ok()
}

impl RunnableTask for ArchiveDecompress {
    fn check(&self) -> Result<(), String> {
        if let Some(a) = literal(&self.algorithm) {
            a.supported()?;
        }
        if let Some(c) = self.compression.as_ref().and_then(literal) {
            codec::check_readable(c)?;
        }
        Ok(())
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            let archive = ctx.render(&self.algorithm, "algorithm")?;
            archive
                .supported()
                .map_err(|why| TaskError::property("algorithm", why))?;
            let compression = ctx.render_opt(&self.compression, "compression")?;
            if let Some(c) = compression {
                codec::check_readable(c).map_err(|why| TaskError::property("compression", why))?;
            }
            let source = ctx.execution_file_path(&from)?;
            // Entry files are named under this task run's folder, like its other outputs.
            let marker = "__entry__";
            let template = ctx.output_file_uri(marker);
            let prefix = template[..template.len() - marker.len()].to_string();
            let storage = ctx.storage().clone();
            let scratch = ctx.working_dir()?.path().to_path_buf();
            let progress = ctx.progress("unpacking", ProgressUnit::Bytes, None);
            let unpacked = stream::blocking(&from, move |stop| {
                let job = Unpack {
                    storage,
                    prefix,
                    stop,
                    used: HashSet::new(),
                    files: Vec::new(),
                    kept: Vec::new(),
                    skipped: Vec::new(),
                    size: 0,
                };
                job.run(archive, compression, &source, &scratch)
            })
            .await;
            drop(progress);
            let unpacked = unpacked?;
            for note in &unpacked.skipped {
                ctx.log(Level::Warn, note);
            }
            let count = unpacked.files.len();
            let mut files = Map::new();
            for (name, uri) in unpacked.files {
                files.insert(name, Json::String(uri));
            }
            for file in unpacked.kept {
                file.keep();
            }
            for (name, value) in [("count", count as f64), ("size", unpacked.size as f64)] {
                ctx.metric(Metric {
                    name: name.into(),
                    kind: MetricKind::Counter,
                    value,
                    tags: Map::new(),
                });
            }
            let mut outputs = Outputs::new();
            outputs.insert("files".into(), Json::Object(files));
            Ok(outputs)
        })
    }
}

/// What an unpacking produced.
struct Unpacked {
    files: Vec<(String, String)>,
    kept: Vec<PartialFile>,
    skipped: Vec<String>,
    size: u64,
}

/// One unpacking, on the blocking thread.
struct Unpack<'a> {
    storage: Storage,
    prefix: String,
    stop: &'a AtomicBool,
    /// Storage names given so far: an entry whose base name is taken goes in a numbered folder
    /// (Kestra overwrites the earlier one).
    used: HashSet<String>,
    files: Vec<(String, String)>,
    kept: Vec<PartialFile>,
    skipped: Vec<String>,
    size: u64,
}

impl Unpack<'_> {
    fn run(
        mut self,
        archive: Archive,
        compression: Option<Compression>,
        source: &Path,
        scratch: &Path,
    ) -> Result<Unpacked, Failure> {
        let input = std::fs::metadata(source)
            .map_err(|e| Failure::Read("the archive".into(), e))?
            .len();
        let mut budget = Budget::for_input(input);
        let file =
            std::fs::File::open(source).map_err(|e| Failure::Read("the archive".into(), e))?;
        match archive {
            Archive::Zip | Archive::Jar => {
                // The central directory is read, which needs the plain archive on disk: a
                // compressed one is decompressed beside the working directory first.
                let _plain;
                let zip_file = match compression {
                    None => file,
                    Some(c) => {
                        let path = scratch.join(format!("{}.zip", runner_core::ids::random_u64()));
                        _plain = PartialFile::new(&path);
                        let mut reader = codec::decoder(c, BufReader::new(file))
                            .map_err(|e| Failure::Read("the archive".into(), e))?;
                        let mut out = stream::create(&path)?;
                        let mut unpack_budget = Budget::for_input(input);
                        stream::copy(
                            &mut reader,
                            &mut out,
                            &path,
                            "the archive",
                            &mut unpack_budget,
                            self.stop,
                        )?;
                        std::fs::File::open(&path)
                            .map_err(|e| Failure::Read("the archive".into(), e))?
                    }
                };
                self.zip(zip_file, &mut budget)?;
            }
            Archive::Tar => {
                let reader: Box<dyn Read + Send> = match compression {
                    None => Box::new(BufReader::new(file)),
                    Some(c) => codec::decoder(c, BufReader::new(file))
                        .map_err(|e| Failure::Read("the archive".into(), e))?,
                };
                self.tar(reader, &mut budget)?;
            }
            other => {
                return Err(Failure::Entry(
                    other.name().into(),
                    other.supported().unwrap_err(),
                ));
            }
        }
        Ok(Unpacked {
            files: self.files,
            kept: self.kept,
            skipped: self.skipped,
            size: self.size,
        })
    }

    fn zip(&mut self, file: std::fs::File, budget: &mut Budget) -> Result<(), Failure> {
        let mut zip = zip::ZipArchive::new(file)
            .map_err(|e| Failure::Read("the ZIP archive".into(), zip_io(e)))?;
        if zip.len() > MAX_ENTRIES {
            return Err(Failure::TooManyEntries);
        }
        for i in 0..zip.len() {
            let name = zip
                .name_for_index(i)
                .and_then(Result::ok)
                .map(|n| n.to_string())
                .unwrap_or_default();
            let mut entry = match zip.by_index(i) {
                Ok(e) => e,
                Err(zip::result::ZipError::UnsupportedArchive(why)) => {
                    return Err(Failure::Entry(name, why.to_string()));
                }
                Err(e) => return Err(Failure::Read("the ZIP archive".into(), zip_io(e))),
            };
            if entry.is_dir() {
                continue;
            }
            if entry.is_symlink() {
                self.skipped
                    .push(format!("skipped `{name}`: a symbolic link, not a file"));
                continue;
            }
            self.entry(&name, &mut entry, budget)?;
        }
        Ok(())
    }

    fn tar(&mut self, reader: Box<dyn Read + Send>, budget: &mut Budget) -> Result<(), Failure> {
        let mut archive = tar::Archive::new(reader);
        let entries = archive
            .entries()
            .map_err(|e| Failure::Read("the TAR archive".into(), e))?;
        let mut count = 0usize;
        for entry in entries {
            let mut entry = entry.map_err(|e| Failure::Read("the TAR archive".into(), e))?;
            count += 1;
            if count > MAX_ENTRIES {
                return Err(Failure::TooManyEntries);
            }
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            use tar::EntryType as T;
            match entry.header().entry_type() {
                T::Regular | T::Continuous | T::GNUSparse => {}
                T::Directory => continue,
                T::Symlink | T::Link => {
                    self.skipped
                        .push(format!("skipped `{name}`: a link, not a file"));
                    continue;
                }
                _ => {
                    self.skipped
                        .push(format!("skipped `{name}`: not a regular file"));
                    continue;
                }
            }
            self.entry(&name, &mut entry, budget)?;
        }
        Ok(())
    }

    /// Writes one entry's bytes to a new storage file.
    fn entry(
        &mut self,
        name: &str,
        data: &mut dyn Read,
        budget: &mut Budget,
    ) -> Result<(), Failure> {
        let base = safe_base_name(name)?;
        let Some(base) = base else {
            return Ok(());
        };
        let mut stored = base.clone();
        let mut n = 1;
        while !self.used.insert(stored.clone()) {
            n += 1;
            stored = format!("{n}/{base}");
        }
        let uri = format!("{}{stored}", self.prefix);
        let path = self.storage.path(&uri).map_err(|e| {
            Failure::Write(PathBuf::from(&uri), std::io::Error::other(e.to_string()))
        })?;
        let mut out = std::io::BufWriter::with_capacity(256 << 10, stream::create(&path)?);
        self.kept.push(PartialFile::new(&path));
        let what = format!("entry `{name}` of the archive");
        self.size += stream::copy(data, &mut out, &path, &what, budget, self.stop)?;
        use std::io::Write;
        out.flush().map_err(|e| Failure::Write(path.clone(), e))?;
        self.files.push((name.to_string(), uri));
        Ok(())
    }
}

/// The storage name of an entry, as Kestra makes it: spaces become `_`, and the last path
/// segment is kept. An entry that would leave the folder it unpacks into (an absolute path, a
/// `..` segment, a drive) is refused. `None` for a name with no file part.
fn safe_base_name(name: &str) -> Result<Option<String>, Failure> {
    let sanitized = name.replace(' ', "_");
    let unified = sanitized.replace('\\', "/");
    let escapes = unified.starts_with('/')
        || unified.split('/').any(|s| s == "..")
        || unified.as_bytes().get(1) == Some(&b':');
    if escapes {
        return Err(Failure::Traversal(name.to_string()));
    }
    let base = unified.rsplit('/').next().unwrap_or("");
    if base.is_empty() || base == "." {
        return Ok(None);
    }
    Ok(Some(base.to_string()))
}

fn zip_io(e: zip::result::ZipError) -> std::io::Error {
    match e {
        zip::result::ZipError::Io(e) => e,
        other => std::io::Error::new(std::io::ErrorKind::InvalidData, other.to_string()),
    }
}

impl RunnableTask for FileDecompress {
    fn check(&self) -> Result<(), String> {
        match literal(&self.compression) {
            Some(c) => codec::check_readable(c),
            None => Ok(()),
        }
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            let compression = ctx.render(&self.compression, "compression")?;
            codec::check_readable(compression)
                .map_err(|why| TaskError::property("compression", why))?;
            let source = ctx.execution_file_path(&from)?;
            let (uri, path) = stream::output_file(ctx, &inner_extension(&from, compression))?;
            let progress = ctx.progress("decompressing", ProgressUnit::Bytes, None);
            let done = stream::blocking(&from, move |stop| {
                let input = std::fs::metadata(&source)
                    .map_err(|e| Failure::Read("the file".into(), e))?
                    .len();
                let file = std::fs::File::open(&source)
                    .map_err(|e| Failure::Read("the file".into(), e))?;
                let mut reader = codec::decoder(compression, BufReader::new(file))
                    .map_err(|e| Failure::Read("the file".into(), e))?;
                let partial = PartialFile::new(&path);
                let mut out = std::io::BufWriter::with_capacity(256 << 10, stream::create(&path)?);
                let mut budget = Budget::for_input(input);
                stream::copy(&mut reader, &mut out, &path, "the file", &mut budget, stop)?;
                use std::io::Write;
                out.flush().map_err(|e| Failure::Write(path.clone(), e))?;
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

/// The extension of what `from` holds once decompressed: `data.csv.gz` gives `csv`; else
/// Kestra's `tmp`.
fn inner_extension(from: &str, compression: Compression) -> String {
    let name = from.rsplit('/').next().unwrap_or("");
    let stem = name
        .strip_suffix(&format!(".{}", compression.extension()))
        .unwrap_or("");
    match stem.rsplit_once('.') {
        Some((_, ext))
            if !ext.is_empty()
                && ext.len() <= 8
                && ext.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            ext.to_string()
        }
        _ => "tmp".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_become_kestras_storage_names_and_escapes_are_refused() {
        let ok = |n: &str| safe_base_name(n).unwrap();
        assert_eq!(
            ok("test txt folder/test txt file.txt").as_deref(),
            Some("test_txt_file.txt")
        );
        assert_eq!(ok("a/b/").as_deref(), None);
        assert_eq!(ok("./x.csv").as_deref(), Some("x.csv"));
        for bad in [
            "../evil.sh",
            "a/../../evil",
            "/etc/passwd",
            "..\\win.ini",
            "C:/x",
        ] {
            assert!(
                matches!(safe_base_name(bad), Err(Failure::Traversal(n)) if n == bad),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_decompressed_file_keeps_its_inner_extension() {
        assert_eq!(
            inner_extension("kestra:///a/b/123.csv.gz", Compression::Gzip),
            "csv"
        );
        assert_eq!(
            inner_extension("kestra:///a/b/123.gz", Compression::Gzip),
            "tmp"
        );
        assert_eq!(
            inner_extension("kestra:///a/b/123.csv", Compression::Gzip),
            "tmp"
        );
    }
}
