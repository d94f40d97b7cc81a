//! Work that must finish after a task is dropped (Ctrl-C, timeout): cancelling a query on the
//! server, aborting a multipart upload. Plugins' drop guards hand it here; the caller waits for
//! it before the process exits, so nothing is left half-done.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;
use tokio::task::JoinHandle;

static PENDING: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

/// Runs `work` on the current runtime and remembers it for [`wait`]. Outside a runtime (a drop
/// during shutdown) there is nothing to run it on, and it is skipped.
pub fn spawn(work: impl Future<Output = ()> + Send + 'static) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        let handle = rt.spawn(work);
        let mut pending = PENDING.lock().expect("cleanup list");
        pending.retain(|h| !h.is_finished());
        pending.push(handle);
    }
}

/// Waits for the cleanup work spawned so far, at most `limit`. Returns false on timeout.
pub async fn wait(limit: Duration) -> bool {
    let handles: Vec<JoinHandle<()>> = std::mem::take(&mut *PENDING.lock().expect("cleanup list"));
    tokio::time::timeout(limit, async {
        for h in handles {
            let _ = h.await;
        }
    })
    .await
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn wait_runs_spawned_work_to_the_end() {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            flag.store(true, Ordering::SeqCst);
        });
        assert!(wait(Duration::from_secs(5)).await);
        assert!(done.load(Ordering::SeqCst));
    }
}
