//! `runner ui`: a local web view of what `runner run` wrote (execution records and logs in
//! storage) and of the flows folder, served from the binary itself.
//!
//! Pages are rendered on the server from storage on every request, so they show what is on
//! disk now; a running execution's page polls a JSON view of the same parts until it ends.
//! Every byte of every response passes the masker (see [`server`]): records and logs are
//! masked when written, but files tasks wrote are not, and previews show them.
//!
//! What the UI cannot do itself is given by the binary: the flows and their validation
//! ([`Catalog`]) and starting a run ([`Launcher`]).

mod actions;
mod editor;
mod execution;
mod executions;
mod flows;
mod gantt;
mod html;
mod kv;
mod preview;
mod server;
mod store;
mod topology;

pub use actions::Action;
pub use server::serve;

/// Whether storage holds a folder for execution `id` (a launched run has started writing).
pub fn has_execution(storage: &std::path::Path, id: &str) -> bool {
    store::find(storage, id).is_some()
}

/// The folder of execution `id` in storage (its record, log and files), if there is one.
pub fn execution_folder(storage: &std::path::Path, id: &str) -> Option<PathBuf> {
    store::find(storage, id).map(|e| e.dir)
}

use runner_secrets::Masker;
use std::path::PathBuf;
use std::sync::Arc;

/// A flow file's document as the flows folder holds it, validated.
#[derive(Clone, Debug)]
pub struct FlowEntry {
    /// `None` when the document has no readable `namespace` or `id`.
    pub namespace: Option<String>,
    pub id: Option<String>,
    pub file: PathBuf,
    /// The whole file's text (a file may hold several flows).
    pub source: String,
    /// Which document of the file this is (0-based).
    pub document: usize,
    pub notes: Vec<Note>,
    /// No error: it can run.
    pub valid: bool,
}

/// A diagnostic at a line of a flow file.
#[derive(Clone, Debug)]
pub struct Note {
    pub line: u32,
    pub col: u32,
    pub error: bool,
    pub message: String,
}

/// The flows folder, read again for every page (a user edits while the UI runs).
pub trait Catalog: Send + Sync {
    fn flows(&self) -> Vec<FlowEntry>;

    /// What validation says of a flow file's text as it is being edited (no file is read).
    fn check(&self, text: &str) -> Vec<Note>;

    /// The flow `namespace.id`; a running execution's page asks twice a second, so a catalog
    /// may find it without validating every flow.
    fn find(&self, namespace: &str, id: &str) -> Option<FlowEntry> {
        self.flows()
            .into_iter()
            .find(|f| f.namespace.as_deref() == Some(namespace) && f.id.as_deref() == Some(id))
    }
}

/// Starts executions for the Run form.
pub trait Launcher: Send + Sync {
    /// Starts `flow` with `inputs` (FILE inputs as local paths) as a new execution; its id.
    fn launch(
        &self,
        flow: &FlowEntry,
        inputs: serde_json::Map<String, serde_json::Value>,
    ) -> Result<String, String>;
    /// What became of an execution this launcher started, while it has no record.
    fn status(&self, execution_id: &str) -> Option<Launched>;
    /// Resumes, restarts or kills a recorded execution; returns once it has begun (the page
    /// shows the rest), or with what went wrong.
    fn go_on(&self, execution_id: &str, action: &Action) -> Result<(), String>;
}

/// The KV store runs keep, as the KV pages read it.
pub trait KvView: Send + Sync {
    /// Every key (of `namespace` when given); the values are read only for one namespace's
    /// keys, unless expired.
    fn entries(&self, namespace: Option<&str>) -> Result<Vec<KvEntry>, String>;
}

/// One key of the KV store.
#[derive(Clone, Debug)]
pub struct KvEntry {
    pub namespace: String,
    pub key: String,
    pub kv_type: Option<String>,
    pub version: i64,
    pub updated: String,
    pub expires: Option<String>,
    pub expired: bool,
    pub value: Option<serde_json::Value>,
}

/// A launched run seen from outside: still starting, or ended with what it printed.
#[derive(Clone, Debug)]
pub struct Launched {
    /// The exit code once the run ended.
    pub exit_code: Option<i32>,
    /// What the run printed (masked by the run), its end.
    pub output: String,
}

/// Everything the server needs.
pub struct Ui {
    pub storage: PathBuf,
    /// Where the Run form's uploads wait until their run copies them into storage.
    pub uploads: PathBuf,
    pub catalog: Arc<dyn Catalog>,
    pub launcher: Arc<dyn Launcher>,
    pub kv: Arc<dyn KvView>,
    pub masker: Arc<Masker>,
    /// Required on every request when the server is reachable from other machines.
    pub token: Option<String>,
    /// The address it listens on; `Host` headers are checked against it (a page of another
    /// site that resolves its name to 127.0.0.1 cannot read this one).
    pub port: u16,
}
