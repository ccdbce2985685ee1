//! Every discovery fixture (../shared/fixtures/discovery and tests/fixtures/discovery)
//! replayed through the Rust API, with and without speculative requests.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::{Path, PathBuf};

use common::replay::{check_expectations, Replay};
use futures_executor::block_on;
use mcp_authlink::discovery::{discover, DiscoverOptions};
use serde_json::Value;

fn fixture_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["../shared/fixtures/discovery", "tests/fixtures/discovery"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            if e.path().extension().is_some_and(|x| x == "json") {
                files.push(e.path());
            }
        }
    }
    files.sort();
    files
}

fn run(fixture: &Value, speculate: bool) -> (Result<Value, mcp_authlink::Error>, Replay) {
    let replay = Replay::new(fixture);
    let options = DiscoverOptions {
        speculate,
        allow_issuer_mismatch: fixture["allow_issuer_mismatch"] == true,
        ..Default::default()
    };
    let result = block_on(discover(
        fixture["endpoint"].as_str().unwrap(),
        &replay,
        &options,
    ));
    (result.map(|r| serde_json::to_value(r).unwrap()), replay)
}

#[test]
fn every_fixture_replays_to_its_expected_result() {
    let files = fixture_files();
    assert!(
        files.len() >= 14,
        "the shared fixtures were not found: {files:?}"
    );
    let mut failures = Vec::new();
    for path in &files {
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for speculate in [true, false] {
            let (result, _) = run(&fixture, speculate);
            match (result, fixture.get("expect_error").and_then(Value::as_str)) {
                (Err(e), Some(code)) if e.code.as_str() == code => {}
                (Err(e), _) => {
                    failures.push(format!("{name} (speculate={speculate}): rejected with {e}"))
                }
                (Ok(_), Some(code)) => {
                    failures.push(format!("{name}: resolved, expected error {code}"))
                }
                (Ok(r), None) => {
                    for p in check_expectations(&fixture, &r) {
                        failures.push(format!("{name} (speculate={speculate}): {p}"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn speculation_changes_nothing_but_the_trace() {
    for path in fixture_files() {
        let fixture: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let (Ok(mut fast), _) = run(&fixture, true) else {
            continue;
        };
        let (Ok(mut slow), _) = run(&fixture, false) else {
            panic!("{path:?}: only one mode rejected")
        };
        fast.as_object_mut().unwrap().remove("trace");
        slow.as_object_mut().unwrap().remove("trace");
        assert_eq!(fast, slow, "{path:?}");
    }
}

#[test]
fn the_trace_lists_exactly_the_requests_sent_in_order() {
    for path in fixture_files() {
        let fixture: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for speculate in [true, false] {
            let (Ok(result), replay) = run(&fixture, speculate) else {
                continue;
            };
            let sent: Vec<(String, String)> = replay
                .sent
                .borrow()
                .iter()
                .map(|r| (r.method.as_str().to_owned(), r.url.clone()))
                .collect();
            let traced: Vec<(String, String)> = result["trace"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    (
                        t["method"].as_str().unwrap().to_owned(),
                        t["url"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            assert_eq!(sent, traced, "{path:?} speculate={speculate}");
            let used = result["trace"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["outcome"] == "used")
                .count();
            assert!(used >= 1, "{path:?}: the probe answer is always used");
        }
    }
}

/// discovery.md §4: the root PRM URL is requested only after the path-aware candidate (and
/// never when an earlier candidate was used), with speculation on or off: the official
/// scenario `auth/metadata-default` treats an early root PRM request as a fault.
#[test]
fn the_root_prm_is_requested_only_after_the_path_aware_candidate() {
    for path in fixture_files() {
        let fixture: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let endpoint = url::Url::parse(fixture["endpoint"].as_str().unwrap()).unwrap();
        let origin = endpoint.origin().ascii_serialization();
        let root = format!("{origin}/.well-known/oauth-protected-resource");
        let trimmed = endpoint.path().trim_end_matches('/');
        let path_aware = (!trimmed.is_empty()).then(|| format!("{root}{trimmed}"));
        for speculate in [true, false] {
            let (Ok(result), _) = run(&fixture, speculate) else {
                continue;
            };
            let urls: Vec<&str> = result["trace"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["url"].as_str().unwrap())
                .collect();
            let Some(root_at) = urls.iter().position(|u| *u == root) else {
                continue;
            };
            // The challenge may name the root URL itself: then it is the first candidate.
            let challenge_names_root = fixture["routes"]
                .to_string()
                .contains(&format!("resource_metadata=\\\"{root}\\\""));
            if challenge_names_root {
                continue;
            }
            let used = result["resource_metadata_url"].as_str();
            assert!(
                used.is_none_or(|u| u == root),
                "{path:?} speculate={speculate}: root PRM requested though {used:?} was used"
            );
            if let Some(pa) = &path_aware {
                let pa_at = urls.iter().position(|u| u == pa);
                assert!(
                    pa_at.is_some_and(|i| i < root_at),
                    "{path:?} speculate={speculate}: root PRM before the path-aware one: {urls:?}"
                );
            }
        }
    }
}

#[test]
fn the_wasm_suite_lists_every_fixture_file() {
    use common::fixture_list::*;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (dir, listed) in [
        ("../shared/fixtures/discovery", SHARED_DISCOVERY),
        ("tests/fixtures/discovery", OWN_DISCOVERY),
        ("../shared/fixtures/config", SHARED_CONFIG),
        ("tests/fixtures/config", OWN_CONFIG),
    ] {
        let mut on_disk: Vec<String> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".json")
                    .map(str::to_owned)
            })
            .collect();
        on_disk.sort();
        let listed: Vec<&str> = listed.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            on_disk, listed,
            "tests/common/fixture_list.rs is out of date for {dir}"
        );
    }
}
