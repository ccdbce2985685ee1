//! Near-miss detection for unknown field names and auth types: "did you mean `endpoint`?".

/// The fix for an unknown field: the close known name, else `fallback`.
pub(super) fn fix_for_unknown<'a>(
    key: &str,
    known: impl IntoIterator<Item = &'a str>,
    fallback: &str,
) -> String {
    match suggest(key, known) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("remove it ({fallback})"),
    }
}

/// camelCase, kebab-case and spaces to snake_case, for matching near-misses.
pub(super) fn normalise(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.trim().chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '-' || c == ' ' {
            out.push('_');
        } else {
            out.push(c);
        }
    }
    out
}

/// The known name closest to `key` (after [`normalise`]), if close enough to be a typo.
pub(super) fn suggest<'a>(key: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let norm = normalise(key);
    known
        .into_iter()
        .map(|k| (edit_distance(&norm, k), k))
        .filter(|(d, k)| {
            *d <= if k.len() <= 4 {
                1
            } else if k.len() <= 8 {
                2
            } else {
                3
            }
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over chars.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
