//! As a person would: on the demo fleet (a real sshd + dockerd host and a real PostgreSQL of
//! this machine's package, with the demo's `shop-db` backup job), on a PROTECTED profile,
//! open the backups view in the real console, run a backup, change the data, restore the
//! backup with the typed job name, and check the data is back and the safety backup exists.

mod common;
#[path = "support/tmux.rs"]
mod tmux;

use common::bin;
use fleetdeck::sandbox::{Sandbox, SandboxSpec, DEMO_DATABASE};
use tmux::Tmux;

const ROWS: &str = "SELECT string_agg(name, ',' ORDER BY id) FROM items";

#[test]
fn run_a_backup_then_restore_it_with_the_typed_job_name() {
    let dir = tempfile::Builder::new().prefix("fdtest").tempdir_in("/tmp").unwrap();
    let sb = Sandbox::up(SandboxSpec::new(1, dir.path().join("sb")).with_demo_services())
        .unwrap_or_else(|e| panic!("sandbox up: {e}"));
    let pg = sb.postgres().expect("the demo runs PostgreSQL (package postgresql)");
    let original = pg.psql(DEMO_DATABASE, ROWS).unwrap();
    assert_eq!(original, "apple,pear,plum,fig,kiwi");

    let text = std::fs::read_to_string(&sb.profile_path).unwrap();
    assert!(text.contains("protected = false"));
    let profile = sb.profile_path.with_file_name("protected.toml");
    std::fs::write(&profile, text.replacen("protected = false", "protected = true", 1)).unwrap();
    let audit = dir.path().join("audit.jsonl");
    let cmd = format!(
        "FLEETDECK_AUDIT_LOG={} {} --profile {}; echo EXITED:$?; sleep 60",
        audit.display(),
        bin().display(),
        profile.display()
    );
    let tmux = Tmux::start(&format!("{}-backup", sb.prefix), 150, 42, &cmd);
    tmux.wait_for("dashboard", 60, |s| s.contains("1/1 hosts") && s.contains("PROTECTED"));

    // b: the backups view; no backup yet, so the RPO is breached
    tmux.send(&["b"]);
    let s = tmux.wait_for("the backups view", 30, |s| s.contains("Backups · 1 job") && s.contains("BREACHED"));
    assert!(s.contains("no backups yet"), "{s}");

    // r: run one; its output streams in; the listing shows the new, verified file
    tmux.send(&["r"]);
    let s = tmux.wait_for("the backup", 60, |s| s.contains("backup shop-db · done") && s.contains("✓ verified"));
    assert!(s.contains("ok · ") && !s.contains("BREACHED"), "the RPO is met now:\n{s}");

    // the data changes after the backup
    pg.psql(DEMO_DATABASE, "DELETE FROM orders; UPDATE items SET name = 'CHANGED'; DELETE FROM items WHERE id > 3")
        .unwrap();
    assert_eq!(pg.psql(DEMO_DATABASE, ROWS).unwrap(), "CHANGED,CHANGED,CHANGED");

    // R: the plan, and a typed confirmation on this protected profile
    tmux.send(&["R"]);
    let s = tmux.wait_for("the restore plan", 30, |s| s.contains("what will happen") && s.contains("type shop-db"));
    assert!(s.contains("take a safety backup of the current state"), "{s}");
    tmux.send(&["Enter"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(pg.psql(DEMO_DATABASE, ROWS).unwrap(), "CHANGED,CHANGED,CHANGED", "enter alone restores nothing");
    tmux.type_text("shop-db");
    tmux.send(&["Enter"]);
    let s = tmux.wait_for("the restore", 60, |s| s.contains("restore shop-db · done"));
    assert!(s.contains("safety backup of the current state:"), "the safety backup is shown:\n{s}");
    assert_eq!(pg.psql(DEMO_DATABASE, ROWS).unwrap(), original, "the rows are the backed-up ones");
    assert_eq!(pg.psql(DEMO_DATABASE, "SELECT count(*) FROM orders").unwrap(), "1000");

    // the safety backup holds the state before the restore
    let backups = sb.dir.join("backups/shop-db");
    let safety: Vec<_> = std::fs::read_dir(&backups)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("safety-"))
        .collect();
    assert_eq!(safety.len(), 1, "{:?}", std::fs::read_dir(&backups).unwrap().flatten().collect::<Vec<_>>());
    assert!(std::fs::metadata(safety[0].path()).unwrap().len() > 0);

    // back to the dashboard, quit: the terminal is restored, the audit log has it all
    tmux.send(&["Escape"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    tmux.send(&["q"]);
    let s = tmux.wait_for("exit", 30, |s| s.contains("EXITED:"));
    assert!(s.contains("EXITED:0"), "{s}");
    let audit_text = std::fs::read_to_string(&audit).unwrap();
    for needle in ["\"action\":\"backup\"", "\"action\":\"restore\"", "\"outcome\":\"restored\""] {
        assert!(audit_text.contains(needle), "{needle} in {audit_text}");
    }
}
