//! Why a task run failed, as data; the text is produced when it is logged.

use crate::storage::StorageError;
use runner_template::RenderError;
use std::fmt;
use std::time::Duration;

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
    /// A failure reported by a plugin, with its cause chain.
    Plugin {
        message: String,
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
            _ => None,
        }
    }
}

impl From<StorageError> for TaskError {
    fn from(e: StorageError) -> Self {
        TaskError::Storage(e)
    }
}
