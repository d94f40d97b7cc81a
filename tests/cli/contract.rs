//! The task contract (`runner_testkit::contract`) over every type the binary registers: each
//! example validates, runs to a clear end with nothing to talk to, leaves nothing behind when
//! killed mid-run, and never lets a credential property's value out.

use runner_testkit::contract::{self, Setup};
use std::path::PathBuf;
use std::sync::Arc;

/// What `runner run` gives every execution that matters to the examples: scripts on this
/// machine, a KV store of their own.
fn setup(state: PathBuf) -> Box<Setup> {
    Box::new(move |builder| {
        builder
            .service(runner_scripts::kit::TaskRunnerChoice {
                mode: runner_scripts::kit::RunnerMode::Process,
                docker_host_access: false,
            })
            .kv(Arc::new(runner_kv::LazyKv::new(
                state.clone(),
                vec!["company.team".into()],
            )))
    })
}

struct State(PathBuf);

impl State {
    fn new() -> State {
        State(std::env::temp_dir().join(format!(
            "runner-contract-state-{}",
            runner_core::ids::friendly_id()
        )))
    }
}

impl Drop for State {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn every_example_validates() {
    let registry = runner::registry();
    let problems: Vec<String> = registry
        .iter()
        .filter_map(|t| contract::example_validates(&registry, t.descriptor).err())
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_runs_to_a_clear_end() {
    let registry = Arc::new(runner::registry());
    let state = State::new();
    let setup = setup(state.0.clone());
    let mut problems = Vec::new();
    let mut checked = 0;
    for t in registry.iter() {
        match contract::runs_to_a_clear_end(&registry, &setup, t.descriptor).await {
            Ok(_) => checked += 1,
            Err(e) => problems.push(format!("{}: {e}", t.type_name())),
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(checked, registry.iter().count());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_any_task_leaves_nothing_behind() {
    let registry = Arc::new(runner::registry());
    let state = State::new();
    let setup = setup(state.0.clone());
    let mut problems = Vec::new();
    for t in registry.iter() {
        if let Err(e) = contract::cancellation_leaves_nothing(&registry, &setup, t.descriptor).await
        {
            problems.push(format!("{}: {e}", t.type_name()));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_property_lets_its_value_out() {
    let registry = Arc::new(runner::registry());
    let state = State::new();
    let setup = setup(state.0.clone());
    let mut problems = Vec::new();
    let mut values = 0;
    let mut types = 0;
    for t in registry.iter() {
        match contract::secrets_stay_secret(&registry, &setup, t.descriptor).await {
            Ok(0) => {}
            Ok(n) => {
                values += n;
                types += 1;
            }
            Err(e) => problems.push(format!("{}: {e}", t.type_name())),
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    // PostgreSQL (4 types), S3 (4), git, HTTP (2) and the webhooks (10) at least.
    assert!(
        types >= 20 && values >= 40,
        "{types} types, {values} values"
    );
}
