//! As a person would: the real binary in a real terminal (tmux) against the real sandbox.
//! Launch, filter, drill into a container, open help, quit, and check the terminal is
//! restored.

mod common;
#[path = "support/tmux.rs"]
mod tmux;

use common::*;
use fleetdeck::sandbox::Sandbox;
use std::time::Duration;
use tmux::Tmux;

#[test]
fn launch_filter_drill_in_help_and_quit_in_a_real_terminal() {
    let (_tmp, sb) = sandbox(2);
    let name1 = format!("{}-web-1", sb.prefix);
    let w1 = sb.run_web(0, &name1, "v1", Sandbox::free_port(), "web").unwrap();
    let w2 = sb.run_web(1, &format!("{}-api-1", sb.prefix), "v4-degraded", Sandbox::free_port(), "api").unwrap();
    sb.wait_healthy(0, &w1, Duration::from_secs(30)).unwrap();
    sb.wait_healthy(1, &w2, Duration::from_secs(30)).unwrap();

    let command = format!(
        "env -u NO_COLOR {} --profile {}; echo EXITED:$?; sleep 60",
        bin().display(),
        sb.profile_path.display()
    );
    let tmux = Tmux::start(&format!("{}-tmux", sb.prefix), 180, 40, &command);

    // The dashboard: both hosts connected, services with replica counts and health.
    let screen = tmux.wait_for("dashboard with probes", 60, |s| {
        s.contains("Hosts (2)") && s.matches("connected").count() >= 2 && s.contains("degraded") && s.contains("1/1")
    });
    assert!(screen.contains("web"), "{screen}");
    assert!(screen.contains("api"), "{screen}");
    assert_eq!(tmux.display("#{alternate_on}"), "1", "runs in the alternate screen");

    // Filter by the container name: only the web service remains, expanded to the match.
    tmux.send(&["/"]);
    tmux.send(&["-l", "web-1"]);
    let screen = tmux.wait_for("filtered view", 60, |s| s.contains("filter: web-1") && s.contains(&name1[..12]));
    assert!(!screen.contains("api "), "api is filtered out:\n{screen}");
    tmux.send(&["Enter"]);

    // Drill into the container: details, probe body, verdict.
    tmux.send(&["Down", "Enter"]);
    // (a capture can catch a frame half drawn: wait for the whole of it)
    let screen = tmux
        .wait_for("container detail", 60, |s| s.contains("verdict") && s.contains(&w1) && s.contains("probe health"));
    assert!(screen.contains("fleetdeck-demo/web:v1"), "{screen}");

    // Help lists the bindings from the keymap.
    // (a person pauses after Esc; ESC followed at once by "?" reads as alt-?)
    tmux.send(&["Escape"]);
    tmux.wait_for("dashboard", 60, |s| s.contains("Hosts (2)"));
    tmux.send(&["?"]);
    let screen = tmux.wait_for("help", 60, |s| s.contains("Help: keys"));
    assert!(screen.contains("quit") && screen.contains("filter"), "{screen}");
    tmux.send(&["Escape"]);
    tmux.wait_for("dashboard again", 60, |s| s.contains("Hosts (2)"));

    // L: fleetdeck's own log, with what happened so far (both hosts connected)
    tmux.send(&["L"]);
    let screen =
        tmux.wait_for("the app log", 60, |s| s.contains("fleetdeck log") && s.contains("host-2: connected to"));
    assert!(screen.contains("host-1: connected to"), "{screen}");
    tmux.send(&["L"]);
    tmux.wait_for("the app log closed", 60, |s| !s.contains("fleetdeck log"));

    // Quit: the process exits 0 and the terminal is restored (main screen, cursor shown).
    tmux.send(&["q"]);
    let screen = tmux.wait_for("exit", 60, |s| s.contains("EXITED:"));
    assert!(screen.contains("EXITED:0"), "{screen}");
    assert_eq!(tmux.display("#{alternate_on}"), "0", "alternate screen left");
    assert_eq!(tmux.display("#{cursor_flag}"), "1", "cursor visible again");
    assert!(!screen.contains("Hosts (2)"), "dashboard gone from the restored screen:\n{screen}");
}

#[test]
fn unknown_host_key_is_asked_about_with_its_fingerprint() {
    let (tmp, sb) = sandbox(1);
    let empty = tmp.path().join("known_hosts_empty");
    std::fs::write(&empty, "").unwrap();
    let profile = edit_profile(
        &sb.profile_path,
        &format!("known_hosts = \"{}\"", sb.known_hosts.display()),
        &format!("known_hosts = \"{}\"", empty.display()),
    );
    let command = format!("{} --profile {}; echo EXITED:$?; sleep 60", bin().display(), profile.display());
    let tmux = Tmux::start(&format!("{}-tmux", sb.prefix), 160, 40, &command);

    let screen = tmux.wait_for("host key prompt", 60, |s| s.contains("Unknown host key"));
    assert!(screen.contains("SHA256:"), "fingerprint shown:\n{screen}");
    assert!(screen.contains(&format!("[127.0.0.1]:{}", sb.hosts[0].ssh_port)), "{screen}");
    tmux.send(&["y"]);
    tmux.wait_for("connected after accepting", 60, |s| s.contains("connected") && !s.contains("Unknown host key"));
    let recorded = std::fs::read_to_string(&empty).unwrap();
    assert_eq!(recorded.lines().count(), 1, "key recorded: {recorded}");
    assert!(recorded.starts_with("|1|"), "hashed: {recorded}");
    tmux.send(&["q"]);
    let screen = tmux.wait_for("exit", 60, |s| s.contains("EXITED:"));
    assert!(screen.contains("EXITED:0"), "{screen}");
}
