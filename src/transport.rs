//! The only door between the core and the network. The core plans [`HttpRequest`]s and judges
//! [`HttpResponse`]s; an adapter (browser or Node fetch, the Worker's fetch, a test replay)
//! implements [`Transport`] and does the I/O, enforcing each request's timeout and body cap.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Default bound on one request (discovery.md §1).
pub const DEFAULT_TIMEOUT_MS: u32 = 8_000;

/// HTTP method of a planned request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// A request the core wants sent. Redirects are never followed (`redirect: "manual"`).
///
/// `Debug` never shows the body or the `authorization` header: token and registration
/// requests carry secrets there.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The adapter fails the request with [`TransportErrorKind::Timeout`] after this long.
    pub timeout_ms: u32,
    /// The adapter reads at most this many body bytes; past it, it stops reading and sets
    /// [`HttpResponse::body_too_large`]. 0 means: do not read the body at all.
    pub max_body_bytes: usize,
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                let secret =
                    n.eq_ignore_ascii_case("authorization") || n.eq_ignore_ascii_case("cookie");
                (n.as_str(), if secret { "[redacted]" } else { v.as_str() })
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field(
                "body",
                &self
                    .body
                    .as_ref()
                    .map(|b| format!("[{} bytes redacted]", b.len())),
            )
            .field("timeout_ms", &self.timeout_ms)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl HttpRequest {
    pub fn get(url: impl Into<String>) -> Self {
        HttpRequest {
            method: Method::Get,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            max_body_bytes: 0,
        }
    }

    pub fn post(url: impl Into<String>, content_type: &str, body: String) -> Self {
        HttpRequest {
            method: Method::Post,
            url: url.into(),
            headers: vec![("content-type".into(), content_type.into())],
            body: Some(body),
            timeout_ms: DEFAULT_TIMEOUT_MS,
            max_body_bytes: 0,
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.timeout_ms = ms;
        self
    }

    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = n;
        self
    }
}

/// A response as the adapter read it. Header names are lower-case; a header sent more than
/// once appears once per value, in order (a fetch adapter sees them comma-joined, which the
/// challenge parser reads the same way).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// 0 for a browser's opaque redirect (`redirect: "manual"` hides the 3xx status).
    pub status: u16,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body as text, at most `max_body_bytes` of it.
    #[serde(default)]
    pub body: String,
    /// The body was longer than `max_body_bytes`.
    #[serde(default)]
    pub body_too_large: bool,
}

impl HttpResponse {
    pub fn new(status: u16) -> Self {
        HttpResponse {
            status,
            ..Default::default()
        }
    }

    /// The first value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in order.
    pub fn headers_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A 3xx, or a browser's opaque redirect.
    pub fn is_redirect(&self) -> bool {
        self.status == 0 || (300..400).contains(&self.status)
    }
}

#[cfg(test)]
mod tests {
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
}

/// Why no response arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportErrorKind {
    /// The fetch rejected: DNS, TLS, connection refused, or CORS in a browser.
    Network,
    /// The request's `timeout_ms` passed.
    Timeout,
    /// The caller's abort signal fired.
    Aborted,
    /// The target is refused by policy before anything was sent.
    Blocked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportError {
    pub kind: TransportErrorKind,
    #[serde(default)]
    pub message: String,
}

impl TransportError {
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        TransportError {
            kind,
            message: message.into(),
        }
    }
}

impl TransportErrorKind {
    pub const ALL: [TransportErrorKind; 4] = [
        TransportErrorKind::Network,
        TransportErrorKind::Timeout,
        TransportErrorKind::Aborted,
        TransportErrorKind::Blocked,
    ];

    /// The names of [`TransportErrorKind::ALL`], as serialized.
    const NAMES: [&str; 4] = ["network", "timeout", "aborted", "blocked"];
}

/// The answer of the npm package's fetch adapter (pkg/core.js), `{"response": HttpResponse}`
/// or `{"error": TransportError}` (a response wins when both are given); `None` when it is
/// neither. It reads what the derived `Deserialize` reads from an object (absent fields
/// defaulted, `null` only for `response` and `error`, exactly two strings per header), without
/// serde's typed deserialization, which would make the module much larger. Forms the adapter
/// never sends and only serde would accept (a struct as an array, a variant as `{"name":
/// null}`) are refused.
pub fn adapter_answer(v: &Value) -> Option<Result<HttpResponse, TransportError>> {
    let v = v.as_object()?;
    let present = |k: &str| v.get(k).filter(|x| !x.is_null());
    let response = match present("response") {
        Some(r) => Some(response_of(r.as_object()?)?),
        None => None,
    };
    let error = match present("error") {
        Some(e) => Some(error_of(e.as_object()?)?),
        None => None,
    };
    match (response, error) {
        (Some(r), _) => Some(Ok(r)),
        (None, Some(e)) => Some(Err(e)),
        (None, None) => None,
    }
}

fn response_of(r: &serde_json::Map<String, Value>) -> Option<HttpResponse> {
    let mut headers = Vec::new();
    if let Some(list) = r.get("headers") {
        for pair in list.as_array()? {
            let [name, value] = pair.as_array()?.as_slice() else {
                return None;
            };
            headers.push((name.as_str()?.to_string(), value.as_str()?.to_string()));
        }
    }
    Some(HttpResponse {
        status: u16::try_from(r.get("status")?.as_u64()?).ok()?,
        headers,
        body: string_or_empty(r.get("body"))?,
        body_too_large: match r.get("body_too_large") {
            Some(b) => b.as_bool()?,
            None => false,
        },
    })
}

fn error_of(e: &serde_json::Map<String, Value>) -> Option<TransportError> {
    let kind = e.get("kind")?.as_str()?;
    let i = TransportErrorKind::NAMES.iter().position(|n| *n == kind)?;
    Some(TransportError::new(
        TransportErrorKind::ALL[i],
        string_or_empty(e.get("message"))?,
    ))
}

/// An absent field is empty; a present one must be a string.
fn string_or_empty(v: Option<&Value>) -> Option<String> {
    match v {
        Some(s) => s.as_str().map(str::to_string),
        None => Some(String::new()),
    }
}

/// What an adapter's `send` returns.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<HttpResponse, TransportError>> + 'a>>;

/// The I/O half. Implementations must: not follow redirects, fail with `Timeout` after
/// `timeout_ms`, read at most `max_body_bytes` of the body, and never panic.
pub trait Transport {
    fn send(&self, request: HttpRequest) -> SendFuture<'_>;

    /// Milliseconds from any fixed origin, used only to fill the trace's `ms`. The default
    /// (no clock) reports 0.
    fn now_ms(&self) -> f64 {
        0.0
    }
}

/// Reading a value that JavaScript handed in as JSON (the npm package's arguments and its
/// fetch adapter's answers) into the core's types, without serde's typed deserialization: on
/// wasm that machinery (and the float formatting its error messages need) is a large share of
/// the module. The rules are serde's derive rules over a [`serde_json::Value`] (a struct is an
/// object or an array of its fields in order, unknown fields are ignored unless refused, an
/// absent `Option` is `None`), and the messages are serde_json's, without its `at line L
/// column C` suffix. An object's fields are visited in key order, so when several are wrong,
/// the one named is the first by key.
pub(crate) mod shape {
    use serde_json::Value;

    pub type Read<T> = std::result::Result<T, String>;

    /// serde_json's words for the value found (`invalid type: <this>, expected ...`).
    pub fn unexpected(v: &Value) -> String {
        match v {
            Value::Null => "null".into(),
            Value::Bool(b) => format!("boolean `{b}`"),
            // The number as JSON text (what `Number`'s `Display` writes too).
            Value::Number(n) if n.is_f64() => format!("floating point `{v}`"),
            Value::Number(_) => format!("integer `{v}`"),
            Value::String(s) => format!("string {s:?}"),
            Value::Array(_) => "sequence".into(),
            Value::Object(_) => "map".into(),
        }
    }

    pub fn invalid_type(v: &Value, expected: &str) -> String {
        format!("invalid type: {}, expected {expected}", unexpected(v))
    }

    /// serde's list of alternatives: "`a`", "`a` or `b`", "one of `a`, `b`, `c`".
    fn one_of(names: &[&str]) -> String {
        let (mut out, sep) = match names.len() {
            1 | 2 => (String::new(), " or "),
            _ => (String::from("one of "), ", "),
        };
        for (i, n) in names.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            out.push('`');
            out.push_str(n);
            out.push('`');
        }
        out
    }

    pub fn boolean(v: &Value) -> Read<bool> {
        v.as_bool().ok_or_else(|| invalid_type(v, "a boolean"))
    }

    pub fn string(v: &Value) -> Read<String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            _ => Err(invalid_type(v, "a string")),
        }
    }

    /// An unsigned integer up to `max`; `expected` is serde's name for the type (`u16`).
    pub fn unsigned(v: &Value, max: u64, expected: &str) -> Read<u64> {
        match v.as_u64() {
            Some(n) if n <= max => Ok(n),
            _ if v.is_u64() || v.is_i64() => Err(format!(
                "invalid value: {}, expected {expected}",
                unexpected(v)
            )),
            _ => Err(invalid_type(v, expected)),
        }
    }

    /// `null` is `None`, anything else is read by `read`.
    pub fn option<T>(v: &Value, read: impl Fn(&Value) -> Read<T>) -> Read<Option<T>> {
        match v {
            Value::Null => Ok(None),
            _ => read(v).map(Some),
        }
    }

    pub fn seq<T>(v: &Value, read: fn(&Value) -> Read<T>) -> Read<Vec<T>> {
        let Value::Array(items) = v else {
            return Err(invalid_type(v, "a sequence"));
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(read(item)?);
        }
        Ok(out)
    }

    pub fn strings(v: &Value) -> Read<Vec<String>> {
        seq(v, string)
    }

    /// A unit variant: the position in `names` (the variants as their `Serialize` names them)
    /// of a string, or of the one key of an object whose value is `null`.
    pub fn variant(v: &Value, names: &[&str]) -> Read<usize> {
        let (name, content) = match v {
            Value::String(s) => (s.as_str(), None),
            Value::Object(m) => match m.iter().next() {
                Some((k, c)) => (k.as_str(), Some((c, m.len()))),
                None => return Err("expected value".into()),
            },
            _ => return Err("expected value".into()),
        };
        let Some(i) = names.iter().position(|n| *n == name) else {
            return Err(format!(
                "unknown variant `{name}`, expected {}",
                one_of(names)
            ));
        };
        match content {
            Some((c, _)) if !c.is_null() => Err(invalid_type(c, "unit")),
            Some((_, len)) if len > 1 => Err("expected value".into()),
            _ => Ok(i),
        }
    }

    /// A struct's fields as serde's derive visits them: an object's entries, or an array's
    /// items paired with the field names in declaration order.
    pub struct Fields<'a> {
        pub entries: Vec<(&'a str, &'a Value)>,
        /// serde's name for what was expected: `struct <Name>`.
        expecting: &'static str,
        fields: &'static [&'static str],
        /// The array's length, when the struct came as an array.
        seq_len: Option<usize>,
    }

    impl<'a> Fields<'a> {
        /// `expecting` is `struct <Name>`; `fields` the struct's deserialized fields in order.
        pub fn of(
            v: &'a Value,
            expecting: &'static str,
            fields: &'static [&'static str],
        ) -> Read<Self> {
            let mut entries = Vec::new();
            let seq_len = match v {
                Value::Object(m) => {
                    for (k, v) in m {
                        entries.push((k.as_str(), v));
                    }
                    None
                }
                Value::Array(items) => {
                    for (k, v) in fields.iter().zip(items) {
                        entries.push((*k, v));
                    }
                    Some(items.len())
                }
                _ => return Err(invalid_type(v, expecting)),
            };
            Ok(Fields {
                entries,
                expecting,
                fields,
                seq_len,
            })
        }

        /// The position of `key` among the fields.
        pub fn index(&self, key: &str) -> Option<usize> {
            self.fields.iter().position(|f| *f == key)
        }

        /// A key that is not a field, for a struct that refuses unknown fields.
        pub fn unknown(&self, key: &str) -> String {
            format!("unknown field `{key}`, expected {}", one_of(self.fields))
        }

        /// The error for a required field that was not given (`has` says whether it was).
        pub fn require(&self, field: &str, has: bool) -> Read<()> {
            if has {
                return Ok(());
            }
            match self.seq_len {
                Some(_) => Err(format!(
                    "invalid length {}, expected {} with {} elements",
                    self.index(field).unwrap_or(0),
                    self.expecting,
                    self.fields.len()
                )),
                None => Err(format!("missing field `{field}`")),
            }
        }

        /// After the fields: an array longer than the struct is refused.
        pub fn finish(&self) -> Read<()> {
            match self.seq_len {
                Some(n) if n > self.fields.len() => Err("trailing characters".into()),
                _ => Ok(()),
            }
        }
    }
    /// For the tests of the readers: serde's own reading of the same value, and values to
    /// compare them on.
    #[cfg(all(test, not(target_arch = "wasm32")))]
    pub mod testing {
        use proptest::prelude::*;
        use serde::de::DeserializeOwned;
        use serde_json::Value;

        /// The name a unit variant serializes to.
        pub fn name_of<T: serde::Serialize>(t: &T) -> String {
            match serde_json::to_value(t) {
                Ok(Value::String(s)) => s,
                _ => String::new(),
            }
        }

        /// What the derived `Deserialize` makes of `v` (its text has the keys in the order
        /// the readers visit them), with serde_json's position suffix cut off.
        pub fn serde_reads<T: DeserializeOwned>(v: &Value) -> Result<T, String> {
            serde_json::from_str(&v.to_string()).map_err(|e| {
                let m = e.to_string();
                match m.rfind(" at line ") {
                    Some(i) => m[..i].to_string(),
                    None => m,
                }
            })
        }

        /// One of each kind of JSON value, for each field in turn.
        pub fn samples(words: &[&str]) -> Vec<Value> {
            use serde_json::json;
            let mut out = vec![
                json!(null),
                json!(true),
                json!(false),
                json!(0),
                json!(7),
                json!(-1),
                json!(65535),
                json!(65536),
                json!(4294967296u64),
                json!(u64::MAX),
                json!(i64::MIN),
                json!(1.5),
                json!(100.0),
                json!(-0.0),
                json!(1e300),
                json!(""),
                json!("x \"q\" \\ é\n"),
                json!([]),
                json!(["a", "b"]),
                json!(["a", 1]),
                json!([["content-type", "text/plain"]]),
                json!([["a"]]),
                json!([["a", "b", "c"]]),
                json!([[1, "b"]]),
                json!({}),
                json!({"a": null, "b": null}),
                json!([null]),
            ];
            for w in words {
                out.push(json!(w));
                out.push(json!({ *w: null }));
                out.push(json!({ *w: 1 }));
                out.push(json!([w]));
            }
            out
        }

        /// Random JSON built from `words` (as keys, strings and variant names) and edge values.
        pub fn json(words: &'static [&'static str]) -> impl Strategy<Value = Value> {
            let number = prop_oneof![
                prop_oneof![
                    Just(0i64),
                    Just(-1),
                    Just(65535),
                    Just(65536),
                    Just(4294967296)
                ]
                .prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                Just(Value::from(u64::MAX)),
                prop_oneof![Just(1.5f64), Just(100.0), Just(-0.0), Just(2.5e-8)]
                    .prop_map(Value::from),
            ];
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                number,
                proptest::sample::select(words).prop_map(Value::from),
                "[a-z\"\\\\é]{0,4}".prop_map(Value::from),
            ];
            leaf.prop_recursive(3, 32, 6, move |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    proptest::collection::btree_map(
                        proptest::sample::select(words).prop_map(String::from),
                        inner,
                        0..7,
                    )
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod reader_tests {
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
        // Adding a code breaks this match: add it to the list below as well.
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
        for c in [
            InvalidEndpoint,
            Unreachable,
            Aborted,
            InvalidVerifier,
            InvalidArgument,
            InvalidResponse,
            OauthError,
            RegistrationFailed,
            RegistrationUnavailable,
            BlockedTarget,
        ] {
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
