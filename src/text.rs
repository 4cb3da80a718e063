//! Small text helpers the engine shares (no UI here).

/// The longest prefix of `s` of at most `max_bytes` bytes that ends on a character boundary.
pub fn head(s: &str, max_bytes: usize) -> &str {
    let mut end = max_bytes.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    #[test]
    fn heads_end_on_character_boundaries() {
        assert_eq!(super::head("abc", 10), "abc");
        assert_eq!(super::head("abc", 2), "ab");
        assert_eq!(super::head("aé", 2), "a", "é takes bytes 1-2");
        assert_eq!(super::head("", 0), "");
    }
}
