//! The log view as a person uses it: the real binary in a real terminal (tmux) against the
//! real sandbox (sshd + dockerd per host). Two hosts each run a replica of the web service,
//! which prints `level=info msg="tick" n=N` every second. Open the service's logs from the
//! dashboard, see both replicas, filter with a regex, pause, export to a file, close the
//! view, quit, and check the terminal is restored.

mod common;
#[path = "support/tmux.rs"]
mod tmux;

use common::*;
use fleetdeck::sandbox::Sandbox;
use regex::Regex;
use std::time::Duration;
use tmux::Tmux;

/// What the include filter is set to: a fifth of the tick lines (n ending in 0 or 5).
const FILTER: &str = "n=[0-9]*[05]$";

/// The log lines on screen: rows of the log view that show a line of the demo app (its
/// text has `msg=`), without the borders.
fn log_rows(screen: &str) -> Vec<String> {
    screen
        .lines()
        .filter(|l| l.contains("msg=") && (l.contains("host-1/") || l.contains("host-2/")))
        .map(|l| l.trim_end().trim_end_matches('│').trim_end().trim_start_matches('│').to_string())
        .collect()
}

/// The status line of the log view (the row under the top border).
fn status_line(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    let top = lines.iter().position(|l| l.contains("Logs · ")).unwrap_or_else(|| panic!("no log view:\n{screen}"));
    lines.get(top + 1).map(|l| l.trim_matches(['│', ' ']).to_string()).unwrap_or_default()
}

/// Every log row on screen matches the filter.
#[track_caller]
fn assert_all_match(screen: &str, re: &Regex) {
    let rows = log_rows(screen);
    assert!(!rows.is_empty(), "no log lines on screen:\n{screen}");
    for row in &rows {
        assert!(re.is_match(row), "a visible line does not match /{FILTER}/: {row:?}\n{screen}");
    }
}

/// The number in front of `suffix` in `text` ("12 new lines" → 12).
fn number_before(text: &str, suffix: &str) -> Option<usize> {
    let head = &text[..text.find(suffix)?];
    head.trim_end().rsplit(' ').next()?.parse().ok()
}

#[test]
fn follow_filter_pause_and_export_logs_in_a_real_terminal() {
    let (tmp, sb) = sandbox(2);
    let mut ids = Vec::new();
    for host in 0..2 {
        let name = format!("{}-web-{}", sb.prefix, host + 1);
        ids.push(sb.run_web(host, &name, "v1", Sandbox::free_port(), "web").unwrap());
    }
    for (host, id) in ids.iter().enumerate() {
        sb.wait_healthy(host, id, Duration::from_secs(60)).unwrap();
    }

    let command = format!(
        "env -u NO_COLOR {} --profile {}; echo EXITED:$?; sleep 60",
        bin().display(),
        sb.profile_path.display()
    );
    let tmux = Tmux::start(&format!("{}-logs-tmux", sb.prefix), 180, 40, &command);

    // The dashboard: both hosts connected, the web service (first row) with both replicas.
    let screen = tmux.wait_for("dashboard with both web replicas", 60, |s| {
        s.contains("Hosts (2)")
            && s.matches("connected").count() >= 2
            && s.lines().any(|l| l.contains("▸ web") && l.contains("2/2"))
    });
    assert_eq!(tmux.display("#{alternate_on}"), "1", "runs in the alternate screen:\n{screen}");

    // l: the merged logs of the service, lines of both replicas.
    tmux.send(&["l"]);
    let screen = tmux.wait_for("the log view with lines from both hosts", 60, |s| {
        let rows = log_rows(s);
        s.contains("Logs · service web")
            && rows.iter().any(|r| r.contains("host-1/") && r.contains(r#"msg="tick""#))
            && rows.iter().any(|r| r.contains("host-2/") && r.contains(r#"msg="tick""#))
    });
    assert!(status_line(&screen).contains("FOLLOWING"), "{screen}");
    assert!(screen.contains(&format!("host-1/{}-web-1 ●", sb.prefix)), "sources line:\n{screen}");
    assert!(screen.contains(&format!("host-2/{}-web-2 ●", sb.prefix)), "sources line:\n{screen}");

    // / + regex + Enter: only the matching lines, and the status says so.
    let re = Regex::new(FILTER).unwrap();
    tmux.send(&["/"]);
    tmux.wait_for("the include field", 60, |s| s.contains("show only /regex/:"));
    tmux.type_text(FILTER);
    tmux.wait_for("the typed regex", 60, |s| s.contains(&format!("show only /regex/: {FILTER}")));
    tmux.send(&["Enter"]);
    let shown = format!("show /{FILTER}/");
    let screen = tmux.wait_for("filtered lines of both hosts", 60, |s| {
        let rows = log_rows(s);
        s.contains(&shown)
            && rows.iter().any(|r| r.contains("host-1/"))
            && rows.iter().any(|r| r.contains("host-2/"))
            && rows.iter().all(|r| re.is_match(r))
    });
    assert!(status_line(&screen).contains(&shown), "{screen}");
    println!("filtered log view:\n{screen}");
    // and it stays that way as new lines come in
    for _ in 0..3 {
        std::thread::sleep(Duration::from_secs(1));
        assert_all_match(&tmux.screen(), &re);
    }

    // space: paused; new matching lines are counted, the window stays.
    tmux.send(&["Space"]);
    let paused = tmux.wait_for("paused", 60, |s| s.contains(" PAUSED "));
    let before = log_rows(&paused);
    std::thread::sleep(Duration::from_secs(3));
    // New matching lines either show below the paused rows (the filtered view is shorter than
    // the window) or, once below the window, are counted as "N new lines".
    let screen = tmux.wait_for("new lines while paused", 60, |s| {
        status_line(s).contains(" new lines") || log_rows(s).len() > before.len()
    });
    let status = status_line(&screen);
    assert!(status.contains("PAUSED"), "{status:?}");
    let new = number_before(&status, " new lines").unwrap_or(log_rows(&screen).len() - before.len());
    assert!(new >= 1, "{status:?}");
    let after = log_rows(&screen);
    assert!(
        after.len() >= before.len() && after[..before.len()] == before[..],
        "the paused window moved:\nbefore {before:#?}\nafter {after:#?}"
    );
    assert_all_match(&screen, &re);
    println!("paused with {new} new lines:\n{screen}");

    // e: export. The field proposes a file name; ctrl-u clears it, then type a path.
    tmux.send(&["e"]);
    let screen = tmux.wait_for("the export field", 60, |s| s.contains("export visible lines to file: fleetdeck-logs-"));
    assert!(status_line(&screen).contains(".log▏"), "{screen}");
    tmux.send(&["C-u"]);
    tmux.wait_for("the field cleared", 60, |s| status_line(s).starts_with("export visible lines to file: ▏"));
    let path = tmp.path().join("web-logs.txt");
    let path_text = path.display().to_string();
    tmux.type_text(&path_text);
    tmux.wait_for("the typed path", 60, |s| s.contains(&format!("export visible lines to file: {path_text}")));
    tmux.send(&["Enter"]);
    let done = format!(" lines to {path_text}");
    let screen = tmux.wait_for("the export's result", 60, |s| status_line(s).contains(&done));
    let status = status_line(&screen);
    assert!(status.contains("exported "), "{status:?}");
    let n = number_before(&status, &done).unwrap_or_else(|| panic!("{status:?}"));
    let written = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path_text}: {e}\n{screen}"));
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(lines.len(), n, "the status counts the lines written:\n{written}");
    println!("{status}\n{written}");
    assert!(n >= log_rows(&screen).len(), "at least the lines on screen ({n}):\n{written}");
    for line in &lines {
        assert!(re.is_match(line), "an exported line does not match /{FILTER}/: {line:?}");
        assert!(line.contains(" [stdout] ") && line.contains(r#"msg="tick""#), "{line:?}");
    }
    assert!(lines.iter().any(|l| l.contains(&format!(" host-1/{}-web-1 ", sb.prefix))), "{written}");
    assert!(lines.iter().any(|l| l.contains(&format!(" host-2/{}-web-2 ", sb.prefix))), "{written}");
    assert!(status_line(&screen).contains("PAUSED"), "exporting keeps the view paused:\n{screen}");

    // S: from a time on (here 10 s ago, typed as a duration); End follows again and the new
    // lines of both hosts arrive; w goes back to the whole buffer.
    tmux.send(&["S"]);
    tmux.wait_for("the start field", 60, |s| status_line(s).starts_with("from (14:05"));
    tmux.send(&["C-u"]);
    tmux.type_text("10s");
    tmux.send(&["Enter"]);
    tmux.send(&["End"]);
    let screen = tmux.wait_for("lines from 10 s ago on", 60, |s| {
        let rows = log_rows(s);
        status_line(s).contains(" from ")
            && rows.iter().any(|r| r.contains("host-1/"))
            && rows.iter().any(|r| r.contains("host-2/"))
    });
    assert!(Regex::new(r" from \d\d:\d\d:\d\d").unwrap().is_match(&status_line(&screen)), "{screen}");
    tmux.send(&["w"]);
    tmux.wait_for("the start dropped", 60, |s| !status_line(s).contains(" from "));

    // q closes the log view: back to the dashboard; q again quits.
    tmux.send(&["q"]);
    tmux.wait_for("the dashboard again", 60, |s| s.contains("Hosts (2)") && !s.contains("Logs · "));

    // m marks the web service, tab to the hosts, m marks host-1: l opens both in one view
    tmux.send(&["m"]);
    tmux.wait_for("web marked", 60, |s| s.lines().any(|l| l.contains("✓ web")));
    tmux.send(&["Tab"]);
    tmux.send(&["m"]);
    tmux.wait_for("host-1 marked", 60, |s| s.lines().any(|l| l.contains("✓ host-1")));
    tmux.send(&["l"]);
    let screen = tmux.wait_for("the marked targets' logs", 60, |s| {
        s.contains("Logs · service web + host host-1") && log_rows(s).len() > 3
    });
    assert!(screen.contains("host-2/"), "the web service's other replica is in it:\n{screen}");
    // help over the log view, and back to it
    tmux.send(&["?"]);
    tmux.wait_for("help", 60, |s| s.contains("Help: keys"));
    tmux.send(&["Escape"]);
    std::thread::sleep(Duration::from_millis(300));
    tmux.wait_for("the same log view again", 60, |s| s.contains("Logs · service web + host host-1"));
    tmux.send(&["q"]);
    tmux.wait_for("the dashboard again", 60, |s| s.contains("Hosts (2)") && !s.contains("Logs · "));
    tmux.send(&["q"]);
    let screen = tmux.wait_for("exit", 60, |s| s.contains("EXITED:"));
    assert!(screen.contains("EXITED:0"), "{screen}");
    assert_eq!(tmux.display("#{alternate_on}"), "0", "alternate screen left");
    assert_eq!(tmux.display("#{cursor_flag}"), "1", "cursor visible again");
    assert!(!screen.contains("Hosts (2)"), "dashboard gone from the restored screen:\n{screen}");
}
