//! The `Script` and `Commands` of the languages whose tasks add nothing to the common run:
//! one line of the script kit each. On the Process runner the program must be on PATH (the
//! image is for a container runner).

// `Language` is in scope inside each generated module.

// Kestra's Node task sets these for the Python tooling some Node images carry.
crate::script_language! {
    module: node,
    name: "node",
    label: "Node.js",
    doc: "Run a Node.js script, written to a file in the working directory and run with `node`.",
    language: Language {
        default_image: "node",
        env: &[("PYTHONUNBUFFERED", "true"), ("PIP_ROOT_USER_ACTION", "ignore")],
        ..Language::POSIX
    },
    program: "node",
    extension: "js",
    hello: "console.log('hello')",
    version: "node --version",
}

crate::script_language! {
    module: r,
    name: "r",
    label: "R",
    doc: "Run an R script, written to a file in the working directory and run with `Rscript`.",
    language: Language { default_image: "r-base", ..Language::POSIX },
    program: "Rscript",
    extension: "R",
    hello: "print('hello')",
    version: "Rscript --version",
}

crate::script_language! {
    module: julia,
    name: "julia",
    label: "Julia",
    doc: "Run a Julia script, written to a file in the working directory and run with `julia`.",
    language: Language { default_image: "julia", ..Language::POSIX },
    program: "julia",
    extension: "jl",
    hello: "println(\"hello\")",
    version: "julia --version",
}

crate::script_language! {
    module: ruby,
    name: "ruby",
    label: "Ruby",
    doc: "Run a Ruby script, written to a file in the working directory and run with `ruby`.",
    language: Language { default_image: "ruby", ..Language::POSIX },
    program: "ruby",
    extension: "rb",
    hello: "puts 'hello'",
    version: "ruby --version",
}

crate::script_language! {
    module: perl,
    name: "perl",
    label: "Perl",
    doc: "Run a Perl script, written to a file in the working directory and run with `perl`.",
    language: Language { default_image: "perl", ..Language::POSIX },
    program: "perl",
    extension: "pl",
    hello: "print \"hello\\n\";",
    version: "perl --version",
}

// The script needs its `<?php` opening tag, as in Kestra.
crate::script_language! {
    module: php,
    name: "php",
    label: "PHP",
    doc: "Run a PHP script (starting with `<?php`), written to a file in the working directory and run with `php`.",
    language: Language { default_image: "php", ..Language::POSIX },
    program: "php",
    extension: "php",
    hello: "|\n  <?php echo \"hello\\n\";",
    version: "php --version",
}

crate::script_language! {
    module: lua,
    name: "lua",
    label: "Lua",
    doc: "Run a Lua script, written to a file in the working directory and run with `lua`.",
    language: Language { default_image: "nickblah/lua", ..Language::POSIX },
    program: "lua",
    extension: "lua",
    hello: "print('hello')",
    version: "lua -v",
}

crate::script_language! {
    module: go,
    name: "go",
    label: "Go",
    doc: "Run a Go program (`package main`), written to a file in the working directory and run with `go run`.",
    language: Language { default_image: "golang", ..Language::POSIX },
    program: "go run",
    extension: "go",
    hello: "|\n  package main\n  import \"fmt\"\n  func main() { fmt.Println(\"hello\") }",
    version: "go version",
}

crate::script_language! {
    module: bun,
    name: "bun",
    label: "Bun",
    doc: "Run a TypeScript or JavaScript script, written to a `.ts` file in the working directory and run with `bun run`.",
    language: Language { default_image: "oven/bun", ..Language::POSIX },
    program: "bun run",
    extension: "ts",
    hello: "console.log('hello')",
    version: "bun --version",
}

// Deno grants nothing by default: the flow adds `--allow-*` flags itself, as in Kestra.
crate::script_language! {
    module: deno,
    name: "deno",
    label: "Deno",
    doc: "Run a TypeScript script, written to a `.ts` file in the working directory and run with `deno run` (no permissions unless the commands grant them).",
    language: Language { default_image: "denoland/deno", ..Language::POSIX },
    program: "deno run",
    extension: "ts",
    hello: "console.log('hello')",
    version: "deno --version",
}

// Kestra always runs groovy.Script in a fresh Docker container; runner follows the task runner
// like every other language (docs/differences-from-kestra.md).
crate::script_language! {
    module: groovy,
    name: "groovy",
    label: "Groovy",
    doc: "Run a Groovy script, written to a file in the working directory and run with `groovy`.",
    language: Language { default_image: "groovy", ..Language::POSIX },
    program: "groovy",
    extension: "groovy",
    hello: "println 'hello'",
    version: "groovy --version",
}

// PowerShell runs a script by its path, and stops at the first error by its own preference
// variable instead of `set -e`.
crate::script_language! {
    module: powershell,
    name: "powershell",
    label: "PowerShell",
    doc: "Run a PowerShell script, written to a `.ps1` file in the working directory and run by `pwsh`.",
    language: Language {
        default_image: "ghcr.io/kestra-io/powershell:latest",
        interpreter: &["pwsh", "-NoProfile", "-NonInteractive", "-Command"],
        fail_fast: "$ErrorActionPreference = 'Stop'",
        ..Language::POSIX
    },
    program: "",
    extension: "ps1",
    hello: "Write-Output 'hello'",
    version: "$PSVersionTable.PSVersion",
}

// Kestra's Script installs dotnet-script before the task's own beforeCommands.
crate::script_language! {
    module: dotnet,
    name: "dotnet",
    label: ".NET",
    doc: "Run a C# script (`.csx`), written to a file in the working directory and run with `dotnet-script`, installed first as a dotnet tool.",
    language: Language {
        default_image: "mcr.microsoft.com/dotnet/sdk:10.0",
        script_before: &[
            "dotnet tool install -g dotnet-script --ignore-failed-sources || true",
            "export PATH=\"$PATH:$HOME/.dotnet/tools\"",
        ],
        ..Language::POSIX
    },
    program: "dotnet-script",
    extension: "csx",
    hello: "Console.WriteLine(\"hello\");",
    version: "dotnet --version",
}
