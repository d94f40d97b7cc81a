//! Where the database is (Kestra's SQLite `run`): in memory, a file named by `url`, or a file
//! of the working directory when `sqliteFile` or `outputDbFile` is set; the `outputFiles`
//! paths; and the variables the SQL sees (`workingDir`, `outputFiles`, `temp`).

use crate::props::Database;
use runner_core::plugin::*;
use serde_json::Map;
use std::path::PathBuf;
use std::sync::Arc;

pub(crate) struct Location {
    pub(crate) dir: Arc<WorkingDir>,
    /// The database file; `None`: in memory.
    pub(crate) file: Option<PathBuf>,
    /// Whether the file is the task's own (in its working directory): moved, not copied.
    pub(crate) own_file: bool,
    pub(crate) output_files: Vec<(String, PathBuf)>,
    pub(crate) output_db: bool,
    pub(crate) vars: Map<String, Json>,
    /// Which property named the database, for messages.
    pub(crate) source: String,
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> TaskError {
    move |e| TaskError::new(ErrorKind::Io, what).caused_by(e)
}

fn is_memory(path: &str) -> bool {
    path.is_empty()
        || path == ":memory:"
        || path.starts_with("file::memory:")
        || (path.starts_with("file:") && path.contains("mode=memory"))
}

pub(crate) async fn prepare(ctx: &RunContext, p: &Database) -> Result<Location, TaskError> {
    if let Some(pw) = ctx.render_opt(&p.password, "password")? {
        ctx.mask(&pw);
    }
    let _ = ctx.render_opt(&p.username, "username")?;
    let url = match &p.url {
        Some(u) => ctx.render(u, "url")?,
        None => "jdbc:sqlite:".to_string(),
    };
    let url = url.trim();
    if url.is_empty() {
        return Err(TaskError::property(
            "url",
            "Rendered value of `url` is blank.",
        ));
    }
    let Some(rest) = url.strip_prefix("jdbc:sqlite") else {
        return Err(TaskError::property(
            "url",
            "URL scheme is invalid. URL should start with `jdbc:sqlite`",
        ));
    };
    let path = rest.strip_prefix(':').unwrap_or(rest);
    let path = path.split('?').next().unwrap_or_default().to_string();
    let dir = ctx.working_dir()?;
    let wd = dir.path().to_path_buf();
    let mut vars = Map::new();
    vars.insert("workingDir".into(), Json::String(wd.display().to_string()));

    let sqlite_file = ctx.render_opt(&p.sqlite_file, "sqliteFile")?;
    let output_db = ctx
        .render_opt(&p.output_db_file, "outputDbFile")?
        .unwrap_or(false);
    let memory = is_memory(&path);
    let mut source = "`url`".to_string();
    let (file, own_file) = if let Some(uri) = &sqlite_file {
        // Kestra: a copy in the working directory, named after the URL's file (or a new name).
        let name = if memory {
            format!("{}.sqlite", runner_core::ids::random_u64())
        } else {
            std::path::Path::new(&path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| format!("{}.sqlite", runner_core::ids::random_u64()))
        };
        let file = wd.join(name);
        source = format!("`sqliteFile` ({uri})");
        ctx.copy_execution_file(uri, &file).await.map_err(|e| {
            TaskError::new(
                ErrorKind::NotFound,
                format!("`sqliteFile`: cannot read `{uri}`: {e}"),
            )
            .hint("give the `databaseUri` output of a task with `outputDbFile: true`, or a FILE input")
        })?;
        (Some(file), true)
    } else if memory && output_db {
        // A database to keep: a new file of the working directory, as in Kestra.
        (
            Some(wd.join(format!("{}.sqlite", runner_core::ids::random_u64()))),
            true,
        )
    } else if memory {
        (None, false)
    } else if std::path::Path::new(&path).is_absolute() {
        (Some(PathBuf::from(&path)), false)
    } else {
        // Relative to the working directory (Kestra: the worker's folder, unless the file is
        // in the working directory).
        let file = dir
            .join(&path)
            .map_err(|why| TaskError::property("url", why))?;
        (Some(file), true)
    };

    let mut output_files = Vec::new();
    let mut files_var = Map::new();
    for name in ctx
        .render_opt(&p.output_files, "outputFiles")?
        .unwrap_or_default()
    {
        if name.starts_with("./") || name.starts_with("..") || name.starts_with('/') {
            return Err(TaskError::property(
                "outputFiles",
                format!("Invalid outputFile (only relative path is supported) for path '{name}'"),
            ));
        }
        let prefix = if name.chars().count() < 2 {
            format!("_{name}")
        } else {
            name.clone()
        };
        let path = dir
            .join(&format!("{prefix}_{}.tmp", runner_core::ids::random_u64()))
            .map_err(|why| TaskError::property("outputFiles", why))?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(format!(
                "cannot create the folder of outputFile `{name}`"
            )))?;
        }
        std::fs::File::create(&path).map_err(io(format!("cannot create outputFile `{name}`")))?;
        files_var.insert(name.clone(), Json::String(path.display().to_string()));
        output_files.push((name, path));
    }
    vars.insert("outputFiles".into(), Json::Object(files_var.clone()));
    vars.insert("temp".into(), Json::Object(files_var));
    Ok(Location {
        dir,
        file,
        own_file,
        output_files,
        output_db,
        vars,
        source,
    })
}

impl Location {
    /// After the run: `outputFiles` (omitted when none, as in Kestra's SQLite tasks) and the
    /// database file (`databaseUri`) go to storage.
    pub(crate) async fn keep(&self, ctx: &RunContext, out: &mut Outputs) -> Result<(), TaskError> {
        if !self.output_files.is_empty() {
            let mut files = Map::new();
            for (name, path) in &self.output_files {
                let file_name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| name.clone());
                let uri = ctx.output_file_uri(&file_name);
                ctx.store_file(path, &uri).await?;
                files.insert(name.clone(), Json::String(uri));
            }
            out.insert("outputFiles".into(), Json::Object(files));
        }
        if self.output_db
            && let Some(path) = &self.file
            && path.exists()
        {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "database.sqlite".into());
            let uri = ctx.output_file_uri(&name);
            if self.own_file {
                ctx.store_file(path, &uri).await?;
            } else {
                let dest = ctx.storage().path(&uri)?;
                if let Some(parent) = dest.parent() {
                    tokio::fs::create_dir_all(parent)
                        .await
                        .map_err(io(format!("cannot write `{uri}`")))?;
                }
                let guard = PartialFile::new(dest.clone());
                tokio::fs::copy(path, &dest)
                    .await
                    .map_err(io(format!("cannot copy `{}` to `{uri}`", path.display())))?;
                guard.keep();
            }
            out.insert("databaseUri".into(), Json::String(uri));
        }
        Ok(())
    }
}
