//! Kestra's deprecated nashorn and jython Eval and FileTransform, run by the machine's Node.js
//! and Python 3 (scripts/test.sh installs both): rows through the script, logger lines in the
//! task's log, results and failures as Kestra reports them.

use runner_core::State;
use runner_testkit::{Run, run_flow_with};
use serde_json::json;

const ROWS: &str = "{name:\"jane\",age:31}\n{name:\"richard\",age:40}\n{name:\"bob\",age:25}\n";

async fn run(tasks: &str) -> Run {
    let input = std::env::temp_dir().join(format!(
        "runner-engines-{}.ion",
        runner_core::ids::random_u64()
    ));
    std::fs::write(&input, ROWS).unwrap();
    let yaml = format!(
        "id: engines\nnamespace: test\ninputs:\n  - id: file\n    type: FILE\nvariables:\n  prices: [1, 2, 3]\ntasks:\n{tasks}"
    );
    let path = std::env::var("PATH").unwrap_or_default();
    let run = run_flow_with(
        &[runner_scripts::TASKS],
        &yaml,
        &[("file", input.to_str().unwrap())],
        &[("PATH", path.as_str())],
    )
    .await;
    let _ = std::fs::remove_file(&input);
    run
}

fn rows(run: &Run, task: &str) -> String {
    std::fs::read_to_string(run.file(run.outputs(task)["uri"].as_str().unwrap())).unwrap()
}

#[tokio::test]
async fn file_transforms_change_drop_and_add_rows() {
    let run = run(r#"  - id: js
    type: io.kestra.plugin.scripts.nashorn.FileTransform
    from: "{{ inputs.file }}"
    script: |
      logger.info('row: {}', row)
      if (row['name'] === 'richard') {
        row = null
      } else {
        row['email'] = row['name'] + '@kestra.io'
      }
  - id: py
    type: io.kestra.plugin.scripts.jython.FileTransform
    from: "{{ outputs.js.uri }}"
    script: |
      print("seen " + row['name'])
      if row['age'] > 30:
        rows = [{"action": "insert"}, row]
  - id: inline
    type: io.kestra.plugin.scripts.nashorn.FileTransform
    from: '[{"name": "ann"}, {"name": "zed"}]'
    script: row.upper = row.name.toUpperCase()
"#)
    .await;
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(
        rows(&run, "js"),
        "{name:\"jane\",age:31,email:\"jane@kestra.io\"}\n{name:\"bob\",age:25,email:\"bob@kestra.io\"}\n"
    );
    assert!(
        run.logs.contains("row: {name=richard, age=40}"),
        "{}",
        run.logs
    );
    assert_eq!(
        rows(&run, "py"),
        "{action:\"insert\"}\n{name:\"jane\",age:31,email:\"jane@kestra.io\"}\n{name:\"bob\",age:25,email:\"bob@kestra.io\"}\n"
    );
    assert!(run.logs.contains("seen bob"), "{}", run.logs);
    assert_eq!(
        rows(&run, "inline"),
        "{name:\"ann\",upper:\"ANN\"}\n{name:\"zed\",upper:\"ZED\"}\n"
    );
}

#[tokio::test]
async fn eval_returns_the_last_value_and_named_bindings() {
    let run = run(r#"  - id: js
    type: io.kestra.plugin.scripts.nashorn.Eval
    outputs: [total, flowId]
    script: |
      var total = vars.prices.reduce(function (a, b) { return a + b; }, 0);
      var flowId = flow.id;
      logger.warn('total is {}', total);
      total * 2
  - id: py
    type: io.kestra.plugin.scripts.jython.Eval
    outputs: [total]
    script: |
      total = sum(vars['prices'])
      {"doubled": total * 2}
"#)
    .await;
    assert_eq!(run.state, State::Success, "{}", run.logs);
    assert_eq!(
        run.outputs("js"),
        json!({"result": 12, "outputs": {"total": 6, "flowId": "engines"}})
    );
    assert!(
        run.logs.contains("WARN") && run.logs.contains("total is 6"),
        "{}",
        run.logs
    );
    assert_eq!(
        run.outputs("py"),
        json!({"result": {"doubled": 12}, "outputs": {"total": 6}})
    );
}

#[tokio::test]
async fn a_failing_script_fails_the_task_with_its_error() {
    let run = run(r#"  - id: js
    type: io.kestra.plugin.scripts.nashorn.FileTransform
    from: "{{ inputs.file }}"
    script: |
      if (row.name === 'bob') { throw new Error('no bob here') }
"#)
    .await;
    assert_eq!(run.state, State::Failed);
    assert!(
        run.logs
            .contains("the script failed (node exited with code 1)"),
        "{}",
        run.logs
    );
    assert!(run.logs.contains("no bob here"), "{}", run.logs);
    let run = run_py_error().await;
    assert_eq!(run.state, State::Failed);
    assert!(run.logs.contains("ZeroDivisionError"), "{}", run.logs);
}

async fn run_py_error() -> Run {
    run(r#"  - id: py
    type: io.kestra.plugin.scripts.jython.Eval
    script: 1 / 0
"#)
    .await
}
