//! Snapshot tests of the console's views, drawn on ratatui's `TestBackend` from a fixed,
//! deterministic fleet (see `support/fixtures.rs`). Each test stores the screen's text as an
//! insta snapshot and checks the colours of the cells that carry meaning (health labels,
//! host states, the selection, the protected banner) against the theme.
//!
//! Update the snapshots with `INSTA_UPDATE=always cargo test --test tui_snapshots`, then
//! read the changed `.snap` files.

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/screen.rs"]
mod screen;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fixtures::*;
use fleetdeck::ssh::Prompt;
use fleetdeck::tui::action::Action;
use fleetdeck::tui::app::{App, Msg, Screen};
use fleetdeck::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier, Style};
use screen::*;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn default_theme() -> Theme {
    let theme = screen::default_theme();
    assert_eq!(theme, Theme::default(), "Theme::load(None, None, false) is the embedded default");
    theme
}

fn draw_default(app: &App) -> (Buffer, Theme) {
    let theme = default_theme();
    (draw(app, &theme, 120, 32), theme)
}

fn key(app: &mut App, code: KeyCode) {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn act(app: &mut App, action: Action) {
    app.update(Msg::Action(action));
}

fn expanded_app() -> App {
    let mut app = app();
    act(&mut app, Action::ExpandAll);
    app
}

/// The health labels every row of the expanded fixture must show, in the theme's colours.
#[track_caller]
fn assert_expanded_health_colours(buf: &Buffer, theme: &Theme) {
    assert_word_style(buf, "host-1/shop-web-1", "healthy", theme.healthy);
    assert_word_style(buf, "host-2/shop-web-2", "unhealthy", theme.unhealthy);
    assert_word_style(buf, "host-3/shop-api-1", "degraded", theme.degraded);
    assert_word_style(buf, "host-3/shop-worker-1", "down", theme.down);
    let (x, y) = word_in_row_with(buf, "host-3/shop-worker-1", "exited");
    let (x, y) = (find_word_in_row(buf, y, "exited", x + 1).expect("the reason after the state"), y);
    assert_styled(buf, (x, y), "exited (137)", theme.down);
    assert_word_style(buf, "▾ api", "degraded", theme.degraded);
    assert_word_style(buf, "▾ worker", "down", theme.down);
    // the service rows of the three services, in profile order
    let web = row_with(buf, "▾ web");
    let api = row_with(buf, "▾ api");
    let worker = row_with(buf, "▾ worker");
    assert!(web < api && api < worker, "services in profile order");
}

// ---------------------------------------------------------------------------------------
// 1. Dashboard, collapsed
// ---------------------------------------------------------------------------------------

#[test]
fn dashboard_collapsed() {
    let app = app();
    let (buf, theme) = draw_default(&app);
    let text = buffer_text(&buf);
    insta::assert_snapshot!("dashboard_collapsed", text);

    // title bar: 3/3 hosts connected (healthy), 0/3 services healthy (degraded)
    assert_styled(&buf, find_word(&buf, "fleetdeck"), "fleetdeck", theme.title);
    let (x, y) = find_word(&buf, "3/3");
    assert_styled(&buf, (x, y), "3/3 hosts", theme.healthy);
    assert_styled(&buf, find_word(&buf, "0/3"), "0/3 services healthy", theme.degraded);

    // hosts: all connected, in green
    for host in ["host-1", "host-2", "host-3"] {
        assert_word_style(&buf, host, "connected", theme.healthy);
    }
    assert!(text.contains("docker 27.3.1"));

    // services: the first (web) is selected; the others show their rollup in colour
    let web = row_with(&buf, "▸ web");
    assert_row_selected(&buf, web, &theme);
    assert_styled(&buf, find_word_in_row(&buf, web, "web", 0).map(|x| (x, web)).unwrap(), "web", theme.selection);
    assert!(row_text(&buf, web).contains("1/2"), "web: 1 of 2 replicas healthy");
    assert_word_style(&buf, "▸ api", "degraded", theme.degraded);
    assert_word_style(&buf, "▸ api", "0/1", Style::default().fg(theme.degraded.fg.unwrap()));
    assert_word_style(&buf, "▸ worker", "down", theme.down);
    assert_word_style(&buf, "▸ worker", "0/1", Style::default().fg(theme.down.fg.unwrap()));
    // no replica rows while collapsed
    assert!(!text.contains("shop-web-1"));

    // the hint bar
    let hints = row_text(&buf, 31);
    assert!(hints.contains(" q  quit ") && hints.contains("filter"), "hint bar: {hints:?}");
    assert_styled(&buf, (0, 31), " q ", theme.hint_key);
}

// ---------------------------------------------------------------------------------------
// 2. Dashboard, every service expanded
// ---------------------------------------------------------------------------------------

#[test]
fn dashboard_expanded() {
    let app = expanded_app();
    let (buf, theme) = draw_default(&app);
    let text = buffer_text(&buf);
    insta::assert_snapshot!("dashboard_expanded", text);

    assert_expanded_health_colours(&buf, &theme);
    // the selection stays on the web service row
    assert_row_selected(&buf, row_with(&buf, "▾ web"), &theme);
    // the exited container: its Docker state is shown, nothing claims it is up
    assert_word_style(&buf, "host-3/shop-worker-1", "exited", theme.muted);
    // the unhealthy replica's reason is in the unhealthy colour
    assert_word_style(&buf, "host-2/shop-web-2", "healthcheck", theme.unhealthy);
    // usage and uptimes from the fixed clock
    let web1 = row_text(&buf, row_with(&buf, "host-1/shop-web-1"));
    assert!(web1.contains("12.5%") && web1.contains("180M") && web1.contains(" 3d "), "{web1:?}");
    let web2 = row_text(&buf, row_with(&buf, "host-2/shop-web-2"));
    assert!(web2.contains("97.3%") && web2.contains("412M") && web2.contains(" 2h "), "{web2:?}");
    let api = row_text(&buf, row_with(&buf, "host-3/shop-api-1"));
    assert!(api.contains(" 45m "), "{api:?}");
}

/// The most common terminal size. The fixed-width columns are squeezed here (today container
/// names are cut to "host-1/" and images lose their tag without an ellipsis; that is a known
/// layout problem of `dashboard.rs`); the health of every row must still be readable and
/// coloured.
#[test]
fn dashboard_expanded_80x24() {
    let app = expanded_app();
    let theme = default_theme();
    let buf = draw(&app, &theme, 80, 24);
    insta::assert_snapshot!("dashboard_expanded_80x24", buffer_text(&buf));

    let header = row_with(&buf, "REPLICAS");
    let health_x = find_word_in_row(&buf, header, "HEALTH", 0).unwrap();
    let expected = [
        ("degraded", theme.degraded),
        ("healthy", theme.healthy),
        ("unhealthy", theme.unhealthy),
        ("degraded", theme.degraded),
        ("degraded", theme.degraded),
        ("down", theme.down),
        ("down", theme.down),
    ];
    for (i, (label, style)) in expected.iter().enumerate() {
        let y = header + 1 + i as u16;
        assert_eq!(find_word_in_row(&buf, y, label, health_x), Some(health_x), "row {y}: {:?}", row_text(&buf, y));
        if i > 0 {
            assert_styled(&buf, (health_x, y), label, *style);
        }
    }
    assert_row_selected(&buf, header + 1, &theme);
    assert!(row_text(&buf, 23).starts_with(" q  quit "));
}

// ---------------------------------------------------------------------------------------
// 3. Dashboard, filtered by typing
// ---------------------------------------------------------------------------------------

#[test]
fn dashboard_filtered() {
    let mut app = app();
    act(&mut app, Action::Filter);
    // "-" is collapse_all on the dashboard, but in the filter it is text
    type_text(&mut app, "host-3");
    assert_eq!(app.filter.value, "host-3");
    assert!(app.filter_editing);
    let (buf, theme) = draw_default(&app);
    let text = buffer_text(&buf);
    insta::assert_snapshot!("dashboard_filtered", text);

    // title shows the filter
    let (x, y) = find_word(&buf, "filter");
    assert_eq!(y, 0, "the filter is shown in the title bar");
    assert_styled(&buf, (x, y), "filter: host-3", theme.filter_match);
    // only host-3's services, opened to the matching replicas
    assert!(!text.contains("▸ web") && !text.contains("▾ web"), "web has nothing on host-3");
    assert!(text.contains("▾ api") && text.contains("▾ worker"));
    assert_word_style(&buf, "host-3/shop-api-1", "degraded", theme.degraded);
    assert_word_style(&buf, "host-3/shop-worker-1", "down", theme.down);
    assert_row_selected(&buf, row_with(&buf, "▾ api"), &theme);
    // the hint bar is the filter's: confirm / cancel, no global keys (q types a q)
    let hints = row_text(&buf, 31);
    assert!(hints.contains("ok") && hints.contains("cancel") && !hints.contains("quit"), "{hints:?}");
}

// ---------------------------------------------------------------------------------------
// 4. Dashboard with a reconnecting host and a host whose key changed
// ---------------------------------------------------------------------------------------

#[test]
fn dashboard_troubled_hosts() {
    let mut app = app_with(false, troubled_fleet());
    act(&mut app, Action::ExpandAll);
    let (buf, theme) = draw_default(&app);
    let text = buffer_text(&buf);
    insta::assert_snapshot!("dashboard_troubled_hosts", text);

    assert_word_style(&buf, "host-1", "connected", theme.healthy);
    let (x, y) = word_in_row_with(&buf, "host-3", "reconnecting");
    assert_styled(&buf, (x, y), "reconnecting #3 42s", theme.degraded);
    let (x, y) = word_in_row_with(&buf, "host-2", "host");
    let (x, y) = (find_word_in_row(&buf, y, "host", x + 1).unwrap(), y); // skip the name "host-2"
    assert_styled(&buf, (x, y), "host key changed", theme.unhealthy);
    // the errors that explain them are visible, in the error colour
    // (the DETAIL column is narrow: only the start of each message fits, see the report)
    let (address, y) = word_in_row_with(&buf, "host-3", "10.0.0.13");
    let x = find_word_in_row(&buf, y, "10.0.0.13", address + 1).expect("the error after the address");
    let row = row_text(&buf, y);
    // the DETAIL column ends the message with "…" where it is cut
    let shown = row[row.find("10.0.0.13:22 is").unwrap()..].trim_end_matches(['│', ' ', '…']);
    assert!(shown.len() >= 20 && RECONNECT_ERROR.starts_with(shown), "{shown:?}");
    assert_styled(&buf, (x, y), shown, theme.error);
    let (x, y) = word_in_row_with(&buf, "host-2", "HOST");
    let error = host_key_changed_error();
    let row = row_text(&buf, y);
    let shown = row[row.find("HOST KEY").unwrap()..].trim_end_matches(['│', ' ', '…']);
    assert!(shown.len() >= 20 && error.starts_with(shown), "{shown:?}");
    assert_styled(&buf, (x, y), shown, theme.error);
    // the title counts the connected hosts
    assert_styled(&buf, find_word(&buf, "1/3"), "1/3 hosts", theme.degraded);
    // containers on unreachable hosts are "unknown" (stale), not their last health
    assert_word_style(&buf, "host-2/shop-web-2", "unknown", theme.unknown);
    assert_word_style(&buf, "host-3/shop-api-1", "unknown", theme.unknown);
    assert_word_style(&buf, "host-3/shop-worker-1", "unknown", theme.unknown);
    assert_word_style(&buf, "host-1/shop-web-1", "healthy", theme.healthy);
}

// ---------------------------------------------------------------------------------------
// 5. Container detail
// ---------------------------------------------------------------------------------------

#[test]
fn container_detail_web() {
    let mut app = app();
    act(&mut app, Action::Open); // web has two replicas: opening expands it
    assert!(app.expanded.contains("web"));
    act(&mut app, Action::Down); // host-1's replica
    act(&mut app, Action::Open);
    assert_eq!(app.screen, Screen::Detail { host: 0, container: WEB_1.into() });
    let (buf, theme) = draw_default(&app);
    let text = buffer_text(&buf);
    insta::assert_snapshot!("container_detail_web", text);

    assert!(text.contains(" shop-web-1 on host-1 "), "title names container and host");
    assert_word_style(&buf, "verdict", "healthy", theme.healthy);
    assert_word_style(&buf, "probe health", "healthy", theme.healthy);
    assert!(text.contains("│started       2026-03-11 05:30:00 UTC (3d ago)"), "fixed clock");
    assert_word_style(&buf, "healthcheck", "healthy", Style::new());
    // the probe body is pretty-printed JSON, not the raw one-liner
    assert!(!text.contains(WEB_PROBE_BODY));
    let body = [r#"{"#, r#"  "checks": {"#, r#"    "cache": "up","#, r#"    "database": "up""#, r#"  },"#];
    let first = row_with(&buf, &format!("│{}{{", " ".repeat(14)));
    for (i, line) in body.iter().enumerate() {
        let row = row_text(&buf, first + i as u16);
        assert!(row.starts_with(&format!("│{}{line}", " ".repeat(14))), "body line {i}: {row:?}\n{text}");
    }
    // the hint bar is the detail's: back, no dashboard keys
    let hints = row_text(&buf, 31);
    assert!(hints.contains("back") && !hints.contains("filter"), "{hints:?}");

    // the environment is at the end: scroll down to it (scrolling stops at the end of the
    // text, so the app must know the terminal's size)
    app.update(Msg::Resize(120, 32));
    for _ in 0..5 {
        key(&mut app, KeyCode::Char('j'));
    }
    assert_eq!(app.scroll, 5);
    let buf = draw(&app, &theme, 120, 32);
    let text = buffer_text(&buf);
    insta::assert_snapshot!("container_detail_web_environment", text);
    // secrets masked, the rest shown
    assert!(text.contains("│  DB_PASSWORD=••••••") && text.contains("│  API_TOKEN=••••••"), "{text}");
    assert!(text.contains("│  PORT=8080"), "{text}");
    let (x, y) = word_in_row_with(&buf, "DB_PASSWORD=", "DB_PASSWORD");
    assert_styled(&buf, (x + "DB_PASSWORD=".len() as u16, y), "••••••", theme.masked);
    let (x, y) = word_in_row_with(&buf, "API_TOKEN=", "API_TOKEN");
    assert_styled(&buf, (x + "API_TOKEN=".len() as u16, y), "••••••", theme.masked);
    assert_styled(&buf, (x, y), "API_TOKEN=", theme.muted);
    assert_word_style(&buf, "PORT=", "8080", theme.base);
    // at no scroll position does a secret reach the screen
    for scroll in 0..40 {
        app.scroll = scroll;
        let text = buffer_text(&draw(&app, &theme, 120, 32));
        assert!(!text.contains("hunter2"), "DB_PASSWORD's value is on screen:\n{text}");
        assert!(!text.contains("=abc"), "API_TOKEN's value is on screen:\n{text}");
    }
}

#[test]
fn container_detail_api_degraded() {
    let mut app = app();
    act(&mut app, Action::Down); // api: one replica, opens directly
    act(&mut app, Action::Open);
    assert_eq!(app.screen, Screen::Detail { host: 2, container: API_1.into() });
    let (buf, theme) = draw_default(&app);
    let text = buffer_text(&buf);
    insta::assert_snapshot!("container_detail_api_degraded", text);

    assert_word_style(&buf, "verdict", "degraded", theme.degraded);
    assert!(row_text(&buf, row_with(&buf, "verdict")).contains("probe health: degraded"));
    assert_word_style(&buf, "probe health", "degraded", theme.degraded);
    assert!(!text.contains(API_PROBE_BODY));
    assert!(text.contains(r#"    "redis": "down""#) && text.contains(r#"  "status": "degraded""#), "{text}");
}

// ---------------------------------------------------------------------------------------
// 6. Help
// ---------------------------------------------------------------------------------------

#[test]
fn help_screen() {
    let mut app = app();
    act(&mut app, Action::Help);
    assert_eq!(app.screen, Screen::Help);
    let (buf, theme) = draw_default(&app);
    let text = buffer_text(&buf);
    insta::assert_snapshot!("help_screen", text);

    assert!(text.contains(" Help: keys "));
    assert_styled(&buf, find_word(&buf, "global"), "global", theme.title);
    assert_styled(&buf, find_word(&buf, "dashboard"), "dashboard", theme.title);
    let (x, y) = word_in_row_with(&buf, "Quit fleetdeck", "quit");
    assert_styled(&buf, (x, y), "quit", theme.muted);
    assert_styled(&buf, (2, y), "q", theme.accent);
    assert!(text.contains("ctrl-c") && text.contains("Quit now"), "a binding's own desc is shown");
    assert!(row_text(&buf, 31).contains("back"));
}

// ---------------------------------------------------------------------------------------
// 7. Command palette
// ---------------------------------------------------------------------------------------

#[test]
fn command_palette_query() {
    let mut app = app();
    act(&mut app, Action::Palette);
    type_text(&mut app, "exp");
    assert_eq!(app.palette.as_ref().unwrap().input.value, "exp");
    let first = app.palette_items()[0].name;
    assert_eq!(first, "expand", "the best match for \"exp\"");
    let (buf, theme) = draw_default(&app);
    let text = buffer_text(&buf);
    insta::assert_snapshot!("command_palette_query", text);

    assert!(text.contains(" Command "));
    let (x, y) = find_word(&buf, "exp");
    assert!(row_text(&buf, y).contains(": exp▏"), "the query line: {:?}", row_text(&buf, y));
    assert_styled(&buf, (x - 2, y), ":", theme.accent);
    // the first (best) item is highlighted with the selection style, the next one is not
    let (x, y) = find_word(&buf, first);
    assert_eq!(y, find_word(&buf, "exp").1 + 1, "the best match is right under the query");
    assert_styled(&buf, (x, y), first, theme.selection);
    assert_eq!(buf[(x + 30, y)].bg, theme.selection.bg.unwrap(), "the whole item is highlighted");
    assert_ne!(buf[(x, y + 1)].bg, theme.selection.bg.unwrap(), "only the first item is highlighted");
    // commands that do not match are left out
    assert!(!text.contains("toggle_log") && !text.contains("quit "), "{text}");
}

// ---------------------------------------------------------------------------------------
// 8. Host-key prompt
// ---------------------------------------------------------------------------------------

#[test]
fn host_key_prompt() {
    let mut app = app();
    let (reply, mut answer) = tokio::sync::oneshot::channel();
    let fingerprint = "SHA256:Zp2mV7yT0cQe4Lr8Nw1bKx6Hs3Ga9Fu5Dj2Oi7Ek4Ml";
    app.update(Msg::Prompt(Prompt::HostKey {
        host: "host-2".into(),
        addr: "10.0.0.12:22".into(),
        fingerprint: fingerprint.into(),
        reply,
    }));
    let (buf, theme) = draw_default(&app);
    let text = buffer_text(&buf);
    insta::assert_snapshot!("host_key_prompt", text);

    assert!(text.contains(" Unknown host key "));
    assert!(text.contains("host-2 (10.0.0.12:22) is not in known_hosts."));
    assert_styled(&buf, find_word(&buf, "SHA256"), fingerprint, theme.accent);
    let (x, y) = find_word(&buf, "Unknown");
    assert_styled(&buf, (x, y), "Unknown host key", theme.warning);
    let hints = row_text(&buf, 31);
    assert!(hints.contains("ok") && hints.contains("cancel") && !hints.contains("quit"), "{hints:?}");
    // answering closes it and replies
    key(&mut app, KeyCode::Char('y'));
    assert!(app.prompts.is_empty());
    assert_eq!(answer.try_recv(), Ok(true));
}

// ---------------------------------------------------------------------------------------
// 9. Protected profile
// ---------------------------------------------------------------------------------------

#[test]
fn protected_banner() {
    let app = app_with(true, fleet());
    let (buf, theme) = draw_default(&app);
    let text = buffer_text(&buf);
    insta::assert_snapshot!("protected_banner", text);

    assert_eq!(row_text(&buf, 1), " PROTECTED · shop-prod · changes need a typed confirmation");
    let bg = theme.protected_banner.bg.unwrap();
    for x in 0..buf.area.width {
        assert_eq!(buf[(x, 1)].bg, bg, "banner bg at ({x},1)");
    }
    assert_styled(&buf, (1, 1), "PROTECTED", theme.protected_banner);
    // the dashboard moved down one row, nothing lost
    assert!(row_text(&buf, 2).starts_with("┌ Hosts (3) "));
    assert!(text.contains("▸ worker"));
}

// ---------------------------------------------------------------------------------------
// 10. Other themes: light and NO_COLOR
// ---------------------------------------------------------------------------------------

#[test]
fn light_theme() {
    let app = expanded_app();
    let light = Theme::load(Some("light"), None, false).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(light, default_theme());
    let buf = draw(&app, &light, 120, 32);
    // same layout and text as the default theme
    assert_eq!(buffer_text(&buf), buffer_text(&draw(&app, &default_theme(), 120, 32)));
    insta::assert_snapshot!("dashboard_expanded_light", buffer_text(&buf));

    assert_expanded_health_colours(&buf, &light);
    assert_eq!(light.healthy.fg, Some(Color::Indexed(28)), "the light theme's own colours are used");
    assert_row_selected(&buf, row_with(&buf, "▾ web"), &light);
    assert_word_style(&buf, "host-1", "connected", light.healthy);
}

#[test]
fn no_color_theme() {
    let app = expanded_app();
    let theme = Theme::load(None, None, true).unwrap_or_else(|e| panic!("{e}"));
    let buf = draw(&app, &theme, 120, 32);
    assert_eq!(buffer_text(&buf), buffer_text(&draw(&app, &default_theme(), 120, 32)));
    insta::assert_snapshot!("dashboard_expanded_no_color", buffer_text(&buf));

    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let c = &buf[(x, y)];
            assert_eq!((c.fg, c.bg), (Color::Reset, Color::Reset), "colour at ({x},{y}) in {:?}", row_text(&buf, y));
        }
    }
    // the selected row is still visible: reversed (and bold) across the row
    let web = row_with(&buf, "▾ web");
    for x in 1..buf.area.width - 1 {
        let m = buf[(x, web)].modifier;
        assert!(m.contains(Modifier::REVERSED), "selected row not reversed at ({x},{web}): {m:?}");
    }
    let api = row_with(&buf, "▾ api");
    assert!(!buf[(1, api)].modifier.contains(Modifier::REVERSED), "unselected rows are not reversed");
    // what colour alone said is now bold: unhealthy and degraded
    assert_word_style(&buf, "host-2/shop-web-2", "unhealthy", Style::new().add_modifier(Modifier::BOLD));
    assert_word_style(&buf, "host-3/shop-api-1", "degraded", Style::new().add_modifier(Modifier::BOLD));
    // hint keys are reversed
    assert!(buf[(1, 31)].modifier.contains(Modifier::REVERSED), "hint key not reversed");
}

// ---------------------------------------------------------------------------------------
// 11. Tiny terminal
// ---------------------------------------------------------------------------------------

#[test]
fn tiny_terminal() {
    let theme = default_theme();
    for app in [app(), expanded_app(), app_with(true, troubled_fleet())] {
        let buf = draw(&app, &theme, 40, 10);
        let hints = row_text(&buf, 9);
        assert!(hints.starts_with(" q  quit "), "hint bar on the last line: {hints:?}");
    }
    let buf = draw(&app(), &theme, 40, 10);
    insta::assert_snapshot!("tiny_terminal", buffer_text(&buf));
    assert_styled(&buf, (0, 9), " q ", theme.hint_key);

    // other screens and overlays at tiny sizes: no panic
    let mut detail = app();
    act(&mut detail, Action::Down);
    act(&mut detail, Action::Open);
    let mut help = app();
    act(&mut help, Action::Help);
    let mut palette = app();
    act(&mut palette, Action::Palette);
    let mut prompt = app();
    let (reply, _rx) = tokio::sync::oneshot::channel();
    prompt.update(Msg::Prompt(Prompt::HostKey {
        host: "host-2".into(),
        addr: "10.0.0.12:22".into(),
        fingerprint: "SHA256:x".into(),
        reply,
    }));
    for app in [&detail, &help, &palette, &prompt] {
        for (w, h) in [(40, 10), (20, 5), (1, 1), (120, 3)] {
            draw(app, &theme, w, h);
        }
    }
}

#[test]
fn usage_samples_that_change_nothing_shown_do_not_redraw() {
    use fleetdeck::fleet::model::{FleetEvent, HostEvent};
    let mut app = app();
    let sample = |app: &App, bump_mem: u64, bump_cpu: f64| {
        let mut usage = app.fleet.hosts[0].usage.clone();
        for u in usage.values_mut() {
            u.mem_bytes += bump_mem;
            u.cpu_percent += bump_cpu;
        }
        Msg::Fleet(FleetEvent { host: 0, generation: 1, event: HostEvent::Usage(usage) })
    };
    assert!(!app.fleet.hosts[0].usage.is_empty(), "the fixture has usage on host-1");
    app.dirty = false;
    // a few bytes more memory: the same "340M" on screen
    app.update(sample(&app, 3, 0.0));
    assert!(!app.dirty, "nothing shown changed: no redraw");
    // a visible CPU change redraws
    app.update(sample(&app, 0, 1.0));
    assert!(app.dirty, "the CPU column changed: redraw");
    // the detail view shows more: every sample redraws there
    app.screen = Screen::Detail { host: 0, container: WEB_1.into() };
    app.dirty = false;
    app.update(sample(&app, 3, 0.0));
    assert!(app.dirty, "the detail view redraws on every sample");
}
