//! `WWW-Authenticate` parsing (RFC 9110 §11.6.1, discovery.md §2).
//!
//! A small hand-written parser over the header's bytes. The structure of a header is ASCII
//! (tokens, `=`, `,`, `"`, `\`, whitespace), so the parser inspects bytes and only ever slices
//! the string at ASCII positions or at the end, which are always `char` boundaries; non-ASCII
//! text inside values is copied whole.
//!
//! Grammar, with the leniency of discovery.md §2:
//!
//! ```text
//! header     = [ element ] *( "," [ element ] )      ; empty elements are skipped
//! challenge  = scheme [ 1*WS ( token68 / param ) ] *( "," param )
//! param      = token WS "=" WS ( quoted-string / loose-value )
//! token68    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="  WS ( "," / end )
//! loose-value = 1*( any char but "," and whitespace ), not starting with "="
//! ```
//!
//! After a comma, a token followed by whitespace and then anything but `=` (or by a comma or the
//! end) starts a new challenge; a token followed by `=` is another param of the current one.
//! Nothing here panics: what cannot be read is skipped up to the next comma (quotes respected)
//! and reported as a `malformed_challenge` warning.

use serde::Serialize;

use crate::warning::{Warning, WarningCode};

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
pub fn parse_www_authenticate(header: &str) -> Challenges {
    let mut parser = Parser {
        src: header,
        pos: 0,
        warnings: Vec::new(),
    };
    let challenges = parser.parse_header();
    Challenges {
        challenges,
        warnings: parser.warnings,
    }
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

// ---------------------------------------------------------------------------------------------
// The parser.

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 9110 `token68` characters, without the `=` padding.
fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

/// Optional whitespace. CR and LF are accepted too: they only appear in broken or folded
/// headers, and treating them as separators reads those the way a person would.
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// What the element at the current position looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// A token followed by whitespace and then anything but `=`, or by a comma or the end.
    Challenge,
    /// A token followed (after optional whitespace) by `=`.
    Param,
    /// Anything else: a stray `=`, a quote, a non-token character.
    Other,
}

struct Parser<'a> {
    src: &'a str,
    /// Always on a `char` boundary: it only moves past ASCII bytes or whole `char`s.
    pos: usize,
    warnings: Vec<Warning>,
}

impl<'a> Parser<'a> {
    fn byte_at(&self, i: usize) -> Option<u8> {
        self.src.as_bytes().get(i).copied()
    }

    fn peek(&self) -> Option<u8> {
        self.byte_at(self.pos)
    }

    /// The text between two positions (both at ASCII bytes or the end); empty if they are not.
    fn slice(&self, from: usize, to: usize) -> &'a str {
        self.src.get(from..to).unwrap_or("")
    }

    /// The end of the run of bytes from `from` that satisfy `pred` (all ASCII predicates).
    fn scan(&self, from: usize, pred: impl Fn(u8) -> bool) -> usize {
        let mut i = from;
        while self.byte_at(i).is_some_and(&pred) {
            i += 1;
        }
        i
    }

    fn skip_ws(&mut self) {
        self.pos = self.scan(self.pos, is_ws);
    }

    /// At a comma or at the end: where every element ends.
    fn at_boundary(&self) -> bool {
        matches!(self.peek(), None | Some(b','))
    }

    /// Skips whitespace and commas (empty list elements); true if an element follows.
    fn skip_separators(&mut self) -> bool {
        self.pos = self.scan(self.pos, |b| b == b',' || is_ws(b));
        self.peek().is_some()
    }

    /// Looks at the element at the current position without consuming it.
    fn classify(&self) -> Next {
        let token_end = self.scan(self.pos, is_tchar);
        if token_end == self.pos {
            return Next::Other;
        }
        let after_ws = self.scan(token_end, is_ws);
        match self.byte_at(after_ws) {
            Some(b'=') => Next::Param,
            None | Some(b',') => Next::Challenge,
            Some(_) if after_ws > token_end => Next::Challenge,
            Some(_) => Next::Other,
        }
    }

    fn take_token(&mut self) -> &'a str {
        let start = self.pos;
        self.pos = self.scan(start, is_tchar);
        self.slice(start, self.pos)
    }

    /// Moves to the next comma outside a quoted string, or to the end.
    fn skip_element(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b',' => break,
                b'"' => {
                    self.read_quoted();
                }
                _ => self.advance_char(),
            }
        }
    }

    /// Moves past one whole `char` (one byte for ASCII).
    fn advance_char(&mut self) {
        let len = self
            .src
            .get(self.pos..)
            .and_then(|rest| rest.chars().next())
            .map_or(1, char::len_utf8);
        self.pos += len;
    }

    /// Reads a quoted-string starting at the opening quote. Returns the unescaped content and
    /// whether the closing quote was found.
    fn read_quoted(&mut self) -> (String, bool) {
        self.pos += 1; // the opening quote
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return (out, false),
                Some(b'"') => {
                    self.pos += 1;
                    return (out, true);
                }
                Some(b'\\') => {
                    self.pos += 1; // a quoted-pair: the next char stands for itself
                    if self.peek().is_none() {
                        return (out, false);
                    }
                    self.push_char(&mut out);
                }
                Some(_) => self.push_char(&mut out),
            }
        }
    }

    /// Copies the `char` at the current position into `out` and moves past it.
    fn push_char(&mut self, out: &mut String) {
        match self
            .src
            .get(self.pos..)
            .and_then(|rest| rest.chars().next())
        {
            Some(c) => {
                out.push(c);
                self.pos += c.len_utf8();
            }
            None => self.pos += 1,
        }
    }

    fn warn(&mut self, message: String) {
        self.warnings
            .push(Warning::new(WarningCode::MalformedChallenge, message));
    }

    // --- grammar -----------------------------------------------------------------------------

    fn parse_header(&mut self) -> Vec<Challenge> {
        let mut challenges = Vec::new();
        while self.skip_separators() {
            match self.classify() {
                Next::Challenge => challenges.push(self.parse_challenge()),
                Next::Param => {
                    let start = self.pos;
                    self.skip_to_next_challenge();
                    let text = snippet(self.slice(start, self.pos));
                    self.warn(format!(
                        "WWW-Authenticate has parameters that follow no auth scheme ({text}); \
                         they were ignored, so the server should put a scheme such as Bearer \
                         before them."
                    ));
                }
                Next::Other => {
                    let start = self.pos;
                    self.skip_to_next_challenge();
                    let text = snippet(self.slice(start, self.pos));
                    self.warn(format!(
                        "WWW-Authenticate holds text that is not a challenge ({text}); it was \
                         ignored, so check the header the server sends."
                    ));
                }
            }
        }
        challenges
    }

    /// Skips elements until one that starts a challenge, or the end.
    fn skip_to_next_challenge(&mut self) {
        loop {
            self.skip_element();
            let resume = self.pos;
            if !self.skip_separators() || self.classify() == Next::Challenge {
                // Leave trailing separators unconsumed so the warning's text ends cleanly.
                self.pos = resume;
                return;
            }
        }
    }

    /// Parses one challenge; the current position is at its scheme (`classify` said so). Stops
    /// at the comma before the next challenge, or at the end.
    fn parse_challenge(&mut self) -> Challenge {
        let mut challenge = Challenge {
            scheme: self.take_token().to_owned(),
            params: Vec::new(),
            token68: None,
        };
        self.skip_ws();

        // The first item, right after the scheme: a token68 or the first param.
        if !self.at_boundary() {
            if let Some(token68) = self.try_token68() {
                challenge.token68 = Some(token68);
            } else if self.classify() == Next::Param {
                self.parse_param(&mut challenge);
            } else {
                self.skip_garbage(&challenge);
            }
        }

        // Then `, param` items until the next challenge starts.
        let mut warned_mixed = false;
        while self.skip_separators() {
            match self.classify() {
                Next::Challenge => break,
                Next::Param => {
                    if challenge.token68.is_some() && !warned_mixed {
                        warned_mixed = true;
                        self.warn(format!(
                            "The {} challenge in WWW-Authenticate has both a token68 value and \
                             parameters, which RFC 9110 does not allow; both were kept, so check \
                             which one the server means.",
                            challenge.scheme
                        ));
                    }
                    self.parse_param(&mut challenge);
                }
                Next::Other => self.skip_garbage(&challenge),
            }
        }
        challenge
    }

    /// A token68 at the current position: `1*token68-char *"="`, then only whitespace before a
    /// comma or the end (so `realm="x"` and `realm = x` are not one).
    fn try_token68(&mut self) -> Option<String> {
        let chars_end = self.scan(self.pos, is_token68_char);
        if chars_end == self.pos {
            return None;
        }
        let padding_end = self.scan(chars_end, |b| b == b'=');
        let after_ws = self.scan(padding_end, is_ws);
        if !matches!(self.byte_at(after_ws), None | Some(b',')) {
            return None;
        }
        let token68 = self.slice(self.pos, padding_end).to_owned();
        self.pos = after_ws;
        Some(token68)
    }

    /// Parses `name = value` (the current position is at the name; `classify` said `Param`)
    /// and leaves the position at the following comma or the end.
    fn parse_param(&mut self, challenge: &mut Challenge) {
        let name = self.take_token().to_ascii_lowercase();
        self.skip_ws();
        self.pos += 1; // the `=`
        self.skip_ws();
        let scheme = &challenge.scheme;

        let value = match self.peek() {
            None | Some(b',') => {
                self.warn(format!(
                    "The {scheme} challenge in WWW-Authenticate gives no value for \"{name}\"; \
                     the parameter was ignored."
                ));
                return;
            }
            Some(b'=') => {
                let start = self.pos;
                self.skip_element();
                let text = snippet(self.slice(start, self.pos));
                self.warn(format!(
                    "The {scheme} challenge in WWW-Authenticate has a stray \"=\" in the value \
                     of \"{name}\" ({text}); the parameter was ignored."
                ));
                return;
            }
            Some(b'"') => {
                let (value, closed) = self.read_quoted();
                if !closed {
                    self.warn(format!(
                        "The {scheme} challenge in WWW-Authenticate leaves the quoted value of \
                         \"{name}\" unclosed; it was read to the end of the header, so check \
                         the value before relying on it."
                    ));
                }
                value
            }
            Some(_) => {
                // Lenient: a loose value runs to the next comma or whitespace (URLs appear
                // unquoted). Both stops are ASCII, so the slice is on char boundaries.
                let start = self.pos;
                self.pos = self.scan(start, |b| b != b',' && !is_ws(b));
                self.slice(start, self.pos).to_owned()
            }
        };
        self.add_param(challenge, name.clone(), value);

        self.skip_ws();
        if !self.at_boundary() {
            let start = self.pos;
            self.skip_element();
            let text = snippet(self.slice(start, self.pos));
            self.warn(format!(
                "The {} challenge in WWW-Authenticate has unexpected text after the value of \
                 \"{name}\" ({text}); it was ignored, so check for a missing comma.",
                challenge.scheme
            ));
        }
    }

    fn add_param(&mut self, challenge: &mut Challenge, name: String, value: String) {
        if let Some((_, first)) = challenge.params.iter().find(|(n, _)| *n == name) {
            let message = format!(
                "The {} challenge in WWW-Authenticate repeats the parameter \"{name}\"; the \
                 first value {} was kept and the later value {} ignored, so check which one \
                 the server means.",
                challenge.scheme,
                snippet(first),
                snippet(&value)
            );
            self.warnings
                .push(Warning::new(WarningCode::DuplicateParam, message));
        } else {
            challenge.params.push((name, value));
        }
    }

    /// Skips an element of a challenge that is neither a param nor a challenge.
    fn skip_garbage(&mut self, challenge: &Challenge) {
        let start = self.pos;
        self.skip_element();
        let text = snippet(self.slice(start, self.pos));
        self.warn(format!(
            "The {} challenge in WWW-Authenticate holds text that is not a name=value parameter \
             ({text}); it was ignored, so check the header the server sends.",
            challenge.scheme
        ));
    }
}

/// A short, quoted, escaped excerpt of header text for a warning message.
fn snippet(text: &str) -> String {
    const MAX_CHARS: usize = 80;
    let text = text.trim_end_matches(|c: char| c == ',' || c.is_ascii_whitespace());
    let mut cut: String = text.chars().take(MAX_CHARS).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    format!("{cut:?}")
}

#[cfg(test)]
mod tests;
