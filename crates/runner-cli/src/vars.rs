//! Values given on the command line: `--vars`/`--inputs-file` files (a JSON or YAML map) and
//! `-i name=value` pairs.

use crate::cli::RunArgs;
use runner_model::Node;
use serde_json::{Map, Value as Json};
use std::path::Path;

/// The top-level map of a JSON or YAML file.
pub(crate) fn read_map(path: &Path) -> Result<Map<String, Json>, String> {
    let text = if path == Path::new("-") {
        read_stdin()?
    } else {
        crate::files::read_text(path)?
    };
    let value = match serde_json::from_str::<Json>(&text) {
        Ok(v) => v,
        Err(_) => runner_model::load_str(&text)
            .map_err(|e| format!("`{}` is neither JSON nor YAML: {e}", path.display()))?
            .first()
            .map_or(Json::Null, Node::to_json),
    };
    match value {
        Json::Object(m) => Ok(m),
        Json::Null => Ok(Map::new()),
        _ => Err(format!(
            "`{}` must hold a map of names to values",
            path.display()
        )),
    }
}

/// Standard input as text, as bounded as a file (`RUNNER_MAX_FILE_MB`): values that are
/// never written to disk (`runner ui` passes a form's inputs, SECRET ones included, this way).
fn read_stdin() -> Result<String, String> {
    use std::io::Read;
    let max = crate::limits::max_file()?;
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the inputs from stdin: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!(
            "the inputs on stdin are larger than {} MiB: RUNNER_MAX_FILE_MB raises the limit",
            max / (1024 * 1024)
        ));
    }
    String::from_utf8(bytes).map_err(|_| "the inputs on stdin are not UTF-8 text".to_string())
}

/// `-i name=value` pairs over the inputs file: one map, `-i` wins.
pub(crate) fn given_inputs(args: &RunArgs) -> Result<Map<String, Json>, String> {
    let mut given = match &args.inputs_file {
        Some(p) => read_map(p)?,
        None => Map::new(),
    };
    for pair in &args.inputs {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("`-i {pair}` is not of the form `name=value`"))?;
        given.insert(k.trim().to_string(), Json::String(v.to_string()));
    }
    Ok(given)
}
