//! A reader for the parts of OpenSSH's `ssh_config` that fleetdeck honours for a host alias:
//! HostName, User, Port, IdentityFile and ProxyJump. As in OpenSSH, the first value obtained
//! for a keyword wins, `Host` patterns may use `*`, `?` and `!negation`, and `Match` blocks
//! are skipped (fleetdeck does not evaluate them).

use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshConfigEntry {
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_file: Option<String>,
    pub proxy_jump: Option<String>,
}

/// A `Host` block: its patterns and its (keyword, value) settings.
type Block = (Vec<String>, Vec<(String, String)>);

#[derive(Debug, Clone, Default)]
pub struct SshConfig {
    blocks: Vec<Block>,
}

impl SshConfig {
    /// Load a config file; a missing file is an empty config.
    pub fn load(path: &Path) -> std::io::Result<SshConfig> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(SshConfig::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SshConfig::default()),
            Err(e) => Err(e),
        }
    }

    pub fn parse(text: &str) -> SshConfig {
        let mut blocks: Vec<Block> = vec![(vec!["*".into()], vec![])];
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = split_keyword(line);
            let key = key.to_ascii_lowercase();
            match key.as_str() {
                "host" => blocks.push((value.split_whitespace().map(String::from).collect(), vec![])),
                // A Match block never applies: give it a pattern nothing can match.
                "match" => blocks.push((vec!["!*".into()], vec![])),
                _ => {
                    if let Some(block) = blocks.last_mut() {
                        block.1.push((key, unquote(value)));
                    }
                }
            }
        }
        SshConfig { blocks }
    }

    /// The settings that apply to `alias`.
    pub fn lookup(&self, alias: &str) -> SshConfigEntry {
        let mut e = SshConfigEntry::default();
        for (patterns, settings) in &self.blocks {
            if !host_matches(patterns, alias) {
                continue;
            }
            for (k, v) in settings {
                match k.as_str() {
                    "hostname" if e.hostname.is_none() => e.hostname = Some(v.replace("%h", alias)),
                    "user" if e.user.is_none() => e.user = Some(v.clone()),
                    "port" if e.port.is_none() => e.port = v.parse().ok(),
                    "identityfile" if e.identity_file.is_none() => e.identity_file = Some(v.clone()),
                    "proxyjump" if e.proxy_jump.is_none() && v != "none" => e.proxy_jump = Some(v.clone()),
                    _ => {}
                }
            }
        }
        e
    }

    /// Is `alias` named by a `Host` line (not only by `*`)?
    pub fn knows(&self, alias: &str) -> bool {
        self.blocks.iter().skip(1).any(|(p, _)| !p.iter().all(|x| x == "*") && host_matches(p, alias))
    }
}

fn split_keyword(line: &str) -> (&str, &str) {
    let idx = line.find(|c: char| c.is_whitespace() || c == '=').unwrap_or(line.len());
    let (k, rest) = line.split_at(idx);
    let rest = rest.trim_start().trim_start_matches('=').trim();
    (k, rest)
}

fn unquote(v: &str) -> String {
    v.trim_matches('"').to_string()
}

fn host_matches(patterns: &[String], host: &str) -> bool {
    let mut matched = false;
    for p in patterns {
        if let Some(neg) = p.strip_prefix('!') {
            if glob(neg, host) {
                return false;
            }
        } else if glob(p, host) {
            matched = true;
        }
    }
    matched
}

/// `*` and `?` glob, as ssh_config uses.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "
# comment
Host db-1-alias db-*
    HostName 10.1.2.3
    User postgres
    Port 2200
    IdentityFile ~/.ssh/db_key
    ProxyJump ops@bastion:22

Host !db-9 db-*
    User other

Match host foo
    User matched

Host *
    User fallback
    Port=2222
";

    #[test]
    fn first_value_wins_and_patterns_match() {
        let c = SshConfig::parse(CONFIG);
        let e = c.lookup("db-1-alias");
        assert_eq!(e.hostname.as_deref(), Some("10.1.2.3"));
        assert_eq!(e.user.as_deref(), Some("postgres"));
        assert_eq!(e.port, Some(2200));
        assert_eq!(e.identity_file.as_deref(), Some("~/.ssh/db_key"));
        assert_eq!(e.proxy_jump.as_deref(), Some("ops@bastion:22"));
        let other = c.lookup("web");
        assert_eq!(other.user.as_deref(), Some("fallback"));
        assert_eq!(other.port, Some(2222));
        assert!(c.knows("db-7"));
        assert!(!c.knows("web"));
    }

    #[test]
    fn glob_and_negation() {
        assert!(glob("db-?", "db-1"));
        assert!(!glob("db-?", "db-12"));
        assert!(glob("*.example.com", "a.example.com"));
        assert!(!host_matches(&["!db-9".into(), "db-*".into()], "db-9"));
        assert!(host_matches(&["!db-9".into(), "db-*".into()], "db-8"));
    }
}
