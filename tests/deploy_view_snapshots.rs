//! Snapshots of the deploy wizard (plan, mid-deploy, a failed gate) and the releases view on
//! ratatui's TestBackend, from the fixed fixture fleet, with colour checks.

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/screen.rs"]
mod screen;

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fixtures::*;
use fleetdeck::deploy::gate::GateFailure;
use fleetdeck::deploy::journal::{Release, ReleaseKind, ReleaseState, ReplicaOutcome};
use fleetdeck::deploy::runner::{DeployEvent, Phase};
use fleetdeck::fleet::model::{ProbeResult, ProbeVerdict};
use fleetdeck::tui::action::Action;
use fleetdeck::tui::app::{App, Effect, Msg, Screen};
use fleetdeck::tui::theme::Theme;
use ratatui::buffer::Buffer;
use screen::{bg_of, draw_sized, fg_of};

fn draw(app: &App) -> (Buffer, String) {
    let (buf, text) = draw_sized(app, 120, 34);
    // release ids carry random bits: redact them
    let re = regex::Regex::new(r"r\d{8}T\d{9}Z-[0-9a-f]{4}").unwrap();
    (buf, re.replace_all(&text, "r<id>").into_owned())
}

fn keys(app: &mut App, text: &str) {
    for c in text.chars() {
        app.update(Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)));
    }
}

fn at(m: u32) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("2026-03-14T09:{m:02}:00Z")).unwrap().with_timezone(&Utc)
}

/// The wizard open on `web`, image typed, plan shown.
fn planned() -> App {
    let mut app = app();
    app.update(Msg::Resize(120, 34));
    let effects = app.update(Msg::Action(Action::OpenDeploy));
    assert_eq!(effects, vec![Effect::ListImages("web".into())]);
    app.update(Msg::DeployImages(vec!["shop/web:1.5.0".into(), "shop/web:1.4.2".into()]));
    app.update(Msg::Action(Action::Confirm)); // the first listed image
    app
}

#[test]
fn image_choice_lists_the_images_found_on_the_hosts() {
    let mut app = app();
    app.update(Msg::Resize(120, 34));
    app.update(Msg::Action(Action::OpenDeploy));
    app.update(Msg::DeployImages(vec!["shop/web:1.5.0".into(), "shop/web:1.4.2".into()]));
    let (buf, text) = draw(&app);
    insta::assert_snapshot!("deploy_pick_image", text);
    assert_eq!(bg_of(&buf, "shop/web:1.5.0"), Theme::default().selection.bg.unwrap());
    // typing replaces the choice
    keys(&mut app, "shop/web:2.0.0-rc1");
    let (_, text) = draw(&app);
    assert!(text.contains("image: shop/web:2.0.0-rc1"), "{text}");
}

#[test]
fn plan_before_anything_changes() {
    let app = planned();
    let (_, text) = draw(&app);
    insta::assert_snapshot!("deploy_plan", text);
    assert!(text.contains("shop/web:1.4.2 -> shop/web:1.5.0"), "{text}");
    assert!(text.contains("batch 1: host-1/shop-web-1") && text.contains("batch 2: host-2/shop-web-2"), "{text}");
    assert!(text.contains("enter: start the deploy"), "{text}");
}

#[test]
fn protected_profile_requires_typing_the_service_name() {
    let mut app = app_with(true, fleet());
    app.update(Msg::Resize(120, 34));
    app.update(Msg::Action(Action::OpenDeploy));
    app.update(Msg::DeployImages(vec!["shop/web:1.5.0".into()]));
    app.update(Msg::Action(Action::Confirm));
    let (buf, text) = draw(&app);
    assert!(text.contains("PROTECTED: type web"), "{text}");
    assert_eq!(bg_of(&buf, "PROTECTED: type web"), Theme::default().protected_banner.bg.unwrap());
    // enter without the name does nothing
    assert!(app.update(Msg::Action(Action::Confirm)).is_empty());
    keys(&mut app, "web");
    let effects = app.update(Msg::Action(Action::Confirm));
    assert!(matches!(effects.as_slice(), [Effect::StartDeploy(_)]), "{effects:?}");
}

#[test]
fn wizard_mid_deploy_then_a_failed_gate() {
    let mut app = planned();
    let effects = app.update(Msg::Action(Action::Confirm));
    assert!(matches!(effects.as_slice(), [Effect::StartDeploy(_)]));
    app.update(Msg::Deploy(DeployEvent::Note("deploy lock taken on host-1, host-2".into())));
    app.update(Msg::Deploy(DeployEvent::Note("batch 1 of 2".into())));
    app.update(Msg::Deploy(DeployEvent::Replica {
        host: "host-1".into(),
        container: "shop-web-1".into(),
        phase: Phase::WaitingHealthy,
    }));
    let (buf, text) = draw(&app);
    insta::assert_snapshot!("deploy_running", text);
    assert_eq!(fg_of(&buf, "health gate…"), Theme::default().starting.fg.unwrap());
    assert_eq!(fg_of(&buf, "pending"), Theme::default().muted.fg.unwrap());

    let failure = GateFailure {
        reason: "probe health answered degraded (5 times in a row)".into(),
        probes: vec![ProbeResult {
            service: "web".into(),
            probe: "health".into(),
            container_id: "new".into(),
            url: "http://127.0.0.1:8080/health".into(),
            at: at(31),
            http_status: Some(200),
            status_value: Some("degraded".into()),
            body: r#"{"status":"degraded"}"#.into(),
            verdict: ProbeVerdict::Degraded,
            error: None,
            latency_ms: 3,
        }],
        logs: vec!["level=error msg=\"redis: connection refused\"".into()],
        connection_lost: false,
    };
    app.update(Msg::Deploy(DeployEvent::Replica {
        host: "host-1".into(),
        container: "shop-web-1".into(),
        phase: Phase::Failed,
    }));
    app.update(Msg::Deploy(DeployEvent::GateFailed { host: "host-1".into(), container: "shop-web-1".into(), failure }));
    app.update(Msg::Deploy(DeployEvent::Replica {
        host: "host-1".into(),
        container: "shop-web-1".into(),
        phase: Phase::RolledBack,
    }));
    let release = Release {
        id: "r20260314T093100000Z-abcd".into(),
        service: "web".into(),
        kind: ReleaseKind::Deploy,
        from_image: "shop/web:1.4.2".into(),
        from_digest: None,
        to_image: "shop/web:1.5.0".into(),
        to_digest: None,
        who: "ops@laptop".into(),
        message: None,
        started_at: at(30),
        ended_at: Some(at(31)),
        state: ReleaseState::FailedRolledBack,
        replicas: vec![],
        reason: Some("host-1/shop-web-1: probe health answered degraded (5 times in a row)".into()),
        backups: vec![],
    };
    app.update(Msg::Deploy(DeployEvent::Finished(Box::new(release))));
    let (buf, text) = draw(&app);
    insta::assert_snapshot!("deploy_failed_gate", text);
    assert_eq!(fg_of(&buf, "FAILED, ROLLED BACK"), Theme::default().degraded.fg.unwrap());
    assert!(text.contains("probe health http://127.0.0.1:8080/health -> HTTP 200"), "{text}");
    assert!(text.contains("| level=error msg=\"redis: connection refused\""), "the failing container's logs: {text}");
    assert_eq!(fg_of(&buf, "rolled back"), Theme::default().degraded.fg.unwrap());
}

#[test]
fn releases_view() {
    let mut app = app();
    app.update(Msg::Resize(120, 34));
    assert_eq!(app.update(Msg::Action(Action::OpenReleases)), vec![Effect::LoadReleases("web".into())]);
    let mk = |id: &str, from: &str, to: &str, state, m| Release {
        id: id.into(),
        service: "web".into(),
        kind: ReleaseKind::Deploy,
        from_image: from.into(),
        from_digest: None,
        to_image: to.into(),
        to_digest: None,
        who: "ops@laptop".into(),
        message: Some("ship it".into()),
        started_at: at(m),
        ended_at: Some(at(m + 1)),
        state,
        replicas: vec![ReplicaOutcome {
            host: "host-1".into(),
            container: "shop-web-1".into(),
            from_id: "a".into(),
            to_id: Some("b".into()),
            outcome: "healthy".into(),
        }],
        reason: None,
        backups: vec![],
    };
    let mut r2 = mk("r2", "shop/web:1.4.2", "shop/web:1.5.0", ReleaseState::FailedRolledBack, 10);
    r2.backups = vec!["shop-db:shop-db-20260314T091000Z.dump".into()];
    app.update(Msg::Releases(Ok(vec![mk("r1", "shop/web:1.3.0", "shop/web:1.4.2", ReleaseState::Succeeded, 1), r2])));
    let (buf, text) = draw(&app);
    insta::assert_snapshot!("releases_view", text);
    assert_eq!(app.screen, Screen::Releases);
    // the newest is first and selected (selection colours); the others keep state colours
    assert_eq!(bg_of(&buf, "failed, rolled back"), Theme::default().selection.bg.unwrap());
    assert_eq!(fg_of(&buf, "succeeded"), Theme::default().healthy.fg.unwrap());
    // the details of the selected release are under the list
    assert!(text.contains("r2  by ops@laptop  \"ship it\""), "{text}");
    // the pre-deploy backup it was preceded by (also marked in the backups view)
    assert!(text.contains("backups taken before it: shop-db:shop-db-20260314T091000Z.dump"), "{text}");
    // rolling back to a failed release is refused
    app.update(Msg::Action(Action::Rollback));
    assert_eq!(app.screen, Screen::Releases);
    // the older healthy release (what runs now) → "undo": back to what ran before it
    app.update(Msg::Action(Action::Down));
    app.update(Msg::Action(Action::Rollback));
    assert_eq!(app.screen, Screen::Deploy);
    let (_, text) = draw(&app);
    assert!(text.contains("Rollback web") && text.contains("-> shop/web:1.3.0"), "{text}");
}
