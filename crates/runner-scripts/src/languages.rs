//! The `Script` and `Commands` of the languages whose tasks add nothing to the common run:
//! one line of the script kit each.

// Kestra's Node task sets these for the Python tooling some Node images carry.
crate::script_language! {
    module: node,
    name: "node",
    label: "Node.js",
    image: "node",
    program: "node",
    extension: "js",
    hello: "console.log('hello')",
    version: "node --version",
    env: &[("PYTHONUNBUFFERED", "true"), ("PIP_ROOT_USER_ACTION", "ignore")],
}

crate::script_language! {
    module: r,
    name: "r",
    label: "R",
    image: "r-base",
    program: "Rscript",
    extension: "R",
    hello: "print('hello')",
    version: "Rscript --version",
    env: &[],
}

crate::script_language! {
    module: julia,
    name: "julia",
    label: "Julia",
    image: "julia",
    program: "julia",
    extension: "jl",
    hello: "println(\"hello\")",
    version: "julia --version",
    env: &[],
}

crate::script_language! {
    module: ruby,
    name: "ruby",
    label: "Ruby",
    image: "ruby",
    program: "ruby",
    extension: "rb",
    hello: "puts 'hello'",
    version: "ruby --version",
    env: &[],
}
