//! Work that must finish after a task is dropped (Ctrl-C, timeout): cancelling a query on the
//! server, aborting a multipart upload. Plugins' drop guards hand it to their execution's
//! [`Cleanup`] (from [`crate::RunContext::cleanup`]); the execution waits for it before it
//! ends, so nothing is left half-done. Each execution has its own, so two executions in one
//! process (subflows, parallel test cases) never wait for each other's work.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// The cleanup work of one execution.
#[derive(Clone, Default)]
pub struct Cleanup {
    pending: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Cleanup {
    /// Runs `work` on the current runtime and remembers it for [`Self::wait`]. Outside a
    /// runtime (a drop during shutdown) there is nothing to run it on, and it is skipped.
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let handle = rt.spawn(work);
            let mut pending = self.pending.lock().expect("cleanup list");
            pending.retain(|h| !h.is_finished());
            pending.push(handle);
        }
    }

    /// Waits for the work spawned so far, at most `limit`. Returns false on timeout.
    pub(crate) async fn wait(&self, limit: Duration) -> bool {
        let handles: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.pending.lock().expect("cleanup list"));
        tokio::time::timeout(limit, async {
            for h in handles {
                let _ = h.await;
            }
        })
        .await
        .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn wait_runs_spawned_work_to_the_end() {
        let cleanup = Cleanup::default();
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let (started, go) = tokio::sync::oneshot::channel::<()>();
        cleanup.spawn(async move {
            let _ = go.await;
            flag.store(true, Ordering::SeqCst);
        });
        drop(started);
        assert!(cleanup.wait(Duration::from_secs(5)).await);
        assert!(done.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn executions_do_not_wait_for_each_other() {
        let (mine, theirs) = (Cleanup::default(), Cleanup::default());
        let (_never, blocked) = tokio::sync::oneshot::channel::<()>();
        theirs.spawn(async move {
            let _ = blocked.await;
        });
        assert!(
            mine.wait(Duration::from_millis(100)).await,
            "another execution's pending work is not ours"
        );
        assert!(!theirs.wait(Duration::from_millis(50)).await);
    }
}
