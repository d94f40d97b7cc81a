//! The flow editor's bundle (scripts/editor-bundle.sh builds it from npm packages): included
//! when RUNNER_UI_EDITOR_JS names it, else the editor page is a plain text area.

fn main() {
    println!("cargo:rerun-if-env-changed=RUNNER_UI_EDITOR_JS");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let bundle = match std::env::var("RUNNER_UI_EDITOR_JS") {
        Ok(path) if !path.is_empty() => {
            println!("cargo:rerun-if-changed={path}");
            std::fs::read(&path).unwrap_or_else(|e| {
                panic!(
                    "RUNNER_UI_EDITOR_JS={path} cannot be read ({e}): run scripts/editor-bundle.sh"
                )
            })
        }
        _ => Vec::new(),
    };
    std::fs::write(out.join("editor.js"), bundle).expect("OUT_DIR is writable");
}
