//! What every command that starts executions shares (`run`, `test`, and `ui` through its
//! `runner run` children): where a run keeps its files, state and caches, and the services
//! and powers its tasks get. One place owns the defaults, so the commands cannot drift apart.

use crate::cli::PowerArgs;
use runner_core::ExecutionBuilder;
use runner_core::plugin::NetworkPolicy;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a run keeps things, every path absolute: processes a run starts work in other
/// folders, so a relative path handed to them would point elsewhere.
#[derive(Clone, Debug)]
pub(crate) struct Places {
    /// `kestra://` files and execution records (`--storage`, default `.runner/storage`).
    pub(crate) storage: PathBuf,
    /// What outlives a run: the KV store, uploaded namespace files (`--state`, default `state`
    /// beside the storage folder).
    pub(crate) state: PathBuf,
    /// Caches tasks keep between runs: Python environments (`--cache-dir`, default
    /// `.runner/cache`).
    pub(crate) cache: PathBuf,
}

impl Places {
    pub(crate) fn new(
        storage: Option<&Path>,
        state: Option<&Path>,
        cache: Option<&Path>,
    ) -> Places {
        let storage = absolute(storage.unwrap_or(Path::new(".runner/storage")));
        // Beside the storage folder, so that one `--storage` keeps a project's runs apart.
        let state = match state {
            Some(s) => absolute(s),
            None => storage
                .parent()
                .map_or_else(|| PathBuf::from("state"), |p| p.join("state")),
        };
        let cache = absolute(cache.unwrap_or(Path::new(".runner/cache")));
        Places {
            storage,
            state,
            cache,
        }
    }
}

/// `path` from the current folder, unchanged when it is absolute or the current folder is
/// unknown.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `path` as a person would write it: from the current folder when it is below it.
pub(crate) fn shown(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}

/// The network policy `--allow-link-local` asks for.
pub(crate) fn network(powers: &PowerArgs) -> NetworkPolicy {
    NetworkPolicy {
        allow_link_local: powers.allow_link_local,
    }
}

/// An execution of `plan` with the places and powers of the command, and the services every
/// run has: the `http()` function and every task family's settings. The caller adds what is
/// its own (environment, log, inputs, the KV store's namespaces...).
pub(crate) fn builder(
    plan: runner_core::Plan,
    places: &Places,
    powers: &PowerArgs,
    registry: runner_core::Registry,
) -> ExecutionBuilder {
    let network = network(powers);
    let builder = ExecutionBuilder::new(Arc::new(plan))
        .storage(&places.storage)
        .cache_dir(&places.cache)
        .namespace_uploads(places.state.join("namespace-files"))
        .registry(Arc::new(registry))
        .service(network);
    #[cfg(feature = "http")]
    let builder = builder.http(runner_http::function(network));
    #[cfg(feature = "scripts")]
    let builder = builder.service(runner_scripts::kit::TaskRunnerChoice {
        mode: powers.task_runner.mode(),
        docker_host_access: powers.docker_host_access,
    });
    builder
}

/// The flows folder as the git sync and push tasks see it (`runner_git::FlowsFolder`): the
/// folders flows are found in (`--flows`, or the flow file's folder) and whether tasks may
/// change them: `runner run` may (SyncFlows writes there), `runner test` may not (a test
/// never changes the project; the sync tasks then work only with `dryRun`).
pub(crate) fn flows_folder(
    builder: ExecutionBuilder,
    folders: &[PathBuf],
    writable: bool,
) -> ExecutionBuilder {
    #[cfg(feature = "git")]
    let builder = builder.service(runner_git::FlowsFolder {
        folders: folders.iter().map(|f| absolute(f)).collect(),
        writable,
        registry: Arc::new(crate::registry()),
    });
    #[cfg(not(feature = "git"))]
    let _ = (folders, writable);
    builder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_absolute_and_state_sits_beside_storage() {
        let p = Places::new(None, None, None);
        assert!(p.storage.is_absolute() && p.state.is_absolute() && p.cache.is_absolute());
        assert!(p.storage.ends_with(".runner/storage"));
        assert!(p.state.ends_with(".runner/state"));
        assert!(p.cache.ends_with(".runner/cache"));
        let p = Places::new(Some(Path::new("/tmp/x/storage")), None, None);
        assert_eq!(p.state, Path::new("/tmp/x/state"));
    }
}
