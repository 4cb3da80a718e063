//! Strict host-key checking against an OpenSSH known_hosts file.
//!
//! Understands plain and hashed (`|1|salt|hash`) host patterns, `[host]:port` entries,
//! `*`/`?` wildcards, `!negation`, and the `@revoked` marker. `@cert-authority` lines are
//! reported as not understood (fleetdeck does not check host certificates) instead of being
//! silently treated as keys.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::{HashAlg, PublicKey};
use sha1::Sha1;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The verdict on a server's host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyCheck {
    /// A line lists this exact key for the host.
    Known { line: usize },
    /// No line lists a key of this algorithm for the host.
    Unknown { other_algorithms: Vec<usize> },
    /// The host is listed with a different key of the same algorithm: refuse.
    Changed { line: usize, recorded_fingerprint: String },
    /// The key is marked `@revoked`: refuse.
    Revoked { line: usize },
}

/// A line of the file that fleetdeck could not use, to tell the user about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLine {
    pub line: usize,
    pub reason: String,
}

/// "SHA256:..." fingerprint, as `ssh-keygen -lf` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The host pattern OpenSSH uses: `host` on port 22, `[host]:port` otherwise.
pub fn host_pattern(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Check `key` for `host:port` against the known_hosts file at `path`.
/// A missing file means every key is unknown.
pub fn check(path: &Path, host: &str, port: u16, key: &PublicKey) -> std::io::Result<(HostKeyCheck, Vec<SkippedLine>)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    Ok(check_text(&text, host, port, key))
}

pub fn check_text(text: &str, host: &str, port: u16, key: &PublicKey) -> (HostKeyCheck, Vec<SkippedLine>) {
    let name = host_pattern(host, port);
    let mut skipped = Vec::new();
    let mut known = None;
    let mut changed = None;
    let mut other_algorithms = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let mut first = fields.next().unwrap_or_default();
        let mut marker = None;
        if first.starts_with('@') {
            marker = Some(first);
            first = fields.next().unwrap_or_default();
        }
        if !hosts_match(first, &name) {
            continue;
        }
        let (Some(alg), Some(b64)) = (fields.next(), fields.next()) else {
            skipped.push(SkippedLine { line: line_no, reason: "missing key type or key".into() });
            continue;
        };
        let recorded = match PublicKey::from_openssh(&format!("{alg} {b64}")) {
            Ok(k) => k,
            Err(e) => {
                skipped.push(SkippedLine { line: line_no, reason: format!("unreadable key: {e}") });
                continue;
            }
        };
        match marker {
            Some("@revoked") => {
                if recorded.key_data() == key.key_data() {
                    return (HostKeyCheck::Revoked { line: line_no }, skipped);
                }
                continue;
            }
            Some("@cert-authority") => {
                skipped.push(SkippedLine {
                    line: line_no,
                    reason: "@cert-authority entries are not supported (host certificates are not checked)".into(),
                });
                continue;
            }
            Some(other) => {
                skipped.push(SkippedLine { line: line_no, reason: format!("unknown marker {other}") });
                continue;
            }
            None => {}
        }
        if recorded.key_data() == key.key_data() {
            known.get_or_insert(line_no);
        } else if recorded.algorithm() == key.algorithm() {
            changed.get_or_insert((line_no, fingerprint(&recorded)));
        } else {
            other_algorithms.push(line_no);
        }
    }
    let verdict = match (known, changed) {
        (Some(line), _) => HostKeyCheck::Known { line },
        (None, Some((line, recorded_fingerprint))) => HostKeyCheck::Changed { line, recorded_fingerprint },
        (None, None) => HostKeyCheck::Unknown { other_algorithms },
    };
    (verdict, skipped)
}

/// Does a comma-separated host pattern list match `name` (already in `[host]:port` form)?
fn hosts_match(patterns: &str, name: &str) -> bool {
    if let Some(rest) = patterns.strip_prefix("|1|") {
        return hashed_match(rest, name);
    }
    let mut matched = false;
    for p in patterns.split(',') {
        if let Some(neg) = p.strip_prefix('!') {
            if wildcard(neg, name) {
                return false;
            }
        } else if wildcard(p, name) {
            matched = true;
        }
    }
    matched
}

fn hashed_match(rest: &str, name: &str) -> bool {
    let Some((salt, hash)) = rest.split_once('|') else { return false };
    let (Ok(salt), Ok(hash)) = (B64.decode(salt), B64.decode(hash)) else { return false };
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&salt) else { return false };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

fn wildcard(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

/// Append an explicitly accepted key, as a hashed entry like `ssh-keygen -H` writes.
pub fn learn(path: &Path, host: &str, port: u16, key: &PublicKey) -> std::io::Result<PathBuf> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut salt = [0u8; 20];
    getrandom_fill(&mut salt);
    let mut mac = Hmac::<Sha1>::new_from_slice(&salt).expect("hmac takes any key size");
    mac.update(host_pattern(host, port).as_bytes());
    let hash = mac.finalize().into_bytes();
    let key_line = key.to_openssh().map_err(std::io::Error::other)?;
    let existing = std::fs::read(path).unwrap_or_default();
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    if !existing.is_empty() && !existing.ends_with(b"\n") {
        writeln!(f)?;
    }
    writeln!(f, "|1|{}|{} {}", B64.encode(salt), B64.encode(hash), key_line)?;
    Ok(path.to_path_buf())
}

fn getrandom_fill(buf: &mut [u8]) {
    use std::io::Read;
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        if f.read_exact(buf).is_ok() {
            return;
        }
    }
    // Fall back to time-derived bytes: the salt only needs to be distinct, not secret.
    let t =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos().to_le_bytes();
    for (i, b) in buf.iter_mut().enumerate() {
        *b = t[i % t.len()] ^ (i as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN+Wjn4+4Fcvl2JlKpggT+wCRxpSvtqqpVrQrKN1/A22";
    const K2: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKmhvvk2z0vM7YcyszRzKnaE6rIfyEGwhpXtBJ8gTn5S";

    fn key(s: &str) -> PublicKey {
        PublicKey::from_openssh(s).unwrap()
    }

    #[test]
    fn plain_port_and_wildcard_entries() {
        let text = format!("# c\n[10.0.0.1]:2222 {K1}\n*.example.com,!bad.example.com {K1}\n");
        assert_eq!(check_text(&text, "10.0.0.1", 2222, &key(K1)).0, HostKeyCheck::Known { line: 2 });
        assert!(matches!(check_text(&text, "10.0.0.1", 22, &key(K1)).0, HostKeyCheck::Unknown { .. }));
        assert_eq!(check_text(&text, "a.example.com", 22, &key(K1)).0, HostKeyCheck::Known { line: 3 });
        assert!(matches!(check_text(&text, "bad.example.com", 22, &key(K1)).0, HostKeyCheck::Unknown { .. }));
    }

    #[test]
    fn changed_key_names_line_and_old_fingerprint() {
        let text = format!("[h]:2200  {K1}\n");
        match check_text(&text, "h", 2200, &key(K2)).0 {
            HostKeyCheck::Changed { line, recorded_fingerprint } => {
                assert_eq!(line, 1);
                assert_eq!(recorded_fingerprint, fingerprint(&key(K1)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hashed_entries_written_by_learn_are_matched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kh");
        learn(&path, "127.0.0.1", 2201, &key(K1)).unwrap();
        let (v, skipped) = check(&path, "127.0.0.1", 2201, &key(K1)).unwrap();
        assert_eq!(v, HostKeyCheck::Known { line: 1 });
        assert!(skipped.is_empty());
        assert!(matches!(check(&path, "127.0.0.1", 2202, &key(K1)).unwrap().0, HostKeyCheck::Unknown { .. }));
        assert!(std::fs::read_to_string(&path).unwrap().starts_with("|1|"));
    }

    #[test]
    fn revoked_and_cert_authority() {
        let text = format!("@revoked * {K2}\n@cert-authority *.corp {K1}\nh {K1}\n");
        assert_eq!(check_text(&text, "h", 22, &key(K2)).0, HostKeyCheck::Revoked { line: 1 });
        let (v, skipped) = check_text(&text, "x.corp", 22, &key(K1));
        assert!(matches!(v, HostKeyCheck::Unknown { .. }));
        assert_eq!(skipped[0].line, 2);
    }
}
