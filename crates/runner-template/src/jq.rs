//! The `jq` filter on jaq: a real jq implementation; the result is always a list.

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;
use serde_json::Value as Json;

pub(crate) fn run(filter: &str, input: &Json) -> Result<Vec<Json>, String> {
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let program = File {
        code: filter,
        path: (),
    };
    let modules = loader
        .load(&arena, program)
        .map_err(|errs| format!("jq: cannot parse `{filter}` ({} error(s))", errs.len()))?;
    let compiled = Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errs| format!("jq: cannot compile `{filter}`: {errs:?}"))?;
    let text = serde_json::to_string(input).map_err(|e| e.to_string())?;
    let value = jaq_json::read::parse_single(text.as_bytes()).map_err(|e| format!("jq: {e}"))?;
    let ctx = Ctx::<data::JustLut<Val>>::new(&compiled.lut, Vars::new([]));
    let mut out = Vec::new();
    for item in compiled.id.run((ctx, value)).map(unwrap_valr) {
        let item = item.map_err(|e| format!("jq: error evaluating `{filter}`: {e}"))?;
        out.push(serde_json::from_str(&item.to_string()).map_err(|e| format!("jq: {e}"))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn runs_real_jq() {
        assert_eq!(
            run(".test[0]", &json!({"test": [1, 2, 3]})).unwrap(),
            [json!(1)]
        );
        assert_eq!(
            run(".second[]", &json!({"second": [1, 2, 3]})).unwrap(),
            [json!(1), json!(2), json!(3)]
        );
        assert_eq!(
            run("map(select(. > 1)) | length", &json!([1, 2, 3])).unwrap(),
            [json!(2)]
        );
        assert!(run(".[", &json!({})).is_err());
    }
}
