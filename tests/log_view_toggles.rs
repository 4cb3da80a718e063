//! The log view's display toggles, each as a person sees it: timestamps on/off (t), UTC or
//! local time (u), ANSI colours rendered or stripped (a), JSON lines as chosen fields (F).

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/log_fixtures.rs"]
mod log_fixtures;
#[path = "support/screen.rs"]
mod screen;

use chrono::{DateTime, Local, Utc};
use crossterm::event::KeyCode;
use log_fixtures::*;
use ratatui::style::{Color, Style};
use screen::{assert_styled, default_theme, in_row_with, row_text, row_with};

#[test]
fn timestamps_go_off_and_on_and_show_in_utc_or_local_time() {
    let mut app = log_app();
    let theme = default_theme();
    let buf = draw(&app, &theme);
    let y = row_with(&buf, "payment webhook rejected");
    assert!(row_text(&buf, y).starts_with("│09:29:46.000 "), "UTC by default: {:?}", row_text(&buf, y));
    assert!(!row_text(&buf, STATUS_ROW).contains("local time"));

    key(&mut app, KeyCode::Char('t'));
    let buf = draw(&app, &theme);
    let row = row_text(&buf, row_with(&buf, "payment webhook rejected"));
    assert!(!row.contains("09:29:46"), "no timestamps: {row:?}");
    key(&mut app, KeyCode::Char('t'));

    // local time: the line's time in the machine's zone, and the status line says which zone
    key(&mut app, KeyCode::Char('u'));
    let buf = draw(&app, &theme);
    let local = DateTime::<Utc>::from_timestamp_nanos(at(46, 0)).with_timezone(&Local);
    let row = row_text(&buf, row_with(&buf, "payment webhook rejected"));
    assert!(row.starts_with(&format!("│{} ", local.format("%H:%M:%S%.3f"))), "{row:?}");
    let zone = local.format("UTC%:z").to_string();
    let (x, y) = in_row_with(&buf, "local time", &format!("local time ({zone})"));
    assert_eq!(y, STATUS_ROW);
    assert_styled(&buf, (x, y), "local time", theme.accent);
    key(&mut app, KeyCode::Char('u'));
    assert!(!row_text(&draw(&app, &theme), STATUS_ROW).contains("local time"), "back to UTC");
}

#[test]
fn ansi_colours_are_stripped_and_rendered_again() {
    let mut app = log_app();
    let theme = default_theme();
    let green = Style::new().fg(Color::Indexed(2));
    let (x, y) = in_row_with(&draw(&app, &theme), "request completed", "INFO request");
    assert_styled(&draw(&app, &theme), (x, y), "INFO", green);

    key(&mut app, KeyCode::Char('a'));
    let buf = draw(&app, &theme);
    let (x, y) = in_row_with(&buf, "request completed", "INFO request");
    assert_styled(&buf, (x, y), "INFO", theme.base);
    assert!(!screen::buffer_text(&buf).contains('\x1b'), "stripped, not shown raw");
    assert!(row_text(&buf, STATUS_ROW).contains("colours stripped"));

    key(&mut app, KeyCode::Char('a'));
    let buf = draw(&app, &theme);
    let (x, y) = in_row_with(&buf, "request completed", "INFO request");
    assert_styled(&buf, (x, y), "INFO", green);
}

#[test]
fn json_lines_show_the_chosen_fields() {
    let mut app = log_app();
    let theme = default_theme();
    // the field starts with the default choice (level, msg, message, error): clear it first
    key(&mut app, KeyCode::Char('F'));
    ctrl(&mut app, 'u');
    type_text(&mut app, "msg, ms, missing");
    key(&mut app, KeyCode::Enter);
    // J: raw → pretty → fields
    key(&mut app, KeyCode::Char('J'));
    key(&mut app, KeyCode::Char('J'));
    let buf = draw(&app, &theme);
    let row = row_text(&buf, row_with(&buf, "slow query"));
    assert!(row.contains(r#"msg="slow query" ms=812"#), "{row:?}");
    assert!(!row.contains("level") && !row.contains("missing"), "only the chosen fields: {row:?}");
    let (x, y) = in_row_with(&buf, "json fields", "json fields");
    assert_eq!(y, STATUS_ROW);
    assert_styled(&buf, (x, y), "json fields", theme.accent);
    // a line that is not JSON is shown as it is
    assert!(screen::buffer_text(&buf).contains(r#"level=warn msg="connection pool saturated""#));
}
