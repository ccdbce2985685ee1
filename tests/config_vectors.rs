//! Config vectors (fixtures/README.md, "Config vectors"): every file of the shared
//! `fixtures/config/` folder, plus this crate's own `tests/fixtures/config/`, run through
//! `validate_server_config`.
//!
//! The own vectors use the shared format with two optional extensions:
//! - `"policy"`: `"client"` (default: `TargetPolicy::CLIENT`), `"server"` or `"server_dev"`;
//! - `"exact": true`: no error beyond those listed in `expect_errors` may be returned.

use std::fs;
use std::path::{Path, PathBuf};

use mcp_authlink::config::{validate_server_config, ServerConfigBody};
use mcp_authlink::TargetPolicy;
use serde_json::Value;

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/config");
const OWN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/config");

fn vector_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// Checks one vector; `Err` says what went wrong.
fn check(vector: &Value) -> Result<(), String> {
    let input = vector.get("input").ok_or("the vector has no `input`")?;
    let policy = match vector.get("policy").and_then(Value::as_str) {
        None | Some("client") => TargetPolicy::CLIENT,
        Some("server") => TargetPolicy::SERVER,
        Some("server_dev") => TargetPolicy::SERVER_DEV,
        Some(other) => return Err(format!("unknown policy {other:?}")),
    };
    let result = validate_server_config(input, policy);
    if vector.get("expect_ok") == Some(&Value::Bool(true)) {
        let body = result.map_err(|e| format!("expected ok, got errors {e:#?}"))?;
        return check_normalised_is_stable(&body, policy);
    }
    let expected = vector
        .get("expect_errors")
        .and_then(Value::as_array)
        .ok_or("the vector has neither `expect_ok: true` nor `expect_errors`")?;
    let errors = match result {
        Ok(body) => return Err(format!("expected errors, got ok: {body:#?}")),
        Err(errors) => errors,
    };
    let actual: Vec<Value> = errors
        .iter()
        .map(|e| serde_json::to_value(e).expect("errors serialise"))
        .collect();
    for e in &actual {
        for field in ["path", "code", "message"] {
            if !e[field].is_string() {
                return Err(format!("error without string `{field}`: {e}"));
            }
        }
        if e["message"].as_str().is_some_and(str::is_empty) {
            return Err(format!("error with an empty message: {e}"));
        }
    }
    let matches = |want: &Value, got: &Value| {
        want["code"] == got["code"] && (want.get("path").is_none() || want["path"] == got["path"])
    };
    for want in expected {
        if !actual.iter().any(|got| matches(want, got)) {
            return Err(format!(
                "missing expected error {want}; got {}",
                serde_json::to_string_pretty(&actual).unwrap()
            ));
        }
    }
    if vector.get("exact") == Some(&Value::Bool(true)) {
        if let Some(extra) = actual
            .iter()
            .find(|got| !expected.iter().any(|w| matches(w, got)))
        {
            return Err(format!("unexpected extra error {extra}"));
        }
    }
    Ok(())
}

/// The normalised body validates again to itself.
fn check_normalised_is_stable(body: &ServerConfigBody, policy: TargetPolicy) -> Result<(), String> {
    let value = serde_json::to_value(body).map_err(|e| e.to_string())?;
    match validate_server_config(&value, policy) {
        Ok(again) if &again == body => Ok(()),
        Ok(again) => Err(format!(
            "normalised body changed on re-validation: {again:#?}"
        )),
        Err(e) => Err(format!("normalised body {value} fails validation: {e:#?}")),
    }
}

fn run(dir: &str) -> usize {
    let files = vector_files(Path::new(dir));
    let mut failures = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("readable vector");
        let vector: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{}: not JSON: {e}", file.display()));
                continue;
            }
        };
        let name = vector["name"].as_str().unwrap_or("(unnamed)");
        if let Err(why) = check(&vector) {
            failures.push(format!("vector {name} ({}): {why}", file.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} config vectors failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
    files.len()
}

#[test]
fn shared_config_vectors() {
    let n = run(SHARED);
    assert!(
        n >= 12,
        "expected the shared config vectors in {SHARED}, found {n}"
    );
}

#[test]
fn own_config_vectors() {
    // The folder is optional by design; this crate ships some.
    let n = run(OWN);
    assert!(n >= 10, "expected this crate's vectors in {OWN}, found {n}");
}
