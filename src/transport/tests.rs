//! Unit tests of the transport types and of the readers in `shape`.

use super::*;

#[test]
fn request_debug_redacts_credentials_and_body() {
    let r = HttpRequest::post(
        "https://as.example/token",
        "application/x-www-form-urlencoded",
        "client_secret=s3cr3t".into(),
    )
    .header("authorization", "Basic czNjcjN0");
    let d = format!("{r:?}");
    assert!(!d.contains("s3cr3t") && !d.contains("czNjcjN0"), "{d}");
    assert!(d.contains("https://as.example/token") && d.contains("[redacted]"));
}

#[cfg(not(target_arch = "wasm32"))]
mod readers {

    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::shape::testing::{json, samples, serde_reads};
    use super::*;

    const WORDS: &[&str] = &[
        "status",
        "headers",
        "body",
        "body_too_large",
        "kind",
        "message",
        "response",
        "error",
        "network",
        "timeout",
        "aborted",
        "blocked",
        "other",
    ];

    /// The adapter's answer as serde's derive read it before the hand-written reader.
    #[derive(serde::Deserialize)]
    struct Answer {
        response: Option<HttpResponse>,
        error: Option<TransportError>,
    }

    fn answer_via_serde(v: &Value) -> Option<Result<HttpResponse, TransportError>> {
        match serde_reads::<Answer>(v) {
            Ok(Answer {
                response: Some(r), ..
            }) => Some(Ok(r)),
            Ok(Answer { error: Some(e), .. }) => Some(Err(e)),
            _ => None,
        }
    }

    /// Forms only serde accepts, which the adapter never sends: a struct as an array, a
    /// variant as a one-key object.
    fn serde_only(v: &Value) -> bool {
        let error = v.get("error");
        v.is_array()
            || v.get("response").is_some_and(Value::is_array)
            || error.is_some_and(Value::is_array)
            || error
                .and_then(|e| e.get("kind"))
                .is_some_and(Value::is_object)
    }

    fn same(v: &Value) {
        if !serde_only(v) {
            assert_eq!(adapter_answer(v), answer_via_serde(v), "{v}");
        }
    }

    /// The npm package writes an `Error`'s code with `as_str` (src/wasm.rs), not `Serialize`.
    #[test]
    fn error_code_wire_names_are_serdes() {
        use crate::error::ErrorCode::{self, *};
        // Adding a code breaks this match: add it to `ErrorCode::ALL` as well.
        let listed = |c: ErrorCode| match c {
            InvalidEndpoint
            | Unreachable
            | Aborted
            | InvalidVerifier
            | InvalidArgument
            | InvalidResponse
            | OauthError
            | RegistrationFailed
            | RegistrationUnavailable
            | BlockedTarget => true,
        };
        for c in ErrorCode::ALL {
            assert!(listed(c));
            assert_eq!(super::shape::testing::name_of(&c), c.as_str());
            let e = crate::error::Error::new(c, "m");
            assert_eq!(
                serde_json::to_value(&e).unwrap(),
                json!({"code": c.as_str(), "message": "m"})
            );
        }
    }

    #[test]
    fn kind_names_are_serdes() {
        for (k, name) in TransportErrorKind::ALL
            .iter()
            .zip(TransportErrorKind::NAMES)
        {
            assert_eq!(super::shape::testing::name_of(k), name);
        }
    }

    #[test]
    fn reads_what_the_fetch_adapter_sends() {
        let r = json!({"response": {"status": 200, "headers": [["content-type", "application/json"], ["x", ""]], "body": "{}", "body_too_large": false}});
        let mut want = HttpResponse::new(200);
        want.headers = vec![
            ("content-type".into(), "application/json".into()),
            ("x".into(), String::new()),
        ];
        want.body = "{}".into();
        assert_eq!(adapter_answer(&r), Some(Ok(want)));
        let e = json!({"error": {"kind": "timeout", "message": "no answer within 5 ms"}});
        assert_eq!(
            adapter_answer(&e),
            Some(Err(TransportError::new(
                TransportErrorKind::Timeout,
                "no answer within 5 ms"
            )))
        );
        assert_eq!(adapter_answer(&json!({})), None);
        assert_eq!(
            adapter_answer(&json!({"response": {"status": 70000}})),
            None
        );
        assert_eq!(adapter_answer(&json!({"response": {"status": 1.5}})), None);
        assert_eq!(adapter_answer(&json!({"error": {"kind": "lost"}})), None);
        assert_eq!(
            adapter_answer(&json!({"response": {"status": 204}, "error": {"kind": "aborted"}})),
            Some(Ok(HttpResponse::new(204)))
        );
        assert_eq!(
            adapter_answer(&json!({"response": null, "error": {"kind": "aborted"}})),
            Some(Err(TransportError::new(TransportErrorKind::Aborted, "")))
        );
    }

    #[test]
    fn every_field_with_every_kind_of_value_reads_as_serde_does() {
        let base = json!({"status": 200, "headers": [["a", "b"]], "body": "x", "body_too_large": true, "kind": "network", "message": "m"});
        for field in WORDS {
            for sample in samples(WORDS) {
                let mut v = base.clone();
                v[*field] = sample.clone();
                same(&json!({ "response": v.clone() }));
                same(&json!({ "error": v.clone() }));
                same(&json!({ "error": v.clone(), "response": null }));
                same(&json!({ "error": v.clone(), "response": base.clone() }));
                same(&json!({ "error": base.clone(), "response": v.clone() }));
                same(&json!({ *field: sample.clone() }));
                same(&sample);
            }
        }
    }

    proptest! {
        #[test]
        fn random_values_read_as_serde_does(v in json(WORDS), w in json(WORDS)) {
            same(&v);
            same(&json!({ "response": v.clone() }));
            same(&json!({ "error": v.clone() }));
            same(&json!({ "error": v, "response": w }));
        }
    }
}
