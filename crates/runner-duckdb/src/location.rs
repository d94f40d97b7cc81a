//! Where the database is and what is around it (Kestra's `run` before the JDBC part): the URL
//! read, the working directory with `inputFiles`, a `databaseUri` copied in, the `outputFiles`
//! paths, and the variables the SQL sees (`workingDir`, `outputFiles`, `temp`, `dbFilePath`).

use crate::props::Database;
use runner_core::plugin::*;
use serde_json::Map;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything the worker needs to open the database, and what to keep afterwards.
pub(crate) struct Location {
    /// The working directory, held until the worker is done with it.
    pub(crate) dir: Arc<WorkingDir>,
    /// What DuckDB opens: a file path, `:memory:` or a DuckDB URL (`md:...`).
    pub(crate) open: String,
    /// The database file, when it is one.
    pub(crate) file: Option<PathBuf>,
    /// Whether the file is the task's own (a temporary database or a `databaseUri` copy): it
    /// is moved into storage, not copied.
    pub(crate) own_file: bool,
    /// Folders DuckDB resolves relative file names in (`file_search_path`).
    pub(crate) search_path: Vec<PathBuf>,
    /// `outputFiles`: name and path.
    pub(crate) output_files: Vec<(String, PathBuf)>,
    pub(crate) output_db: bool,
    /// `communityExtensions`, and whether the flow named them.
    pub(crate) extensions: Vec<String>,
    pub(crate) extensions_named: bool,
    /// The variables `sql` and `inputFiles` are rendered with.
    pub(crate) vars: Map<String, Json>,
    /// Which property named the database, for messages.
    pub(crate) source: String,
}

/// Kestra's URL rules: blank, or another scheme, is refused.
fn url_rest(url: &str) -> Result<&str, TaskError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(TaskError::property(
            "url",
            "Rendered value of `url` is blank.",
        ));
    }
    let Some(rest) = url.strip_prefix("jdbc:duckdb") else {
        return Err(TaskError::property(
            "url",
            "URL scheme is invalid. URL should start with `jdbc:duckdb`",
        ));
    };
    Ok(rest.strip_prefix(':').unwrap_or(rest))
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> TaskError {
    move |e| TaskError::new(ErrorKind::Io, what).caused_by(e)
}

pub(crate) async fn prepare(ctx: &RunContext, p: &Database) -> Result<Location, TaskError> {
    if let Some(pw) = ctx.render_opt(&p.password, "password")? {
        ctx.mask(&pw);
    }
    let _ = ctx.render_opt(&p.username, "username")?;
    let url = match &p.url {
        Some(u) => ctx.render(u, "url")?,
        None => "jdbc:duckdb:".to_string(),
    };
    let rest = url_rest(&url)?.to_string();
    // A MotherDuck token in the URL is a credential.
    if let Some((_, token)) = rest.split_once("motherduck_token=") {
        let token = token.split('&').next().unwrap_or_default();
        if !token.is_empty() {
            ctx.mask(token);
        }
    }
    let dir = ctx.working_dir()?;
    let wd = dir.path().to_path_buf();
    let mut vars = Map::new();
    vars.insert("workingDir".into(), Json::String(wd.display().to_string()));
    let mut search_path = vec![wd.clone()];

    let (mut open, mut file, mut own_file) = if rest.is_empty() {
        // Kestra's default: a new database in a file of the working directory (so that
        // outputDbFile has a file to keep).
        let path = wd.join(format!("{}.db", runner_core::ids::random_u64()));
        (path.display().to_string(), Some(path), true)
    } else if rest.starts_with(":memory:") {
        (":memory:".to_string(), None, false)
    } else if rest.starts_with("md:") || rest.starts_with("motherduck:") {
        (rest.clone(), None, false)
    } else {
        let path_text = rest.split('?').next().unwrap_or_default();
        let path = Path::new(path_text);
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            // Relative to the task's working directory (Kestra: the worker's current folder).
            dir.join(path_text)
                .map_err(|why| TaskError::property("url", why))?
        };
        if let Some(parent) = path.parent() {
            if !parent.exists() {
                std::fs::create_dir(parent).map_err(io(format!(
                    "cannot create `{}`, the folder of the database file in `url`",
                    parent.display()
                )))?;
            }
            if parent != wd {
                search_path.push(parent.to_path_buf());
            }
        }
        vars.insert(
            "dbFilePath".into(),
            Json::String(path.display().to_string()),
        );
        (path.display().to_string(), Some(path), false)
    };

    let mut source = "`url`".to_string();
    if let Some(uri) = ctx.render_opt(&p.database_uri, "databaseUri")? {
        source = format!("`databaseUri` ({uri})");
        let path = wd.join(runner_core::ids::friendly_id());
        ctx.copy_execution_file(&uri, &path).await.map_err(|e| {
            TaskError::new(
                ErrorKind::NotFound,
                format!("`databaseUri`: cannot read `{uri}`: {e}"),
            )
            .hint("give the `uri` (or `databaseUri`) output of a task of this execution that kept a DuckDB database file")
        })?;
        open = path.display().to_string();
        file = Some(path);
        own_file = true;
    }

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
        let rel = format!("{prefix}_{}.tmp", runner_core::ids::random_u64());
        let path = dir
            .join(&rel)
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

    if let Some(files) = &p.input_files {
        // Kestra renders the values, then renders them again with the task's variables.
        let files = ctx.render(files, "inputFiles")?;
        let files = ctx.render_json_with(&files, "inputFiles", &vars)?;
        ctx.write_input_files(&dir, &files, "inputFiles").await?;
    }

    let (extensions, extensions_named) =
        match ctx.render_opt(&p.community_extensions, "communityExtensions")? {
            Some(list) => (list, true),
            None => (vec!["ion".to_string()], false),
        };
    Ok(Location {
        dir,
        open,
        file,
        own_file,
        search_path,
        output_files,
        output_db: ctx
            .render_opt(&p.output_db_file, "outputDbFile")?
            .unwrap_or(false),
        extensions,
        extensions_named,
        vars,
        source,
    })
}

impl Location {
    /// After the run: the `outputFiles` and the database file go to storage; Kestra's
    /// `outputFiles` (always, `{}` when none) and `databaseUri` outputs.
    pub(crate) async fn keep(&self, ctx: &RunContext, out: &mut Outputs) -> Result<(), TaskError> {
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
        if self.output_db
            && let Some(path) = &self.file
        {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "database.db".into());
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
