//! The log view's test fixture: the console on the fixture fleet with the log view of the
//! `web` service open and 30 fixed lines of its two replicas delivered, the screen geometry,
//! and the helpers the log view's tests drive it with.
#![allow(dead_code)]

use super::fixtures::*;
use super::screen::*;
use chrono::{Duration, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fleetdeck::logs::line::{Entry, LogLine, StreamKind};
use fleetdeck::logs::source::{SourceInfo, SourceKind};
use fleetdeck::tui::action::Action;
use fleetdeck::tui::app::{App, Effect, Msg, Screen};
use fleetdeck::tui::logpane::LogPane;
use fleetdeck::tui::theme::Theme;
use ratatui::buffer::Buffer;

pub const WIDTH: u16 = 120;
pub const HEIGHT: u16 = 30;
/// Rows of log text: the terminal minus the title bar and the hint bar (2), the log block's
/// borders (2), its status line and its sources line.
pub const TEXT_ROWS: usize = HEIGHT as usize - 6;
/// First screen row of log text (title bar, top border, status line, sources line above).
pub const FIRST_TEXT_ROW: u16 = 4;
pub const STATUS_ROW: u16 = 2;
pub const SOURCES_ROW: u16 = 3;

pub const WEB_1_LABEL: &str = "host-1/shop-web-1";
pub const WEB_2_LABEL: &str = "host-2/shop-web-2";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// The console drawn at the log view's size.
pub fn draw(app: &App, theme: &Theme) -> Buffer {
    super::screen::draw(app, theme, WIDTH, HEIGHT)
}

/// The rows of log text (between the sources line and the bottom border).
pub fn text_rows(buf: &Buffer) -> Vec<String> {
    (FIRST_TEXT_ROW..FIRST_TEXT_ROW + TEXT_ROWS as u16).map(|y| row_text(buf, y)).collect()
}

pub fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

pub fn ctrl(app: &mut App, c: char) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)))
}

pub fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        assert!(key(app, KeyCode::Char(c)).is_empty(), "typing {c:?} has no effect");
    }
}

pub fn pane(app: &App) -> &LogPane {
    app.logs.as_ref().expect("the log view is open")
}

// ---------------------------------------------------------------------------------------
// Log data: two web replicas, fixed timestamps
// ---------------------------------------------------------------------------------------

/// Unix nanos of `secs` seconds plus `millis` after 09:29:00 UTC of the fixture's day (the
/// console's clock says 09:30:00).
pub fn at(secs: i64, millis: i64) -> i64 {
    let base = Utc.with_ymd_and_hms(2026, 3, 14, 9, 29, 0).unwrap() + Duration::seconds(secs);
    base.timestamp_nanos_opt().unwrap() + millis * 1_000_000
}

pub fn out(ts: i64, source: u32, text: &str) -> Entry {
    Entry::Line(LogLine::new(ts, source, StreamKind::Stdout, text))
}

pub fn err(ts: i64, source: u32, text: &str) -> Entry {
    Entry::Line(LogLine::new(ts, source, StreamKind::Stderr, text))
}

pub const JSON_WARN: &str = r#"{"level":"warn","msg":"slow query","ms":812}"#;
pub const ANSI_INFO: &str = "\x1b[32mINFO\x1b[0m request completed in 4ms path=/api/products";
pub const ANSI_ERROR: &str = "\x1b[1;31mERROR\x1b[0m payment declined order=8812 reason=card_expired";
pub const PANIC: &str = "panic: runtime error: invalid memory address or nil pointer dereference";
pub const TRACE: &str = "goroutine 41 [running]:";

/// What the two replicas printed in the 30 s before the console's "now", in timestamp
/// order, 30 lines: access logs, a JSON line, an ANSI-coloured line, a panic on stderr with
/// its (unleveled) continuation, errors, warnings and a debug line.
pub fn lines() -> Vec<Entry> {
    vec![
        out(at(30, 0), 0, r#"level=info msg="listening" addr=:8080 version=1.4.2"#),
        out(at(30, 150), 1, r#"level=info msg="listening" addr=:8080 version=1.4.2"#),
        out(at(31, 20), 0, r#"level=info msg="GET /api/products" status=200 ms=12"#),
        out(at(31, 480), 1, r#"level=info msg="GET /api/cart" status=200 ms=8"#),
        out(at(32, 5), 0, r#"level=debug msg="cache hit" key=products:all"#),
        out(at(32, 730), 1, r#"level=info msg="GET /api/products" status=200 ms=15"#),
        out(at(33, 110), 0, JSON_WARN),
        out(at(33, 900), 1, r#"level=info msg="POST /api/cart/items" status=201 ms=23"#),
        out(at(34, 250), 0, r#"level=info msg="GET /api/products/42" status=200 ms=7"#),
        out(at(35, 0), 1, r#"level=error msg="upstream timeout" path=/checkout ms=5003"#),
        out(at(35, 10), 1, r#"level=info msg="POST /checkout" status=500 ms=5010"#),
        err(at(35, 400), 1, PANIC),
        err(at(35, 401), 1, TRACE),
        out(at(36, 90), 0, ANSI_INFO),
        out(at(36, 600), 0, r#"level=info msg="GET /api/cart" status=200 ms=11"#),
        out(at(37, 200), 1, r#"level=warn msg="retrying payment provider" attempt=2"#),
        out(at(38, 0), 0, r#"level=info msg="GET /healthz" status=200 ms=1"#),
        out(at(38, 300), 1, r#"level=info msg="GET /healthz" status=200 ms=1"#),
        out(at(39, 450), 0, r#"{"level":"info","msg":"order created","order":8811,"total":"59.90"}"#),
        out(at(40, 120), 1, ANSI_ERROR),
        out(at(41, 0), 0, r#"level=info msg="GET /api/products" status=200 ms=10"#),
        out(at(41, 700), 1, r#"level=info msg="POST /checkout" status=500 ms=31"#),
        out(at(42, 330), 0, r#"level=warn msg="connection pool saturated" in_use=20 max=20"#),
        out(at(43, 10), 1, r#"level=info msg="GET /api/cart" status=200 ms=9"#),
        out(at(44, 500), 0, r#"level=info msg="POST /checkout" status=200 ms=88"#),
        out(at(45, 60), 1, r#"level=info msg="GET /api/products" status=200 ms=14"#),
        out(at(46, 0), 0, r#"level=error msg="payment webhook rejected" status=400"#),
        out(at(47, 250), 1, r#"level=info msg="GET /api/products/7" status=200 ms=6"#),
        out(at(48, 800), 0, r#"level=info msg="GET /api/cart" status=200 ms=12"#),
        out(at(49, 900), 1, r#"level=info msg="GET /healthz" status=200 ms=1"#),
    ]
}

pub fn sources() -> Vec<SourceInfo> {
    vec![
        SourceInfo::new(0, "host-1", SourceKind::Container { id: WEB_1.into(), name: "shop-web-1".into() }),
        SourceInfo::new(1, "host-2", SourceKind::Container { id: WEB_2.into(), name: "shop-web-2".into() }),
    ]
}

/// The console on the fixture fleet at 120x30, with the log view of the `web` service open
/// and the fixed lines delivered.
pub fn log_app() -> App {
    log_app_with(lines(), 0)
}

pub fn log_app_with(entries: Vec<Entry>, dropped: u64) -> App {
    let mut app = app();
    app.update(Msg::Resize(WIDTH, HEIGHT));
    // the web service is the first row of the dashboard
    let effects = app.update(Msg::Action(Action::OpenLogs));
    assert_eq!(effects.len(), 1, "{effects:?}");
    assert!(matches!(&effects[0], Effect::OpenLogs(_)), "{effects:?}");
    assert_eq!(app.screen, Screen::Logs);
    {
        let p = app.logs.as_mut().unwrap();
        assert_eq!(p.title, "service web");
        assert_eq!(p.height, TEXT_ROWS, "the pane knows its rows from the terminal size");
        assert_eq!(p.now, now().timestamp_nanos_opt().unwrap(), "the pane's clock is the console's");
        p.timestamps = true;
        p.utc = true;
    }
    // the session first announces its sources, then the lines come
    app.update(Msg::Logs { entries: vec![], sources: Some(sources()), dropped: 0 });
    app.update(Msg::Logs { entries, sources: None, dropped });
    app
}

/// The text rows showing a line whose text contains `needle`.
pub fn rows_with(buf: &Buffer, needle: &str) -> Vec<u16> {
    (FIRST_TEXT_ROW..FIRST_TEXT_ROW + TEXT_ROWS as u16).filter(|&y| row_text(buf, y).contains(needle)).collect()
}

/// The level badge ("E", "W", "I", "D") of a text row: the column after the stream mark.
pub fn badge_at(buf: &Buffer, y: u16) -> (u16, String) {
    let row = row_text(buf, y);
    let label = row.find("host-").unwrap_or_else(|| panic!("no source in {row:?}"));
    let x = column_of(buf, y, label) + WEB_1_LABEL.len() as u16 + 3;
    (x, buf[(x, y)].symbol().to_string())
}
