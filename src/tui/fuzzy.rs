//! Fuzzy ranking for the command palette (nucleo-matcher, as used by helix).

use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher, Utf32Str};

/// Items matching `query`, best first; all items in their order when the query is empty.
pub fn rank<T>(query: &str, items: Vec<T>, text: impl Fn(&T) -> String) -> Vec<T> {
    if query.trim().is_empty() {
        return items;
    }
    let mut matcher = Matcher::new(Config::DEFAULT);
    let pattern = Pattern::parse(query, CaseMatching::Ignore, Normalization::Smart);
    let mut scored: Vec<(u32, usize, T)> = Vec::new();
    let mut buf = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let t = text(&item);
        if let Some(score) = pattern.score(Utf32Str::new(&t, &mut buf), &mut matcher) {
            scored.push((score, i, item));
        }
    }
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().map(|(_, _, t)| t).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ranks_subsequences() {
        let items = vec!["quit", "help", "toggle_log", "filter"];
        assert_eq!(super::rank("tlg", items.clone(), |s| s.to_string()), vec!["toggle_log"]);
        assert_eq!(super::rank("", items.clone(), |s| s.to_string()), items);
        assert!(super::rank("zzz", items, |s| s.to_string()).is_empty());
    }
}
