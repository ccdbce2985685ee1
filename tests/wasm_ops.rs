#![cfg(not(target_arch = "wasm32"))]
//! The numbered operations of the npm package's `call(op, a, b)` have one source: the `OPS`
//! list of src/wasm.rs, which pkg/core.js reads from the module (`raw.ops()`) instead of
//! keeping numbers of its own. Checked on the sources: every name core.js asks for is in the
//! list, every name in the list has its arm in `call`, and core.js holds no number table.

const WASM_RS: &str = include_str!("../src/wasm.rs");
const CORE_JS: &str = include_str!("../pkg/core.js");

/// The quoted names between `start` and the next `];`.
fn ops_list() -> Vec<&'static str> {
    let start = WASM_RS
        .find("pub const OPS: [&str;")
        .expect("src/wasm.rs defines OPS");
    let body = &WASM_RS[start..];
    let body = &body[body.find('=').unwrap()..body.find("];").unwrap()];
    body.split('"').skip(1).step_by(2).collect()
}

/// The names of every `op("name")` in core.js.
fn core_js_names() -> Vec<&'static str> {
    CORE_JS
        .split("op(\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect()
}

#[test]
fn core_js_asks_only_for_operations_the_module_lists() {
    let ops = ops_list();
    assert_eq!(ops.len(), 9, "{ops:?}");
    let names = core_js_names();
    assert!(!names.is_empty(), "core.js calls op(\"...\")");
    for name in &names {
        assert!(
            ops.contains(name),
            "core.js asks for {name:?}, not in OPS {ops:?}"
        );
    }
    for name in &ops {
        assert!(
            names.contains(name),
            "OPS lists {name:?}, which core.js never calls"
        );
        assert!(
            WASM_RS.contains(&format!("\"{name}\" => ")),
            "call() has no arm for {name:?}"
        );
    }
    // The numbers come from the module: core.js has no table of its own.
    assert!(CORE_JS.contains("raw.ops()"));
    assert!(!CORE_JS.contains("const OP = {"));
}
