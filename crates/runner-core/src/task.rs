//! What a task is to the engine: a runnable that produces outputs, or a flowable that decides
//! which child tasks run. Cross-cutting behaviour (retry, timeout, runIf, errors) is the
//! executor's, not the task's.

use crate::context::RunContext;
use crate::error::TaskError;
use crate::pipe::{GrowingFile, Prepared};
use crate::plan::TaskNode;
use crate::state::State;
use serde_json::{Map, Value as Json};
use std::future::Future;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A task's outputs, as `outputs.<taskId>.<name>` shows them.
pub type Outputs = Map<String, Json>;

/// A task that does work and reports outputs.
pub trait RunnableTask: Send + Sync {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>>;

    /// A rule of this task type that its properties' types cannot say, checked while the flow
    /// is validated (no I/O); the message uses Kestra's words.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }

    /// Whether [`Self::prepare`] may do anything: the executor builds the preview context
    /// only for tasks that say so.
    fn can_prepare(&self) -> bool {
        false
    }

    /// Work this task may start while the task before it in the same sequence still writes
    /// `file`. `ctx` previews this task run: its expressions see the writer's `uri` output
    /// only, and it logs nothing. The result reaches [`Self::run`] through
    /// [`RunContext::take_prepared`] only if the writer succeeds; it must not be visible
    /// before, and dropping it must undo it.
    fn prepare<'a>(
        &'a self,
        _ctx: &'a RunContext,
        _file: GrowingFile,
    ) -> BoxFuture<'a, Option<Prepared>> {
        Box::pin(async { None })
    }
}

/// A task that runs other tasks: it resolves the branches to run; the executor runs them.
pub trait FlowableTask: Send + Sync {
    fn resolve<'a>(
        &'a self,
        ctx: &'a RunContext,
    ) -> BoxFuture<'a, Result<Resolution<'a>, TaskError>>;

    /// A rule of this task type that its properties' types cannot say, checked while the flow
    /// is validated (no I/O); the message uses Kestra's words.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }

    /// After its branches ran without failing: outputs to run them once more with (LoopUntil's
    /// next `iterationCount`), or `None` to stop. `iteration` counts the rounds run so far.
    fn again<'a>(
        &'a self,
        _ctx: &'a RunContext,
        _iteration: u32,
    ) -> BoxFuture<'a, Result<Option<Outputs>, TaskError>> {
        Box::pin(async { Ok(None) })
    }

    /// The flowable's state from its children's merged state (AllowFailure turns FAILED to WARNING).
    fn final_state(&self, children: State) -> State {
        children
    }

    /// Work after the children ran (before `errors` and `finally`), with their merged state;
    /// its outputs join the flowable's (WorkingDirectory's `outputFiles`). An error fails
    /// the flowable.
    fn after<'a>(
        &'a self,
        _ctx: &'a RunContext,
        _children: State,
    ) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async { Ok(Outputs::new()) })
    }
}

/// Branches to run, how many at once (0 = all), and the flowable's own outputs.
pub struct Resolution<'a> {
    pub branches: Vec<Branch<'a>>,
    pub concurrency: usize,
    pub outputs: Outputs,
    /// A folder the task runs under this flowable share (WorkingDirectory); `None` keeps the
    /// one this flowable itself runs in, if any.
    pub working_dir: Option<std::sync::Arc<crate::workdir::WorkingDir>>,
}

impl<'a> Resolution<'a> {
    /// `tasks` run one after the other (no branch at all when the list is empty).
    pub fn sequence(tasks: &'a [TaskNode], outputs: Outputs) -> Self {
        let branches = if tasks.is_empty() {
            Vec::new()
        } else {
            vec![Branch { value: None, tasks }]
        };
        Resolution {
            branches,
            concurrency: 1,
            outputs,
            working_dir: None,
        }
    }
}

/// A sequence of tasks, with the value it runs for (ForEach) when there is one.
pub struct Branch<'a> {
    pub value: Option<String>,
    pub tasks: &'a [TaskNode],
}

pub enum TaskKind {
    Runnable(Box<dyn RunnableTask>),
    Flowable(Box<dyn FlowableTask>),
}
