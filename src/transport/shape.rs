//! Reading a value that JavaScript handed in as JSON (the npm package's arguments) into the
//! core's types, without serde's typed deserialization: on wasm that machinery (and the float
//! formatting its error messages need) is a large share of the module.
//!
//! The rules are the API's, not serde's quirks: a struct is a JSON object only (never an array
//! of its fields), an enum's unit variant is its name as a string only, `null` for an `Option`
//! is `None`. A problem is reported as the config validator reports one: the path of the field
//! (`warnings[0].status`, `evidence.prm`; empty for the value itself) and a sentence saying what
//! the field must be and what it was. An object's fields are visited in key order, so when
//! several are wrong, the one named is the first by key.

use std::fmt;

use serde_json::Value;

/// A problem at a path of the value read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// Dotted field names with `[n]` for array items; `""` for the value itself.
    pub path: String,
    /// What the value there must be, and what it was.
    pub problem: String,
}

impl ReadError {
    pub fn new(problem: impl Into<String>) -> ReadError {
        ReadError {
            path: String::new(),
            problem: problem.into(),
        }
    }

    /// The same problem seen from the enclosing object: under its field `key`.
    pub fn under(mut self, key: &str) -> ReadError {
        self.path = match self.path.as_str() {
            "" => key.to_owned(),
            p if p.starts_with('[') => format!("{key}{p}"),
            p => format!("{key}.{p}"),
        };
        self
    }

    /// The same problem seen from the enclosing array: under its item `i`.
    fn item(mut self, i: usize) -> ReadError {
        self.path = match self.path.as_str() {
            "" => format!("[{i}]"),
            p if p.starts_with('[') => format!("[{i}]{p}"),
            p => format!("[{i}].{p}"),
        };
        self
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.path, self.problem)
        }
    }
}

pub(crate) type Read<T> = std::result::Result<T, ReadError>;

/// The kind of a JSON value, as the config validator names it.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `must be <expected>, not <kind of v>`.
pub(crate) fn invalid_type(v: &Value, expected: &str) -> ReadError {
    ReadError::new(format!("must be {expected}, not {}", kind(v)))
}

/// The alternatives: "`a`", "`a` or `b`", "one of `a`, `b`, `c`".
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

pub(crate) fn boolean(v: &Value) -> Read<bool> {
    v.as_bool().ok_or_else(|| invalid_type(v, "true or false"))
}

pub(crate) fn string(v: &Value) -> Read<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(invalid_type(v, "a string")),
    }
}

/// A whole number from 0 to `max`.
pub(crate) fn unsigned(v: &Value, max: u64) -> Read<u64> {
    match v.as_u64() {
        Some(n) if n <= max => Ok(n),
        _ => Err(invalid_type(v, &format!("a whole number from 0 to {max}"))),
    }
}

/// `null` is `None`, anything else is read by `read`.
pub(crate) fn option<T>(v: &Value, read: impl Fn(&Value) -> Read<T>) -> Read<Option<T>> {
    match v {
        Value::Null => Ok(None),
        _ => read(v).map(Some),
    }
}

/// An array, each item read by `read` (a problem names the item's index).
pub(crate) fn seq<T>(v: &Value, read: fn(&Value) -> Read<T>) -> Read<Vec<T>> {
    let Value::Array(items) = v else {
        return Err(invalid_type(v, "an array"));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        out.push(read(item).map_err(|e| e.item(i))?);
    }
    Ok(out)
}

pub(crate) fn strings(v: &Value) -> Read<Vec<String>> {
    seq(v, string)
}

/// A unit variant: the position in `names` (the variants as their `Serialize` names them)
/// of a string.
pub(crate) fn variant(v: &Value, names: &[&str]) -> Read<usize> {
    let found = match v {
        Value::String(s) => match names.iter().position(|n| n == s) {
            Some(i) => return Ok(i),
            None => format!("{:?}", s.chars().take(40).collect::<String>()),
        },
        _ => kind(v).to_owned(),
    };
    Err(ReadError::new(format!(
        "must be {}, not {found}",
        one_of(names)
    )))
}

/// A struct's fields: the entries of a JSON object (anything else is refused).
pub(crate) struct Fields<'a> {
    pub entries: Vec<(&'a str, &'a Value)>,
    fields: &'static [&'static str],
}

impl<'a> Fields<'a> {
    /// `fields` are the struct's fields in order.
    pub(crate) fn of(v: &'a Value, fields: &'static [&'static str]) -> Read<Self> {
        let Value::Object(m) = v else {
            return Err(invalid_type(v, "an object"));
        };
        Ok(Fields {
            entries: m.iter().map(|(k, v)| (k.as_str(), v)).collect(),
            fields,
        })
    }

    /// The position of `key` among the fields.
    pub(crate) fn index(&self, key: &str) -> Option<usize> {
        self.fields.iter().position(|f| *f == key)
    }

    /// A key that is not a field, for a struct that refuses unknown fields.
    pub(crate) fn unknown(&self, key: &str) -> ReadError {
        ReadError::new(format!("is not a field here: use {}", one_of(self.fields))).under(key)
    }

    /// The error for a required field that was not given (`has` says whether it was).
    pub(crate) fn require(&self, field: &str, has: bool) -> Read<()> {
        if has {
            Ok(())
        } else {
            Err(ReadError::new("is required").under(field))
        }
    }
}

/// For the tests of the readers: serde's own reading of the same value, and values to
/// compare them on.
#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod testing {
    use proptest::prelude::*;
    use serde::de::DeserializeOwned;
    use serde_json::Value;

    /// The name a unit variant serializes to.
    pub(crate) fn name_of<T: serde::Serialize>(t: &T) -> String {
        match serde_json::to_value(t) {
            Ok(Value::String(s)) => s,
            _ => String::new(),
        }
    }

    /// The reader agrees with the derived `Deserialize` wherever the API's rules allow: what
    /// the reader accepts, serde reads to the same value; what it refuses, serde refuses too,
    /// unless it is one of serde's quirks (a struct given as an array, a variant as a one-key
    /// object), which the reader names. Every refusal is a sentence about one path.
    pub(crate) fn agrees<T>(v: &Value, read: fn(&Value) -> super::Read<T>)
    where
        T: DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        match (read(v), serde_reads::<T>(v)) {
            (Ok(mine), theirs) => assert_eq!(Ok(mine), theirs, "{v}"),
            (Err(e), theirs) => {
                let p = &e.problem;
                assert!(
                    p.starts_with("must be ")
                        || p == "is required"
                        || p.starts_with("is not a field here: use "),
                    "{v}: {e}"
                );
                assert!(
                    !p.contains("invalid type") && !p.contains("trailing characters"),
                    "{e}"
                );
                if theirs.is_ok() {
                    assert!(
                        p.ends_with(", not an array") || p.ends_with(", not an object"),
                        "{v}: refused ({e}) though it is no quirk of serde's"
                    );
                }
            }
        }
    }

    /// What the derived `Deserialize` makes of `v` (its text has the keys in the order
    /// the readers visit them), with serde_json's position suffix cut off.
    pub(crate) fn serde_reads<T: DeserializeOwned>(v: &Value) -> Result<T, String> {
        serde_json::from_str(&v.to_string()).map_err(|e| {
            let m = e.to_string();
            match m.rfind(" at line ") {
                Some(i) => m[..i].to_string(),
                None => m,
            }
        })
    }

    /// One of each kind of JSON value, for each field in turn.
    pub(crate) fn samples(words: &[&str]) -> Vec<Value> {
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
    pub(crate) fn json(words: &'static [&'static str]) -> impl Strategy<Value = Value> {
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
            prop_oneof![Just(1.5f64), Just(100.0), Just(-0.0), Just(2.5e-8)].prop_map(Value::from),
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
