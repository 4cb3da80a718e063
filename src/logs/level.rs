//! Log levels and their detection in raw lines, by hand-written scanning (no regex, no
//! allocation unless the line holds ANSI sequences).
//!
//! Detection order, first hit wins:
//! 1. JSON objects (`{…`): the first of the keys `level`, `lvl`, `severity`, `log.level`, `@l`,
//!    `levelname`, … (any case, at any depth) whose value is a level word or a number
//!    (pino/bunyan 10–60; syslog 0–7 as in GELF). A JSON line without such a key has no level:
//!    words inside messages are not guessed at.
//! 2. A syslog priority prefix `<N>`.
//! 3. glog/klog headers (`E1130 03:04:05.123456 …`) and Redis' role/level markers
//!    (`1:M 30 Nov 2026 03:04:05.123 # …`).
//! 4. logfmt keys `level=`, `lvl=`, `severity=` anywhere in the line (value may be quoted).
//! 5. Among the first six alphabetic words (numbers and timestamp pieces do not count): a level
//!    word written in capitals (`ERROR`, `WARN`, `INF`, `ERRO`…) or, in any case, one followed
//!    by `:`, `]`, `)`, `>` or `|` (`[error]`, `warn:`, `[core:error]`, `fail:`).
//!
//! Traps, decided: plurals and words inside prose are not levels (`no errors found` → `None`,
//! `INFO scan done: no errors` → `Info`); a lower-case word needs its delimiter
//! (`error opening file` → `None`, `error: opening file` → `Error`); HTTP access logs carry
//! no level (`None`, the status code is not interpreted); continuation lines (stack traces)
//! have none either, which is why level filters let unleveled lines through by default.

use crate::logs::line::strip_ansi;

/// Severity, ordered so that "at least `Warn`" is `level >= Level::Warn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A level named on the command line or in a filter box: `error`, `warn`, `warning`, `info`,
/// `debug`, `trace` (any case; common synonyms such as `err`, `fatal`, `notice` too).
pub fn parse_level(s: &str) -> Option<Level> {
    level_word(s.trim().as_bytes()).map(|(l, _)| l)
}

/// The level of a raw log line, or `None` when it names none (see the module docs).
pub fn detect_level(text: &str) -> Option<Level> {
    if text.contains('\x1b') {
        detect_plain(&strip_ansi(text))
    } else {
        detect_plain(text)
    }
}

fn detect_plain(s: &str) -> Option<Level> {
    let t = s.trim_start();
    let b = t.as_bytes();
    match b.first()? {
        b'{' => return json_level(b),
        b'<' => {
            if let Some(l) = syslog_prefix(b) {
                return Some(l);
            }
        }
        _ => {}
    }
    glog_or_redis(b).or_else(|| logfmt_level(b)).or_else(|| leading_words(b))
}

/// Maps a level word (any case) to its level; the flag marks words only accepted in capitals
/// when found in free text.
fn level_word(w: &[u8]) -> Option<(Level, bool)> {
    let mut buf = [0u8; 13];
    if w.is_empty() || w.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(w) {
        *d = s.to_ascii_lowercase();
    }
    let r = match &buf[..w.len()] {
        b"error" | b"err" | b"eror" | b"fatal" | b"panic" | b"critical" | b"crit" | b"alert" | b"emerg"
        | b"emergency" | b"fail" => (Level::Error, false),
        b"erro" | b"fata" | b"pani" | b"severe" => (Level::Error, true),
        b"warn" | b"warning" | b"wrn" => (Level::Warn, false),
        b"info" | b"inf" | b"notice" | b"information" | b"informational" => (Level::Info, false),
        b"debug" | b"dbg" | b"dbug" => (Level::Debug, false),
        b"debu" | b"fine" => (Level::Debug, true),
        b"trace" | b"trc" | b"trce" => (Level::Trace, false),
        b"trac" | b"finer" | b"finest" | b"verbose" => (Level::Trace, true),
        _ => return None,
    };
    Some(r)
}

/// pino/bunyan levels (10 trace … 60 fatal) and syslog severities (0 emerg … 7 debug).
fn numeric_level(n: u64) -> Option<Level> {
    Some(match n {
        0..=3 => Level::Error,
        4 => Level::Warn,
        5 | 6 => Level::Info,
        7 => Level::Debug,
        8 | 9 => return None,
        10 => Level::Trace,
        11..=20 => Level::Debug,
        21..=30 => Level::Info,
        31..=40 => Level::Warn,
        _ => Level::Error,
    })
}

fn is_level_key(k: &[u8]) -> bool {
    const KEYS: [&[u8]; 11] = [
        b"level",
        b"lvl",
        b"severity",
        b"log.level",
        b"@l",
        b"@level",
        b"levelname",
        b"level_name",
        b"loglevel",
        b"log_level",
        b"severity_text",
    ];
    KEYS.iter().any(|key| key.eq_ignore_ascii_case(k))
}

/// Scans JSON keys at any depth without building a value.
fn json_level(b: &[u8]) -> Option<Level> {
    let mut i = 0;
    while let Some(q) = b[i..].iter().position(|&c| c == b'"').map(|p| p + i) {
        let (ks, ke) = json_string(b, q)?;
        let mut j = skip_ws(b, ke + 1);
        if b.get(j) != Some(&b':') {
            i = ke + 1;
            continue;
        }
        j = skip_ws(b, j + 1);
        if is_level_key(&b[ks..ke]) {
            match b.get(j) {
                Some(b'"') => {
                    let (vs, ve) = json_string(b, j)?;
                    if let Some((l, _)) = level_word(&b[vs..ve]) {
                        return Some(l);
                    }
                }
                Some(c) if c.is_ascii_digit() => {
                    let end = b[j..].iter().position(|c| !c.is_ascii_digit()).map_or(b.len(), |p| p + j);
                    if let Some(l) = std::str::from_utf8(&b[j..end]).ok()?.parse().ok().and_then(numeric_level) {
                        return Some(l);
                    }
                }
                _ => {}
            }
        }
        i = j;
    }
    None
}

/// Given `b[q] == '"'`, the range of the string's contents; `None` when unterminated.
fn json_string(b: &[u8], q: usize) -> Option<(usize, usize)> {
    let mut i = q + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some((q + 1, i)),
            _ => i += 1,
        }
    }
    None
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// `<N>` with N a syslog priority (facility * 8 + severity).
fn syslog_prefix(b: &[u8]) -> Option<Level> {
    let end = b.iter().take(5).position(|&c| c == b'>')?;
    let n: u64 = std::str::from_utf8(&b[1..end]).ok()?.parse().ok()?;
    (end > 1 && n <= 191).then(|| numeric_level(n % 8)).flatten()
}

fn glog_or_redis(b: &[u8]) -> Option<Level> {
    // glog / klog: Lmmdd hh:mm:ss.uuuuuu
    if b.len() > 6 && b[1..5].iter().all(u8::is_ascii_digit) && b[5] == b' ' && b[6].is_ascii_digit() {
        match b[0] {
            b'I' => return Some(Level::Info),
            b'W' => return Some(Level::Warn),
            b'E' | b'F' => return Some(Level::Error),
            _ => {}
        }
    }
    // Redis: pid:role dd Mon yyyy hh:mm:ss.mmm <marker> message
    let colon = b.iter().take(11).position(|&c| c == b':')?;
    if colon == 0
        || !b[..colon].iter().all(u8::is_ascii_digit)
        || !matches!(b.get(colon + 1), Some(b'M' | b'S' | b'C' | b'X'))
        || b.get(colon + 2) != Some(&b' ')
    {
        return None;
    }
    let rest = &b[colon + 3..b.len().min(colon + 3 + 32)];
    rest.split(|&c| c == b' ').find(|w| w.len() == 1 && !w[0].is_ascii_alphanumeric()).and_then(|w| match w[0] {
        b'#' => Some(Level::Warn),
        b'*' => Some(Level::Info),
        b'-' | b'.' => Some(Level::Debug),
        _ => None,
    })
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// `level=warn`, `lvl="info"`, `log.level=error`, `severity=ERROR`.
fn logfmt_level(b: &[u8]) -> Option<Level> {
    let mut from = 0;
    while let Some(eq) = b[from..].iter().position(|&c| c == b'=').map(|p| p + from) {
        from = eq + 1;
        let mut ks = eq;
        while ks > 0 && is_word(b[ks - 1]) {
            ks -= 1;
        }
        if !is_level_key(&b[ks..eq]) {
            continue;
        }
        let mut vs = eq + 1;
        if b.get(vs) == Some(&b'"') {
            vs += 1;
        }
        let ve = b[vs..].iter().position(|&c| !c.is_ascii_alphabetic()).map_or(b.len(), |p| p + vs);
        if let Some((l, _)) = level_word(&b[vs..ve]) {
            return Some(l);
        }
    }
    None
}

const MAX_WORDS: usize = 6;
const MAX_SCAN: usize = 200;

fn leading_words(b: &[u8]) -> Option<Level> {
    let b = &b[..b.len().min(MAX_SCAN)];
    let (mut i, mut words) = (0, 0);
    while i < b.len() && words < MAX_WORDS {
        if !is_word(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_word(b[i]) {
            i += 1;
        }
        let w = &b[start..i];
        let next = b.get(i).copied();
        if !w.iter().all(u8::is_ascii_alphabetic) {
            // numbers and timestamp pieces (`30T03`, `05Z`) do not count; PostgreSQL `DEBUG1:`…
            let alpha = w.iter().position(u8::is_ascii_digit).unwrap_or(w.len());
            if w[..alpha] == *b"DEBUG" && w[alpha..].iter().all(u8::is_ascii_digit) {
                return Some(Level::Debug);
            }
            continue;
        }
        words += 1;
        let upper = w.len() >= 3 && w.iter().all(u8::is_ascii_uppercase);
        let delimited = matches!(next, Some(b':' | b']' | b')' | b'>' | b'|'));
        if upper && w == b"LOG" && next == Some(b':') {
            return Some(Level::Info); // PostgreSQL
        }
        if let Some((l, caps_only)) = level_word(w) {
            if upper || (delimited && !caps_only) {
                return Some(l);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::Level::*;
    use super::*;

    #[test]
    fn real_world_lines() {
        let table: &[(&str, Option<Level>)] = &[
            // nginx access (no level) and error logs
            (
                r#"192.168.1.10 - - [30/Nov/2026:03:04:05 +0000] "GET /api/errors HTTP/1.1" 500 612 "-" "curl/8.5""#,
                None,
            ),
            (
                "2026/11/30 03:04:05 [error] 29#29: *1 open() \"/usr/share/nginx/html/x\" failed (2: No such file)",
                Some(Error),
            ),
            ("2026/11/30 03:04:05 [warn] 1#1: conflicting server name \"_\" on 0.0.0.0:80, ignored", Some(Warn)),
            ("2026/11/30 03:04:05 [notice] 1#1: start worker processes", Some(Info)),
            ("2026/11/30 03:04:05 [emerg] 1#1: bind() to 0.0.0.0:80 failed (98: Address in use)", Some(Error)),
            // Apache
            ("[Mon Nov 30 03:04:05.123456 2026] [core:error] [pid 42] AH00037: Symbolic link not allowed", Some(Error)),
            // Go: logrus text, slog, logfmt, stdlib log, panic
            (r#"time="2026-11-30T03:04:05Z" level=warning msg="disk almost full" path=/var"#, Some(Warn)),
            (r#"time=2026-11-30T03:04:05.000Z level=INFO msg="listening" addr=:8080"#, Some(Info)),
            (r#"ts=2026-11-30T03:04:05Z caller=main.go:42 lvl=debug msg="tick""#, Some(Debug)),
            (r#"time=2026-11-30T03:04:05Z level="error" msg="ERROR in upstream""#, Some(Error)),
            ("WARN[0003] Found orphan containers for this project", Some(Warn)),
            ("ERRO[0000] error waiting for container: context canceled", Some(Error)),
            ("2026/11/30 03:04:05 listening on :8080", None),
            ("panic: runtime error: index out of range [3] with length 3", Some(Error)),
            // JSON: pino/bunyan numeric, zap, logrus, Python json logger, Serilog, GCP, ECS, GELF
            (r#"{"level":30,"time":1796007845000,"pid":7,"msg":"request completed"}"#, Some(Info)),
            (r#"{"level":50,"time":1796007845000,"msg":"db down","err":{"type":"Error"}}"#, Some(Error)),
            (r#"{"level":10,"msg":"trace me"}"#, Some(Trace)),
            (r#"{"level":"warn","ts":1796007845.1,"caller":"srv/main.go:42","msg":"slow"}"#, Some(Warn)),
            (r#"{"level":"warning","msg":"cert expires soon","time":"2026-11-30T03:04:05Z"}"#, Some(Warn)),
            (r#"{"asctime": "2026-11-30", "levelname": "CRITICAL", "message": "out of memory"}"#, Some(Error)),
            (r#"{"@t":"2026-11-30T03:04:05Z","@mt":"Started {App}","@l":"Debug"}"#, Some(Debug)),
            (r#"{"severity":"ERROR","message":"boom","logging.googleapis.com/trace":"x"}"#, Some(Error)),
            (r#"{"@timestamp":"2026-11-30T03:04:05Z","log":{"level":"info"},"message":"ok"}"#, Some(Info)),
            (r#"{"log.level": "notice", "message": "ok"}"#, Some(Info)),
            (r#"{"version":"1.1","short_message":"x","level":4}"#, Some(Warn)),
            (r#"{"msg":"ERROR: this is a message, not a level","user":{"level":"admin"}}"#, None),
            (r#"{"msg":"escaped \"level\":\"error\" inside","n":1}"#, None),
            // Python logging
            ("WARNING:root:low disk space", Some(Warn)),
            ("2026-11-30 03:04:05,123 - myapp.db - ERROR - connection refused", Some(Error)),
            ("INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)", Some(Info)),
            ("Traceback (most recent call last):", None),
            // glog / klog
            ("E1130 03:04:05.123456    1234 server.go:42] failed to sync", Some(Error)),
            ("I1130 03:04:05.123456       1 main.go:10] starting", Some(Info)),
            ("W1130 03:04:05.000001       1 reflector.go:424] watch ended", Some(Warn)),
            // Spring Boot / logback / log4j / JUL
            ("2026-11-30 03:04:05.123  INFO 12345 --- [main] o.s.b.StartupInfoLogger : Starting App", Some(Info)),
            ("2026-11-30T03:04:05.123Z  WARN 1 --- [app] [main] c.e.Foo : slow query", Some(Warn)),
            ("03:04:05.123 [http-nio-8080-exec-1] ERROR c.e.Controller - Request failed", Some(Error)),
            ("SEVERE: Servlet.service() threw exception", Some(Error)),
            ("\tat com.example.App.main(App.java:42)", None),
            // PostgreSQL
            (
                "2026-11-30 03:04:05.123 UTC [123] ERROR:  relation \"users\" does not exist at character 15",
                Some(Error),
            ),
            ("2026-11-30 03:04:05.123 UTC [1] LOG:  database system is ready to accept connections", Some(Info)),
            ("2026-11-30 03:04:05.123 UTC [77] WARNING:  there is no transaction in progress", Some(Warn)),
            ("2026-11-30 03:04:05.123 UTC [77] FATAL:  password authentication failed for user \"x\"", Some(Error)),
            ("2026-11-30 03:04:05.123 UTC [77] DEBUG2:  autovacuum: processing database", Some(Debug)),
            ("2026-11-30 03:04:05.123 UTC [77] STATEMENT:  SELECT 1", None),
            // Redis
            ("1:M 30 Nov 2026 03:04:05.123 # WARNING overcommit_memory is set to 0!", Some(Warn)),
            ("1:M 30 Nov 2026 03:04:05.123 * Ready to accept connections tcp", Some(Info)),
            ("1:C 30 Nov 2026 03:04:05.123 # oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo", Some(Warn)),
            // Rust tracing / env_logger, .NET, Serilog console, syslog priority, sshd
            ("2026-11-30T03:04:05.123456Z  WARN my_crate::module: retrying", Some(Warn)),
            ("[2026-11-30T03:04:05Z ERROR my_crate] boom", Some(Error)),
            ("fail: Microsoft.AspNetCore.Server.Kestrel[13]", Some(Error)),
            ("[03:04:05 INF] Application started", Some(Info)),
            ("<3>kernel: disk failure", Some(Error)),
            ("<14>Nov 30 03:04:05 host app: hello", Some(Info)),
            ("Nov 30 03:04:05 host sshd[123]: error: PAM: Authentication failure for root", Some(Error)),
            // ANSI-coloured level
            ("\x1b[2m2026-11-30T03:04:05Z\x1b[0m \x1b[31mERROR\x1b[0m request failed", Some(Error)),
            // traps and plain text
            ("no errors found", None),
            ("INFO scan complete: no errors found", Some(Info)),
            ("Completed with 0 errors and 2 warnings", None),
            ("error opening file, retrying", None),
            ("error: could not open file", Some(Error)),
            ("Connected to database in 12ms", None),
            ("the system is fine)", None),
            ("", None),
        ];
        for (line, want) in table {
            assert_eq!(detect_level(line), *want, "{line:?}");
        }
        assert!(table.len() >= 30);
    }

    #[test]
    fn ordering_and_parse() {
        assert!(Error > Warn && Warn > Info && Info > Debug && Debug > Trace);
        assert_eq!(parse_level("error"), Some(Error));
        assert_eq!(parse_level("WARNING"), Some(Warn));
        assert_eq!(parse_level(" warn "), Some(Warn));
        assert_eq!(parse_level("Info"), Some(Info));
        assert_eq!(parse_level("debug"), Some(Debug));
        assert_eq!(parse_level("trace"), Some(Trace));
        assert_eq!(parse_level("loud"), None);
        assert_eq!(parse_level(""), None);
        assert_eq!(Warn.to_string(), "warn");
    }

    #[test]
    fn numeric_levels() {
        let want = [(0, Some(Error)), (4, Some(Warn)), (6, Some(Info)), (7, Some(Debug)), (9, None)];
        for (n, l) in want {
            assert_eq!(numeric_level(n), l, "{n}");
        }
        for (n, l) in [(20, Debug), (30, Info), (40, Warn), (50, Error), (60, Error)] {
            assert_eq!(detect_level(&format!("{{\"level\":{n}}}")), Some(l), "{n}");
        }
    }
}
