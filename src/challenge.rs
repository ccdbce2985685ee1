//! `WWW-Authenticate` parsing (RFC 9110 §11.6.1, discovery.md §2).
//! STUB: the agreed interface; the implementation is being written.

use serde::Serialize;

use crate::warning::Warning;

/// One challenge: scheme as written, then either a token68 or auth-params.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    /// Lower-cased names, in order; a duplicated name keeps the first value.
    pub params: Vec<(String, String)>,
    pub token68: Option<String>,
}

impl Challenge {
    /// The value of a param (name matched case-insensitively).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Every challenge of one or more headers, with what could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Challenges {
    pub challenges: Vec<Challenge>,
    pub warnings: Vec<Warning>,
}

/// Parses one header value. Never panics.
pub fn parse_www_authenticate(_header: &str) -> Challenges {
    Challenges::default()
}

/// Parses several header values (a response may carry the header more than once), in order.
pub fn parse_headers<'a>(headers: impl IntoIterator<Item = &'a str>) -> Challenges {
    let mut all = Challenges::default();
    for h in headers {
        let one = parse_www_authenticate(h);
        all.challenges.extend(one.challenges);
        all.warnings.extend(one.warnings);
    }
    all
}

/// What the core takes from the first `Bearer` challenge (any case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BearerHints {
    /// `resource_metadata` as written (resolve it against the endpoint URL).
    pub resource_metadata: Option<String>,
    /// `scope`, split on spaces.
    pub scopes: Vec<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// The hints of the first `Bearer` challenge, if there is one.
pub fn bearer_hints(challenges: &[Challenge]) -> Option<BearerHints> {
    let c = challenges
        .iter()
        .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))?;
    Some(BearerHints {
        resource_metadata: c.param("resource_metadata").map(str::to_owned),
        scopes: c
            .param("scope")
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
        error: c.param("error").map(str::to_owned),
        error_description: c.param("error_description").map(str::to_owned),
    })
}

impl Serialize for Challenge {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Params<'a>(&'a [(String, String)]);
        impl Serialize for Params<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
            }
        }
        let mut s = serializer.serialize_struct("Challenge", 3)?;
        s.serialize_field("scheme", &self.scheme)?;
        s.serialize_field("params", &Params(&self.params))?;
        s.serialize_field("token68", &self.token68)?;
        s.end()
    }
}
