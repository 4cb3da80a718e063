//! Marking rows on the dashboard and opening the log view for all of them at once ("logs of
//! any selection"): the marks on screen with their colour, the log targets the view opens.

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/screen.rs"]
mod screen;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fixtures::*;
use fleetdeck::logs::source::Selector;
use fleetdeck::tui::action::Action;
use fleetdeck::tui::app::{App, Effect, Msg, Screen};
use ratatui::style::Modifier;
use screen::*;

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

#[test]
fn marked_rows_open_together_in_one_log_view() {
    let mut app = app();
    app.update(Msg::Action(Action::ExpandAll));
    let theme = default_theme();
    // the web service, one api replica, and a host
    key(&mut app, KeyCode::Char('m'));
    let rows_down = |app: &mut App, n| (0..n).for_each(|_| drop(key(app, KeyCode::Down)));
    rows_down(&mut app, 4);
    key(&mut app, KeyCode::Char('m'));
    key(&mut app, KeyCode::Tab);
    rows_down(&mut app, 1);
    key(&mut app, KeyCode::Char('m'));
    assert_eq!(app.marked.len(), 3);
    assert_eq!(app.flash.as_deref(), Some("3 marked: l opens their logs together"));
    // the selection away from the marked rows, so their own colours show
    key(&mut app, KeyCode::Tab);
    rows_down(&mut app, 1);

    let buf = draw(&app, &theme, 120, 32);
    insta::assert_snapshot!("dashboard_marks", buffer_text(&buf));
    let mark = theme.filter_match.add_modifier(Modifier::BOLD);
    for label in ["✓ web", "✓ host-3/shop-api-1", "✓ host-2"] {
        let (x, y) = word_in_row_with(&buf, label, "✓");
        assert_styled(&buf, (x, y), "✓", mark);
    }
    assert!(!buffer_text(&buf).contains("✓ api"), "the api service itself is not marked");

    // m on the worker row marks it, m again unmarks it
    key(&mut app, KeyCode::Char('m'));
    assert_eq!(app.marked.len(), 4);
    key(&mut app, KeyCode::Char('m'));
    assert_eq!(app.marked.len(), 3);

    let effects = key(&mut app, KeyCode::Char('l'));
    let want = vec![
        Selector::Service("web".into()),
        Selector::Container { host: Some("host-3".into()), name: "shop-api-1".into() },
        Selector::Host("host-2".into()),
    ];
    assert_eq!(effects, vec![Effect::OpenLogs(want)]);
    assert_eq!(app.screen, Screen::Logs);
    assert_eq!(app.logs.as_ref().unwrap().title, "service web + host-3/shop-api-1 + host host-2");
    assert!(app.marked.is_empty(), "opening the view uses the marks up");
}

#[test]
fn without_marks_the_selected_row_is_opened() {
    let mut app = app();
    let effects = key(&mut app, KeyCode::Char('l'));
    assert_eq!(effects, vec![Effect::OpenLogs(vec![Selector::Service("web".into())])]);
}

/// A service that runs outside Docker (only log files in the profile) is listed for its logs,
/// with no health of its own, and does not count against "services healthy".
#[test]
fn a_service_outside_docker_is_listed_for_its_logs_without_a_health() {
    use std::path::Path;
    let text = format!(
        "{}\n[[services]]\nname = \"nginx\"\nlog_files = [\"/var/log/nginx/access.log\"]\n",
        profile_toml(false)
    );
    let profile = fleetdeck::config::Profile::parse(Path::new("shop-prod.toml"), &text).unwrap();
    let mut app = App::new(&profile, false, fleet(), keymap());
    app.now = now();
    let theme = default_theme();
    let buf = draw(&app, &theme, 120, 32);
    let row = row_text(&buf, row_with(&buf, "nginx"));
    assert!(row.contains(" logs ") && !row.contains("down") && !row.contains("unknown"), "{row:?}");
    let (x, y) = word_in_row_with(&buf, "nginx", "logs");
    assert_styled(&buf, (x, y), "logs", theme.muted);
    let title = row_text(&buf, 0);
    assert!(title.contains("0/3 services healthy"), "nginx has no health to count: {title:?}");
    // and l opens its log file
    key(&mut app, KeyCode::Char('G'));
    assert_eq!(key(&mut app, KeyCode::Char('l')), vec![Effect::OpenLogs(vec![Selector::Service("nginx".into())])]);
}
