//! Snapshot tests of the merged log view, drawn on ratatui's `TestBackend` (120x30) from the
//! deterministic fixture fleet (see `support/fixtures.rs`) and fixed log lines of the two web
//! replicas (host-1/shop-web-1 and host-2/shop-web-2). The view is opened and driven the way
//! the event loop does it: `Msg::Action(OpenLogs)`, `Msg::Logs { .. }` for what the streams
//! deliver, `Msg::Key` for what the user types. Each test stores the screen's text as an
//! insta snapshot and checks the colours of the cells that carry meaning.
//!
//! Update the snapshots with `INSTA_UPDATE=always cargo test --test log_view_snapshots`, then
//! read the changed `.snap` files.

#[path = "support/fixtures.rs"]
mod fixtures;

use chrono::{Duration, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fixtures::*;
use fleetdeck::logs::line::{Entry, Gap, GapReason, LogLine, StreamKind};
use fleetdeck::logs::source::{SourceInfo, SourceKind, SourceState};
use fleetdeck::tui::action::Action;
use fleetdeck::tui::app::{App, Effect, Msg, Screen};
use fleetdeck::tui::logpane::LogPane;
use fleetdeck::tui::theme::Theme;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier, Style};
use ratatui::Terminal;

const WIDTH: u16 = 120;
const HEIGHT: u16 = 30;
/// Rows of log text: the terminal minus the title bar and the hint bar (2), the log block's
/// borders (2), its status line and its sources line.
const TEXT_ROWS: usize = HEIGHT as usize - 6;
/// First screen row of log text (title bar, top border, status line, sources line above).
const FIRST_TEXT_ROW: u16 = 4;
const STATUS_ROW: u16 = 2;
const SOURCES_ROW: u16 = 3;

const WEB_1_LABEL: &str = "host-1/shop-web-1";
const WEB_2_LABEL: &str = "host-2/shop-web-2";

// ---------------------------------------------------------------------------------------
// Helpers (the style of tests/tui_snapshots.rs)
// ---------------------------------------------------------------------------------------

fn default_theme() -> Theme {
    Theme::load(None, None, false).unwrap_or_else(|e| panic!("{e}"))
}

fn draw(app: &App, theme: &Theme) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("test terminal");
    terminal.draw(|f| fleetdeck::tui::view::render(f, f.area(), app, theme)).expect("draw");
    terminal.backend().buffer().clone()
}

/// The symbols of one buffer row (trailing blanks removed).
fn row_text(buf: &Buffer, y: u16) -> String {
    let mut s: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
    s.truncate(s.trim_end().len());
    s
}

/// The whole screen as text, one line per row, for the snapshot.
fn buffer_text(buf: &Buffer) -> String {
    (0..buf.area.height).map(|y| row_text(buf, y)).collect::<Vec<_>>().join("\n")
}

/// The rows of log text (between the sources line and the bottom border).
fn text_rows(buf: &Buffer) -> Vec<String> {
    (FIRST_TEXT_ROW..FIRST_TEXT_ROW + TEXT_ROWS as u16).map(|y| row_text(buf, y)).collect()
}

/// Column of the cell where the byte `offset` of row `y`'s text starts.
fn column_of(buf: &Buffer, y: u16, offset: usize) -> u16 {
    let mut bytes = 0;
    for x in 0..buf.area.width {
        if bytes == offset {
            return x;
        }
        bytes += buf[(x, y)].symbol().len();
    }
    panic!("offset {offset} is not at a cell boundary in row {y}");
}

/// Where `needle` occurs in row `y` (anywhere, not only as a word).
fn find_in_row(buf: &Buffer, y: u16, needle: &str) -> Option<u16> {
    let text: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
    text.find(needle).map(|i| column_of(buf, y, i))
}

/// The first row whose text contains `needle`.
fn row_with(buf: &Buffer, needle: &str) -> u16 {
    (0..buf.area.height)
        .find(|&y| row_text(buf, y).contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} is not on screen:\n{}", buffer_text(buf)))
}

/// Position of `needle` (anywhere) in the first row that contains `row_marker`.
fn in_row_with(buf: &Buffer, row_marker: &str, needle: &str) -> (u16, u16) {
    let y = row_with(buf, row_marker);
    let x = find_in_row(buf, y, needle)
        .unwrap_or_else(|| panic!("no {needle:?} in the row of {row_marker:?}: {:?}", row_text(buf, y)));
    (x, y)
}

/// Every cell of `text` drawn at `at` has the style's foreground and background (where the
/// style sets them) and its modifiers.
#[track_caller]
fn assert_styled(buf: &Buffer, at: (u16, u16), text: &str, style: Style) {
    let (x0, y) = at;
    for (i, _) in text.chars().enumerate() {
        let x = x0 + i as u16;
        let cell = &buf[(x, y)];
        if let Some(fg) = style.fg {
            assert_eq!(cell.fg, fg, "fg of {text:?} at ({x},{y}) in {:?}", row_text(buf, y));
        }
        if let Some(bg) = style.bg {
            assert_eq!(cell.bg, bg, "bg of {text:?} at ({x},{y}) in {:?}", row_text(buf, y));
        }
        assert!(
            cell.modifier.contains(style.add_modifier),
            "{text:?} at ({x},{y}) lacks {:?} (has {:?}) in {:?}",
            style.add_modifier,
            cell.modifier,
            row_text(buf, y)
        );
    }
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ctrl(app: &mut App, c: char) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)))
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        assert!(key(app, KeyCode::Char(c)).is_empty(), "typing {c:?} has no effect");
    }
}

fn pane(app: &App) -> &LogPane {
    app.logs.as_ref().expect("the log view is open")
}

// ---------------------------------------------------------------------------------------
// Log data: two web replicas, fixed timestamps
// ---------------------------------------------------------------------------------------

/// Unix nanos of `secs` seconds plus `millis` after 09:29:00 UTC of the fixture's day (the
/// console's clock says 09:30:00).
fn at(secs: i64, millis: i64) -> i64 {
    let base = Utc.with_ymd_and_hms(2026, 3, 14, 9, 29, 0).unwrap() + Duration::seconds(secs);
    base.timestamp_nanos_opt().unwrap() + millis * 1_000_000
}

fn out(ts: i64, source: u32, text: &str) -> Entry {
    Entry::Line(LogLine::new(ts, source, StreamKind::Stdout, text))
}

fn err(ts: i64, source: u32, text: &str) -> Entry {
    Entry::Line(LogLine::new(ts, source, StreamKind::Stderr, text))
}

const JSON_WARN: &str = r#"{"level":"warn","msg":"slow query","ms":812}"#;
const ANSI_INFO: &str = "\x1b[32mINFO\x1b[0m request completed in 4ms path=/api/products";
const ANSI_ERROR: &str = "\x1b[1;31mERROR\x1b[0m payment declined order=8812 reason=card_expired";
const PANIC: &str = "panic: runtime error: invalid memory address or nil pointer dereference";
const TRACE: &str = "goroutine 41 [running]:";

/// What the two replicas printed in the 30 s before the console's "now", in timestamp
/// order, 30 lines: access logs, a JSON line, an ANSI-coloured line, a panic on stderr with
/// its (unleveled) continuation, errors, warnings and a debug line.
fn lines() -> Vec<Entry> {
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

fn sources() -> Vec<SourceInfo> {
    vec![
        SourceInfo::new(0, "host-1", SourceKind::Container { id: WEB_1.into(), name: "shop-web-1".into() }),
        SourceInfo::new(1, "host-2", SourceKind::Container { id: WEB_2.into(), name: "shop-web-2".into() }),
    ]
}

/// The console on the fixture fleet at 120x30, with the log view of the `web` service open
/// and the fixed lines delivered.
fn log_app() -> App {
    log_app_with(lines(), 0)
}

fn log_app_with(entries: Vec<Entry>, dropped: u64) -> App {
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
fn rows_with(buf: &Buffer, needle: &str) -> Vec<u16> {
    (FIRST_TEXT_ROW..FIRST_TEXT_ROW + TEXT_ROWS as u16).filter(|&y| row_text(buf, y).contains(needle)).collect()
}

/// The level badge ("E", "W", "I", "D") of a text row: the column after the stream mark.
fn badge_at(buf: &Buffer, y: u16) -> (u16, String) {
    let row = row_text(buf, y);
    let label = row.find("host-").unwrap_or_else(|| panic!("no source in {row:?}"));
    let x = column_of(buf, y, label) + WEB_1_LABEL.len() as u16 + 3;
    (x, buf[(x, y)].symbol().to_string())
}

// ---------------------------------------------------------------------------------------
// (a) Following, unfiltered
// ---------------------------------------------------------------------------------------

#[test]
fn following_unfiltered() {
    let app = log_app();
    let theme = default_theme();
    let p = pane(&app);
    assert_eq!((p.view.len(), p.store.len()), (30, 30));
    assert!(p.follow.following);
    assert_eq!(p.follow.top, 30 - TEXT_ROWS, "following shows the newest lines");
    let buf = draw(&app, &theme);
    let text = buffer_text(&buf);
    insta::assert_snapshot!("log_following_unfiltered", text);

    // the title, the sources and their live state
    assert!(row_text(&buf, 1).contains(" Logs · service web · 2 sources "), "{text}");
    let sources_row = row_text(&buf, SOURCES_ROW);
    assert!(sources_row.contains("host-1/shop-web-1 ●") && sources_row.contains("host-2/shop-web-2 ●"), "{text}");
    assert_styled(&buf, (find_in_row(&buf, SOURCES_ROW, "●").unwrap(), SOURCES_ROW), "●", theme.healthy);

    // the status line: following, counts
    let status = row_text(&buf, STATUS_ROW);
    assert!(status.contains(" FOLLOWING ") && status.contains("30 / 30 lines"), "{status:?}");
    let (x, y) = in_row_with(&buf, "FOLLOWING", " FOLLOWING ");
    assert_eq!(y, STATUS_ROW);
    assert_styled(&buf, (x, y), " FOLLOWING ", theme.healthy.add_modifier(Modifier::REVERSED));

    // the newest line is the last row; the oldest lines scrolled off the top
    let rows = text_rows(&buf);
    assert!(rows[TEXT_ROWS - 1].contains(r#"level=info msg="GET /healthz" status=200 ms=1"#), "{text}");
    assert!(rows[TEXT_ROWS - 1].contains("09:29:49.900 host-2/shop-web-2"), "{text}");
    assert!(!text.contains(r#"msg="listening""#), "the 6 oldest lines are above the window:\n{text}");
    assert!(rows[0].contains(JSON_WARN), "{text}");

    // source prefixes: each source its own colour, the same on every one of its rows
    let web1 = in_row_with(&buf, "shop-web-1 │", WEB_1_LABEL);
    let web2 = in_row_with(&buf, "shop-web-2 │", WEB_2_LABEL);
    let web1_fg = buf[web1].fg;
    let web2_fg = buf[web2].fg;
    assert_ne!(web1_fg, web2_fg, "the two sources' prefixes differ in colour");
    for (fg, label) in [(web1_fg, WEB_1_LABEL), (web2_fg, WEB_2_LABEL)] {
        assert!(!matches!(fg, Color::Reset | Color::White), "{label} is coloured");
        for y in rows_with(&buf, label) {
            let x = find_in_row(&buf, y, label).unwrap();
            assert_styled(&buf, (x, y), label, Style::new().fg(fg));
        }
    }
    // the sources line uses the same colours as the prefixes
    assert_eq!(buf[(find_in_row(&buf, SOURCES_ROW, WEB_1_LABEL).unwrap(), SOURCES_ROW)].fg, web1_fg);
    assert_eq!(buf[(find_in_row(&buf, SOURCES_ROW, WEB_2_LABEL).unwrap(), SOURCES_ROW)].fg, web2_fg);

    // level badges: E in the unhealthy colour, W in the degraded colour, I healthy
    let error = row_with(&buf, "upstream timeout");
    let (x, badge) = badge_at(&buf, error);
    assert_eq!(badge, "E");
    assert_styled(&buf, (x, error), "E", theme.unhealthy);
    let warn = row_with(&buf, "retrying payment provider");
    let (x, badge) = badge_at(&buf, warn);
    assert_eq!(badge, "W");
    assert_styled(&buf, (x, warn), "W", theme.degraded);
    let json = row_with(&buf, JSON_WARN);
    assert_eq!(badge_at(&buf, json).1, "W", "the JSON line's level is read from its \"level\" key");
    let info = row_with(&buf, "GET /api/cart");
    let (x, badge) = badge_at(&buf, info);
    assert_eq!(badge, "I");
    assert_styled(&buf, (x, info), "I", theme.healthy);
    // the continuation of the panic has no level: no badge
    let trace = row_with(&buf, TRACE);
    assert_eq!(badge_at(&buf, trace).1, " ");

    // stderr lines carry "!" in the error colour, stdout lines a plain separator
    let panic = row_with(&buf, "panic: runtime error");
    let (x, bang) = in_row_with(&buf, "panic: runtime error", "! ");
    assert_eq!(bang, panic);
    assert_eq!(x, find_in_row(&buf, panic, WEB_2_LABEL).unwrap() + WEB_2_LABEL.len() as u16 + 1);
    assert_styled(&buf, (x, panic), "!", theme.error);
    assert_eq!(badge_at(&buf, panic).1, "E", "\"panic:\" is an error");
    assert!(row_text(&buf, trace).contains(&format!("{WEB_2_LABEL} ! ")), "the trace came on stderr too");
    assert!(row_text(&buf, info).contains(" │ I "), "stdout: separator, no mark");

    // ANSI colours of the text are rendered, the escape sequences are not shown
    assert!(!text.contains('\x1b') && !text.contains("[32m") && !text.contains("[0m"), "{text}");
    let (x, y) = in_row_with(&buf, "request completed", "INFO request completed");
    assert_styled(&buf, (x, y), "INFO", Style::new().fg(Color::Indexed(2)));
    assert_styled(&buf, (x + 5, y), "request", theme.base);
    let (x, y) = in_row_with(&buf, "payment declined", "ERROR payment");
    assert_styled(&buf, (x, y), "ERROR", Style::new().fg(Color::Indexed(1)).add_modifier(Modifier::BOLD));
    assert_eq!(badge_at(&buf, y).1, "E", "the level is read from the text without its colours");

    // timestamps: UTC, milliseconds, muted
    let (x, y) = in_row_with(&buf, "upstream timeout", "09:29:35.000");
    assert_eq!(x, 1, "the timestamp starts each row");
    assert_styled(&buf, (x, y), "09:29:35.000", theme.muted);
}

// ---------------------------------------------------------------------------------------
// (b) Include filter typed with the keys
// ---------------------------------------------------------------------------------------

#[test]
fn include_filter_typed() {
    let mut app = log_app();
    let theme = default_theme();
    assert!(key(&mut app, KeyCode::Char('/')).is_empty());
    assert!(pane(&app).editing.is_some(), "/ opens the include field");
    // "c", "k", "u", "t", "p", "n", "e" are log keys (case, up, utc, timestamps, pause, next,
    // export), but in the field they are text
    type_text(&mut app, "checkout|payment");
    let buf = draw(&app, &theme);
    let status = row_text(&buf, STATUS_ROW);
    assert!(status.contains("show only /regex/: checkout|payment▏"), "{status:?}");
    assert_eq!(pane(&app).view.len(), 30, "the filter applies on enter, not while typing");
    assert!(key(&mut app, KeyCode::Enter).is_empty());

    let p = pane(&app);
    assert!(p.editing.is_none());
    assert_eq!(p.include, "checkout|payment");
    // upstream timeout (/checkout), 2x POST /checkout 500, the retry, the declined payment,
    // POST /checkout 200, the webhook
    assert_eq!(p.view.len(), 7, "only matching lines");
    assert!(p.follow.following);
    let buf = draw(&app, &theme);
    let text = buffer_text(&buf);
    insta::assert_snapshot!("log_include_filter", text);

    let status = row_text(&buf, STATUS_ROW);
    assert!(status.contains("7 / 30 lines") && status.contains(" · show /checkout|payment/"), "{status:?}");
    let (x, y) = in_row_with(&buf, "show /", "show /checkout|payment/");
    assert_styled(&buf, (x, y), "show /checkout|payment/", theme.filter_match);
    let rows: Vec<String> = text_rows(&buf).into_iter().filter(|r| !r.trim_matches([' ', '│']).is_empty()).collect();
    assert_eq!(rows.len(), 7, "{text}");
    let re = regex::RegexBuilder::new("checkout|payment").case_insensitive(true).build().unwrap();
    for row in &rows {
        assert!(re.is_match(row.split(" │ ").nth(1).unwrap_or(row)), "does not match: {row:?}");
    }
    // the ANSI-coloured match keeps its colours
    let (x, y) = in_row_with(&buf, "payment declined", "ERROR payment");
    assert_styled(&buf, (x, y), "ERROR", Style::new().fg(Color::Indexed(1)));
    // lines arriving later are filtered too
    app.update(Msg::Logs {
        entries: vec![
            out(at(50, 0), 0, r#"level=info msg="GET /api/products" status=200 ms=10"#),
            out(at(50, 10), 1, r#"level=info msg="POST /checkout" status=200 ms=40"#),
        ],
        sources: None,
        dropped: 0,
    });
    let p = pane(&app);
    assert_eq!((p.view.len(), p.store.len()), (8, 32));
    let buf = draw(&app, &theme);
    assert!(row_text(&buf, FIRST_TEXT_ROW + 7).contains(r#"msg="POST /checkout" status=200 ms=40"#));
    assert!(!buffer_text(&buf).contains("09:29:50.000"));
}

// ---------------------------------------------------------------------------------------
// (c) Paused: new lines are counted, the window stays
// ---------------------------------------------------------------------------------------

#[test]
fn paused_keeps_the_window_and_counts_new_lines() {
    let mut app = log_app();
    let theme = default_theme();
    assert!(key(&mut app, KeyCode::Char(' ')).is_empty());
    assert!(!pane(&app).follow.following, "space pauses");
    let before = draw(&app, &theme);
    let status = row_text(&before, STATUS_ROW);
    assert!(status.contains(" PAUSED ") && !status.contains("new lines"), "{status:?}");

    // five new lines at the end, and one late line of host-2 (its stream lagged) that sorts
    // above the window
    let top_before = pane(&app).follow.top;
    app.update(Msg::Logs {
        entries: vec![
            out(at(50, 0), 0, r#"level=info msg="GET /api/products" status=200 ms=10"#),
            out(at(50, 400), 1, r#"level=info msg="GET /api/cart" status=200 ms=7"#),
            out(at(51, 0), 0, r#"level=warn msg="slow response" path=/api/search ms=1430"#),
            out(at(29, 999), 1, r#"level=info msg="config loaded" file=/etc/shop/web.toml"#),
            out(at(52, 250), 1, r#"level=info msg="GET /healthz" status=200 ms=1"#),
            out(at(53, 0), 0, r#"level=info msg="GET /healthz" status=200 ms=1"#),
        ],
        sources: None,
        dropped: 0,
    });
    let p = pane(&app);
    assert_eq!(p.view.len(), 36);
    assert!(!p.follow.following);
    assert_eq!(p.follow.new_since_pause, 5, "the lines below the window; not the late one above it");
    assert_eq!(p.follow.top, top_before + 1, "the late line above the window moved it down by one");
    let after = draw(&app, &theme);
    let text = buffer_text(&after);
    insta::assert_snapshot!("log_paused_new_lines", text);

    let status = row_text(&after, STATUS_ROW);
    assert!(
        status.contains(" PAUSED ") && status.contains(" 5 new lines ") && status.contains("36 / 36"),
        "{status:?}"
    );
    let (x, y) = in_row_with(&after, "PAUSED", " PAUSED ");
    assert_styled(&after, (x, y), " PAUSED ", theme.degraded.add_modifier(Modifier::REVERSED));
    let (x, y) = in_row_with(&after, "new lines", " 5 new lines ");
    assert_styled(&after, (x, y), " 5 new lines ", theme.degraded);
    // the window did not move: the same lines on the same rows
    assert_eq!(text_rows(&after), text_rows(&before), "the window moved while paused");
    assert!(!text.contains("09:29:53.000") && !text.contains("config loaded"), "{text}");

    // following again jumps to the newest line and clears the count
    key(&mut app, KeyCode::Char(' '));
    let buf = draw(&app, &theme);
    let status = row_text(&buf, STATUS_ROW);
    assert!(status.contains(" FOLLOWING ") && !status.contains("new lines"), "{status:?}");
    assert!(row_text(&buf, FIRST_TEXT_ROW + TEXT_ROWS as u16 - 1).contains("09:29:53.000"));
}

// ---------------------------------------------------------------------------------------
// (d) JSON pretty-printed
// ---------------------------------------------------------------------------------------

#[test]
fn json_pretty_mode() {
    let mut app = log_app();
    let theme = default_theme();
    // the JSON warning near the top of a paused window (home pauses at the first line)
    key(&mut app, KeyCode::Char('g'));
    for _ in 0..3 {
        key(&mut app, KeyCode::Char('j'));
    }
    assert_eq!(pane(&app).follow.top, 3);
    assert!(!pane(&app).follow.following);
    assert!(key(&mut app, KeyCode::Char('J')).is_empty());
    let buf = draw(&app, &theme);
    let text = buffer_text(&buf);
    insta::assert_snapshot!("log_json_pretty", text);

    let status = row_text(&buf, STATUS_ROW);
    assert!(status.contains(" · json pretty"), "{status:?}");
    assert_styled(&buf, in_row_with(&buf, "json pretty", "json pretty"), "json pretty", theme.accent);
    assert!(!text.contains(JSON_WARN), "the JSON line is not shown raw:\n{text}");
    // the object over five rows, the first after the prefix, the others indented to it
    let first = row_with(&buf, "09:29:33.110");
    let x = find_in_row(&buf, first, "{").expect("the object opens on the line's own row");
    let want = ["{", r#"  "level": "warn","#, r#"  "msg": "slow query","#, r#"  "ms": 812"#, "}"];
    for (i, line) in want.iter().enumerate() {
        let y = first + i as u16;
        let row = row_text(&buf, y);
        assert_eq!(find_in_row(&buf, y, line), Some(x), "JSON row {i}: {row:?}\n{text}");
        if i > 0 {
            assert!(row[..x as usize].trim_matches([' ', '│']).is_empty(), "indented, no prefix: {row:?}");
        }
    }
    assert_eq!(badge_at(&buf, first).1, "W");
    // the other JSON line is expanded too, plain lines stay on one row
    assert!(text.contains(r#""order": 8811,"#) && text.contains(r#""total": "59.90""#), "{text}");
    assert!(row_text(&buf, first + 5).contains(r#"msg="POST /api/cart/items""#), "{text}");
    // J again: only the chosen fields, on one row
    key(&mut app, KeyCode::Char('J'));
    let buf = draw(&app, &theme);
    let row = row_text(&buf, row_with(&buf, "09:29:33.110"));
    assert!(row.trim_end_matches('│').trim_end().ends_with(" W level=warn msg=\"slow query\""), "{row:?}");
    assert!(row_text(&buf, STATUS_ROW).contains("json fields"));
    key(&mut app, KeyCode::Char('J'));
    assert!(buffer_text(&draw(&app, &theme)).contains(JSON_WARN), "raw again");
}

// ---------------------------------------------------------------------------------------
// (e) Dropped lines: the gap marker and the status
// ---------------------------------------------------------------------------------------

#[test]
fn gap_marker_and_dropped_count() {
    let mut entries = lines();
    entries.push(Entry::Gap(Gap {
        source: 1,
        count: 1234,
        from_ts: at(44, 0),
        to_ts: at(44, 900),
        reason: GapReason::StreamOverflow,
    }));
    let app = log_app_with(entries, 1234);
    let theme = default_theme();
    let p = pane(&app);
    assert_eq!((p.view.len(), p.dropped), (31, 1234));
    let buf = draw(&app, &theme);
    let text = buffer_text(&buf);
    insta::assert_snapshot!("log_gap_dropped", text);

    // the wording of the export (`export::gap_text`)
    let marker = "--- 1234 lines dropped from host-2/shop-web-2 (consumer too slow) ---";
    let (x, y) = in_row_with(&buf, "dropped from", marker);
    assert_eq!(x, 1, "the marker takes the whole row");
    assert_styled(&buf, (x, y), marker, theme.warning);
    // where the lost lines would have been: after 09:29:43.010, before 09:29:44.500
    assert!(row_text(&buf, y - 1).contains("09:29:43.010"), "{text}");
    assert!(row_text(&buf, y + 1).contains("09:29:44.500"), "{text}");
    let status = row_text(&buf, STATUS_ROW);
    assert!(status.contains(" · 1234 lines dropped (console too slow)"), "{status:?}");
    let (x, y) = in_row_with(&buf, "lines dropped", "1234 lines dropped (console too slow)");
    assert_styled(&buf, (x, y), "1234 lines dropped (console too slow)", theme.warning);
}

// ---------------------------------------------------------------------------------------
// (f) Level filter
// ---------------------------------------------------------------------------------------

#[test]
fn level_filter_warn_and_above() {
    let mut entries = lines();
    entries.push(Entry::Gap(Gap {
        source: 0,
        count: 17,
        from_ts: at(39, 0),
        to_ts: at(39, 300),
        reason: GapReason::StreamOverflow,
    }));
    let mut app = log_app_with(entries, 17);
    let theme = default_theme();
    let mut presses = 0;
    while !row_text(&draw(&app, &theme), STATUS_ROW).contains("level ≥ warn") {
        key(&mut app, KeyCode::Char('v'));
        presses += 1;
        assert!(presses <= 5, "v never reached warn");
    }
    assert_eq!(presses, 3, "debug, info, warn");
    let buf = draw(&app, &theme);
    let text = buffer_text(&buf);
    insta::assert_snapshot!("log_level_warn", text);

    let (x, y) = in_row_with(&buf, "level ≥", "level ≥ warn");
    assert_styled(&buf, (x, y), "level ≥ warn", theme.accent);
    // warnings and errors only (JSON, logfmt, ANSI-coloured, stderr), lines without a level
    // (the panic's trace), and the gap: lost lines are never hidden
    let shown: Vec<String> = text_rows(&buf).into_iter().filter(|r| !r.trim_matches([' ', '│']).is_empty()).collect();
    for row in &shown {
        let unleveled = row.contains(&format!("{WEB_2_LABEL} !   {TRACE}"));
        assert!(
            row.contains(" W ") || row.contains(" E ") || row.contains("lines dropped from") || unleveled,
            "{row:?}\n{text}"
        );
    }
    for needle in ["slow query", "upstream timeout", "panic: runtime", "retrying payment", "payment declined"] {
        assert!(text.contains(needle), "{needle:?} is hidden:\n{text}");
    }
    for needle in ["connection pool saturated", "payment webhook rejected", "17 lines dropped from", TRACE] {
        assert!(text.contains(needle), "{needle:?} is hidden:\n{text}");
    }
    assert!(!text.contains("status=200") && !text.contains("cache hit") && !text.contains("INFO"), "{text}");
    assert_eq!(pane(&app).view.len(), 9, "7 lines, the trace and the gap:\n{text}");
    assert!(row_text(&buf, STATUS_ROW).contains("9 / 31 lines"));
    // and off again after error
    key(&mut app, KeyCode::Char('v'));
    assert!(row_text(&draw(&app, &theme), STATUS_ROW).contains("level ≥ error"));
    assert_eq!(pane(&app).view.len(), 6, "3 errors, the panic and its trace, the gap");
    key(&mut app, KeyCode::Char('v'));
    assert!(!row_text(&draw(&app, &theme), STATUS_ROW).contains("level"));
    assert_eq!(pane(&app).view.len(), 31);
}

// ---------------------------------------------------------------------------------------
// (g) Search
// ---------------------------------------------------------------------------------------

#[test]
fn search_highlights_the_hit_and_n_moves_on() {
    let mut app = log_app();
    let theme = default_theme();
    assert!(key(&mut app, KeyCode::Char('s')).is_empty());
    type_text(&mut app, "status=500");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    let p = pane(&app);
    assert_eq!(p.search_text, "status=500");
    let first = p.search_hit().expect("a match");
    assert!(!p.follow.following, "a search hit pauses the view");
    assert_eq!(p.view.len(), 30, "search does not filter");
    let buf = draw(&app, &theme);
    let text = buffer_text(&buf);
    insta::assert_snapshot!("log_search_hit", text);

    let status = row_text(&buf, STATUS_ROW);
    assert!(status.contains(" PAUSED ") && status.contains(" · search /status=500/"), "{status:?}");
    // the hit is the first match in the window: the 500 of 09:29:35.010
    let hit = row_with(&buf, "09:29:35.010");
    assert_eq!(pane(&app).follow.top + (hit - FIRST_TEXT_ROW) as usize, first);
    assert_hit_row(&buf, hit, &theme);
    // the other match is marked, but its row is not the hit
    let other = row_with(&buf, "09:29:41.700");
    let (x, _) = in_row_with(&buf, "09:29:41.700", "status=500");
    assert_styled(&buf, (x, other), "status=500", theme.selection.add_modifier(Modifier::BOLD));
    let (x, _) = in_row_with(&buf, "09:29:41.700", "POST");
    assert_styled(&buf, (x, other), "POST", theme.base);
    // rows without a match have no selection background
    let plain = row_with(&buf, "09:29:41.000");
    let (x, _) = in_row_with(&buf, "09:29:41.000", "level=info");
    assert_ne!(buf[(x, plain)].bg, theme.selection.bg.unwrap());

    // n: the next match
    assert!(key(&mut app, KeyCode::Char('n')).is_empty());
    let second = pane(&app).search_hit().unwrap();
    assert!(second > first, "{first} -> {second}");
    let buf = draw(&app, &theme);
    insta::assert_snapshot!("log_search_next", buffer_text(&buf));
    assert_hit_row(&buf, row_with(&buf, "09:29:41.700"), &theme);
    let old = row_with(&buf, "09:29:35.010");
    let (x, _) = in_row_with(&buf, "09:29:35.010", "POST");
    assert_styled(&buf, (x, old), "POST", theme.base);
    // and round again to the first
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(pane(&app).search_hit(), Some(first), "n wraps around");
    key(&mut app, KeyCode::Char('N'));
    assert_eq!(pane(&app).search_hit(), Some(second), "N goes back");
}

/// The text of the hit row is drawn on the selection's background, the match itself bold.
#[track_caller]
fn assert_hit_row(buf: &Buffer, y: u16, theme: &Theme) {
    let row = row_text(buf, y);
    let start = find_in_row(buf, y, "level=info").unwrap_or_else(|| panic!("{row:?}"));
    let text = row[row.find("level=info").unwrap()..].trim_end_matches('│').trim_end();
    assert_styled(buf, (start, y), text, theme.selection);
    let (x, _) = (find_in_row(buf, y, "status=500").unwrap(), y);
    assert_styled(buf, (x, y), "status=500", theme.selection.add_modifier(Modifier::BOLD));
}

// ---------------------------------------------------------------------------------------
// Export writes exactly the filtered lines
// ---------------------------------------------------------------------------------------

#[test]
fn export_writes_exactly_the_filtered_lines() {
    let mut app = log_app();
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "checkout|payment");
    key(&mut app, KeyCode::Enter);
    // the export key proposes a file name from the console's clock; ctrl-u clears it
    assert!(key(&mut app, KeyCode::Char('e')).is_empty());
    let proposed = pane(&app).editing.as_ref().map(|(_, input)| input.value.clone());
    assert_eq!(proposed.as_deref(), Some("fleetdeck-logs-20260314-093000.log"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkout.log");
    assert!(ctrl(&mut app, 'u').is_empty());
    type_text(&mut app, &path.display().to_string());
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(effects, vec![Effect::ExportLogs(path.display().to_string())]);

    // what the event loop does with the effect
    let p = pane(&app);
    let labels: Vec<String> = p.sources.iter().map(|s| s.label.clone()).collect();
    let label = |id: u32| labels[id as usize].clone();
    let n = fleetdeck::logs::export::export(&path, &p.view, &p.store, label, p.utc, true).unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    let want = "\
2026-03-14T09:29:35.000Z host-2/shop-web-2 [stdout] level=error msg=\"upstream timeout\" path=/checkout ms=5003
2026-03-14T09:29:35.010Z host-2/shop-web-2 [stdout] level=info msg=\"POST /checkout\" status=500 ms=5010
2026-03-14T09:29:37.200Z host-2/shop-web-2 [stdout] level=warn msg=\"retrying payment provider\" attempt=2
2026-03-14T09:29:40.120Z host-2/shop-web-2 [stdout] ERROR payment declined order=8812 reason=card_expired
2026-03-14T09:29:41.700Z host-2/shop-web-2 [stdout] level=info msg=\"POST /checkout\" status=500 ms=31
2026-03-14T09:29:44.500Z host-1/shop-web-1 [stdout] level=info msg=\"POST /checkout\" status=200 ms=88
2026-03-14T09:29:46.000Z host-1/shop-web-1 [stdout] level=error msg=\"payment webhook rejected\" status=400
";
    assert_eq!(written, want);
    assert_eq!(n, 7);
    // the same lines the filter lets through, computed independently
    let re = regex::RegexBuilder::new("checkout|payment").case_insensitive(true).build().unwrap();
    let expected: Vec<String> = lines()
        .iter()
        .filter_map(Entry::as_line)
        .map(|l| fleetdeck::logs::line::strip_ansi(&l.text).into_owned())
        .filter(|t| re.is_match(t))
        .collect();
    let got: Vec<&str> = written.lines().map(|l| l.splitn(4, ' ').nth(3).unwrap()).collect();
    assert_eq!(got, expected);

    // the result reaches the status line
    app.update(Msg::LogNotice(format!("exported {n} lines to {}", path.display())));
    let buf = draw(&app, &default_theme());
    assert!(row_text(&buf, STATUS_ROW).contains(&format!("exported 7 lines to {}", path.display())));
    // the export did not change what is shown
    assert_eq!(pane(&app).view.len(), 7);
    assert!(pane(&app).follow.following);
}

// ---------------------------------------------------------------------------------------
// Sources that stopped, and the source line
// ---------------------------------------------------------------------------------------

#[test]
fn source_states_are_shown() {
    let mut app = log_app();
    let theme = default_theme();
    let mut s = sources();
    s[1].state = SourceState::Reconnecting;
    app.update(Msg::Logs { entries: vec![], sources: Some(s), dropped: 0 });
    let buf = draw(&app, &theme);
    let (x, y) = in_row_with(&buf, "reconnecting", "◌ reconnecting");
    assert_eq!(y, SOURCES_ROW);
    assert_styled(&buf, (x, y), "◌ reconnecting", theme.degraded);
    assert_eq!(pane(&app).view.len(), 30, "a state change keeps the lines");
}

// ---------------------------------------------------------------------------------------
// Former known bugs of the log view (src/tui/logpane.rs, src/tui/view/logs.rs), fixed: each
// test asserts the behaviour a user expects and failed before the fix.
// ---------------------------------------------------------------------------------------

#[test]
fn known_bug_following_shows_the_newest_line_in_json_pretty_mode() {
    let mut app = log_app();
    key(&mut app, KeyCode::Char('J'));
    assert!(pane(&app).follow.following);
    let buf = draw(&app, &default_theme());
    let last = row_text(&buf, FIRST_TEXT_ROW + TEXT_ROWS as u16 - 1);
    assert!(last.contains("09:29:49.900"), "following, yet the newest line is not on screen:\n{}", buffer_text(&buf));
}

#[test]
fn known_bug_following_shows_the_newest_line_wrapped() {
    let mut app = log_app();
    let long = format!("level=info msg=\"payload\" body={} end=1", "x".repeat(250));
    app.update(Msg::Logs { entries: vec![out(at(49, 950), 0, &long)], sources: None, dropped: 0 });
    key(&mut app, KeyCode::Char('W'));
    let buf = draw(&app, &default_theme());
    assert!(buffer_text(&buf).contains("end=1"), "the end of the newest line is cut off:\n{}", buffer_text(&buf));
}

#[test]
fn known_bug_invalid_include_pattern_blocks_the_level_filter() {
    let mut app = log_app();
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "[");
    key(&mut app, KeyCode::Enter);
    let message = pane(&app).message.clone().unwrap_or_default();
    assert!(message.contains("invalid") && !message.contains('\n'), "one-line error: {message:?}");
    let status = row_text(&draw(&app, &default_theme()), STATUS_ROW);
    assert!(!status.contains("show /[/"), "a pattern that is not applied is shown as active: {status:?}");
    for _ in 0..3 {
        key(&mut app, KeyCode::Char('v'));
    }
    assert_eq!(pane(&app).min_level.map(|l| l.as_str()), Some("warn"));
    let mut only_level = log_app();
    for _ in 0..3 {
        key(&mut only_level, KeyCode::Char('v'));
    }
    assert_eq!(pane(&app).view.len(), pane(&only_level).view.len(), "level ≥ warn is in the status but not applied");
}

#[test]
fn known_bug_invalid_highlight_and_search_patterns_are_reported() {
    let mut app = log_app();
    key(&mut app, KeyCode::Char('H'));
    type_text(&mut app, "(");
    key(&mut app, KeyCode::Enter);
    let message = pane(&app).message.clone().unwrap_or_default();
    assert!(message.contains("invalid"), "highlight: {message:?}");
    key(&mut app, KeyCode::Char('s'));
    type_text(&mut app, "(");
    key(&mut app, KeyCode::Enter);
    let message = pane(&app).message.clone().unwrap_or_default();
    assert!(message.contains("invalid"), "search says {message:?}");
}

#[test]
fn known_bug_level_filter_keeps_unleveled_continuations() {
    let mut app = log_app();
    for _ in 0..3 {
        key(&mut app, KeyCode::Char('v'));
    }
    let text = buffer_text(&draw(&app, &default_theme()));
    assert!(text.contains("panic: runtime error") && text.contains(TRACE), "the panic lost its trace:\n{text}");
}

#[test]
fn known_bug_gap_of_unknown_size_is_not_zero_lines() {
    let mut entries = lines();
    entries.push(Entry::Gap(Gap {
        source: 1,
        count: 0,
        from_ts: at(44, 0),
        to_ts: at(44, 900),
        reason: GapReason::Reconnect,
    }));
    let app = log_app_with(entries, 0);
    let buf = draw(&app, &default_theme());
    let row = row_text(&buf, row_with(&buf, "lost during reconnect"));
    assert!(!row.contains(" 0 lines"), "{row:?}");
}

#[test]
fn known_bug_highlight_while_paused_keeps_the_window() {
    let mut app = log_app();
    key(&mut app, KeyCode::Char('g'));
    key(&mut app, KeyCode::Char('H'));
    type_text(&mut app, "checkout");
    key(&mut app, KeyCode::Enter);
    let f = pane(&app).follow;
    assert_eq!((f.following, f.top), (false, 0), "highlighting moved the paused window");
    key(&mut app, KeyCode::Char('c'));
    let f = pane(&app).follow;
    assert_eq!((f.following, f.top), (false, 0), "the case toggle moved the paused window");
}

#[test]
fn known_bug_search_hit_stays_on_its_line_when_lines_arrive_above() {
    let mut app = log_app();
    key(&mut app, KeyCode::Char('s'));
    type_text(&mut app, "status=500");
    key(&mut app, KeyCode::Enter);
    app.update(Msg::Logs {
        entries: vec![out(at(29, 0), 1, r#"level=info msg="late line" status=200"#)],
        sources: None,
        dropped: 0,
    });
    let p = pane(&app);
    let hit = p.view.entry_at(&p.store, p.search_hit().unwrap()).and_then(Entry::into_line).unwrap();
    assert!(hit.text.contains("status=500"), "the highlighted line is no longer a match: {:?}", hit.text);
}

// ---------------------------------------------------------------------------------------
// Following, pausing, searching and filtering: the finer points
// ---------------------------------------------------------------------------------------

#[test]
fn wrapped_rows_are_indented_under_the_text_and_fit_the_width() {
    let mut app = log_app();
    let long = format!("level=info msg=\"payload\" body={} end=1 and then some words", "x".repeat(150));
    app.update(Msg::Logs { entries: vec![out(at(49, 950), 0, &long)], sources: None, dropped: 0 });
    key(&mut app, KeyCode::Char('W'));
    let buf = draw(&app, &default_theme());
    let text = buffer_text(&buf);
    let first = row_with(&buf, "09:29:49.950");
    let rows: Vec<String> = (first..FIRST_TEXT_ROW + TEXT_ROWS as u16).map(|y| row_text(&buf, y)).collect();
    assert_eq!(rows.len(), 4, "the newest line takes the last four rows:\n{text}");
    // broken after a blank, not inside `msg="payload"`; the long word is cut where the row ends
    assert!(rows[0].trim_end_matches('│').trim_end().ends_with(r#"msg="payload""#), "{text}");
    let x = find_in_row(&buf, first, "level=info").unwrap();
    for (i, row) in rows.iter().enumerate().skip(1) {
        let y = first + i as u16;
        assert!(row[..row.find(|c: char| c != '│' && c != ' ').unwrap()].len() >= x as usize, "indented: {row:?}");
        assert!(
            buf[(x - 1, y)].symbol() == " " && buf[(x, y)].symbol() != " ",
            "row {i} starts under the text: {row:?}"
        );
    }
    assert!(
        rows[1].contains("body=xxx") && rows[2].ends_with("x end=1 and │") && rows[3].contains("then some words"),
        "{text}"
    );
    assert_eq!(row_text(&buf, first - 1).split_whitespace().next(), Some("│09:29:49.900"), "{text}");
}

#[test]
fn the_eviction_notice_never_hides_the_newest_line() {
    let mut app = log_app();
    {
        let p = app.logs.as_mut().unwrap();
        p.store.set_budget(TEXT_ROWS + 2);
        let first = p.store.first_abs();
        p.view.on_evict(first);
        p.follow.resume(p.view.len(), p.height);
    }
    // the window is full of lines: no room for the notice
    let buf = draw(&app, &default_theme());
    let text = buffer_text(&buf);
    assert!(!text.contains("older lines dropped"), "{text}");
    assert!(row_text(&buf, FIRST_TEXT_ROW + TEXT_ROWS as u16 - 1).contains("09:29:49.900"), "{text}");
    // fewer lines than rows: the notice heads them
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "checkout");
    key(&mut app, KeyCode::Enter);
    let buf = draw(&app, &default_theme());
    assert!(
        row_text(&buf, FIRST_TEXT_ROW).contains("⋯ 4 older lines dropped (line budget 26)"),
        "{}",
        buffer_text(&buf)
    );
    // scrolled to the top of a long view, it is the first row
    key(&mut app, KeyCode::Char('/'));
    ctrl(&mut app, 'u');
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('g'));
    let buf = draw(&app, &default_theme());
    assert!(row_text(&buf, FIRST_TEXT_ROW).contains("older lines dropped"), "{}", buffer_text(&buf));
    assert!(row_text(&buf, FIRST_TEXT_ROW + 1).contains("09:29:32.005"), "{}", buffer_text(&buf));
}

#[test]
fn new_lines_are_counted_only_below_the_window() {
    let mut app = log_app();
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "checkout");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char(' '));
    assert!(!pane(&app).follow.following);
    let more = |ts: i64| out(ts, 0, r#"level=info msg="POST /checkout" status=200 ms=40"#);
    app.update(Msg::Logs { entries: vec![more(at(50, 0))], sources: None, dropped: 0 });
    let buf = draw(&app, &default_theme());
    assert!(buffer_text(&buf).contains("09:29:50.000"), "the new line is in the window");
    assert_eq!(pane(&app).follow.new_since_pause, 0);
    assert!(!row_text(&buf, STATUS_ROW).contains("new lines"));
    // once the window is full, further lines are news
    let entries: Vec<Entry> = (0..TEXT_ROWS as i64).map(|i| more(at(51 + i, 0))).collect();
    app.update(Msg::Logs { entries, sources: None, dropped: 0 });
    let p = pane(&app);
    let visible_from_top = p.view.len() - p.follow.top;
    assert_eq!((p.view.len(), p.follow.top), (29, 0), "4 lines of checkout, then 25");
    assert_eq!(p.follow.new_since_pause as usize, visible_from_top - TEXT_ROWS);
    assert!(row_text(&draw(&app, &default_theme()), STATUS_ROW).contains(" 5 new lines "));
}

#[test]
fn the_status_line_keeps_pause_and_filters_while_a_field_is_edited() {
    let mut app = log_app();
    key(&mut app, KeyCode::Char(' '));
    for _ in 0..3 {
        key(&mut app, KeyCode::Char('v'));
    }
    key(&mut app, KeyCode::Char('x'));
    type_text(&mut app, "healthz");
    let buf = draw(&app, &default_theme());
    let status = row_text(&buf, STATUS_ROW);
    assert!(status.starts_with("│hide /regex/: healthz▏"), "{status:?}");
    assert!(status.ends_with(" PAUSED  level ≥ warn│"), "{status:?}");
    let (x, y) = in_row_with(&buf, "hide /regex/", " PAUSED ");
    assert_styled(&buf, (x, y), " PAUSED ", default_theme().degraded.add_modifier(Modifier::REVERSED));
    // a long value leaves no room: the prompt wins
    type_text(&mut app, &"y".repeat(80));
    let status = row_text(&draw(&app, &default_theme()), STATUS_ROW);
    assert!(status.contains("PAUSED") && !status.contains("level"), "{status:?}");
    type_text(&mut app, &"y".repeat(20));
    let status = row_text(&draw(&app, &default_theme()), STATUS_ROW);
    assert!(!status.contains("PAUSED"), "{status:?}");
}

#[test]
fn a_filter_change_while_paused_keeps_the_first_line() {
    let mut app = log_app();
    key(&mut app, KeyCode::Char('g'));
    for _ in 0..3 {
        key(&mut app, KeyCode::Char('j'));
    }
    let first = row_text(&draw(&app, &default_theme()), FIRST_TEXT_ROW);
    assert!(first.contains("09:29:31.480"), "{first:?}");
    // hiding the two lines above the window
    key(&mut app, KeyCode::Char('x'));
    type_text(&mut app, "listening");
    key(&mut app, KeyCode::Enter);
    let p = pane(&app);
    assert_eq!((p.follow.following, p.follow.top, p.view.len()), (false, 1, 28));
    assert_eq!(row_text(&draw(&app, &default_theme()), FIRST_TEXT_ROW), first);
    // the first line hidden itself: the next one shown takes its place
    key(&mut app, KeyCode::Char('x'));
    ctrl(&mut app, 'u');
    type_text(&mut app, "listening|ms=8$");
    key(&mut app, KeyCode::Enter);
    let row = row_text(&draw(&app, &default_theme()), FIRST_TEXT_ROW);
    assert!(row.contains("09:29:32.005") && !pane(&app).follow.following, "{row:?}");
    // following stays following
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char('v'));
    assert!(pane(&app).follow.following);
}

#[test]
fn an_invalid_pattern_keeps_the_one_in_force() {
    let mut app = log_app();
    key(&mut app, KeyCode::Char('x'));
    type_text(&mut app, "healthz");
    key(&mut app, KeyCode::Enter);
    assert_eq!(pane(&app).view.len(), 27);
    key(&mut app, KeyCode::Char('x'));
    ctrl(&mut app, 'u');
    type_text(&mut app, "health(z");
    key(&mut app, KeyCode::Enter);
    let p = pane(&app);
    assert_eq!((p.exclude.as_str(), p.view.len()), ("healthz", 27));
    let message = p.message.clone().unwrap();
    assert_eq!(message, r#"invalid exclude pattern "health(z": unclosed group"#);
    let status = row_text(&draw(&app, &default_theme()), STATUS_ROW);
    assert!(status.contains("hide /healthz/ · invalid exclude pattern"), "{status:?}");
    // highlight and search too
    key(&mut app, KeyCode::Char('H'));
    type_text(&mut app, "POST");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('H'));
    type_text(&mut app, "[");
    key(&mut app, KeyCode::Enter);
    let p = pane(&app);
    assert_eq!((p.highlight_text.as_str(), p.highlight.as_ref().map(|r| r.as_str())), ("POST", Some("POST")));
    assert!(p.message.as_deref().is_some_and(|m| m.starts_with(r#"invalid highlight pattern "POST[": "#)));
}

#[test]
fn search_starts_at_the_first_visible_row() {
    let mut app = log_app();
    let top = pane(&app).follow.top;
    assert!(row_text(&draw(&app, &default_theme()), FIRST_TEXT_ROW).contains(JSON_WARN));
    key(&mut app, KeyCode::Char('s'));
    type_text(&mut app, "warn");
    key(&mut app, KeyCode::Enter);
    assert_eq!(pane(&app).search_hit(), Some(top), "the match on the first row comes first");
    key(&mut app, KeyCode::Char('n'));
    let next = pane(&app).search_hit().unwrap();
    let p = pane(&app);
    let line = p.view.entry_at(&p.store, next).and_then(Entry::into_line).unwrap();
    assert!(line.text.contains("retrying payment"), "{:?}", line.text);
    // a filter change keeps the hit where it still is shown
    key(&mut app, KeyCode::Char('x'));
    type_text(&mut app, "listening");
    key(&mut app, KeyCode::Enter);
    let p = pane(&app);
    assert_eq!(p.search_hit(), Some(next - 2));
}

#[test]
fn the_time_window_slides_with_the_clock() {
    let mut app = log_app();
    key(&mut app, KeyCode::Char('w'));
    assert!(row_text(&draw(&app, &default_theme()), STATUS_ROW).contains("last 1m"));
    assert_eq!(pane(&app).view.len(), 30, "all lines are of the last minute at 09:30:00");
    let nanos = |secs: i64| (now() + Duration::seconds(secs)).timestamp_nanos_opt().unwrap();
    let p = app.logs.as_mut().unwrap();
    assert!(!p.tick(nanos(0) + 400_000_000), "less than a second later: nothing to do");
    // 35 s later the window starts at 09:29:35.000: the 9 lines before it leave
    assert!(p.tick(nanos(35)));
    assert_eq!((p.view.len(), p.follow.following), (21, true));
    assert!(!p.tick(nanos(35) + 500_000_000));
    // without a window the clock changes nothing
    key(&mut app, KeyCode::Char('w'));
    while pane(&app).window != 0 {
        key(&mut app, KeyCode::Char('w'));
    }
    let p = app.logs.as_mut().unwrap();
    assert!(!p.tick(nanos(120)));
    assert_eq!(p.view.len(), 30);
}
