//! Reading flow files (one file may hold several flows, as YAML documents) and validating them.

use crate::diagnostics::{Source, Style, render};
use runner_core::{Plan, Registry, validate};
use runner_model::{Diagnostic, Node, Problem, load_str};
use runner_template::Renderer;
use std::path::{Path, PathBuf};

/// A flow file as read from disk: its text (for snippets) and its documents.
pub(crate) struct FlowFile {
    pub(crate) path: PathBuf,
    pub(crate) text: Source,
    pub(crate) docs: Result<Vec<Node>, Diagnostic>,
}

/// The bytes of a file given on the command line: a regular file, of at most
/// `RUNNER_MAX_FILE_MB`. The message says which rule it broke.
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>, String> {
    let max = crate::limits::max_file()?;
    let shown = path.display();
    // Checked before opening: opening a FIFO waits for a writer that may never come.
    let kind = std::fs::metadata(path).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    if !kind.is_file() {
        return Err(format!(
            "`{shown}` is not a regular file (a folder, device or pipe): give a file"
        ));
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "`{shown}` is not a regular file (a folder, device or pipe): give a file"
        ));
    }
    let too_big = || {
        format!(
            "`{shown}` is larger than {} MiB: RUNNER_MAX_FILE_MB raises the limit",
            max / (1024 * 1024)
        )
    };
    if meta.len() > max {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    // Bounded also when the file grows while it is read.
    std::io::Read::read_to_end(&mut std::io::Read::take(file, max + 1), &mut bytes)
        .map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(too_big());
    }
    Ok(bytes)
}

/// [`read_bytes`] as UTF-8 text.
pub(crate) fn read_text(path: &Path) -> Result<String, String> {
    String::from_utf8(read_bytes(path)?).map_err(|e| {
        format!(
            "`{}` is not UTF-8 text (byte {} is not)",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// Reads and parses a flow file; `Err` when it cannot be read (its message is for the user).
pub(crate) fn read(path: &Path) -> Result<FlowFile, String> {
    let text = read_text(path)?;
    let docs = load_str(&text)
        .map_err(|e| Diagnostic::error(Problem::Yaml { message: e.message }, e.span, ""))
        .and_then(|docs| {
            let docs: Vec<Node> = docs.into_iter().filter(|d| !d.is_null()).collect();
            if docs.is_empty() {
                Err(Diagnostic::error(Problem::NoFlow, None, ""))
            } else {
                Ok(docs)
            }
        });
    Ok(FlowFile {
        path: path.to_path_buf(),
        text: Source::new(text),
        docs,
    })
}

/// Every .yaml/.yml file under the given paths, sorted; folders are searched recursively,
/// staying inside them: symbolic links are followed only to files within the folder, and
/// folders of another file system (`/proc`, `/sys`, mounts) are skipped. A given path that
/// does not exist is an error.
pub(crate) fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        let meta =
            std::fs::metadata(p).map_err(|e| format!("cannot read `{}`: {e}", p.display()))?;
        if meta.is_dir() {
            walk(p, &meta, &mut out).map_err(|e| format!("cannot list `{}`: {e}", p.display()))?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(root: &Path, root_meta: &std::fs::Metadata, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let canonical_root = std::fs::canonicalize(root)?;
    let mut todo = vec![root.to_path_buf()];
    let mut found = Vec::new();
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let p = entry?.path();
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let kind = meta.file_type();
            if kind.is_dir() {
                // A flow's namespace files (`_files`, as `run` reads them) are not flows, even
                // when they are YAML (a dbt project, a config).
                if same_device(&meta, root_meta) && !p.ends_with("_files") {
                    todo.push(p);
                }
            } else if !p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                continue;
            } else if kind.is_file()
                || (kind.is_symlink()
                    && std::fs::canonicalize(&p)
                        .is_ok_and(|t| t.starts_with(&canonical_root) && t.is_file()))
            {
                found.push(p);
            }
        }
    }
    found.sort();
    out.extend(found);
    Ok(())
}

#[cfg(unix)]
fn same_device(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev()
}

#[cfg(not(unix))]
fn same_device(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    true
}

/// Each flow of a file: its `namespace.id` when readable, and its plan when valid.
pub(crate) type Checked = Vec<(Option<String>, Option<Plan>)>;

/// Reads a flow file and validates each of its flows, printing every problem. `None` when the
/// file cannot be read.
/// How strictly `load` judges a flow.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Gate {
    /// Refuse what a Kestra server with only core plugins refuses (unknown trigger types).
    pub(crate) strict: bool,
    /// Kestra plugin task types runner lacks are warnings; the rest is checked.
    pub(crate) allow_unsupported: bool,
}

pub(crate) fn load(
    path: &Path,
    registry: &Registry,
    renderer: &Renderer,
    style: &Style,
    gate: Gate,
) -> Option<(FlowFile, Checked)> {
    let file = match read(path) {
        Ok(f) => f,
        Err(e) => {
            crate::say!("{}: {e}", style.error_label());
            return None;
        }
    };
    let docs = match &file.docs {
        Ok(docs) => docs,
        Err(d) => {
            crate::say_raw!("{}", render(d, &file.path, &file.text, style));
            return Some((file, vec![(None, None)]));
        }
    };
    let mut results = Vec::new();
    for doc in docs {
        // A test suite is checked as one (`runner test` runs it); it is not a flow.
        if runner_testsuite::is_test_suite(doc) {
            if let Err(problems) = runner_testsuite::read(doc) {
                for d in &problems {
                    crate::say_raw!("{}", render(d, &file.path, &file.text, style));
                }
            }
            results.push((None, None));
            continue;
        }
        let mut v = if gate.allow_unsupported {
            runner_core::validate_allowing_unsupported(doc, registry, renderer)
        } else {
            validate(doc, registry, renderer)
        };
        if gate.strict {
            // What a Kestra server with only core plugins refuses, and expressions that
            // cannot render: a CI gate must not pass a flow that fails on its first render.
            for d in &mut v.diagnostics {
                if matches!(
                    d.problem,
                    Problem::UnknownTriggerType { .. }
                        | Problem::UnknownConditionType { .. }
                        | Problem::Template { .. }
                ) {
                    d.severity = runner_model::Severity::Error;
                    v.plan = None;
                }
            }
        }
        for d in &v.diagnostics {
            crate::say_raw!("{}", render(d, &file.path, &file.text, style));
        }
        results.push((v.name, v.plan));
    }
    Some((file, results))
}

/// The `--env-file`s of a command, and the identity that opens the encrypted ones.
pub(crate) type EnvFiles = crate::cli::EnvFileArgs;

/// Where `runner secrets encrypt` keeps the identity it makes when given no recipient.
pub(crate) fn default_identity() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(config.join("runner").join("age-identity.txt"))
}

/// The identities that open `.age` env files: `--identity`, else `RUNNER_AGE_IDENTITY` (a
/// path, or the key itself), else the default identity file.
fn identities(given: Option<&Path>) -> Result<(PathBuf, runner_secrets::age::Identities), String> {
    let (path, text) = match (given, crate::seal::var("RUNNER_AGE_IDENTITY")) {
        (Some(p), _) => (p.to_path_buf(), read_text(p)?),
        (None, Some(v)) if v.trim_start().starts_with("AGE-SECRET-KEY-") => {
            (PathBuf::from("$RUNNER_AGE_IDENTITY"), v)
        }
        (None, Some(v)) if !v.is_empty() => (PathBuf::from(&v), read_text(Path::new(&v))?),
        _ => {
            let path = default_identity()
                .ok_or("no age identity: give --identity FILE or set RUNNER_AGE_IDENTITY")?;
            if !path.exists() {
                return Err(format!(
                    "no age identity at `{}`: give --identity FILE or set RUNNER_AGE_IDENTITY",
                    path.display()
                ));
            }
            let text = read_text(&path)?;
            (path, text)
        }
    };
    let ids = runner_secrets::age::identities(&path, &text).map_err(|e| e.to_string())?;
    Ok((path, ids))
}

/// The run's environment: the process's variables, then each `--env-file`, an age-encrypted
/// one decrypted in memory (it never reaches the disk in clear).
pub(crate) fn environment(env: &EnvFiles) -> Result<runner_core::Environment, String> {
    let plains = plain_texts(env)?;
    let texts: Vec<(&Path, &str)> = plains
        .iter()
        .map(|(p, t)| (p.as_path(), t.as_str()))
        .collect();
    runner_core::Environment::load(crate::seal::vars(), &texts).map_err(|e| e.to_string())
}

/// The values of `names`, in order: each from the last `--env-file` that sets it, else the
/// process's variables (sealed ones included). For runner's own settings, such as a Kestra
/// server's credentials; the files are read (and decrypted) once.
pub(crate) fn settings(env: &EnvFiles, names: &[&str]) -> Result<Vec<Option<String>>, String> {
    let mut found: Vec<Option<String>> = vec![None; names.len()];
    for (path, text) in plain_texts(env)? {
        let entries = runner_secrets::env_file::parse(text.as_str())
            .map_err(|e| format!("`{}`: {e}", path.display()))?;
        for entry in entries {
            if let Some(i) = names.iter().position(|n| *n == entry.key) {
                found[i] = Some(entry.value);
            }
        }
    }
    Ok(found
        .into_iter()
        .zip(names)
        .map(|(v, n)| v.or_else(|| crate::seal::var(n)).filter(|v| !v.is_empty()))
        .collect())
}

/// Each `--env-file`'s text, an age-encrypted one decrypted in memory.
fn plain_texts(env: &EnvFiles) -> Result<Vec<(PathBuf, Plain)>, String> {
    let mut plains = Vec::with_capacity(env.env_files.len());
    let mut ids = None;
    for path in &env.env_files {
        let bytes = read_bytes(path)?;
        if runner_secrets::age::is_age(&bytes) || path.extension().is_some_and(|e| e == "age") {
            if ids.is_none() {
                ids = Some(identities(env.identity.as_deref())?);
            }
            let (id_path, identities) = ids.as_ref().expect("set above");
            let plain = runner_secrets::age::decrypt(path, &bytes, identities, id_path)
                .map_err(|e| e.to_string())?;
            if plain.text().is_none() {
                return Err(format!(
                    "`{}` decrypts to text that is not UTF-8",
                    path.display()
                ));
            }
            plains.push((path.clone(), Plain::Decrypted(plain)));
        } else {
            let text = String::from_utf8(bytes).map_err(|e| {
                format!(
                    "`{}` is not UTF-8 text (byte {} is not)",
                    path.display(),
                    e.utf8_error().valid_up_to()
                )
            })?;
            plains.push((path.clone(), Plain::Text(text)));
        }
    }
    Ok(plains)
}

/// An env file's text: as read, or decrypted (wiped when dropped).
enum Plain {
    Text(String),
    Decrypted(runner_secrets::age::Plain),
}

impl Plain {
    fn as_str(&self) -> &str {
        match self {
            Plain::Text(t) => t,
            Plain::Decrypted(p) => p.text().unwrap_or_default(),
        }
    }
}
