//! Command templates: placeholders such as `{file}` (backup jobs) or `{to_port}` (deploy
//! hooks) are replaced by shell-quoted values (`sh_quote`), so a value is always one word of
//! data and never code. Backup jobs use `check`/`render` with their four placeholders; other
//! commands name their own placeholders with `check_with`/`render_with`.
//!
//! Quoting only protects a value where the shell reads it as a word. Templates are therefore
//! checked (when the profile is loaded, and again before every render) and refused when a
//! placeholder sits where a quoted value could still run as code:
//! - inside `'...'`, `"..."` or `` `...` `` (the value's own quotes would end them);
//! - in or after a here-document (its body expands `$(...)`);
//! - as an argument of a command that parses its arguments as shell code again (`eval`,
//!   `ssh`, `sh -c`/`bash -c`/`su -c`); as a redirection target (`> {file}`) it is fine.

use crate::ssh::quote::sh_quote;

/// Every placeholder a command may use.
pub const PLACEHOLDERS: [&str; 4] = ["file", "directory", "timestamp", "job"];

/// The values of the placeholders for one command.
#[derive(Debug, Clone, Copy)]
pub struct Vars<'a> {
    /// Absolute path of the backup file the command works on.
    pub file: &'a str,
    /// The job's directory.
    pub directory: &'a str,
    /// `20261130T041700Z` (UTC).
    pub timestamp: &'a str,
    /// The job's name.
    pub job: &'a str,
}

impl Vars<'_> {
    fn get(&self, name: &str) -> &str {
        match name {
            "file" => self.file,
            "directory" => self.directory,
            "timestamp" => self.timestamp,
            _ => self.job,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Placeholder(&'static str),
}

#[derive(Debug, Default)]
struct Word {
    placeholder: bool,
    redirect_target: bool,
    text: String,
}

#[derive(Debug, Default)]
struct Scan {
    pieces: Vec<Piece>,
    errors: Vec<String>,
    /// Placeholders used (in order of appearance).
    used: Vec<&'static str>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
    Backtick,
}

/// Commands that parse their arguments as shell code again.
const REPARSING: [&str; 2] = ["eval", "ssh"];
/// Commands whose `-c` argument is shell code.
const SHELLS: [&str; 8] = ["sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "su"];

/// `{name}` at `i` (a known placeholder, or an unknown lowercase name): (name, length).
fn placeholder_at(chars: &[char], i: usize) -> Option<(String, usize)> {
    if chars.get(i) != Some(&'{') || (i > 0 && chars[i - 1] == '$') {
        return None;
    }
    let mut j = i + 1;
    while j < chars.len() && (chars[j].is_ascii_lowercase() || chars[j] == '_') {
        j += 1;
    }
    if j == i + 1 || chars.get(j) != Some(&'}') {
        return None;
    }
    Some((chars[i + 1..j].iter().collect(), j + 1 - i))
}

fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// Whether a simple command re-parses its (non-redirection) arguments as shell code.
fn reparses(words: &[Word]) -> bool {
    let mut shell_seen = false;
    for w in words.iter().filter(|w| !w.redirect_target) {
        let name = basename(&w.text);
        if REPARSING.contains(&name) {
            return true;
        }
        if SHELLS.contains(&name) {
            shell_seen = true;
        }
        if shell_seen
            && (w.text == "-c" || (w.text.starts_with('-') && !w.text.starts_with("--") && w.text.ends_with('c')))
        {
            return true;
        }
    }
    false
}

fn scan(template: &str, known_names: &[&'static str]) -> Scan {
    let chars: Vec<char> = template.chars().collect();
    let mut s = Scan::default();
    let mut text = String::new();
    let mut quote = Quote::None;
    let mut words: Vec<Word> = Vec::new();
    let mut word = Word::default();
    let mut in_word = false;
    let mut next_is_redirect = false;
    let mut heredoc = false;
    let mut i = 0;

    fn end_word(words: &mut Vec<Word>, word: &mut Word, in_word: &mut bool, next_is_redirect: &mut bool) {
        if *in_word {
            let mut w = std::mem::take(word);
            w.redirect_target = *next_is_redirect;
            *next_is_redirect = false;
            words.push(w);
            *in_word = false;
        }
    }
    fn end_command(words: &mut Vec<Word>, errors: &mut Vec<String>) {
        if words.iter().any(|w| w.placeholder && !w.redirect_target) && reparses(words) {
            let cmd: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
            errors.push(format!(
                "a placeholder is an argument of `{}`, which runs its arguments as shell code: pass the value by redirection (`< {{file}}`, `> {{file}}`) instead",
                cmd.join(" ")
            ));
        }
        words.clear();
    }

    while i < chars.len() {
        let c = chars[i];
        if let Some((name, len)) = placeholder_at(&chars, i) {
            match known_names.iter().find(|p| **p == name) {
                Some(known) => {
                    if quote != Quote::None {
                        let inside = match quote {
                            Quote::Single => "'...'",
                            Quote::Double => "\"...\"",
                            _ => "`...`",
                        };
                        s.errors.push(format!(
                            "placeholder {{{name}}} is inside {inside}: write it unquoted, it is quoted for you"
                        ));
                    } else if heredoc {
                        s.errors.push(format!(
                            "placeholder {{{name}}} is in or after a here-document (<<), where a value could run as code"
                        ));
                    }
                    if !text.is_empty() {
                        s.pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    s.pieces.push(Piece::Placeholder(known));
                    s.used.push(known);
                    word.placeholder = true;
                    word.text.push_str(&format!("{{{name}}}"));
                    in_word = true;
                }
                None => {
                    s.errors.push(format!(
                        "unknown placeholder {{{name}}} (known: {})",
                        known_names.iter().map(|p| format!("{{{p}}}")).collect::<Vec<_>>().join(", ")
                    ));
                    text.push_str(&format!("{{{name}}}"));
                }
            }
            i += len;
            continue;
        }
        text.push(c);
        match quote {
            Quote::Single => {
                if c == '\'' {
                    quote = Quote::None;
                }
                word.text.push(c);
            }
            Quote::Double | Quote::Backtick => {
                let close = if quote == Quote::Double { '"' } else { '`' };
                if c == '\\' && i + 1 < chars.len() {
                    text.push(chars[i + 1]);
                    word.text.push(c);
                    word.text.push(chars[i + 1]);
                    i += 1;
                } else if c == close {
                    quote = Quote::None;
                    word.text.push(c);
                } else {
                    word.text.push(c);
                }
            }
            Quote::None => match c {
                '\\' if i + 1 < chars.len() => {
                    text.push(chars[i + 1]);
                    word.text.push(chars[i + 1]);
                    in_word = true;
                    i += 1;
                }
                '\'' | '"' | '`' => {
                    quote = match c {
                        '\'' => Quote::Single,
                        '"' => Quote::Double,
                        _ => Quote::Backtick,
                    };
                    word.text.push(c);
                    in_word = true;
                }
                '#' if !in_word => {
                    // a comment, to the end of the line
                    while i + 1 < chars.len() && chars[i + 1] != '\n' {
                        i += 1;
                        text.push(chars[i]);
                    }
                }
                ' ' | '\t' => end_word(&mut words, &mut word, &mut in_word, &mut next_is_redirect),
                '\n' | ';' | '&' | '|' | '(' | ')' => {
                    end_word(&mut words, &mut word, &mut in_word, &mut next_is_redirect);
                    next_is_redirect = false;
                    end_command(&mut words, &mut s.errors);
                }
                '<' | '>' => {
                    end_word(&mut words, &mut word, &mut in_word, &mut next_is_redirect);
                    if c == '<' && chars.get(i + 1) == Some(&'<') && chars.get(i + 2) != Some(&'<') {
                        heredoc = true;
                    }
                    // `>>`, `<<<`, `>&`, `>|`: the operator goes on; the next word is its target
                    while i + 1 < chars.len() && matches!(chars[i + 1], '<' | '>' | '&' | '|') {
                        i += 1;
                        text.push(chars[i]);
                    }
                    next_is_redirect = true;
                }
                _ => {
                    word.text.push(c);
                    in_word = true;
                }
            },
        }
        i += 1;
    }
    if quote != Quote::None {
        s.errors.push("unterminated quote".into());
    }
    end_word(&mut words, &mut word, &mut in_word, &mut next_is_redirect);
    end_command(&mut words, &mut s.errors);
    if !text.is_empty() {
        s.pieces.push(Piece::Text(text));
    }
    s
}

/// Problems of a command template: unknown or unsafe placeholders, and the placeholders in
/// `required` it does not use. Empty when the template is fine.
pub fn check(template: &str, required: &[&str]) -> Vec<String> {
    check_with(template, &PLACEHOLDERS, required)
}

/// `check` for a command whose placeholders are `known`.
pub fn check_with(template: &str, known: &[&'static str], required: &[&str]) -> Vec<String> {
    let s = scan(template, known);
    let mut errors = s.errors;
    for r in required {
        if !s.used.contains(r) {
            errors.push(format!("must use the placeholder {{{r}}}"));
        }
    }
    errors
}

/// The command with every placeholder replaced by its shell-quoted value. Refuses a template
/// `check` refuses (the engine never builds a command that could run a value as code).
pub fn render(template: &str, vars: &Vars) -> Result<String, String> {
    render_with(template, &PLACEHOLDERS, |name| vars.get(name).to_string())
}

/// `render` for a command whose placeholders are `known`; `value` gives each one's value
/// (unquoted: it is quoted here).
pub fn render_with(template: &str, known: &[&'static str], value: impl Fn(&str) -> String) -> Result<String, String> {
    let s = scan(template, known);
    if let Some(e) = s.errors.into_iter().next() {
        return Err(e);
    }
    let mut out = String::with_capacity(template.len() + 64);
    for p in s.pieces {
        match p {
            Piece::Text(t) => out.push_str(&t),
            Piece::Placeholder(name) => out.push_str(&sh_quote(&value(name))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVIL: &str = "x$(touch PWNED);y `id` 'q' \"d\" \\ *";

    fn vars(v: &str) -> Vars<'_> {
        Vars { file: v, directory: "/var/backups/my dir", timestamp: "20261130T041700Z", job: v }
    }

    #[test]
    fn placeholders_become_quoted_words() {
        let cmd = render("pg_dump -Fc shop > {file} && ls {directory}/{job}.x", &vars("a b")).unwrap();
        assert_eq!(cmd, "pg_dump -Fc shop > 'a b' && ls '/var/backups/my dir'/'a b'.x");
        // ${file} is the shell's, not ours; awk's braces are left alone
        assert_eq!(render("echo ${file} | awk '{print $1}'", &vars("v")).unwrap(), "echo ${file} | awk '{print $1}'");
    }

    #[test]
    fn a_real_shell_gets_the_value_back_as_data() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vars { file: EVIL, directory: EVIL, timestamp: EVIL, job: EVIL };
        let cmd = render("printf '%s|' {file} {directory} {timestamp} {job}", &v).unwrap();
        let out = std::process::Command::new("sh").arg("-c").arg(&cmd).current_dir(dir.path()).output().unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{EVIL}|").repeat(4));
        assert!(!dir.path().join("PWNED").exists());
    }

    #[test]
    fn unsafe_places_are_refused() {
        for t in [
            "gzip -t '{file}'",
            "gzip -t \"{file}\"",
            "echo `cat {file}`",
            "cat <<EOF\n{file}\nEOF",
            "eval cat {file}",
            "ssh backup-host cat {file}",
            "docker exec db sh -c pg_restore {file}",
            "sudo -u postgres bash -lc {file}",
        ] {
            assert!(!check(t, &[]).is_empty(), "{t:?} must be refused");
            assert!(render(t, &vars(EVIL)).is_err(), "{t:?} must not render");
        }
        // redirections of such commands are fine: the outer shell opens the file
        assert!(check("docker exec -i db sh -c 'pg_restore -d shop' < {file}", &["file"]).is_empty());
        assert!(check("docker exec db sh -c 'pg_dump shop' | gzip > {file}", &["file"]).is_empty());
        assert!(check("tr a b <<< {job} > {file}", &[]).is_empty());
    }

    #[test]
    fn unknown_and_missing_placeholders_are_named() {
        let e = check("gzip -t {fle}", &["file"]);
        assert!(e[0].contains("unknown placeholder {fle}"), "{e:?}");
        assert!(e[1].contains("must use the placeholder {file}"), "{e:?}");
        assert!(check("echo 'unterminated", &[]).iter().any(|e| e.contains("unterminated")));
    }
}
