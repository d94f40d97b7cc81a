//! Test-only task types for the engine's tests (`test.Flaky`, `test.Gate`, `test.Writer`,
//! `test.Follower`, `test.Forever`, `test.Spawn`, `test.Panic`). They synchronise through
//! explicit signals (counters and notifications), never through sleeps, so a slow machine makes
//! a test slower, not wrong.

#![allow(unreachable_pub)]

use runner_core::plugin::*;
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// How long a test task waits for the signal it expects before it fails.
const PATIENCE: Duration = Duration::from_secs(10);

/// Waits until `ready()` holds, woken by `notify`; fails after [`PATIENCE`].
pub async fn wait_for(
    notify: &Notify,
    ready: impl Fn() -> bool,
    what: &str,
) -> Result<(), TaskError> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let notified = notify.notified();
        if ready() {
            return Ok(());
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Err(TaskError::failed(format!("gave up waiting for {what}")));
        }
    }
}

/// Fails its first `failures` attempts, then succeeds with output `attempt`.
#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub struct Flaky {
    /// Attempts that fail before one succeeds.
    failures: usize,
    #[serde(skip)]
    calls: AtomicUsize,
}

impl RunnableTask for Flaky {
    fn run<'a>(&'a self, _ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n <= self.failures {
                return Err(TaskError::failed(format!("flaky failure {n}")));
            }
            let mut out = Outputs::new();
            out.insert("attempt".into(), n.into());
            Ok(out)
        })
    }
}

/// A rendezvous: each gate waits inside until `meet` gates have arrived in its round (1-2,
/// 3-4, ... for `meet: 2`), then leaves. The most gates ever inside at once is `GATE_MAX`:
/// a concurrency limit that is too low makes a gate give up, one that is too high shows in
/// `GATE_MAX`.
#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// How many gates must be inside at once.
    meet: usize,
}

pub static GATE_NOW: AtomicUsize = AtomicUsize::new(0);
pub static GATE_MAX: AtomicUsize = AtomicUsize::new(0);
static GATE_ARRIVED: AtomicUsize = AtomicUsize::new(0);
static GATE_SEEN: AtomicUsize = AtomicUsize::new(0);
static GATE_MOVED: Notify = Notify::const_new();
/// Tests that use gates take this lock, so their counts do not mix.
pub static GATE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Starts a new count of gates (hold [`GATE_LOCK`]).
pub fn reset_gates() {
    GATE_NOW.store(0, Ordering::SeqCst);
    GATE_MAX.store(0, Ordering::SeqCst);
    GATE_ARRIVED.store(0, Ordering::SeqCst);
    GATE_SEEN.store(0, Ordering::SeqCst);
}

impl RunnableTask for Gate {
    fn run<'a>(&'a self, _ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let now = GATE_NOW.fetch_add(1, Ordering::SeqCst) + 1;
            GATE_MAX.fetch_max(now, Ordering::SeqCst);
            let arrival = GATE_ARRIVED.fetch_add(1, Ordering::SeqCst) + 1;
            GATE_MOVED.notify_waiters();
            let round_full = arrival.div_ceil(self.meet) * self.meet;
            let met = wait_for(
                &GATE_MOVED,
                || GATE_ARRIVED.load(Ordering::SeqCst) >= round_full,
                "the other gates",
            )
            .await;
            // Leave only once every gate of the round has seen it full, so a gate the limit
            // should have held back would find them all still inside.
            GATE_SEEN.fetch_add(1, Ordering::SeqCst);
            GATE_MOVED.notify_waiters();
            let all_saw = wait_for(
                &GATE_MOVED,
                || GATE_SEEN.load(Ordering::SeqCst) >= round_full,
                "the round to end",
            )
            .await;
            GATE_NOW.fetch_sub(1, Ordering::SeqCst);
            met.and(all_saw).map(|()| Outputs::new())
        })
    }
}

/// Writes `chunks` lines to a file it shares with the next task, reporting each; with
/// `paced`, waits after each line until the follower has seen it. Fails at the end when `fail`
/// is set. Output `uri`.
#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub struct Writer {
    /// Lines to write.
    chunks: u64,
    /// Fail after writing.
    #[serde(default)]
    fail: bool,
    /// Wait for the follower after each line.
    #[serde(default)]
    paced: bool,
}

/// Bytes the follower has seen of the file being written, and the signal it sends.
static FOLLOWED: AtomicU64 = AtomicU64::new(0);
static FOLLOWER_SAW: Notify = Notify::const_new();

impl RunnableTask for Writer {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            use tokio::io::AsyncWriteExt;
            FOLLOWED.store(0, Ordering::SeqCst);
            let uri = ctx.output_file_uri("written.txt");
            let mut file = ctx.storage().create(&uri).await?;
            let progress = ctx.share_growing_file(&uri);
            for i in 0..self.chunks {
                let io = |e: std::io::Error| TaskError::failed(e.to_string());
                file.write_all(b"0123456789\n").await.map_err(io)?;
                file.flush().await.map_err(io)?;
                let written = (i + 1) * 11;
                progress.written(written);
                if self.paced {
                    wait_for(
                        &FOLLOWER_SAW,
                        || FOLLOWED.load(Ordering::SeqCst) >= written,
                        "the follower",
                    )
                    .await?;
                }
            }
            if self.fail {
                return Err(TaskError::failed("the writer failed"));
            }
            let mut out = Outputs::new();
            out.insert("uri".into(), uri.into());
            Ok(out)
        })
    }
}

/// Prepares on the file its predecessor writes when `from` names it; its run reports whether
/// it adopted what was prepared.
#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub struct Follower {
    /// The file to follow.
    from: Property<String>,
}

/// What a Follower prepared; dropped without being adopted, it counts in `PIPE_UNDONE`.
pub struct FollowerPrep {
    from: String,
    seen: u64,
    updates: u64,
    adopted: bool,
}

pub static PIPE_UNDONE: AtomicUsize = AtomicUsize::new(0);
/// Tests that count undone preparations take this lock.
pub static PIPE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Drop for FollowerPrep {
    fn drop(&mut self) {
        if !self.adopted {
            PIPE_UNDONE.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl RunnableTask for Follower {
    fn can_prepare(&self) -> bool {
        true
    }

    fn prepare<'a>(
        &'a self,
        ctx: &'a RunContext,
        mut file: GrowingFile,
    ) -> BoxFuture<'a, Option<Prepared>> {
        Box::pin(async move {
            ctx.info("a preview never logs");
            let from = ctx.render(&self.from, "from").ok()?;
            if from != file.uri() {
                return None;
            }
            // Held from the start, as an upload's abort guard is: dropping this future
            // midway undoes the work too.
            let mut prep = FollowerPrep {
                from,
                seen: 0,
                updates: 0,
                adopted: false,
            };
            while file.changed().await {
                prep.updates += 1;
                FOLLOWED.store(file.written(), Ordering::SeqCst);
                FOLLOWER_SAW.notify_waiters();
            }
            prep.seen = file.written();
            Some(Box::new(prep) as Prepared)
        })
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            let mut out = Outputs::new();
            match ctx.take_prepared::<FollowerPrep>() {
                Some(mut p) => {
                    p.adopted = p.from == from;
                    out.insert("adopted".into(), p.adopted.into());
                    out.insert("seen".into(), p.seen.into());
                    out.insert("updates".into(), p.updates.into());
                }
                None => {
                    out.insert("adopted".into(), false.into());
                }
            }
            Ok(out)
        })
    }
}

/// Logs `Waiting` then waits until it is cancelled.
#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub struct Forever {}

impl RunnableTask for Forever {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            ctx.info("Waiting");
            std::future::pending::<()>().await;
            Ok(Outputs::new())
        })
    }
}

/// Runs `sh -c script` as a child process of the task run and waits for it.
#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub struct Spawn {
    /// The shell script.
    script: String,
}

impl RunnableTask for Spawn {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let mut command = tokio::process::Command::new("sh");
            command.arg("-c").arg(&self.script);
            let mut child = ctx
                .spawn(command)
                .map_err(|e| TaskError::new(ErrorKind::Io, "cannot start sh").caused_by(e))?;
            ctx.info(&format!("spawned {}", child.id().unwrap_or(0)));
            let status = child
                .wait()
                .await
                .map_err(|e| TaskError::new(ErrorKind::Io, "cannot wait").caused_by(e))?;
            let mut out = Outputs::new();
            out.insert("code".into(), status.code().into());
            Ok(out)
        })
    }
}

/// The processes whose command line holds `marker`.
pub fn processes_with(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // A zombie is gone but for its entry.
        let zombie = stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'));
        if !zombie && String::from_utf8_lossy(&cmdline).contains(marker) {
            found.push(pid);
        }
    }
    found
}

/// Panics: a bug in a task's own code.
#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields)]
pub struct Panic {
    /// The panic's message.
    message: String,
}

impl RunnableTask for Panic {
    fn run<'a>(&'a self, _ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move { panic!("{}", self.message) })
    }
}

/// The test-only task types, for registries of engine tests.
pub const TASKS: &[TaskDescriptor] = &[
    TaskDescriptor {
        type_name: "test.Panic",
        aliases: &[],
        doc: "test only",
        example: "id: p\ntype: test.Panic\nmessage: boom",
        shape: runnable::<Panic>(),
    },
    TaskDescriptor {
        type_name: "test.Spawn",
        aliases: &[],
        doc: "test only",
        example: "id: s\ntype: test.Spawn\nscript: 'true'",
        shape: runnable::<Spawn>(),
    },
    TaskDescriptor {
        type_name: "test.Writer",
        aliases: &[],
        doc: "test only",
        example: "id: w\ntype: test.Writer\nchunks: 1",
        shape: runnable::<Writer>(),
    },
    TaskDescriptor {
        type_name: "test.Follower",
        aliases: &[],
        doc: "test only",
        example: "id: f\ntype: test.Follower\nfrom: kestra:///x",
        shape: runnable::<Follower>(),
    },
    TaskDescriptor {
        type_name: "test.Flaky",
        aliases: &[],
        doc: "test only",
        example: "id: f\ntype: test.Flaky\nfailures: 0",
        shape: runnable::<Flaky>(),
    },
    TaskDescriptor {
        type_name: "test.Gate",
        aliases: &[],
        doc: "test only",
        example: "id: g\ntype: test.Gate\nmeet: 1",
        shape: runnable::<Gate>(),
    },
    TaskDescriptor {
        type_name: "test.Forever",
        aliases: &[],
        doc: "test only",
        example: "id: f\ntype: test.Forever",
        shape: runnable::<Forever>(),
    },
];
