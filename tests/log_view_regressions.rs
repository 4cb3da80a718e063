//! Regression tests of the merged log view: each former bug of the view
//! (src/tui/logpane.rs, src/tui/view/logs.rs) as the behaviour a user expects, driven like
//! the snapshot tests in log_view_snapshots.rs, on the same fixture.

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/log_fixtures.rs"]
mod log_fixtures;
#[path = "support/screen.rs"]
mod screen;

use chrono::Duration;
use crossterm::event::KeyCode;
use fixtures::*;
use fleetdeck::logs::line::{Entry, Gap, GapReason};
use fleetdeck::tui::app::Msg;
use log_fixtures::*;
use ratatui::style::Modifier;
use screen::{assert_styled, buffer_text, default_theme, find_in_row, in_row_with, row_text, row_with};

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

#[test]
fn an_absolute_start_shows_lines_from_that_time_on_and_w_goes_back() {
    let mut app = log_app();
    assert_eq!(pane(&app).view.len(), 30);
    // S, a time of day in the zone the view shows (UTC here), enter
    key(&mut app, KeyCode::Char('S'));
    type_text(&mut app, "09:29:35");
    key(&mut app, KeyCode::Enter);
    // the 9 lines before 09:29:35 leave (as with a 35 s-old sliding start above)
    assert_eq!(pane(&app).view.len(), 21);
    let buf = draw(&app, &default_theme());
    assert!(row_text(&buf, STATUS_ROW).contains("from 09:29:35"), "{}", buffer_text(&buf));
    // an absolute start does not slide with the clock
    let later = (now() + Duration::seconds(600)).timestamp_nanos_opt().unwrap();
    assert!(!app.logs.as_mut().unwrap().tick(later));
    assert_eq!(pane(&app).view.len(), 21);
    // a bad time is reported and the start in force stays
    key(&mut app, KeyCode::Char('S'));
    // (the field is pre-filled with the start in force: clear it first)
    app.update(Msg::Action(fleetdeck::tui::action::Action::ClearFilter));
    type_text(&mut app, "half past nine");
    key(&mut app, KeyCode::Enter);
    assert!(pane(&app).message.as_deref().unwrap_or("").contains("cannot read"), "{:?}", pane(&app).message);
    assert_eq!(pane(&app).view.len(), 21);
    // w leaves the absolute start for the sliding windows (all lines again)
    key(&mut app, KeyCode::Char('w'));
    assert_eq!((pane(&app).since, pane(&app).window, pane(&app).view.len()), (None, 0, 30));
}

#[test]
fn paused_in_json_pretty_or_wrap_mode_the_window_stays_put_as_lines_arrive() {
    for mode in ['J', 'W'] {
        let mut app = log_app();
        key(&mut app, KeyCode::Char(mode));
        // scrolling up pauses
        key(&mut app, KeyCode::PageUp);
        assert!(!pane(&app).follow.following);
        let before: Vec<String> = text_rows(&draw(&app, &default_theme()));
        let late = (now() + Duration::seconds(1)).timestamp_nanos_opt().unwrap();
        let more: Vec<Entry> = (0..5)
            .map(|i| {
                Entry::Line(fleetdeck::logs::line::LogLine::new(
                    late + i,
                    0,
                    fleetdeck::logs::line::StreamKind::Stdout,
                    r#"{"level":"info","msg":"arrived while paused","n":1}"#,
                ))
            })
            .collect();
        app.update(Msg::Logs { entries: more, sources: None, dropped: 0 });
        let after: Vec<String> = text_rows(&draw(&app, &default_theme()));
        assert_eq!(before, after, "mode {mode}: the paused window moved");
    }
}

#[test]
fn help_over_the_log_view_keeps_its_session_and_returns_to_it() {
    let mut app = log_app();
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "GET");
    key(&mut app, KeyCode::Enter);
    let (lines, include, following) = (pane(&app).store.len(), pane(&app).include.clone(), pane(&app).follow.following);
    key(&mut app, KeyCode::Char('?'));
    assert_eq!(app.screen, fleetdeck::tui::app::Screen::Help);
    assert!(buffer_text(&draw(&app, &default_theme())).contains("Help"), "help is shown");
    // lines keep arriving behind help
    app.update(Msg::Logs { entries: vec![out(at(49, 990), 0, "GET /late 200")], sources: None, dropped: 0 });
    key(&mut app, KeyCode::Char('?'));
    assert_eq!(app.screen, fleetdeck::tui::app::Screen::Logs, "back to the log view");
    let p = pane(&app);
    assert_eq!((p.store.len(), &p.include, p.follow.following), (lines + 1, &include, following));
    // Esc from help goes back too
    key(&mut app, KeyCode::Char('?'));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.screen, fleetdeck::tui::app::Screen::Logs);
}

#[test]
fn a_time_window_asks_for_the_lines_before_the_buffer() {
    use fleetdeck::tui::msg::Effect;
    let mut app = log_app();
    let now = pane(&app).now;
    // w: last 1m, 5m, ...: each asks the session for the lines from its start
    let minute = 60 * 1_000_000_000;
    assert_eq!(key(&mut app, KeyCode::Char('w')), vec![Effect::BackfillLogs(pane(&app).now - minute)]);
    let now = pane(&app).now.max(now);
    assert_eq!(key(&mut app, KeyCode::Char('w')), vec![Effect::BackfillLogs(now - 5 * minute)]);
    // an absolute start typed with S, the same
    key(&mut app, KeyCode::Char('S'));
    type_text(&mut app, "2026-11-30T09:00:00Z");
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-30T09:00:00Z").unwrap().timestamp_nanos_opt().unwrap();
    assert_eq!(key(&mut app, KeyCode::Enter), vec![Effect::BackfillLogs(at)]);
    // back to all lines: nothing to read
    assert_eq!(key(&mut app, KeyCode::Char('w')), vec![]);
}
