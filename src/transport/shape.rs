//! Reading a value that JavaScript handed in as JSON (the npm package's arguments and its
//! fetch adapter's answers) into the core's types, without serde's typed deserialization: on
//! wasm that machinery (and the float formatting its error messages need) is a large share of
//! the module. The rules are serde's derive rules over a [`serde_json::Value`] (a struct is an
//! object or an array of its fields in order, unknown fields are ignored unless refused, an
//! absent `Option` is `None`), and the messages are serde_json's, without its `at line L
//! column C` suffix. An object's fields are visited in key order, so when several are wrong,
//! the one named is the first by key.

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
