//! "Did you mean": the known element or attribute name closest to a misspelt one.

use super::kind::ALL;

/// The known name closest to a misspelt one: equal ignoring case and `_`/`-` first, then
/// the smallest edit distance (at most a third of the name, at least 1).
pub(super) fn suggest_name<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    let fold = |s: &str| s.chars().filter(|c| !matches!(c, '_' | '-')).collect::<String>().to_ascii_lowercase();
    // Names are short; a long one cannot be a typo of any and is not compared.
    if name.len() > 64 {
        return None;
    }
    let folded = fold(name);
    if let Some(k) = known.iter().find(|k| fold(k) == folded) {
        return Some(k);
    }
    let limit = (name.chars().count() / 3).max(1);
    known
        .iter()
        .map(|k| (strsim::levenshtein(&folded, &fold(k)), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// The known element closest to a misspelt `name` (case, `_`/`-`, then edit distance), or
/// Plivo's name for another vendor's verb.
pub(super) fn suggest(name: &str) -> Option<&'static str> {
    let alias = match name {
        "Say" => Some("Speak"),
        "Gather" => Some("GetDigits"),
        "Pause" => Some("Wait"),
        _ => None,
    };
    if alias.is_some() {
        return alias;
    }
    let names: Vec<&'static str> = ALL.iter().map(|k| k.name()).collect();
    suggest_name(name, &names)
}
