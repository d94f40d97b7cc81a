//! The command line, as clap reads it.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// `runner --version`: the version and the commit it was built from.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("RUNNER_COMMIT"), ")");

#[derive(Parser)]
#[command(
    name = "runner",
    version = VERSION,
    about = "Run Kestra flow files locally, from one small binary",
    after_help = "Start with `runner init` (a project with one flow and its test), then `runner run flows/hello.yaml`.\nEvery command has examples in its --help; the manual is in docs/ (README.md links every page)."
)]
pub(crate) struct Cli {
    /// Colours on stderr: `auto` on a terminal unless NO_COLOR is set
    #[arg(long, value_enum, default_value = "auto", global = true)]
    pub(crate) color: ColorArg,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run a flow file and print a summary (exit 0 on SUCCESS or WARNING, 1 on FAILED or
    /// KILLED, 3 when a Pause waits for `runner resume`)
    #[command(
        after_help = "Examples:\n  runner run flows/hello.yaml -i name=you\n  runner run flows/postgres_to_s3.yaml --env-file .env_encoded\n  runner run --flow-id company.team.hello --flows flows --json\n  runner run flows/hello.yaml --watch\n  runner run flows/hello.yaml --server http://localhost:8080 --deploy -i name=you"
    )]
    Run(Box<RunArgs>),
    /// Check flow files (or folders of them) without running anything
    #[command(
        after_help = "Examples:\n  runner validate flows\n  runner validate --strict flows/postgres_to_s3.yaml --env-file .env_encoded"
    )]
    Validate {
        /// Flow files or folders (searched recursively for .yaml and .yml files)
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Its SECRET_* variables count as set, for the unset-secret warnings
        #[command(flatten)]
        env: EnvFileArgs,
        /// Refuse what a Kestra server with only core plugins refuses, and what would fail
        /// the run: trigger types runner does not know and expressions that do not parse are
        /// errors, not warnings
        #[arg(long)]
        strict: bool,
        /// Kestra plugins runner does not run yet are warnings, not errors; everything else in
        /// those flows (ids, expressions, common properties, subflows) is still checked
        #[arg(long)]
        allow_unsupported: bool,
    },
    /// Send flows and their namespace files to a Kestra server, once every flow is valid
    /// (nothing is sent if one is not); exit 1 when the server refuses one
    #[command(
        after_help = "Examples:\n  runner deploy flows --server http://localhost:8080 --dry-run\n  runner deploy flows --server http://localhost:8080 --env-file .kestra.env\n  runner deploy flows --server https://kestra.example.com --prune\n\nCredentials come from KESTRA_USER and KESTRA_PASSWORD (basic auth), or KESTRA_API_TOKEN (Kestra\nEnterprise), in the environment or an --env-file; they are never printed."
    )]
    Deploy(DeployArgs),
    /// Render one expression and print the result
    #[command(
        after_help = "Examples:\n  runner eval \"{{ 1 + 1 }}\"\n  runner eval --flow flows/hello.yaml \"{{ inputs.name | upper }}\"\n  runner eval --env-file .env_encoded \"{{ secret('TOKEN') | length }}\""
    )]
    Eval {
        /// A JSON or YAML file whose top-level keys become variables
        #[arg(long)]
        vars: Option<PathBuf>,
        /// A flow file: adds its `flow`, `vars` and input defaults as variables
        #[arg(long)]
        flow: Option<PathBuf>,
        #[command(flatten)]
        env: EnvFileArgs,
        /// The expression, e.g. "{{ 1 + 1 }}"
        template: String,
    },
    /// List the task types this runner supports, or show one with its properties and example
    #[command(
        after_help = "Examples:\n  runner plugins\n  runner plugins io.kestra.plugin.core.http.Request\n  runner plugins --format json"
    )]
    Plugins {
        /// One task type (or an alias of it)
        #[arg(value_name = "TYPE")]
        type_name: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Print a JSON Schema of flow files (or of test suites) for editors: validation and
    /// completion as you type, with yaml-language-server (VS Code's YAML extension...)
    #[command(
        after_help = "Examples:\n  runner schema > .runner/flow.schema.json\n  runner schema --test-suite > .runner/test-suite.schema.json\n\nThen, in VS Code's settings.json (the YAML extension):\n  \"yaml.schemas\": {\".runner/flow.schema.json\": \"flows/*.yaml\"}"
    )]
    Schema {
        /// The schema of Kestra test suites (`testCases`) instead of flows
        #[arg(long)]
        test_suite: bool,
    },
    /// A Language Server for flow files on stdio: runner's diagnostics as you type,
    /// completion, hover and go-to-definition (point your editor's LSP client at it)
    #[command(
        after_help = "Examples:\n  runner lsp   (started by the editor, e.g. Neovim: vim.lsp.start({ name = 'runner', cmd = { 'runner', 'lsp' } }))\n  runner lsp --env-file .env_encoded"
    )]
    Lsp {
        /// Its SECRET_* variables count as set: a `secret('X')` not set in them is a warning
        #[command(flatten)]
        env: EnvFileArgs,
    },
    /// Create a project: a flows folder with one flow and its test, .env.example, .gitignore
    #[command(after_help = "Examples:\n  runner init\n  runner init my-project")]
    Init {
        /// Where [default: the current folder]
        dir: Option<PathBuf>,
    },
    /// Print a shell completion script
    #[command(
        after_help = "Examples:\n  runner completions bash > ~/.local/share/bash-completion/completions/runner\n  runner completions zsh > ~/.zfunc/_runner\n  runner completions fish > ~/.config/fish/completions/runner.fish"
    )]
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Work with secret files
    #[command(
        subcommand,
        after_help = "Examples:\n  runner secrets encode .env -o .env_encoded\n  runner secrets encrypt .env -r age1..."
    )]
    Secrets(SecretsCommand),
    /// Read and change the KV store that runs keep in the state directory
    #[command(
        after_help = "Examples:\n  runner kv list\n  runner kv set company.team last_run 2026-01-01 --type DATE\n  runner kv get company.team last_run"
    )]
    Kv(KvArgs),
    /// Run Kestra test suites (flow unit tests): exit 0 when every case passed, 1 when one
    /// failed or errored, 2 when a suite is invalid
    #[command(
        after_help = "Examples:\n  runner test flows --flows flows\n  runner test flows/tests/hello_test.yaml --test-case given_name\n  runner test --junit target/runner-test.xml -j 4\n  runner test --watch"
    )]
    Test(TestArgs),
    /// Go on with a PAUSED execution past its Pause, with the Pause's `onResume` inputs
    /// (exit codes as `run`)
    #[command(
        after_help = "Examples:\n  runner resume 4wjTmcTwVMDjAeYmpYxXbC\n  runner resume 4wjTmcTwVMDjAeYmpYxXbC -i approved=true -i reason=\"looks good\""
    )]
    Resume {
        #[command(flatten)]
        args: ContinueArgs,
        /// An `onResume` input value, `-i name=value` (repeatable); a FILE input takes a
        /// local path
        #[arg(short = 'i', long = "input", value_name = "NAME=VALUE")]
        inputs: Vec<String>,
        /// A JSON or YAML file of `onResume` values (`-`: read them from stdin)
        #[arg(long, value_name = "FILE")]
        inputs_file: Option<PathBuf>,
    },
    /// Run a FAILED or KILLED execution again from its failed task runs, keeping those that
    /// succeeded (Kestra's restart; exit codes as `run`)
    #[command(after_help = "Examples:\n  runner restart 4wjTmcTwVMDjAeYmpYxXbC")]
    Restart(ContinueArgs),
    /// End a PAUSED execution as KILLED, or stop a running one (its process writes the record)
    #[command(after_help = "Examples:\n  runner kill 4wjTmcTwVMDjAeYmpYxXbC")]
    Kill {
        /// The execution's id
        #[arg(value_parser = execution_id)]
        id: String,
        /// Where the execution's record is [default: .runner/storage]
        #[arg(long, env = "RUNNER_STORAGE", value_name = "DIR")]
        storage: Option<PathBuf>,
    },
    /// A local web view of executions (from storage) and flows, with a Run form
    #[command(
        after_help = "Examples:\n  runner ui\n  runner ui --flows flows --storage .runner/storage --port 8080 --open\n  runner ui --host 0.0.0.0   (prints an address with a token; every request needs it)"
    )]
    Ui(UiArgs),
}

#[derive(clap::Args)]
pub(crate) struct UiArgs {
    /// The flows folder (repeatable) [default: `flows` when it exists, else the current folder]
    #[arg(long = "flows", value_name = "DIR")]
    pub(crate) flows: Vec<PathBuf>,
    /// The storage `runner run` wrote to [default: .runner/storage]
    #[arg(long, env = "RUNNER_STORAGE", value_name = "DIR")]
    pub(crate) storage: Option<PathBuf>,
    /// The state directory runs from the Run form use [default: `state` beside the storage]
    #[arg(long, env = "RUNNER_STATE", value_name = "DIR")]
    pub(crate) state: Option<PathBuf>,
    /// Its secrets are masked on every page, and runs from the Run form get them
    #[command(flatten)]
    pub(crate) env: EnvFileArgs,
    /// The port (0: any free one)
    #[arg(long, default_value_t = 8080)]
    pub(crate) port: u16,
    /// The address to listen on; any but a loopback one requires the token printed at start
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: std::net::IpAddr,
    /// Open the UI in the default browser
    #[arg(long)]
    pub(crate) open: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(clap::Args)]
pub(crate) struct TestArgs {
    /// Test suite files or folders (searched recursively for YAML files with `testCases`)
    /// [default: the current folder]
    pub(crate) paths: Vec<PathBuf>,
    /// Run only this test case (repeatable)
    #[arg(long = "test-case", value_name = "ID")]
    pub(crate) test_cases: Vec<String>,
    /// A folder of flows the suites test and their subflows call (repeatable) [default: the
    /// current folder]
    #[arg(long = "flows", value_name = "DIR")]
    pub(crate) flows: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) env: EnvFileArgs,
    /// Where the cases' files and execution records are kept [default: .runner/storage]
    #[arg(long, env = "RUNNER_STORAGE", value_name = "DIR")]
    pub(crate) storage: Option<PathBuf>,
    /// How many cases run at once [default: the number of cores]
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub(crate) jobs: Option<usize>,
    /// Start no case after the first that fails or errors
    #[arg(long)]
    pub(crate) fail_fast: bool,
    /// Write a JUnit XML report (for GitHub Actions, GitLab, Jenkins)
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,
    /// Print the results as Kestra's TestSuiteRunResult JSON on stdout
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) powers: PowerArgs,
    /// Run again whenever a suite, a flow or a namespace file changes, showing what changed
    /// since the last run (Ctrl-C ends)
    #[arg(long)]
    pub(crate) watch: bool,
}

#[derive(clap::Args)]
pub(crate) struct DeployArgs {
    /// Flow files or folders (searched recursively for .yaml and .yml files; test suites are
    /// left out)
    #[arg(required = true)]
    pub(crate) paths: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) server: ServerArgs,
    /// The folder of a namespace's files, `NAMESPACE=DIR` (repeatable) [default: the `_files`
    /// folder beside each flow file, for that flow's namespace]
    #[arg(long = "namespace-files", value_name = "NAMESPACE=DIR")]
    pub(crate) namespace_files: Vec<String>,
    /// Also delete the server's flows of the deployed namespaces that PATHS no longer have
    #[arg(long)]
    pub(crate) prune: bool,
    /// Print what would change (created, updated with a diff, unchanged, deleted) and send
    /// nothing
    #[arg(long)]
    pub(crate) dry_run: bool,
}

/// The Kestra server a command talks to, and where its credentials are.
#[derive(clap::Args, Clone)]
pub(crate) struct ServerArgs {
    /// The Kestra server's address, e.g. http://localhost:8080
    #[arg(long, value_name = "URL")]
    pub(crate) server: String,
    /// The tenant (an open-source Kestra server has one: main)
    #[arg(long, default_value = "main")]
    pub(crate) tenant: String,
    /// KESTRA_USER and KESTRA_PASSWORD, or KESTRA_API_TOKEN, are read from these files too
    #[command(flatten)]
    pub(crate) env: EnvFileArgs,
}

#[derive(clap::Args)]
pub(crate) struct KvArgs {
    /// The state directory [default: $RUNNER_STATE, then .runner/state]
    #[arg(long, env = "RUNNER_STATE", value_name = "DIR", global = true)]
    pub(crate) state: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: KvCommand,
}

#[derive(Subcommand)]
pub(crate) enum KvCommand {
    /// List keys (of one namespace, or all), with type, version, expiry
    List {
        namespace: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Print one value as JSON (exit 1 when the key is missing or expired)
    Get { namespace: String, key: String },
    /// Write one value, typed as `kvType` types it
    Set {
        namespace: String,
        key: String,
        value: String,
        /// STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION or JSON
        #[arg(long = "type", default_value = "STRING")]
        kv_type: String,
        /// How long the value lives (ISO-8601, e.g. PT1H, P7D)
        #[arg(long)]
        ttl: Option<String>,
    },
    /// Remove one key (exit 1 when there was none)
    Delete { namespace: String, key: String },
    /// Copy the local store's keys (of one namespace, or all) to a Kestra server's KV store;
    /// values are never printed
    #[command(
        after_help = "Examples:\n  runner kv push company.team --server http://localhost:8080 --env-file .kestra.env"
    )]
    Push {
        namespace: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Copy a Kestra server's keys of one namespace into the local store; values are never
    /// printed
    #[command(
        after_help = "Examples:\n  runner kv pull company.team --server http://localhost:8080 --env-file .kestra.env"
    )]
    Pull {
        namespace: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Subcommand)]
pub(crate) enum SecretsCommand {
    /// Turn a plain .env (NAME=value) into the SECRET_NAME=base64 file Kestra and runner read
    Encode {
        /// The plain file
        #[arg(default_value = ".env")]
        input: PathBuf,
        /// Where to write (mode 0600)
        #[arg(short, long, default_value = ".env_encoded")]
        output: PathBuf,
        /// Replace the output file if it exists
        #[arg(long)]
        force: bool,
    },
    /// Like encode, then encrypt the result with age: `--env-file .env.age` decrypts it in
    /// memory at run time
    Encrypt {
        /// The plain file
        #[arg(default_value = ".env")]
        input: PathBuf,
        /// Where to write (armored age, mode 0600)
        #[arg(short, long, default_value = ".env.age")]
        output: PathBuf,
        /// An age recipient (age1...) to encrypt to (repeatable)
        #[arg(short = 'r', long = "recipient", value_name = "RECIPIENT")]
        recipients: Vec<String>,
        /// A file of recipients, one per line (repeatable)
        #[arg(short = 'R', long = "recipients-file", value_name = "FILE")]
        recipient_files: Vec<PathBuf>,
        /// Replace the output file if it exists
        #[arg(long)]
        force: bool,
    },
}

#[derive(clap::Args, Clone)]
pub(crate) struct RunArgs {
    /// The flow file
    #[arg(required_unless_present = "flow_id")]
    pub(crate) flow: Option<PathBuf>,
    /// Run the flow NAMESPACE.ID of the flows folder (--flows, default the current folder)
    /// instead of a file
    #[arg(long = "flow-id", value_name = "NAMESPACE.ID", conflicts_with = "flow")]
    pub(crate) flow_id: Option<String>,
    /// An input value, `-i name=value` (repeatable); a FILE input takes a local path
    #[arg(short = 'i', long = "input", value_name = "NAME=VALUE")]
    pub(crate) inputs: Vec<String>,
    /// A JSON or YAML file of input values (`-`: read them from stdin)
    #[arg(long, value_name = "FILE")]
    pub(crate) inputs_file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) env: EnvFileArgs,
    /// Where `kestra://` files and execution records are kept [default: .runner/storage]
    #[arg(long, env = "RUNNER_STORAGE", value_name = "DIR")]
    pub(crate) storage: Option<PathBuf>,
    /// The folder of the flow's namespace files, or `NAMESPACE=DIR` for another namespace
    /// (repeatable) [default: `_files` beside the flow file]
    #[arg(long = "namespace-files", value_name = "[NAMESPACE=]DIR")]
    pub(crate) namespace_files: Vec<String>,
    #[command(flatten)]
    pub(crate) powers: PowerArgs,
    /// Run as trigger ID would start it: for a Schedule, `trigger.date` (the last time its
    /// cron fired, or --trigger-date), `trigger.next` and `trigger.previous`
    #[arg(long = "trigger", value_name = "ID")]
    pub(crate) trigger: Option<String>,
    /// The schedule date of --trigger (ISO 8601, e.g. 2026-05-01T06:00:00Z)
    #[arg(long = "trigger-date", value_name = "DATE", requires = "trigger")]
    pub(crate) trigger_date: Option<String>,
    /// A JSON or YAML map that becomes `trigger` (a Webhook's `body`, an S3 trigger's `uri`);
    /// with --trigger, it is added to what that trigger gives
    #[arg(long = "trigger-vars", value_name = "FILE")]
    pub(crate) trigger_vars: Option<PathBuf>,
    /// A folder of flows that Subflow tasks may call (repeatable) [default: the flow file's
    /// folder and below]
    #[arg(long = "flows", value_name = "DIR")]
    pub(crate) flows: Vec<PathBuf>,
    /// Where the KV store is kept between runs [default: `state` beside the storage folder,
    /// .runner/state]
    #[arg(long, env = "RUNNER_STATE", value_name = "DIR")]
    pub(crate) state: Option<PathBuf>,
    /// Where Python environments of `dependencies` are kept between runs [default: .runner/cache]
    #[arg(long, env = "RUNNER_CACHE_DIR", value_name = "DIR")]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Print the execution (Kestra's API shape) as JSON on stdout
    #[arg(long)]
    pub(crate) json: bool,
    /// Run again whenever the flow, a flow of the flows folder or a namespace file changes
    /// (Ctrl-C ends)
    #[arg(long)]
    pub(crate) watch: bool,
    /// Live progress lines for long work (uploads, downloads, queries, conversions, scripts)
    /// on a terminal: `auto` unless CI is set or logs are JSON; never in a pipe
    #[arg(long, value_enum, default_value = "auto")]
    pub(crate) progress: crate::progress::ProgressArg,
    /// Log line format on stderr
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) log_format: LogFormatArg,
    /// Lowest log level shown
    #[arg(long, value_enum, default_value = "info")]
    pub(crate) log_level: LogLevelArg,
    /// Run the flow on this Kestra server instead of here: the inputs are sent, its logs
    /// followed, the same summary and exit codes (credentials: KESTRA_USER/KESTRA_PASSWORD or
    /// KESTRA_API_TOKEN, from the environment or --env-file)
    #[arg(long, value_name = "URL")]
    pub(crate) server: Option<String>,
    /// The server's tenant (an open-source Kestra server has one: main)
    #[arg(long, default_value = "main", requires = "server")]
    pub(crate) tenant: String,
    /// With --server: deploy the flow file first (created or updated), as `runner deploy`
    #[arg(long, requires = "server")]
    pub(crate) deploy: bool,
    /// With --server: a label of the execution, `-l key=value` (repeatable)
    #[arg(
        short = 'l',
        long = "label",
        value_name = "KEY=VALUE",
        requires = "server"
    )]
    pub(crate) labels: Vec<String>,
    /// The new execution's id (how `runner ui` knows which page to open)
    #[arg(long, hide = true, value_parser = execution_id)]
    pub(crate) execution_id: Option<String>,
    /// Set by `resume` and `restart`: the recorded execution this run goes on with.
    #[arg(skip)]
    pub(crate) continuing: Option<Continuing>,
}

/// A recorded execution to go on with, and where its flow file was.
#[derive(Clone, Debug)]
pub(crate) struct Continuing {
    /// The execution's folder in storage (its record, its copy of the flow).
    pub(crate) folder: PathBuf,
    /// The flow file it ran from: the flows folder and namespace files default beside it.
    pub(crate) origin: PathBuf,
    pub(crate) restart: bool,
}

/// `runner resume` and `runner restart`: an execution of storage and how the run goes on.
#[derive(clap::Args)]
pub(crate) struct ContinueArgs {
    /// The execution's id (its record's folder in storage is found by it)
    #[arg(value_parser = execution_id)]
    pub(crate) id: String,
    #[command(flatten)]
    pub(crate) env: EnvFileArgs,
    /// Where the execution's record is [default: .runner/storage]
    #[arg(long, env = "RUNNER_STORAGE", value_name = "DIR")]
    pub(crate) storage: Option<PathBuf>,
    /// As for `runner run` [default: `_files` beside the flow file]
    #[arg(long = "namespace-files", value_name = "[NAMESPACE=]DIR")]
    pub(crate) namespace_files: Vec<String>,
    #[command(flatten)]
    pub(crate) powers: PowerArgs,
    /// As for `runner run` [default: the flow file's folder and below]
    #[arg(long = "flows", value_name = "DIR")]
    pub(crate) flows: Vec<PathBuf>,
    /// As for `runner run` [default: `state` beside the storage folder]
    #[arg(long, env = "RUNNER_STATE", value_name = "DIR")]
    pub(crate) state: Option<PathBuf>,
    /// As for `runner run` [default: .runner/cache]
    #[arg(long, env = "RUNNER_CACHE_DIR", value_name = "DIR")]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Print the execution (Kestra's API shape) as JSON on stdout
    #[arg(long)]
    pub(crate) json: bool,
    /// Live progress lines on a terminal, as for `runner run`
    #[arg(long, value_enum, default_value = "auto")]
    pub(crate) progress: crate::progress::ProgressArg,
    /// Log line format on stderr
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) log_format: LogFormatArg,
    /// Lowest log level shown
    #[arg(long, value_enum, default_value = "info")]
    pub(crate) log_level: LogLevelArg,
}

/// `--env-file` and `--identity`: where a command's secrets and `ENV_*` variables come from.
#[derive(clap::Args, Clone, Default)]
pub(crate) struct EnvFileArgs {
    /// A dotenv file of SECRET_* (base64) and ENV_* variables (repeatable; later files win);
    /// a `.age` file is decrypted in memory
    #[arg(long = "env-file", value_name = "FILE")]
    pub(crate) env_files: Vec<PathBuf>,
    /// The age identity that decrypts `.age` env files [default: $RUNNER_AGE_IDENTITY, then
    /// ~/.config/runner/age-identity.txt]
    #[arg(long, value_name = "FILE")]
    pub(crate) identity: Option<PathBuf>,
}

/// What the flows of a run may do beyond their own files: where script tasks run, and which
/// of this machine's resources they may reach.
#[derive(clap::Args, Clone)]
pub(crate) struct PowerArgs {
    /// Where script tasks that ask for Docker (Kestra's default) run: `auto` uses Docker
    /// when an engine answers and this machine otherwise, with a warning
    #[arg(long, value_enum, default_value = "auto", env = "RUNNER_TASK_RUNNER")]
    pub(crate) task_runner: TaskRunnerArg,
    /// Let Docker task runners mount this machine's folders (`volumes`) and run privileged
    /// containers; without it both are ignored with a warning
    #[arg(long)]
    pub(crate) docker_host_access: bool,
    /// Let tasks reach link-local addresses (169.254.0.0/16, fe80::/10), where cloud
    /// instance-metadata services answer; refused without it
    #[arg(long)]
    pub(crate) allow_link_local: bool,
}

/// An id that is one path component of storage: letters, digits, `-` and `_`.
fn execution_id(s: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(s.to_string())
    } else {
        Err("an execution id is 1 to 64 letters, digits, `-` or `_`".to_string())
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum TaskRunnerArg {
    Auto,
    Process,
    Docker,
}

#[cfg(feature = "scripts")]
impl TaskRunnerArg {
    pub(crate) fn mode(self) -> runner_scripts::kit::RunnerMode {
        use runner_scripts::kit::RunnerMode;
        match self {
            TaskRunnerArg::Auto => RunnerMode::Auto,
            TaskRunnerArg::Process => RunnerMode::Process,
            TaskRunnerArg::Docker => RunnerMode::Docker,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum LogFormatArg {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum LogLevelArg {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}
