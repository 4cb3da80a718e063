//! Shell quoting for values placed in remote commands: a value is always one word of data,
//! never code.

/// Quote `s` for a POSIX shell: wrapped in single quotes, with embedded single quotes
/// written as `'\''`.
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@%".contains(&b)) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for ch in s.chars() {
        if ch == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(ch);
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_when_needed_and_always_safely() {
        assert_eq!(sh_quote("/var/log/nginx/access.log"), "/var/log/nginx/access.log");
        assert_eq!(sh_quote(""), "''");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("x'; rm -rf / #"), "'x'\\''; rm -rf / #'");
        assert_eq!(sh_quote("$(reboot)"), "'$(reboot)'");
        // the quoted text, read back by a real shell, is the original value
        for v in ["it's", "$HOME `id` \"q\" \\ *", "line\nbreak", "-n"] {
            let out =
                std::process::Command::new("sh").arg("-c").arg(format!("printf %s {}", sh_quote(v))).output().unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), v);
        }
    }
}
