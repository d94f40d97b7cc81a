//! Flowable core tasks: they choose which child tasks run; the executor runs them.

pub(crate) mod allow_failure;
pub(crate) mod dag;
pub(crate) mod for_each;
pub(crate) mod for_each_item;
pub(crate) mod if_;
pub(crate) mod loop_until;
pub(crate) mod parallel;
pub(crate) mod pause;
pub(crate) mod sequential;
pub(crate) mod sleep;
pub(crate) mod subflow;
pub(crate) mod switch;
pub(crate) mod working_directory;
