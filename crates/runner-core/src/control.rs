//! What only the engine's own tasks may do to their execution: end it (Exit), change its
//! variables (SetVariables) and labels (Labels), delete its files (PurgeCurrentExecutionFiles),
//! build tasks at run time (TemplatedTask). Plugins import `runner_core::plugin::*`, which does
//! not offer these; the core tasks import this module too.

use crate::context::RunContext;
use crate::error::TaskError;
use serde_json::{Map, Value as Json};

/// The engine's powers over the running execution, for the core tasks.
pub trait ExecutionControl {
    /// The task types of this run (TemplatedTask builds one at run time).
    fn task_types(&self) -> Option<&crate::Registry>;

    /// Deletes every file this execution has stored so far (its record is written at the
    /// end); returns their URIs, sorted.
    fn purge_execution_files(
        &self,
    ) -> impl std::future::Future<Output = Result<Vec<String>, TaskError>> + Send;

    /// Ends the execution in `state` once running tasks end: no other task starts (Exit).
    fn exit_execution(&self, state: crate::state::State);

    /// The execution's `vars` as they stand (the flow's, changed by SetVariables tasks).
    fn execution_vars(&self) -> Json;

    /// Replaces the execution's `vars` (SetVariables, UnsetVariables).
    fn set_execution_vars(&self, vars: Json);

    /// Adds `labels` to the execution's (a Labels task), replacing values of the same key.
    fn add_labels(&self, labels: Map<String, Json>);
}

impl ExecutionControl for RunContext {
    fn task_types(&self) -> Option<&crate::Registry> {
        self.exec.launch.registry.as_deref()
    }

    async fn purge_execution_files(&self) -> Result<Vec<String>, TaskError> {
        let root_uri = self.exec.prefix.root();
        let root = self.exec.storage.path(&root_uri).map_err(|e| {
            TaskError::new(
                crate::error::ErrorKind::Io,
                "cannot find this execution's files",
            )
            .caused_by(e)
        })?;
        tokio::task::spawn_blocking(move || {
            let mut deleted = Vec::new();
            let mut stack = vec![root.clone()];
            while let Some(dir) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let path = entry.path();
                    let Ok(kind) = entry.file_type() else {
                        continue;
                    };
                    if kind.is_dir() {
                        stack.push(path);
                        continue;
                    }
                    // The execution's record and log are not its files (Kestra keeps both
                    // in its database).
                    if dir == root
                        && entry
                            .file_name()
                            .to_str()
                            .is_some_and(|n| crate::storage::EXECUTION_BOOKKEEPING.contains(&n))
                    {
                        continue;
                    }
                    std::fs::remove_file(&path).map_err(|e| {
                        TaskError::new(
                            crate::error::ErrorKind::Io,
                            format!("cannot delete {}", path.display()),
                        )
                        .caused_by(e)
                    })?;
                    if let Ok(rel) = path.strip_prefix(&root) {
                        deleted.push(format!("{root_uri}/{}", rel.display()));
                    }
                }
            }
            deleted.sort();
            Ok(deleted)
        })
        .await
        .map_err(|e| {
            TaskError::new(crate::error::ErrorKind::Other, "the purge stopped").caused_by(e)
        })?
    }

    fn exit_execution(&self, state: crate::state::State) {
        self.exec.state().exited = Some(state);
        if state == crate::state::State::Killed {
            // Only KILLED stops the tasks still running (Kestra's rule).
            self.exec.kill_request.notify_one();
        }
    }

    fn execution_vars(&self) -> Json {
        let st = self.exec.state();
        st.vars
            .clone()
            .unwrap_or_else(|| self.exec.initial_vars.clone())
    }

    fn set_execution_vars(&self, vars: Json) {
        self.exec.state().vars = Some(vars);
    }

    fn add_labels(&self, labels: Map<String, Json>) {
        self.exec.state().labels.extend(labels);
    }
}
