//! The sync and push tasks against a real git server on loopback: Git's `git http-backend`
//! behind the test kit's CGI server, which asks for basic authentication on every request.
//! Each test makes its own bare repositories, and reads what was pushed by cloning them with
//! the git CLI. The flows folder and the namespace files are folders the test made.

use base64::Engine;
use runner_git::FlowsFolder;
use runner_testkit::git::{GitServer, git};
use runner_testkit::{RunOptions, run_flow_opts};
use serde_json::{Value as Json, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const TASKS: &[&[runner_core::TaskDescriptor]] = &[
    runner_core::TASKS,
    runner_core_tasks::TASKS,
    runner_git::TASKS,
];

/// A folder the test owns, removed at the end.
struct Temp(PathBuf);

impl Temp {
    fn new(what: &str) -> Temp {
        let p = std::env::temp_dir().join(format!(
            "runner-git-{what}-{}",
            runner_core::ids::friendly_id()
        ));
        std::fs::create_dir_all(&p).unwrap();
        Temp(p)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a run of these tests gets: the flows folder, uploads, the password as a secret.
struct Setup {
    flows: Temp,
    uploads: Temp,
    writable: bool,
    namespace_files: Option<PathBuf>,
}

impl Setup {
    fn new() -> Setup {
        Setup {
            flows: Temp::new("flows"),
            uploads: Temp::new("uploads"),
            writable: true,
            namespace_files: None,
        }
    }

    async fn run(&self, yaml: &str, server: &GitServer) -> runner_testkit::Run {
        let mut services = runner_core::Services::default();
        services.insert(FlowsFolder {
            folders: vec![self.flows.0.clone()],
            writable: self.writable,
            registry: Arc::new(runner_core::Registry::new(TASKS)),
        });
        let r = run_flow_opts(
            TASKS,
            yaml,
            RunOptions {
                services,
                environment: vec![(
                    "SECRET_GIT_TOKEN".into(),
                    base64::engine::general_purpose::STANDARD.encode(&server.password),
                )],
                namespace_uploads: Some(self.uploads.0.clone()),
                namespace_files: self
                    .namespace_files
                    .iter()
                    .map(|d| ("company.team".to_string(), d.clone()))
                    .collect(),
                ..RunOptions::default()
            },
        )
        .await;
        assert!(
            !r.logs.contains(&server.password),
            "the password leaked: {}",
            r.logs
        );
        assert!(!r.record.to_string().contains(&server.password));
        r
    }

    fn write_flow(&self, rel: &str, text: &str) {
        let p = self.flows.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Every file of the flows folder with its content, sorted.
    fn snapshot(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut todo = vec![self.flows.0.clone()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                if e.file_type().unwrap().is_dir() {
                    todo.push(e.path());
                } else {
                    let rel = e
                        .path()
                        .strip_prefix(&self.flows.0)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    out.push((rel, std::fs::read_to_string(e.path()).unwrap()));
                }
            }
        }
        out.sort();
        out
    }
}

fn connection(server: &GitServer, repo: &str) -> String {
    format!(
        "    url: {}\n    username: {}\n    password: \"{{{{ secret('GIT_TOKEN') }}}}\"\n",
        server.url(repo),
        server.user
    )
}

/// The Ion diff a task output.
fn diff(r: &runner_testkit::Run, task: &str, output: &str) -> Vec<Json> {
    let uri = r.outputs(task)[output]
        .as_str()
        .unwrap_or_else(|| panic!("no `{output}` in {}: {}", r.outputs(task), r.logs))
        .to_string();
    let text = std::fs::read_to_string(r.file(&uri)).unwrap();
    runner_ion::parse(&text).unwrap()
}

fn flow(id: &str, namespace: &str, message: &str) -> String {
    format!(
        "id: {id}\nnamespace: {namespace}\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: {message}\n"
    )
}

fn head(server: &GitServer, repo: &str, branch: &str) -> String {
    git(&server.checkout(repo, branch), &["rev-parse", "HEAD"])
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[tokio::test]
async fn push_flows_commits_the_namespace_and_dry_run_only_shows_the_diff() {
    let server = GitServer::start();
    server.create_repo("flows");
    let first = server.commit(
        "flows",
        "main",
        &[
            ("README.md", Some("the team's flows\n")),
            ("_flows/old.yml", Some(&flow("old", "prod", "gone"))),
        ],
        "start",
    );
    let setup = Setup::new();
    setup.write_flow(
        "hello.yaml",
        &format!("{}revision: 4\n", flow("hello", "company.team", "hi")),
    );
    setup.write_flow("team/sub.yml", &flow("child", "company.team.sub", "child"));
    setup.write_flow("other.yml", &flow("elsewhere", "company.other", "no"));
    let push = |id: &str, extra: &str| {
        format!(
            "  - id: {id}\n    type: io.kestra.plugin.git.PushFlows\n{}    targetNamespace: prod\n    includeChildNamespaces: true\n{extra}",
            connection(&server, "flows")
        )
    };
    let yaml = format!(
        "id: push\nnamespace: company.team\ntasks:\n{}{}{}",
        push("dry", "    dryRun: true\n"),
        push(
            "real",
            "    authorName: Flow Bot\n    authorEmail: bot@example.com\n"
        ),
        push("again", ""),
    );
    let r = setup.run(&yaml, &server).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);

    // The dry run staged the changes, pushed nothing, and said what would change.
    assert_eq!(
        diff(&r, "dry", "flows"),
        vec![
            json!({"file": "_flows/hello.yml", "additions": "+6", "deletions": "-0", "changes": "6"}),
            json!({"file": "_flows/old.yml", "additions": "+0", "deletions": "-6", "changes": "6"}),
            json!({"file": "_flows/sub/child.yml", "additions": "+6", "deletions": "-0", "changes": "6"}),
        ]
    );
    assert!(r.logs.contains(&format!(
        "Dry run — no changes will be pushed to http://127.0.0.1:{}/flows for now until you set the `dryRun` parameter to false",
        server.port
    )), "{}", r.logs);
    assert!(r.outputs("dry").get("commitId").is_none());

    // The real push: one commit on top of the first, by the author given.
    let out = r.outputs("real");
    let sha = out["commitId"].as_str().unwrap().to_string();
    assert_eq!(head(&server, "flows", "main"), sha);
    assert_eq!(
        out["commitURL"],
        format!("http://127.0.0.1:{}/flows/commit/{sha}", server.port)
    );
    let tree = server.checkout("flows", "main");
    assert_eq!(git(&tree, &["rev-parse", "HEAD~1"]), first);
    assert_eq!(
        git(&tree, &["log", "-1", "--format=%an <%ae>|%s"]),
        "Flow Bot <bot@example.com>|Add flows from company.team namespace"
    );
    // Namespaces rewritten, revisions dropped, the child in its folder, the stale flow gone,
    // the file outside gitDirectory kept, the other namespace not pushed.
    assert_eq!(read(&tree, "_flows/hello.yml"), flow("hello", "prod", "hi"));
    assert_eq!(
        read(&tree, "_flows/sub/child.yml"),
        flow("child", "prod.sub", "child")
    );
    assert!(!tree.join("_flows/old.yml").exists());
    assert!(!tree.join("_flows/elsewhere.yml").exists());
    assert_eq!(read(&tree, "README.md"), "the team's flows\n");
    assert!(r.logs.contains(&format!(
        "Pushed to http://127.0.0.1:{}/flows/commit/{sha}",
        server.port
    )));

    // Nothing changed since: no commit.
    assert_eq!(r.outputs("again")["commitId"], Json::Null);
    assert!(
        r.logs.contains("No changes to commit. Skipping push."),
        "{}",
        r.logs
    );
    assert!(diff(&r, "again", "flows").is_empty());
    // Every request carried the credentials once asked.
    assert!(server.requests().iter().any(|l| l.ends_with(" 401")));
    assert!(
        server
            .requests()
            .iter()
            .any(|l| l.starts_with("POST /flows.git/git-receive-pack") && l.ends_with(" 200"))
    );
}

#[tokio::test]
async fn a_missing_branch_is_made_and_a_push_the_remote_rejects_fails_clearly() {
    let server = GitServer::start();
    server.create_repo("flows");
    server.commit("flows", "main", &[("README.md", Some("r\n"))], "start");
    let setup = Setup::new();
    setup.write_flow("hello.yml", &flow("hello", "company.team", "hi"));
    let yaml = format!(
        "id: push\nnamespace: company.team\ntasks:\n  - id: feature\n    type: io.kestra.plugin.git.PushFlows\n{}    branch: feature\n",
        connection(&server, "flows")
    );
    let r = setup.run(&yaml, &server).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert!(
        r.logs
            .contains("Branch feature does not exist, creating it")
    );
    assert_eq!(server.branches("flows"), ["feature", "main"]);
    let tree = server.checkout("flows", "feature");
    assert_eq!(read(&tree, "README.md"), "r\n", "made from main");
    assert_eq!(
        read(&tree, "_flows/hello.yml"),
        flow("hello", "company.team", "hi")
    );

    // Someone pushes to main between the task's clone and its push.
    setup.write_flow("hello.yml", &flow("hello", "company.team", "changed"));
    server.race_next_push("flows", "main", &[("other.txt", "theirs\n")]);
    let yaml = yaml.replace("    branch: feature\n", "");
    let r = setup.run(&yaml, &server).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs.contains(&format!(
            "the push to http://127.0.0.1:{}/flows.git on branch main was rejected:",
            server.port
        )),
        "{}",
        r.logs
    );
    assert!(r.logs.contains("[rejected]"), "{}", r.logs);
    assert!(r.logs.contains("non-fast-forward"), "{}", r.logs);
    let tree = server.checkout("flows", "main");
    assert_eq!(read(&tree, "other.txt"), "theirs\n");
    assert!(
        !tree.join("_flows").exists(),
        "the rejected commit is not there"
    );
}

#[tokio::test]
async fn sync_flows_validates_everything_first_and_writes_all_or_nothing() {
    let server = GitServer::start();
    server.create_repo("flows");
    server.commit(
        "flows",
        "main",
        &[
            (
                "_flows/hello.yml",
                Some(&flow("hello", "anything", "from git")),
            ),
            ("_flows/sub/child.yml", Some(&flow("child", "x", "child"))),
            ("_flows/.kestraignore", Some("drafts/\n")),
            ("_flows/drafts/wip.yml", Some("id: wip\nnot valid: [\n")),
            ("README.md", Some("not a flow\n")),
        ],
        "flows",
    );
    let setup = Setup::new();
    setup.write_flow("old.yml", &flow("old", "company.team", "stale"));
    setup.write_flow(
        "sync.yml",
        &flow("sync", "company.team", "the flow syncing"),
    );
    setup.write_flow(
        "keep.yml",
        &flow("kept", "company.other", "other namespace"),
    );
    let before = setup.snapshot();
    let sync = |id: &str, extra: &str| {
        format!(
            "  - id: {id}\n    type: io.kestra.plugin.git.SyncFlows\n{}    targetNamespace: company.team\n    includeChildNamespaces: true\n    delete: true\n{extra}",
            connection(&server, "flows")
        )
    };
    let yaml = format!(
        "id: sync\nnamespace: company.team\ntasks:\n{}",
        sync("dry", "    dryRun: true\n")
    );
    let r = setup.run(&yaml, &server).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert_eq!(setup.snapshot(), before, "a dry run writes nothing");
    assert_eq!(
        diff(&r, "dry", "flows"),
        vec![
            json!({"syncState": "DELETED", "flowId": "old", "namespace": "company.team", "revision": 1}),
            json!({"gitPath": "_flows/hello.yml", "syncState": "ADDED", "flowId": "hello", "namespace": "company.team", "revision": 1}),
            json!({"gitPath": "_flows/sub/child.yml", "syncState": "ADDED", "flowId": "child", "namespace": "company.team.sub", "revision": 1}),
        ]
    );

    let yaml = format!(
        "id: sync\nnamespace: company.team\ntasks:\n{}{}",
        sync("real", ""),
        sync("again", "")
    );
    let r = setup.run(&yaml, &server).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let flows_dir = &setup.flows.0;
    assert_eq!(
        read(flows_dir, "company.team/hello.yml"),
        flow("hello", "company.team", "from git")
    );
    assert_eq!(
        read(flows_dir, "company.team/sub/child.yml"),
        flow("child", "company.team.sub", "child")
    );
    assert!(!flows_dir.join("old.yml").exists(), "deleted: Git lacks it");
    assert!(
        flows_dir.join("sync.yml").exists(),
        "the running flow is never deleted"
    );
    assert!(flows_dir.join("keep.yml").exists(), "another namespace");
    let states: Vec<Json> = diff(&r, "again", "flows")
        .into_iter()
        .map(|row| row["syncState"].clone())
        .collect();
    assert_eq!(states, ["UNCHANGED", "UNCHANGED"]);

    // A changed flow is rewritten where it is; an invalid one stops everything.
    server.commit(
        "flows",
        "main",
        &[
            ("_flows/hello.yml", Some(&flow("hello", "x", "changed"))),
            (
                "_flows/bad.yml",
                Some("id: bad\nnamespace: x\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Nope\n"),
            ),
        ],
        "break it",
    );
    let before = setup.snapshot();
    let r = setup
        .run(
            &format!(
                "id: sync\nnamespace: company.team\ntasks:\n{}",
                sync("bad", "")
            ),
            &server,
        )
        .await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs
            .contains("Invalid flow imported from Git (bad.yml): _flows/bad.yml:5:11:"),
        "{}",
        r.logs
    );
    assert!(
        r.logs.contains("io.kestra.plugin.core.log.Nope"),
        "{}",
        r.logs
    );
    assert!(r.logs.contains("nothing was written to the flows folder"));
    assert_eq!(
        setup.snapshot(),
        before,
        "a failed sync leaves the folder as it was"
    );

    let yaml = format!(
        "id: sync\nnamespace: company.team\ntasks:\n{}",
        sync("skip", "    ignoreInvalidFlows: true\n")
    );
    let r = setup.run(&yaml, &server).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert!(r.logs.contains("Invalid flow imported from Git (bad.yml)"));
    assert_eq!(
        read(flows_dir, "company.team/hello.yml"),
        flow("hello", "company.team", "changed")
    );
    let row = diff(&r, "skip", "flows")
        .into_iter()
        .find(|row| row["flowId"] == "hello")
        .unwrap();
    assert_eq!(row["syncState"], "UPDATED");
    assert_eq!(row["revision"], 2);
}

#[tokio::test]
async fn sync_flow_brings_one_file_into_the_target_namespace() {
    let server = GitServer::start();
    server.create_repo("flows");
    server.commit(
        "flows",
        "main",
        &[
            ("_flows/hello.yml", Some(&flow("hello", "x", "hi"))),
            (
                "_flows/bad.yml",
                Some("id: bad\nnamespace: x\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Nope\n"),
            ),
        ],
        "start",
    );
    let setup = Setup::new();
    let task = |id: &str, path: &str, extra: &str| {
        format!(
            "  - id: {id}\n    type: io.kestra.plugin.git.SyncFlow\n{}    targetNamespace: company.team\n    flowPath: {path}\n{extra}",
            connection(&server, "flows")
        )
    };
    let yaml = format!(
        "id: sync\nnamespace: company.team\ntasks:\n{}{}{}{}",
        task("dry", "_flows/hello.yml", "    dryRun: true\n"),
        task("one", "_flows/hello.yml", ""),
        task("again", "_flows/hello.yml", ""),
        task("missing", "_flows/nope.yml", "    allowFailure: true\n"),
    );
    let r = setup.run(&yaml, &server).await;
    assert_eq!(r.state.as_str(), "WARNING", "{}", r.logs);
    // The dry run wrote nothing; the real one wrote the flow in its namespace's folder.
    assert!(
        r.logs
            .contains("Dry run: Flow company.team.hello added from _flows/hello.yml")
    );
    assert_eq!(
        r.outputs("one"),
        json!({"flowId": "hello", "namespace": "company.team", "revision": 1})
    );
    assert!(
        r.logs
            .contains("[one] Flow company.team.hello added from _flows/hello.yml"),
        "{}",
        r.logs
    );
    assert_eq!(
        setup.snapshot(),
        vec![(
            "company.team/hello.yml".to_string(),
            flow("hello", "company.team", "hi")
        )]
    );
    assert!(
        r.logs.contains("Flow company.team.hello is unchanged"),
        "{}",
        r.logs
    );
    assert_eq!(r.outputs("again")["revision"], 1);
    assert!(
        r.logs
            .contains("Flow file not found at path: _flows/nope.yml"),
        "{}",
        r.logs
    );
    assert!(
        r.logs
            .contains("flowPath is relative to the repository's root, in branch `main`")
    );

    // A change in Git replaces the flow where it is; an invalid flow is refused, nothing written.
    server.commit(
        "flows",
        "main",
        &[("_flows/hello.yml", Some(&flow("hello", "x", "changed")))],
        "change",
    );
    let yaml = format!(
        "id: sync\nnamespace: company.team\ntasks:\n{}{}",
        task("update", "_flows/hello.yml", ""),
        task("bad", "_flows/bad.yml", ""),
    );
    let r = setup.run(&yaml, &server).await;
    assert_eq!(r.state.as_str(), "FAILED", "{}", r.logs);
    assert_eq!(r.outputs("update")["revision"], 2);
    assert!(
        r.logs
            .contains("Flow company.team.hello updated from _flows/hello.yml")
    );
    assert!(r.logs.contains("Flow validation failed:"), "{}", r.logs);
    assert!(
        r.logs.contains("io.kestra.plugin.core.log.Nope"),
        "{}",
        r.logs
    );
    assert!(r.logs.contains("nothing was written to the flows folder"));
    assert_eq!(
        setup.snapshot(),
        vec![(
            "company.team/hello.yml".to_string(),
            flow("hello", "company.team", "changed")
        )]
    );
}

#[tokio::test]
async fn sync_refuses_a_missing_branch_a_read_only_folder_and_masks_a_token_in_the_url() {
    let server = GitServer::start();
    server.create_repo("flows");
    server.commit(
        "flows",
        "main",
        &[("_flows/a.yml", Some(&flow("a", "x", "a")))],
        "a",
    );
    let mut setup = Setup::new();
    let with_token = server.url_with_credentials("flows");
    let yaml = format!(
        r#"id: sync
namespace: company.team
tasks:
  - id: nobranch
    type: io.kestra.plugin.git.SyncFlows
{connection}    branch: nope
    targetNamespace: company.team
    allowFailure: true
  - id: anonymous
    type: io.kestra.plugin.git.SyncFlows
    url: {url}
    targetNamespace: company.team
    allowFailure: true
  - id: wrongpw
    type: io.kestra.plugin.git.SyncFlows
    url: {url}
    username: {user}
    password: not-the-token
    targetNamespace: company.team
    allowFailure: true
  - id: token
    type: io.kestra.plugin.git.SyncFlows
    url: "{with_token}"
    targetNamespace: company.team
  - id: norepo
    type: io.kestra.plugin.git.SyncFlows
    url: "{missing}"
    targetNamespace: company.team
    allowFailure: true
"#,
        url = server.url("flows"),
        connection = connection(&server, "flows"),
        user = server.user,
        missing = with_token.replace("/flows.git", "/missing.git"),
    );
    let r = setup.run(&yaml, &server).await;
    assert_eq!(r.state.as_str(), "WARNING", "{}", r.logs);
    assert!(
        r.logs.contains(&format!(
            "branch `nope` does not exist in http://127.0.0.1:{}/flows.git (its branches: main)",
            server.port
        )),
        "{}",
        r.logs
    );
    assert!(
        setup.flows.0.join("company.team/a.yml").exists(),
        "{}",
        r.logs
    );
    // No credentials for a server that asks: the error says which properties to set.
    assert!(
        r.logs.contains(&format!(
            "help: {} asks for credentials: set `username` and `password` (a personal access token)",
            server.url("flows")
        )),
        "{}",
        r.logs
    );
    assert!(
        r.logs.contains(&format!(
            "help: {} refused the credentials of user `{}`: check `username` and `password`",
            server.url("flows"),
            server.user
        )),
        "{}",
        r.logs
    );
    assert!(!r.logs.contains("not-the-token"), "{}", r.logs);
    // The token in the URL is masked in runner's words and in git's own.
    assert!(r.logs.contains("git ls-remote failed"), "{}", r.logs);
    assert!(r.logs.contains("fatal: repository 'http://"), "{}", r.logs);
    assert!(!r.logs.contains(&server.password), "{}", r.logs);
    assert!(!r.record.to_string().contains(&server.password));

    setup.writable = false;
    let yaml = format!(
        "id: sync\nnamespace: company.team\ntasks:\n  - id: ro\n    type: io.kestra.plugin.git.SyncFlows\n{}    targetNamespace: company.team\n",
        connection(&server, "flows")
    );
    let r = setup.run(&yaml, &server).await;
    assert_eq!(r.state.as_str(), "FAILED");
    assert!(
        r.logs.contains("this run may not change the flows folder"),
        "{}",
        r.logs
    );
    let r = setup
        .run(&format!("{yaml}    dryRun: true\n"), &server)
        .await;
    assert_eq!(
        r.state.as_str(),
        "SUCCESS",
        "a dry run may read: {}",
        r.logs
    );
}

#[tokio::test]
async fn namespace_files_sync_from_and_push_to_git() {
    let server = GitServer::start();
    server.create_repo("files");
    server.commit(
        "files",
        "main",
        &[
            ("_files/scripts/etl.py", Some("print('etl')\n")),
            ("_files/data.csv", Some("a,b\n1,2\n")),
            ("_files/same.txt", Some("same\n")),
        ],
        "files",
    );
    let mut setup = Setup::new();
    let project = Temp::new("project");
    std::fs::write(project.0.join("keep.txt"), "project file\n").unwrap();
    std::fs::write(project.0.join("same.txt"), "same\n").unwrap();
    setup.namespace_files = Some(project.0.clone());
    let uploads = setup.uploads.0.join("company.team");
    std::fs::create_dir_all(&uploads).unwrap();
    std::fs::write(uploads.join("stale.txt"), "old upload\n").unwrap();
    std::fs::write(uploads.join("data.csv"), "old\n").unwrap();
    let yaml = format!(
        "id: files\nnamespace: company.team\ntasks:\n  - id: sync\n    type: io.kestra.plugin.git.SyncNamespaceFiles\n{}    delete: true\n",
        connection(&server, "files")
    );
    let r = setup.run(&yaml, &server).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert_eq!(
        diff(&r, "sync", "files"),
        vec![
            json!({"syncState": "DELETED", "kestraPath": "/stale.txt"}),
            json!({"gitPath": "_files/data.csv", "syncState": "OVERWRITTEN", "kestraPath": "/data.csv"}),
            json!({"gitPath": "_files/same.txt", "syncState": "UNCHANGED", "kestraPath": "/same.txt"}),
            json!({"gitPath": "_files/scripts/etl.py", "syncState": "ADDED", "kestraPath": "/scripts/etl.py"}),
        ]
    );
    assert_eq!(read(&uploads, "scripts/etl.py"), "print('etl')\n");
    assert_eq!(read(&uploads, "data.csv"), "a,b\n1,2\n");
    assert!(!uploads.join("stale.txt").exists());
    assert!(
        !uploads.join("same.txt").exists(),
        "identical: not rewritten"
    );
    assert_eq!(
        read(&project.0, "keep.txt"),
        "project file\n",
        "never changed"
    );
    assert!(
        r.logs
            .contains("/keep.txt is not in Git but is a file of the project's namespace folder")
    );

    // And back: the Python files only, to a new branch.
    let yaml = format!(
        "id: files\nnamespace: company.team\ntasks:\n  - id: push\n    type: io.kestra.plugin.git.PushNamespaceFiles\n{}    branch: scripts\n    files: \"**/*.py\"\n    gitDirectory: py\n  - id: none\n    type: io.kestra.plugin.git.PushNamespaceFiles\n{}    files: [\"*.nothing\"]\n    errorOnMissing: true\n    allowFailure: true\n",
        connection(&server, "files"),
        connection(&server, "files")
    );
    let r = setup.run(&yaml, &server).await;
    assert_eq!(r.state.as_str(), "WARNING", "{}", r.logs);
    let tree = server.checkout("files", "scripts");
    assert_eq!(read(&tree, "py/scripts/etl.py"), "print('etl')\n");
    assert!(!tree.join("py/data.csv").exists());
    assert_eq!(
        git(&tree, &["log", "-1", "--format=%s"]),
        "Add files from company.team namespace"
    );
    assert!(
        r.logs
            .contains("No Namespace Files matched the provided 'files' parameter to commit.")
    );
}

#[tokio::test]
async fn execution_files_go_to_git_by_map_glob_or_all_outputs() {
    let server = GitServer::start();
    server.create_repo("out");
    server.commit(
        "out",
        "main",
        &[("_outputs/previous.csv", Some("old\n"))],
        "start",
    );
    let setup = Setup::new();
    let yaml = format!(
        r#"id: report
namespace: company.team
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "id,total\n1,10\n"
    extension: .csv
  - id: bymap
    type: io.kestra.plugin.git.PushExecutionFiles
{conn}    filesMap:
      reports/total.csv: "{{{{ outputs.write.uri }}}}"
    commitMessage: "Report {{{{ execution.id }}}}"
  - id: none
    type: io.kestra.plugin.git.PushExecutionFiles
{conn}    errorOnMissing: true
    allowFailure: true
"#,
        conn = connection(&server, "out")
    );
    let r = setup.run(&yaml, &server).await;
    assert_eq!(r.state.as_str(), "WARNING", "{}", r.logs);
    let tree = server.checkout("out", "main");
    assert_eq!(
        read(&tree, "_outputs/reports/total.csv"),
        "id,total\n1,10\n"
    );
    assert!(
        !tree.join("_outputs/previous.csv").exists(),
        "delete defaults to true"
    );
    assert_eq!(
        git(&tree, &["log", "-1", "--format=%s"]),
        format!("Report {}", r.record["id"].as_str().unwrap())
    );
    assert_eq!(
        diff(&r, "bymap", "files"),
        vec![
            json!({"file": "_outputs/previous.csv", "additions": "+0", "deletions": "-1", "changes": "1"}),
            json!({"file": "_outputs/reports/total.csv", "additions": "+2", "deletions": "-0", "changes": "2"}),
        ]
    );
    assert!(
        r.logs.contains("No output files found in this execution."),
        "{}",
        r.logs
    );
}

#[tokio::test]
async fn namespace_sync_pushes_this_side_or_pulls_git_side() {
    let server = GitServer::start();
    server.create_repo("ns");
    server.commit(
        "ns",
        "main",
        &[
            (
                "company.team/flows/from_git.yaml",
                Some(&flow("from_git", "company.team", "git")),
            ),
            ("company.team/files/only_git.txt", Some("git file\n")),
        ],
        "start",
    );
    let setup = Setup::new();
    setup.write_flow("local.yml", &flow("local", "company.team", "local"));
    let uploads = setup.uploads.0.join("company.team");
    std::fs::create_dir_all(&uploads).unwrap();
    std::fs::write(uploads.join("notes.txt"), "local file\n").unwrap();
    let task = |id: &str, extra: &str| {
        format!(
            "  - id: {id}\n    type: io.kestra.plugin.git.NamespaceSync\n{}    branch: main\n    namespace: company.team\n{extra}",
            connection(&server, "ns")
        )
    };
    // Kestra's side wins: Git gets the local flow and file, loses what only it had.
    let yaml = format!(
        "id: nsync\nnamespace: company.team\ntasks:\n{}{}",
        task("plan", "    dryRun: true\n"),
        task("push", "")
    );
    let r = setup.run(&yaml, &server).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    let mut planned = diff(&r, "plan", "diff");
    planned.sort_by_key(|r| r["key"].as_str().unwrap().to_string());
    assert_eq!(
        planned,
        vec![
            json!({"file": "company.team/flows/from_git.yaml", "key": "company.team:from_git", "kind": "FLOW", "action": "DELETED_GIT"}),
            json!({"file": "company.team/flows/local.yaml", "key": "company.team:local", "kind": "FLOW", "action": "ADDED"}),
            json!({"file": "company.team/files/notes.txt", "key": "company.team:notes.txt", "kind": "FILE", "action": "ADDED"}),
            json!({"file": "company.team/files/only_git.txt", "key": "company.team:only_git.txt", "kind": "FILE", "action": "DELETED_GIT"}),
        ]
    );
    let tree = server.checkout("ns", "main");
    assert_eq!(
        read(&tree, "company.team/flows/local.yaml"),
        flow("local", "company.team", "local")
    );
    assert_eq!(read(&tree, "company.team/files/notes.txt"), "local file\n");
    assert!(!tree.join("company.team/flows/from_git.yaml").exists());
    assert_eq!(
        r.outputs("push")["commitId"],
        git(&tree, &["rev-parse", "HEAD"])
    );
    assert_eq!(
        git(&tree, &["log", "-1", "--format=%s"]),
        "Namespace sync from Kestra"
    );

    // Git's side wins, keeping what Git lacks.
    server.commit(
        "ns",
        "main",
        &[(
            "company.team/flows/new.yaml",
            Some(&flow("new", "company.team", "new")),
        )],
        "more",
    );
    let yaml = format!(
        "id: nsync\nnamespace: company.team\ntasks:\n{}",
        task(
            "pull",
            "    sourceOfTruth: GIT\n    whenMissingInSource: KEEP\n"
        )
    );
    let r = setup.run(&yaml, &server).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert_eq!(
        read(&setup.flows.0, "company.team/new.yml"),
        flow("new", "company.team", "new")
    );
    assert!(setup.flows.0.join("local.yml").exists());
    let actions: Vec<Json> = diff(&r, "pull", "diff")
        .into_iter()
        .map(|r| json!([r["key"], r["action"]]))
        .collect();
    assert_eq!(actions, vec![json!(["company.team:new", "ADDED"])]);
}

#[tokio::test]
async fn the_older_sync_and_push_still_work() {
    let server = GitServer::start();
    server.create_repo("old");
    server.commit(
        "old",
        "main",
        &[
            ("kestra/_flows/a.yml", Some(&flow("a", "elsewhere", "a"))),
            ("kestra/scripts/run.sh", Some("echo run\n")),
        ],
        "start",
    );
    let setup = Setup::new();
    setup.write_flow("gone.yml", &flow("gone", "company.team", "gone"));
    let yaml = format!(
        "id: legacy\nnamespace: company.team\ntasks:\n  - id: sync\n    type: io.kestra.plugin.git.Sync\n{}    gitDirectory: kestra\n  - id: push\n    type: io.kestra.plugin.git.Push\n{}    branch: published\n    commitMessage: publish\n",
        connection(&server, "old"),
        connection(&server, "old"),
    );
    let r = setup.run(&yaml, &server).await;
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);
    assert!(
        r.logs
            .contains("Dry run is disabled, performing following actions")
    );
    assert!(r.logs.contains("+ /_flows/a.yml") && r.logs.contains("- /_flows/gone.yml"));
    assert_eq!(
        read(&setup.flows.0, "company.team/a.yml"),
        flow("a", "company.team", "a")
    );
    assert!(!setup.flows.0.join("gone.yml").exists());
    assert_eq!(
        read(&setup.uploads.0, "company.team/scripts/run.sh"),
        "echo run\n"
    );
    let tree = server.checkout("old", "published");
    assert_eq!(
        read(&tree, "_flows/company.team.a.yml"),
        flow("a", "company.team", "a")
    );
    assert!(
        !tree.join("kestra").exists(),
        "Push replaces the whole tree"
    );
    assert_eq!(
        r.outputs("push")["commitId"],
        git(&tree, &["rev-parse", "HEAD"])
    );
}
