//! Snapshots of the backups view on ratatui's TestBackend (RPO ok, RPO breached, a running
//! backup, the restore confirmation, the prune preview) from the fixed fixture profile, with
//! colour checks, and the effects its keys produce.

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/screen.rs"]
mod screen;

use chrono::{DateTime, Duration, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fixtures::*;
use fleetdeck::backup::{BackupEvent, BackupFile, JobListing, RpoStatus};
use fleetdeck::tui::action::Action;
use fleetdeck::tui::app::{App, Effect, Msg, Screen};
use fleetdeck::tui::theme::Theme;
use screen::{bg_of, draw_sized, fg_of};

fn draw(app: &App) -> (ratatui::buffer::Buffer, String) {
    draw_sized(app, 120, 34)
}

fn file(name: &str, age_h: u64, size: u64, verified: Option<bool>, release: Option<&str>) -> BackupFile {
    let modified: DateTime<Utc> = now() - Duration::hours(age_h as i64);
    BackupFile {
        name: name.into(),
        path: format!("/var/backups/shop-db/{name}"),
        size,
        modified,
        age_secs: age_h * 3600,
        safety: name.starts_with("safety-"),
        sha256: verified.map(|_| format!("{:08x}", (age_h as u32).wrapping_mul(2_654_435_761)).repeat(8)),
        verified,
        verified_at: verified.map(|_| modified),
        verify_error: (verified == Some(false)).then(|| "pg_restore: error: input file appears to be corrupt".into()),
        release: release.map(String::from),
        duration_ms: Some(1200),
        who: Some("ops@laptop".into()),
        record: None,
    }
}

fn shop_db() -> JobListing {
    JobListing {
        job: "shop-db".into(),
        host: "host-3".into(),
        directory: "/var/backups/shop-db".into(),
        directory_exists: true,
        checked_at: now(),
        files: vec![
            file("shop-db-20260314T073000Z.dump", 2, 48 * MIB, Some(true), None),
            file("safety-20260313T180000Z-shop-db.dump", 15, 47 * MIB, Some(true), None),
            file("shop-db-20260313T120000Z.dump", 21, 47 * MIB, Some(true), Some("r20260313T115900000Z-1f2e")),
            file("shop-db-20260312T120000Z.dump", 45, 46 * MIB, Some(false), None),
            file("shop-db-20260311T120000Z.dump", 69, 45 * MIB, None, None),
        ],
        rpo: RpoStatus::Met { age_secs: 2 * 3600, rpo_secs: 24 * 3600 },
        last_failure: None,
    }
}

fn uploads() -> JobListing {
    let mut f = file("uploads-20260313T033000Z.tar.gz", 30, 312 * MIB, Some(true), None);
    f.path = "/var/backups/uploads/uploads-20260313T033000Z.tar.gz".into();
    JobListing {
        job: "uploads".into(),
        host: "host-1".into(),
        directory: "/var/backups/uploads".into(),
        directory_exists: true,
        checked_at: now(),
        files: vec![f],
        rpo: RpoStatus::Breached { age_secs: Some(30 * 3600), rpo_secs: 6 * 3600 },
        last_failure: None,
    }
}

/// The backups view open with both jobs listed.
fn opened(protected: bool) -> App {
    let mut app = app_with(protected, fleet());
    app.update(Msg::Resize(120, 34));
    assert_eq!(app.update(Msg::Action(Action::OpenBackups)), vec![Effect::LoadBackups(None)]);
    assert_eq!(app.screen, Screen::Backups);
    app.update(Msg::BackupListing { job: "shop-db".into(), result: Ok(Box::new(shop_db())) });
    app.update(Msg::BackupListing { job: "uploads".into(), result: Ok(Box::new(uploads())) });
    app
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

#[test]
fn rpo_ok_job_with_its_files() {
    let app = opened(false);
    let (buf, text) = draw(&app);
    insta::assert_snapshot!("backups_rpo_ok", text);
    let theme = Theme::default();
    assert_eq!(fg_of(&buf, "ok · 2h of 24h"), theme.healthy.fg.unwrap());
    assert_eq!(fg_of(&buf, "BREACHED · 30h > 6h"), theme.unhealthy.fg.unwrap(), "the other job is marked too");
    assert_eq!(fg_of(&buf, "✓ verified"), theme.healthy.fg.unwrap());
    assert_eq!(fg_of(&buf, "✗ FAILED"), theme.unhealthy.fg.unwrap());
    assert_eq!(bg_of(&buf, "▶ shop-db"), theme.selection.bg.unwrap(), "the selected job");
    assert!(text.contains("before r20260313T115900000Z-1f2e"), "the pre-deploy backup names its release: {text}");
    assert!(text.contains("safety (taken before a restore)"), "{text}");
}

#[test]
fn rpo_breached_job_is_clearly_marked() {
    let mut app = opened(false);
    key(&mut app, KeyCode::Down);
    let (buf, text) = draw(&app);
    insta::assert_snapshot!("backups_rpo_breached", text);
    let theme = Theme::default();
    assert_eq!(fg_of(&buf, "BREACHED · 30h > 6h"), theme.unhealthy.fg.unwrap());
    assert!(theme.unhealthy.add_modifier.contains(ratatui::style::Modifier::BOLD));
    assert!(text.contains("uploads · 1 file in /var/backups/uploads on host-1"), "{text}");
    // a job that could not be listed says why, in the error colour
    app.update(Msg::BackupListing { job: "uploads".into(), result: Err("host-1 is not connected".into()) });
    let (buf, text) = draw(&app);
    assert!(text.contains("host-1 is not connected"), "{text}");
    assert_eq!(fg_of(&buf, "ERROR"), theme.error.fg.unwrap());
}

#[test]
fn run_streams_its_output_and_lists_the_job_again() {
    let mut app = opened(false);
    assert_eq!(key(&mut app, KeyCode::Char('r')), vec![Effect::BackupRun("shop-db".into())]);
    app.update(Msg::Backup(BackupEvent::Step(
        "backing up shop-db on host-3 to /var/backups/shop-db/shop-db-20260314T093000Z.dump".into(),
    )));
    app.update(Msg::Backup(BackupEvent::Output {
        line: "pg_dump: dumping contents of table items".into(),
        stderr: true,
    }));
    app.update(Msg::Backup(BackupEvent::Progress {
        bytes: 20 * MIB,
        expected: Some(48 * MIB),
        elapsed: std::time::Duration::from_secs(2),
    }));
    let (buf, text) = draw(&app);
    insta::assert_snapshot!("backups_running", text);
    assert!(text.contains("written 20.0 MiB of about 48.0 MiB"), "{text}");
    assert_eq!(fg_of(&buf, "backup shop-db · running…"), Theme::default().starting.fg.unwrap());
    // a second operation waits for the first
    assert!(key(&mut app, KeyCode::Char('r')).is_empty());
    let effects =
        app.update(Msg::BackupDone { ok: true, summary: "backup shop-db-20260314T093000Z.dump taken".into() });
    assert_eq!(effects, vec![Effect::LoadBackups(Some("shop-db".into()))]);
    let (buf, _) = draw(&app);
    assert_eq!(fg_of(&buf, "backup shop-db · done"), Theme::default().healthy.fg.unwrap());
}

#[test]
fn protected_restore_needs_the_typed_job_name() {
    let mut app = opened(true);
    // into the files, onto the pre-deploy backup
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    assert!(key(&mut app, KeyCode::Char('R')).is_empty(), "the plan comes first");
    let (buf, text) = draw(&app);
    insta::assert_snapshot!("backups_restore_confirm", text);
    assert!(text.contains("Restore shop-db-20260313T120000Z.dump"), "{text}");
    assert!(text.contains("take a safety backup of the current state"), "{text}");
    assert_eq!(bg_of(&buf, "PROTECTED: type shop-db"), Theme::default().protected_banner.bg.unwrap());
    // enter without the name restores nothing; a wrong name neither
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    typed(&mut app, "shop");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert!(app.flash.as_deref().unwrap_or("").contains("type shop-db"), "{:?}", app.flash);
    typed(&mut app, "-db");
    let effects = key(&mut app, KeyCode::Enter);
    match effects.as_slice() {
        [Effect::BackupRestore(plan)] => {
            assert_eq!(plan.file.name, "shop-db-20260313T120000Z.dump");
            assert_eq!(plan.job, "shop-db");
        }
        other => panic!("{other:?}"),
    }
    let (buf, _) = draw(&app);
    assert_eq!(fg_of(&buf, "restore shop-db · running…"), Theme::default().starting.fg.unwrap());
}

#[test]
fn unprotected_restore_is_confirmed_with_a_key_and_can_be_cancelled() {
    let mut app = opened(false);
    key(&mut app, KeyCode::Char('R'));
    let (_, text) = draw(&app);
    assert!(text.contains("Restore shop-db-20260314T073000Z.dump"), "the newest by default: {text}");
    assert!(text.contains("y: restore · n: cancel"), "{text}");
    assert!(key(&mut app, KeyCode::Esc).is_empty());
    let (_, text) = draw(&app);
    assert!(!text.contains("what will happen"), "{text}");
    key(&mut app, KeyCode::Char('R'));
    assert!(matches!(key(&mut app, KeyCode::Char('y')).as_slice(), [Effect::BackupRestore(_)]));
}

#[test]
fn prune_previews_exactly_what_goes() {
    let mut app = opened(false);
    assert!(key(&mut app, KeyCode::Char('P')).is_empty());
    let (buf, text) = draw(&app);
    insta::assert_snapshot!("backups_prune_preview", text);
    // keep_count = 3 of the 4 backups: the oldest goes; the safety backup is counted apart
    assert!(text.contains("Delete exactly this file of shop-db on host-3 (45.0 MiB); 4 files stay"), "{text}");
    assert_eq!(fg_of(&buf, "delete shop-db-20260311T120000Z.dump"), Theme::default().warning.fg.unwrap());
    match key(&mut app, KeyCode::Enter).as_slice() {
        [Effect::BackupPrune(plan)] => {
            let names: Vec<&str> = plan.delete.iter().map(|d| d.file.name.as_str()).collect();
            assert_eq!(names, ["shop-db-20260311T120000Z.dump"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn read_only_refuses_run_restore_and_prune_but_verifies() {
    let mut app = App::new(&profile(false), true, fleet(), keymap());
    app.now = now();
    app.update(Msg::Action(Action::OpenBackups));
    app.update(Msg::BackupListing { job: "shop-db".into(), result: Ok(Box::new(shop_db())) });
    for k in ['r', 'R', 'P'] {
        assert!(key(&mut app, KeyCode::Char(k)).is_empty(), "{k}");
        assert!(app.flash.as_deref().unwrap_or("").contains("disabled (read-only)"), "{k}: {:?}", app.flash);
    }
    match key(&mut app, KeyCode::Char('v')).as_slice() {
        [Effect::BackupVerify(job, f)] => {
            assert_eq!((job.as_str(), f.name.as_str()), ("shop-db", "shop-db-20260314T073000Z.dump"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_profile_without_jobs_says_so() {
    let mut app = app();
    app.profile.backups.clear();
    assert!(app.update(Msg::Action(Action::OpenBackups)).is_empty());
    assert_eq!(app.screen, Screen::Dashboard);
    assert!(app.flash.as_deref().unwrap_or("").contains("no [[backups]] jobs"));
}
