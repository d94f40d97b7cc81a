//! `io.kestra.plugin.git.Clone`: a repository cloned into the working directory by `git`,
//! with a clean environment (no user config, no stored credentials, no prompt; see `git`).

use crate::git::{Connection, Git, Scratch, check_key, check_url};
use runner_core::plugin::*;
use serde::Deserialize;

pub(crate) const CLONE: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.git.Clone",
    aliases: &[],
    doc: "Clone a repository (HTTP(S), SSH or git://) into the working directory with the machine's `git`; shallow (depth 1) unless `commit` or `tag` is given. Output: `directory`.",
    example: "id: clone\ntype: io.kestra.plugin.git.Clone\nurl: https://github.com/kestra-io/examples\nbranch: main",
    shape: runnable::<Clone>(),
};

#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Clone {
    /// The repository: `https://`, `http://`, `ssh://`, `git://` or `user@host:path`.
    url: Property<String>,
    /// A folder of the working directory to clone into (default: the working directory).
    directory: Option<Property<String>>,
    /// The branch to check out.
    branch: Option<Property<String>>,
    /// How much history (default 1; ignored with `commit` or `tag`).
    depth: Option<Property<u32>>,
    /// A commit to check out (detached).
    commit: Option<Property<String>>,
    /// A tag to check out.
    tag: Option<Property<String>>,
    /// Fetch every branch (default true); false follows the one branch only.
    clone_all_branches: Option<Property<bool>>,
    /// Skip tags (default false).
    no_tags: Option<Property<bool>>,
    /// Not supported: runner does not cache repositories between runs.
    cache: Option<Property<bool>>,
    /// Not supported (goes with `cache`).
    cache_ttl: Option<Property<String>>,
    #[serde(flatten)]
    connection: Connection,
}

impl RunnableTask for Clone {
    fn check(&self) -> Result<(), String> {
        check_key(&self.connection.private_key, &self.connection.passphrase)?;
        if self.cache.is_some() || self.cache_ttl.is_some() {
            return Err("`cache` is not supported: runner clones afresh each run".into());
        }
        if !self.url.is_dynamic()
            && let Some(u) = self.url.raw().as_str()
        {
            check_url(u)?;
        }
        Ok(())
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let url = ctx.render(&self.url, "url")?;
            check_url(&url).map_err(|e| TaskError::property("url", e))?;
            let dir = ctx.working_dir()?;
            let target = match ctx.render_opt(&self.directory, "directory")? {
                Some(d) => dir
                    .join(&d)
                    .map_err(|e| TaskError::property("directory", e))?,
                None => dir.path().to_path_buf(),
            };
            let commit = ctx.render_opt(&self.commit, "commit")?;
            let tag = ctx.render_opt(&self.tag, "tag")?;
            if tag.is_some() && ctx.render_opt(&self.no_tags, "noTags")?.unwrap_or(false) {
                return Err(TaskError::property(
                    "tag",
                    "Invalid clone configuration: `tag` cannot be used with `noTags: true`.",
                ));
            }
            let scratch = Scratch::new(ctx)?;
            let mut git = Git::new(ctx, url, &self.connection, &scratch.home())?;
            git.level = Level::Info;
            let mut args: Vec<String> = vec!["clone".into(), "--quiet".into()];
            if commit.is_none() && tag.is_none() {
                let depth = ctx.render_opt(&self.depth, "depth")?.unwrap_or(1);
                if depth > 0 {
                    args.push(format!("--depth={depth}"));
                }
            }
            if let Some(t) = &tag {
                args.push(format!("--branch={t}"));
            } else if let Some(b) = ctx.render_opt(&self.branch, "branch")? {
                args.push(format!("--branch={b}"));
            }
            // git's --depth implies a single branch; Kestra's default fetches them all.
            if ctx
                .render_opt(&self.clone_all_branches, "cloneAllBranches")?
                .unwrap_or(true)
            {
                args.push("--no-single-branch".into());
            } else {
                args.push("--single-branch".into());
            }
            if ctx.render_opt(&self.no_tags, "noTags")?.unwrap_or(false) {
                args.push("--no-tags".into());
            }
            if git.submodules {
                args.push("--recurse-submodules".into());
            }
            // Cloned beside, then moved in: the target may already hold files (a
            // WorkingDirectory's inputFiles), which `git clone` refuses.
            let staging = scratch.repo();
            args.push("--".into());
            args.push(git.url.clone());
            args.push(staging.to_string_lossy().into_owned());
            ctx.info(&format!("Cloning {} into {}", git.shown, target.display()));
            let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
            git.run(&scratch.root, &arg_refs).await.map_err(|e| {
                e.hint("the clone runs `git`; check the URL, the branch and the credentials")
            })?;
            if let Some(c) = &commit {
                git.run(&staging, &["checkout", "--quiet", c]).await?;
            }
            move_into(&staging, &target)?;
            let mut out = Outputs::new();
            out.insert(
                "directory".into(),
                Json::String(target.to_string_lossy().into_owned()),
            );
            Ok(out)
        })
    }
}

/// Moves the clone into `target`: renamed when `target` is missing or empty, else entry by
/// entry (a name already there is an error).
pub(crate) fn move_into(
    staging: &std::path::Path,
    target: &std::path::Path,
) -> Result<(), TaskError> {
    let io = |what: String, e: std::io::Error| TaskError::new(ErrorKind::Io, what).caused_by(e);
    let empty = std::fs::read_dir(target).map_or(true, |mut d| d.next().is_none());
    if empty {
        let _ = std::fs::remove_dir(target);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| io(format!("cannot create `{}`", parent.display()), e))?;
        }
        return std::fs::rename(staging, target).map_err(|e| {
            io(
                format!("cannot move the clone to `{}`", target.display()),
                e,
            )
        });
    }
    let entries = std::fs::read_dir(staging)
        .map_err(|e| io(format!("cannot list `{}`", staging.display()), e))?;
    for entry in entries.flatten() {
        let to = target.join(entry.file_name());
        if to.exists() || to.symlink_metadata().is_ok() {
            return Err(TaskError::new(
                ErrorKind::Io,
                format!(
                    "`{}` already exists: the clone cannot be put in `{}`",
                    to.display(),
                    target.display()
                ),
            )
            .hint("clone into an empty folder with `directory`"));
        }
        std::fs::rename(entry.path(), &to).map_err(|e| {
            io(
                format!("cannot move the clone to `{}`", target.display()),
                e,
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_moves_into_a_folder_that_holds_files() {
        let base =
            std::env::temp_dir().join(format!("runner-clone-{}", runner_core::ids::friendly_id()));
        let (staging, target) = (base.join("staging"), base.join("target"));
        std::fs::create_dir_all(staging.join(".git")).unwrap();
        std::fs::write(staging.join("README.md"), "r").unwrap();
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join("input.csv"), "i").unwrap();
        move_into(&staging, &target).unwrap();
        assert!(target.join(".git").is_dir() && target.join("input.csv").is_file());
        assert_eq!(
            std::fs::read_to_string(target.join("README.md")).unwrap(),
            "r"
        );
        std::fs::create_dir_all(staging.join("x")).unwrap();
        std::fs::create_dir_all(target.join("x")).unwrap();
        let e = move_into(&staging, &target).unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
