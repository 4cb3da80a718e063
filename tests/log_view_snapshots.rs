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
#[path = "support/log_fixtures.rs"]
mod log_fixtures;
#[path = "support/screen.rs"]
mod screen;

use crossterm::event::KeyCode;
use fleetdeck::logs::line::{Entry, Gap, GapReason};
use fleetdeck::logs::source::SourceState;
use fleetdeck::tui::app::{Effect, Msg};
use fleetdeck::tui::theme::Theme;
use log_fixtures::*;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier, Style};
use screen::{assert_styled, buffer_text, default_theme, find_in_row, in_row_with, row_text, row_with};

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

#[test]
fn a_queued_source_says_why_it_shows_nothing() {
    let mut app = log_app();
    let theme = default_theme();
    let mut s = sources();
    s[1].state = SourceState::Queued;
    app.update(Msg::Logs { entries: vec![], sources: Some(s), dropped: 0 });
    let buf = draw(&app, &theme);
    let (x, y) = in_row_with(&buf, "queued", "◌ queued: no free SSH channel");
    assert_eq!(y, SOURCES_ROW);
    assert_styled(&buf, (x, y), "◌ queued: no free SSH channel", theme.degraded);
}

#[test]
fn highlight_and_search_marks_keep_the_lines_ansi_colours() {
    let mut app = log_app();
    let theme = default_theme();
    // highlight a word after the coloured one, and one inside it
    key(&mut app, KeyCode::Char('H'));
    type_text(&mut app, "declined|RRO");
    key(&mut app, KeyCode::Enter);
    let buf = draw(&app, &theme);
    let (x, y) = in_row_with(&buf, "payment declined", "ERROR payment");
    let red = Style::new().fg(Color::Indexed(1)).add_modifier(Modifier::BOLD);
    assert_styled(&buf, (x, y), "E", red);
    assert_styled(&buf, (x + 1, y), "RRO", theme.filter_match.add_modifier(Modifier::BOLD));
    assert_styled(&buf, (x + 4, y), "R", red);
    assert_styled(&buf, (x + 6, y), "payment", theme.base);
    assert_styled(&buf, (x + 14, y), "declined", theme.filter_match.add_modifier(Modifier::BOLD));
    // the other coloured line, without a match, keeps its colour too
    let (x, y) = in_row_with(&buf, "request completed", "INFO request completed");
    assert_styled(&buf, (x, y), "INFO", Style::new().fg(Color::Indexed(2)));
}
