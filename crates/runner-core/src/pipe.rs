//! A file handed from one task to the next while it is still being written, so the next task
//! can start on the part already written (an S3 Upload sends parts while a Query STORE still
//! streams rows). Nothing done early may be visible: the next task's run adopts the work, or
//! the work is dropped and undoes itself (an aborted multipart upload).

use std::any::Any;
use std::path::{Path, PathBuf};
use tokio::sync::watch;

/// What a task prepared while the task before it wrote a file (see
/// [`crate::task::RunnableTask::prepare`]). Its run takes it back with
/// [`crate::RunContext::take_prepared`]; dropping it must undo the work.
pub type Prepared = Box<dyn Any + Send>;

/// A file the previous task of the sequence is still writing.
pub struct GrowingFile {
    pub(crate) uri: String,
    pub(crate) path: PathBuf,
    pub(crate) written: watch::Receiver<u64>,
    pub(crate) writing: bool,
}

impl GrowingFile {
    pub fn uri(&self) -> &str {
        &self.uri
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes from the start of the file that are written for good (flushed).
    pub fn written(&self) -> u64 {
        *self.written.borrow()
    }

    /// Whether the writer may still add bytes.
    pub fn writing(&self) -> bool {
        self.writing
    }

    /// Waits until more bytes are written or the writer stops (it finished, failed or was
    /// cancelled: the task that wrote it decides which). Returns [`Self::writing`].
    pub async fn changed(&mut self) -> bool {
        if self.writing && self.written.changed().await.is_err() {
            self.writing = false;
        }
        self.writing
    }

    /// Waits until at least `bytes` are written or the writer stops; returns [`Self::written`].
    pub async fn wait_for(&mut self, bytes: u64) -> u64 {
        while self.written() < bytes && self.changed().await {}
        self.written()
    }
}

/// The writing task's side of a [`GrowingFile`].
pub struct FileProgress(pub(crate) Option<watch::Sender<u64>>);

impl FileProgress {
    /// Whether a next task follows the file (otherwise reporting costs nothing but is useless).
    pub fn is_followed(&self) -> bool {
        self.0.is_some()
    }

    /// The first `bytes` of the file are written for good (flushed to the file).
    pub fn written(&self, bytes: u64) {
        if let Some(sender) = &self.0 {
            sender.send_replace(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reader_follows_the_writer_until_it_stops() {
        let (sender, written) = watch::channel(0);
        let progress = FileProgress(Some(sender));
        let mut file = GrowingFile {
            uri: "kestra:///f".into(),
            path: PathBuf::from("/f"),
            written,
            writing: true,
        };
        let reader = tokio::spawn(async move {
            let first = file.wait_for(10).await;
            let last = file.wait_for(u64::MAX).await;
            (first, last, file.writing())
        });
        progress.written(4);
        tokio::task::yield_now().await;
        progress.written(12);
        tokio::task::yield_now().await;
        progress.written(20);
        drop(progress);
        let (first, last, writing) = reader.await.unwrap();
        assert!(first >= 10, "{first}");
        assert_eq!(last, 20);
        assert!(!writing);
    }
}
