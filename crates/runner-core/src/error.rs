//! Why a task run failed, as data: what went wrong, of which kind, what the user can do
//! (`hint`), and the cause. The words are put together only when the error is logged.

use crate::storage::StorageError;
use runner_template::RenderError;
use std::fmt;
use std::time::Duration;

/// What kind of failure a task reports, for the reader and for callers that sort failures
/// (test assertions, retries): the message says which resource, the kind says what about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server or endpoint could not be reached (refused, unresolvable, timed out).
    Unreachable,
    /// Credentials were refused.
    Denied,
    /// What the task points at does not exist (bucket, object, database, file).
    NotFound,
    /// The data read is not what the task expects (a malformed file, a bad row).
    BadData,
    /// The other side reported an error of its own (SQL error, S3 error code).
    Remote,
    /// runner does not support what the flow asks for; the hint says what to do instead.
    Unsupported,
    /// Reading or writing a local file failed.
    Io,
    Other,
}

#[derive(Debug)]
pub enum TaskError {
    /// A property's expression could not be rendered.
    Render {
        property: String,
        source: RenderError,
    },
    /// A property rendered to a value of the wrong shape.
    Property {
        property: String,
        reason: String,
    },
    /// The task decided to fail (the Fail task, a failed check...).
    Failed {
        message: String,
    },
    Timeout {
        after: Duration,
    },
    Storage(StorageError),
    /// A failure after which the task run keeps outputs (a script's `exitCode` and `vars`).
    WithOutputs {
        error: Box<TaskError>,
        outputs: serde_json::Map<String, serde_json::Value>,
    },
    /// The task run ends in `state` (not SUCCESS) with these outputs, having logged why: a
    /// Subflow passing on its child's WARNING or KILLED.
    Ended {
        state: crate::state::State,
        outputs: serde_json::Map<String, serde_json::Value>,
    },
    /// A failure reported by a plugin, with its kind, what to do, and its cause.
    Plugin {
        kind: ErrorKind,
        message: String,
        hint: Option<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl TaskError {
    pub fn failed(message: impl Into<String>) -> Self {
        TaskError::Failed {
            message: message.into(),
        }
    }

    pub fn property(property: &str, reason: impl Into<String>) -> Self {
        TaskError::Property {
            property: property.to_string(),
            reason: reason.into(),
        }
    }

    /// A plugin's failure of `kind`; add [`Self::hint`] and [`Self::caused_by`] as known.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        TaskError::Plugin {
            kind,
            message: message.into(),
            hint: None,
            source: None,
        }
    }

    /// The same failure, with outputs the failed task run keeps.
    pub fn with_outputs(self, outputs: serde_json::Map<String, serde_json::Value>) -> Self {
        TaskError::WithOutputs {
            error: Box::new(self),
            outputs,
        }
    }

    /// What the user can do about it (printed on its own `help:` line).
    pub fn hint(mut self, text: impl Into<String>) -> Self {
        match &mut self {
            TaskError::Plugin { hint, .. } => *hint = Some(text.into()),
            TaskError::WithOutputs { error, .. } => {
                let inner = std::mem::replace(error.as_mut(), TaskError::failed(""));
                **error = inner.hint(text);
            }
            _ => {}
        }
        self
    }

    /// The error that caused this one, kept for its own message.
    pub fn caused_by(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        if let TaskError::Plugin { source, .. } = &mut self {
            *source = Some(Box::new(cause));
        }
        self
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            TaskError::Plugin { kind, .. } => *kind,
            TaskError::WithOutputs { error, .. } => error.kind(),
            TaskError::Storage(StorageError::NotFound { .. }) => ErrorKind::NotFound,
            TaskError::Storage(StorageError::Io { .. }) => ErrorKind::Io,
            _ => ErrorKind::Other,
        }
    }

    /// The hint, when the task gave one.
    pub fn help(&self) -> Option<&str> {
        match self {
            TaskError::Plugin { hint, .. } => hint.as_deref(),
            TaskError::WithOutputs { error, .. } => error.help(),
            _ => None,
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Render { property, source } => write!(f, "property `{property}`: {source}"),
            TaskError::Property { property, reason } => {
                write!(f, "property `{property}`: {reason}")
            }
            TaskError::Failed { message } => f.write_str(message),
            TaskError::Timeout { after } => {
                write!(f, "Timeout after {}", runner_model::format_hms(*after))
            }
            TaskError::Storage(e) => write!(f, "{e}"),
            TaskError::Plugin { message, .. } => f.write_str(message),
            TaskError::WithOutputs { error, .. } => write!(f, "{error}"),
            TaskError::Ended { state, .. } => write!(f, "ended in {}", state.as_str()),
        }
    }
}

impl std::error::Error for TaskError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TaskError::Render { source, .. } => Some(source),
            TaskError::Storage(e) => Some(e),
            TaskError::Plugin {
                source: Some(s), ..
            } => Some(s.as_ref()),
            TaskError::WithOutputs { error, .. } => error.source(),
            _ => None,
        }
    }
}

impl From<StorageError> for TaskError {
    fn from(e: StorageError) -> Self {
        TaskError::Storage(e)
    }
}
