//! The data files shipped with fleetdeck (keymaps, themes, the example profile) and the
//! error messages for broken configuration files.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fleetdeck::config::Profile;
use fleetdeck::fleet::health::Health;
use fleetdeck::tui::action::{Action, Context, REGISTRY};
use fleetdeck::tui::keymap::{KeyResolution, Keymap};
use fleetdeck::tui::theme::Theme;
use ratatui::style::{Color, Modifier};
use std::path::{Path, PathBuf};
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// Keymaps
// ---------------------------------------------------------------------------------------

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn act(a: Action) -> KeyResolution {
    KeyResolution::Action(a)
}

#[test]
fn embedded_keymaps_parse() {
    let names: Vec<_> = Keymap::embedded_names().collect();
    assert_eq!(names, ["default", "k9s", "vim"]);
    for name in names {
        let source = Keymap::embedded(name).unwrap();
        let file = Keymap::parse(Path::new(name), source).unwrap_or_else(|e| panic!("{name}:\n{e}"));
        assert!(!file.bindings.is_empty(), "{name}");
        Keymap::load(Some(name), None).unwrap_or_else(|e| panic!("{name}:\n{e}"));
    }
    assert!(Keymap::embedded("emacs").is_none());
}

#[test]
fn every_action_is_bound_in_every_keymap() {
    for name in ["default", "k9s", "vim"] {
        let km = Keymap::load(Some(name), None).unwrap();
        for info in REGISTRY {
            let bound: Vec<_> = info.contexts.iter().filter(|c| !km.keys_for(**c, info.action).is_empty()).collect();
            assert!(!bound.is_empty(), "{name}: action {:?} has no key in {:?}", info.name, info.contexts);
        }
    }
    // The default file on its own binds every action, too.
    let file = Keymap::parse(Path::new("default"), Keymap::embedded("default").unwrap()).unwrap();
    for info in REGISTRY {
        assert!(file.bindings.iter().any(|b| b.action == Some(info.action)), "{}", info.name);
    }
}

#[test]
fn input_contexts_can_confirm_cancel_and_move() {
    for name in ["default", "k9s", "vim"] {
        let km = Keymap::load(Some(name), None).unwrap();
        assert_eq!(km.keys_for(Context::Prompt, Action::Confirm), ["y", "enter"], "{name}");
        assert_eq!(km.keys_for(Context::Prompt, Action::Cancel), ["n", "esc"], "{name}");
        for ctx in [Context::Palette, Context::Filter] {
            assert!(km.keys_for(ctx, Action::Confirm).contains(&"enter".to_string()), "{name} {ctx:?}");
            assert!(km.keys_for(ctx, Action::Cancel).contains(&"esc".to_string()), "{name} {ctx:?}");
        }
        assert!(km.keys_for(Context::Palette, Action::Up).contains(&"↑".to_string()), "{name}");
        assert!(km.keys_for(Context::Palette, Action::Down).contains(&"↓".to_string()), "{name}");
    }
}

#[test]
fn resolve_single_keys_and_global_fallback() {
    let mut km = Keymap::load(None, None).unwrap();
    assert_eq!(km.resolve(Context::Dashboard, key('j')), act(Action::Down));
    assert_eq!(km.resolve(Context::Dashboard, code(KeyCode::Down)), act(Action::Down));
    assert_eq!(km.resolve(Context::Dashboard, code(KeyCode::Enter)), act(Action::Open));
    assert_eq!(km.resolve(Context::Dashboard, key(' ')), act(Action::ToggleExpand));
    assert_eq!(km.resolve(Context::Dashboard, code(KeyCode::Tab)), act(Action::FocusNext));
    assert_eq!(km.resolve(Context::Dashboard, key('x')), KeyResolution::Unbound);
    // 'G' arrives with or without SHIFT depending on the terminal.
    assert_eq!(km.resolve(Context::Dashboard, key('G')), act(Action::Bottom));
    let shift_g = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
    assert_eq!(km.resolve(Context::Dashboard, shift_g), act(Action::Bottom));
    // Global fallback.
    assert_eq!(km.resolve(Context::Dashboard, key('q')), act(Action::Quit));
    assert_eq!(km.resolve(Context::Detail, key('?')), act(Action::Help));
    assert_eq!(km.resolve(Context::Dashboard, ctrl('c')), act(Action::Quit));
    // A context's own binding wins over the global one.
    assert_eq!(km.resolve(Context::Help, key('q')), act(Action::Back));
    assert_eq!(km.resolve(Context::Help, key('?')), act(Action::Back));
    // In text inputs plain characters are text, not global keys; ctrl keys still work.
    assert_eq!(km.resolve(Context::Filter, key('q')), KeyResolution::Unbound);
    assert_eq!(km.resolve(Context::Palette, key(':')), KeyResolution::Unbound);
    assert_eq!(km.resolve(Context::Filter, ctrl('c')), act(Action::Quit));
    assert_eq!(km.resolve(Context::Prompt, key('y')), act(Action::Confirm));
    assert_eq!(km.resolve(Context::Prompt, code(KeyCode::Esc)), act(Action::Cancel));
    // A passphrase field takes every printable character, even bound ones.
    assert_eq!(km.resolve_typing(Context::Prompt, key('y')), KeyResolution::Unbound);
    assert_eq!(km.resolve_typing(Context::Prompt, key('n')), KeyResolution::Unbound);
    assert_eq!(km.resolve_typing(Context::Prompt, code(KeyCode::Enter)), act(Action::Confirm));
    assert_eq!(km.resolve_typing(Context::Prompt, ctrl('c')), act(Action::Quit));
}

#[test]
fn resolve_sequences() {
    let mut km = Keymap::load(Some("vim"), None).unwrap();
    assert_eq!(km.resolve(Context::Dashboard, key('g')), KeyResolution::Pending);
    assert_eq!(km.pending().as_deref(), Some("g"));
    assert_eq!(km.resolve(Context::Dashboard, key('g')), act(Action::Top));
    assert_eq!(km.pending(), None);
    assert_eq!(km.resolve(Context::Dashboard, key('z')), KeyResolution::Pending);
    assert_eq!(km.resolve(Context::Dashboard, key('a')), act(Action::ToggleExpand));
    assert_eq!(km.resolve(Context::Dashboard, key('z')), KeyResolution::Pending);
    assert_eq!(km.resolve(Context::Dashboard, key('R')), act(Action::ExpandAll));
    // A key that breaks a sequence is resolved on its own.
    assert_eq!(km.resolve(Context::Dashboard, key('g')), KeyResolution::Pending);
    assert_eq!(km.resolve(Context::Dashboard, key('j')), act(Action::Down));
    assert_eq!(km.resolve(Context::Dashboard, key('g')), KeyResolution::Pending);
    assert_eq!(km.resolve(Context::Dashboard, key('x')), KeyResolution::Unbound);
    assert_eq!(km.pending(), None);
    // Global sequences work from every context; a context switch drops the buffer.
    assert_eq!(km.resolve(Context::Detail, key('Z')), KeyResolution::Pending);
    assert_eq!(km.resolve(Context::Detail, key('Z')), act(Action::Quit));
    assert_eq!(km.resolve(Context::Detail, key('g')), KeyResolution::Pending);
    assert_eq!(km.resolve(Context::Dashboard, key('g')), KeyResolution::Pending);
    assert_eq!(km.resolve(Context::Dashboard, key('g')), act(Action::Top));
    assert_eq!(km.keys_for(Context::Dashboard, Action::Top), ["home", "g g"]);
    assert_eq!(km.keys_for(Context::Dashboard, Action::ToggleExpand), ["space", "z a"]);
}

#[test]
fn k9s_keys() {
    let mut km = Keymap::load(Some("k9s"), None).unwrap();
    assert_eq!(km.resolve(Context::Dashboard, key('d')), act(Action::Open));
    // k9s: l shows the logs of the selection (from the dashboard and a container's details)
    assert_eq!(km.resolve(Context::Dashboard, key('l')), act(Action::OpenLogs));
    assert_eq!(km.resolve(Context::Detail, key('l')), act(Action::OpenLogs));
    assert_eq!(km.resolve(Context::Detail, key('q')), act(Action::Back));
    assert_eq!(km.resolve(Context::Dashboard, ctrl('r')), act(Action::RetryHost));
    assert_eq!(km.resolve(Context::Dashboard, key(':')), act(Action::Palette));
    assert_eq!(km.resolve(Context::Dashboard, key('/')), act(Action::Filter));
    assert_eq!(km.resolve(Context::Detail, code(KeyCode::Esc)), act(Action::Back));
    assert_eq!(km.resolve(Context::Log, ctrl('c')), act(Action::Quit));
}

#[test]
fn keys_and_help_entries_for_display() {
    let km = Keymap::load(None, None).unwrap();
    assert_eq!(km.keys_for(Context::Dashboard, Action::Down), ["↓", "j"]);
    assert_eq!(km.keys_for(Context::Dashboard, Action::Quit), ["q", "ctrl-c"]);
    assert_eq!(km.keys_for(Context::Help, Action::Quit), ["ctrl-c"], "q closes the help");
    assert_eq!(km.keys_for(Context::Filter, Action::Help), ["f1"], "? is text in the filter");
    assert_eq!(km.keys_for(Context::Global, Action::Palette), [":", "ctrl-p"]);
    let global = km.bindings(Context::Global);
    assert_eq!(global[0], ("q".to_string(), Action::Quit, "Quit fleetdeck".to_string()));
    assert_eq!(global[1], ("ctrl-c".to_string(), Action::Quit, "Quit now".to_string()));
    let dash = km.bindings(Context::Dashboard);
    let order: Vec<usize> =
        dash.iter().map(|(_, a, _)| REGISTRY.iter().position(|i| i.action == *a).unwrap()).collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "registry order");
    assert!(dash.contains(&("↓, j".to_string(), Action::Down, "Move down".to_string())));
    let help = km.bindings(Context::Help);
    assert!(help.contains(&("esc, q, ?".to_string(), Action::Back, "Close the help".to_string())));
}

#[test]
fn user_overlay_rebinds_and_unbinds() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("keymap.toml"),
        "[global]\nkeys = [\n  { on = \"x\", run = \"quit\" },\n  { on = \"q\", run = \"noop\" },\n]\n\
         [dashboard]\nkeys = [ { on = \"j\", run = \"up\", desc = \"Up, reversed\" } ]\n",
    )
    .unwrap();
    let mut km = Keymap::load(None, Some(dir.path())).unwrap();
    assert_eq!(km.resolve(Context::Dashboard, key('x')), act(Action::Quit));
    assert_eq!(km.resolve(Context::Dashboard, key('q')), KeyResolution::Unbound);
    assert_eq!(km.resolve(Context::Dashboard, key('j')), act(Action::Up));
    assert_eq!(km.resolve(Context::Dashboard, code(KeyCode::Down)), act(Action::Down));
    assert_eq!(km.keys_for(Context::Global, Action::Quit), ["ctrl-c", "x"]);
    assert_eq!(km.keys_for(Context::Dashboard, Action::Down), ["↓"]);
    assert!(km.bindings(Context::Dashboard).contains(&("j".to_string(), Action::Up, "Up, reversed".to_string())));

    // The chosen keymap is overlaid before the user's file: vim's "g g" survives.
    let mut km = Keymap::load(Some("vim"), Some(dir.path())).unwrap();
    assert_eq!(km.resolve(Context::Dashboard, key('g')), KeyResolution::Pending);
    assert_eq!(km.resolve(Context::Dashboard, key('g')), act(Action::Top));
    assert_eq!(km.resolve(Context::Dashboard, key('q')), KeyResolution::Unbound);

    // An overlay that binds "g" alone replaces the "g g" sequence it would hide.
    std::fs::write(dir.path().join("keymap.toml"), "[dashboard]\nkeys = [ { on = \"g\", run = \"sort\" } ]\n").unwrap();
    let mut km = Keymap::load(Some("vim"), Some(dir.path())).unwrap();
    assert_eq!(km.resolve(Context::Dashboard, key('g')), act(Action::SortNext));
    assert_eq!(km.keys_for(Context::Dashboard, Action::Top), ["home"]);
}

#[test]
fn keymap_from_a_path_and_errors_in_overlays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.toml");
    std::fs::write(&path, "[log]\nkeys = [ { on = \"ctrl-l\", run = \"back\" } ]\n").unwrap();
    let mut km = Keymap::load(Some(path.to_str().unwrap()), None).unwrap();
    assert_eq!(km.resolve(Context::Log, ctrl('l')), act(Action::Back));
    assert_eq!(km.resolve(Context::Log, key('j')), act(Action::Down), "the default is the base");

    // Errors in the user's file name that file.
    let user = tempfile::tempdir().unwrap();
    let user_file = user.path().join("keymap.toml");
    std::fs::write(&user_file, "[global]\nkeys = [ { on = \"q\", run = \"exit\" } ]\n").unwrap();
    let err = Keymap::load(None, Some(user.path())).unwrap_err().to_string();
    assert_eq!(err, format!("{}:2:28: unknown action \"exit\" (did you mean \"quit\"?)", user_file.display()));

    let err = Keymap::load(Some("emacs"), None).unwrap_err().to_string();
    assert_eq!(err, "emacs: unknown keymap \"emacs\": expected a built-in name or the path of a keymap file");
    let missing = dir.path().join("missing.toml");
    let err = Keymap::load(Some(missing.to_str().unwrap()), None).unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}: cannot read keymap file: ", missing.display())), "{err}");
}

#[test]
fn keymap_errors_are_all_reported() {
    let source = "[global]\nkeys = [\n  { on = \"q\", run = \"quitt\" },\n  { on = \"gg\", run = \"help\", key = 1 },\n]\n\
                  [dashboard]\nkeys = [\n  { on = \"g\", run = \"top\" },\n  { on = \"g g\", run = \"bottom\" },\n  { run = \"up\" },\n]\n";
    let err = Keymap::parse(Path::new("k.toml"), source).unwrap_err().to_string();
    assert_eq!(
        err,
        "k.toml:3:21: unknown action \"quitt\" (did you mean \"quit\"?)\n\
         k.toml:4:10: invalid key \"gg\": expected a single character, a key name (enter, esc, tab, backtab, backspace, \
         up, down, left, right, pgup, pgdn, home, end, space, delete, insert, f1-f12) or a modifier form such as \
         \"ctrl-x\"; for a sequence of keys separate them with spaces: \"g g\"\n\
         k.toml:4:30: unknown field `key` in a [global] binding (expected `on`, `run` or `desc`)\n\
         k.toml:9:10: key \"g g\" conflicts with \"g\" in [dashboard] (line 8): \"g\" cannot be bound on its own and \
         also start the sequence \"g g\"\n\
         k.toml:10:3: binding in [dashboard] has no `on` (the key, e.g. on = \"q\" or on = [\"j\", \"down\"])"
    );
}

// ---------------------------------------------------------------------------------------
// Themes
// ---------------------------------------------------------------------------------------

#[test]
fn embedded_themes_parse() {
    let names: Vec<_> = Theme::embedded_names().collect();
    assert_eq!(names, ["default", "light", "high-contrast"]);
    for name in names {
        Theme::parse(Path::new(name), Theme::embedded(name).unwrap()).unwrap_or_else(|e| panic!("{name}:\n{e}"));
        Theme::load(Some(name), None, false).unwrap_or_else(|e| panic!("{name}:\n{e}"));
    }
    // The default defines every style, with a color.
    let file = Theme::parse(Path::new("default"), Theme::embedded("default").unwrap()).unwrap();
    let mut defined: Vec<&str> = file.styles.iter().map(|(n, _)| n.as_str()).collect();
    defined.sort();
    let mut all = Theme::STYLE_NAMES.to_vec();
    all.sort();
    assert_eq!(defined, all);
    let theme = Theme::default();
    for name in Theme::STYLE_NAMES {
        assert!(theme.style(name).unwrap().fg.is_some(), "{name}");
    }
    assert_eq!(Theme::load(None, None, false).unwrap(), theme);
}

/// Approximate RGB of a terminal color (xterm palette).
fn rgb(c: Color) -> (u8, u8, u8) {
    const BASIC: [(u8, u8, u8); 16] = [
        (0, 0, 0),
        (205, 0, 0),
        (0, 205, 0),
        (205, 205, 0),
        (0, 0, 238),
        (205, 0, 205),
        (0, 205, 205),
        (229, 229, 229),
        (127, 127, 127),
        (255, 0, 0),
        (0, 255, 0),
        (255, 255, 0),
        (92, 92, 255),
        (255, 0, 255),
        (0, 255, 255),
        (255, 255, 255),
    ];
    match c {
        Color::Rgb(r, g, b) => (r, g, b),
        Color::Indexed(i @ 0..=15) => BASIC[i as usize],
        Color::Indexed(i @ 16..=231) => {
            let level = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
            let i = i - 16;
            (level(i / 36), level(i / 6 % 6), level(i % 6))
        }
        Color::Indexed(i) => {
            let v = 8 + 10 * (i - 232);
            (v, v, v)
        }
        Color::Black => BASIC[0],
        Color::Red => BASIC[1],
        Color::Green => BASIC[2],
        Color::Yellow => BASIC[3],
        Color::Blue => BASIC[4],
        Color::Magenta => BASIC[5],
        Color::Cyan => BASIC[6],
        Color::Gray => BASIC[7],
        Color::DarkGray => BASIC[8],
        Color::LightRed => BASIC[9],
        Color::LightGreen => BASIC[10],
        Color::LightYellow => BASIC[11],
        Color::LightBlue => BASIC[12],
        Color::LightMagenta => BASIC[13],
        Color::LightCyan => BASIC[14],
        Color::White => BASIC[15],
        Color::Reset => panic!("reset has no color"),
    }
}

/// WCAG contrast ratio between two colors.
fn contrast(a: Color, b: Color) -> f64 {
    let lum = |c: Color| {
        let (r, g, b) = rgb(c);
        let ch = |v: u8| {
            let v = v as f64 / 255.0;
            if v <= 0.03928 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b)
    };
    let (x, y) = (lum(a), lum(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

#[test]
fn light_theme_is_readable_on_white() {
    let t = Theme::load(Some("light"), None, false).unwrap();
    for name in Theme::STYLE_NAMES {
        let s = t.style(name).unwrap();
        let fg = s.fg.unwrap_or_else(|| panic!("{name} has no fg"));
        let bg = match s.bg {
            None | Some(Color::Reset) => Color::White,
            Some(bg) => bg,
        };
        // Borders, muted text and stale states may be subdued, the rest must be clear.
        let min = if matches!(*name, "border" | "unknown" | "masked") { 2.5 } else { 4.5 };
        let ratio = contrast(fg, bg);
        assert!(ratio >= min, "light: {name} has contrast {ratio:.2} on its background");
    }
}

#[test]
fn high_contrast_theme() {
    let t = Theme::load(Some("high-contrast"), None, false).unwrap();
    assert!(t.selection.add_modifier.contains(Modifier::REVERSED | Modifier::BOLD));
    for h in [Health::Healthy, Health::Starting, Health::Degraded, Health::Unhealthy, Health::Down] {
        assert!(t.health(h).add_modifier.contains(Modifier::BOLD), "{h:?}");
    }
    for name in Theme::STYLE_NAMES {
        let s = t.style(name).unwrap();
        for c in [s.fg, s.bg].into_iter().flatten() {
            if let Color::Rgb(r, g, b) = c {
                assert!([r, g, b].iter().all(|v| *v == 0 || *v == 255), "{name}: {c:?} is not a pure color");
            }
        }
        if let (Some(fg), Some(bg)) = (s.fg, s.bg) {
            if fg != Color::Reset && bg != Color::Reset {
                assert!(contrast(fg, bg) >= 4.5, "{name}");
            }
        }
    }
}

#[test]
fn theme_overlays_and_no_color() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("theme.toml"),
        "[styles]\ntitle = { fg = \"#ff8000\" }\nmuted = { italic = true }\n",
    )
    .unwrap();
    let t = Theme::load(Some("light"), Some(dir.path()), false).unwrap();
    let light = Theme::load(Some("light"), None, false).unwrap();
    assert_eq!(t.title.fg, Some(Color::Rgb(255, 128, 0)));
    assert!(t.title.add_modifier.contains(Modifier::BOLD), "only fg changed");
    assert_eq!(t.muted.fg, light.muted.fg);
    assert!(t.muted.add_modifier.contains(Modifier::ITALIC));
    assert_eq!(t.healthy, light.healthy);

    let t = Theme::load(None, Some(dir.path()), true).unwrap();
    for name in Theme::STYLE_NAMES {
        let s = t.style(name).unwrap();
        assert_eq!((s.fg, s.bg), (None, None), "{name}");
    }
    assert!(t.selection.add_modifier.contains(Modifier::REVERSED));
    assert!(t.unhealthy.add_modifier.contains(Modifier::BOLD));
    assert!(t.degraded.add_modifier.contains(Modifier::BOLD));
    assert!(t.muted.add_modifier.contains(Modifier::ITALIC));
    assert_eq!(Theme::default().no_color(), Theme::load(None, None, true).unwrap());

    let path = dir.path().join("theme.toml");
    std::fs::write(&path, "[styles]\ntitle = { fg = 300 }\n").unwrap();
    let err = Theme::load(None, Some(dir.path()), false).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("{}:2:16: title.fg: invalid color 300 (expected a color name, #rrggbb or 0-255)", path.display())
    );
    let err = Theme::load(Some("solarized"), None, false).unwrap_err().to_string();
    assert_eq!(err, "solarized: unknown theme \"solarized\": expected a built-in name or the path of a theme file");
}

#[test]
fn health_styles() {
    let t = Theme::default();
    assert_eq!(t.health(Health::Healthy), t.healthy);
    assert_eq!(t.health(Health::Starting), t.starting);
    assert_eq!(t.health(Health::Degraded), t.degraded);
    assert_eq!(t.health(Health::Unhealthy), t.unhealthy);
    assert_eq!(t.health(Health::Down), t.down);
    assert_eq!(t.health(Health::Unknown), t.unknown);
    assert_eq!(t.healthy.fg, Some(Color::Green));
}

// ---------------------------------------------------------------------------------------
// Broken files: one fixture per error, with the full message
// ---------------------------------------------------------------------------------------

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid").join(name)
}

fn errors_of(name: &str) -> String {
    let path = fixture(name);
    let source = std::fs::read_to_string(&path).unwrap();
    let result = if name.starts_with("keymap_") {
        Keymap::parse(&path, &source).map(|_| ())
    } else if name.starts_with("theme_") {
        Theme::parse(&path, &source).map(|_| ())
    } else {
        Profile::load(&path).map(|_| ())
    };
    match result {
        Ok(()) => panic!("{name} was accepted"),
        Err(e) => e.to_string(),
    }
}

const INVALID: &[(&str, &str)] = &[
    ("keymap_unknown_action.toml", "4:21: unknown action \"quitt\" (did you mean \"quit\"?)"),
    (
        "keymap_bad_key.toml",
        "5:16: invalid key \"ctrl-\": a modifier must be followed by a key, as in \"ctrl-x\"",
    ),
    (
        "keymap_wrong_context.toml",
        "4:25: action \"open\" cannot be bound in [help]; it applies to: dashboard",
    ),
    ("keymap_duplicate.toml", "6:10: key \"j\" is bound twice in [dashboard] (also line 4)"),
    ("keymap_unknown_section.toml", "2:2: unknown section [dashbord] (did you mean [dashboard]?)"),
    (
        "theme_bad_color.toml",
        "4:18: healthy.fg: invalid color \"grene\" (expected a color name, #rrggbb or 0-255; did you mean \"green\"?)",
    ),
    ("theme_unknown_style.toml", "3:1: unknown style \"helthy\" (did you mean \"healthy\"?)"),
    (
        "theme_unknown_field.toml",
        "3:11: unknown field `color` in style \"title\" (did you mean `fg`? expected `fg`, `bg`, `bold`, \
         `italic`, `underlined`, `reversed` or `dim`)"),
    ("theme_syntax_error.toml", "4:1: missing comma between key-value pairs, expected `,`"),
    (
        "profile_unknown_field.toml",
        "6:1: unknown field `adress`, expected one of `name`, `address`, `user`, `port`, `identity_file`, `jump`, \
         `docker_socket`, `state_dir`",
    ),
    ("profile_missing_name.toml", "1:1: missing field `name` (required)"),
    (
        "profile_bad_duration.toml",
        "5:19: invalid duration \"5 sec\": unknown unit \"sec\" (expected ms, s, m, h or d)",
    ),
    (
        "profile_unknown_host_in_service.toml",
        "14:19: service \"web\" names unknown host \"web-3\" (hosts: web-1, web-2)",
    ),
    ("profile_duplicate_host.toml", "9:8: duplicate host name \"web-1\" (first defined on line 5)"),
    (
        "profile_bad_regex.toml",
        "10:18: service \"web\": invalid container_name regex: regex parse error: ^shop-(web-\\d+$ ^ error: unclosed group",
    ),
    (
        "profile_no_matcher.toml",
        "9:8: service \"web\" matches no containers: set compose_project/compose_service or container_name (or log_files/journald_units for a service that runs outside Docker)",
    ),
    ("profile_syntax_error.toml", "2:16: invalid basic string, expected `\"`"),
];

#[test]
fn invalid_files_have_located_helpful_errors() {
    let mut failures = Vec::new();
    for (name, expected) in INVALID {
        let expected = format!("{}:{expected}", fixture(name).display());
        let actual = errors_of(name);
        if actual != expected {
            failures.push(format!("{name}:\n  expected: {expected}\n  actual:   {actual}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_fixture_is_checked() {
    let mut files: Vec<String> =
        std::fs::read_dir(fixture("")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    files.sort();
    let mut listed: Vec<String> = INVALID.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed);
}

// ---------------------------------------------------------------------------------------
// The example profile
// ---------------------------------------------------------------------------------------

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/example.toml")
}

#[test]
fn example_profile_parses() {
    let p = Profile::load(&example_path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.name, "example");
    assert!(p.protected);
    assert!(!p.read_only);
    assert_eq!(p.ssh.user.as_deref(), Some("deploy"));
    assert_eq!(p.ssh.port, Some(22));
    assert_eq!(p.ssh.use_agent, Some(true));
    assert_eq!(p.ssh.connect_timeout.map(|d| d.0), Some(Duration::from_secs(10)));
    assert_eq!(p.ssh.keepalive_interval.map(|d| d.0), Some(Duration::from_secs(5)));
    let hosts: Vec<&str> = p.hosts.iter().map(|h| h.name.get_ref().as_str()).collect();
    assert_eq!(hosts, ["web-1", "web-2", "db-1"]);
    let web2 = p.host("web-2").unwrap();
    assert_eq!((web2.user.as_deref(), web2.port), (Some("ops"), Some(2222)));
    assert_eq!(web2.jump.as_deref(), Some("ops@bastion.example.com:22"));
    assert_eq!(p.host("web-1").unwrap().docker_socket.as_deref(), Some("/var/run/docker.sock"));
    assert_eq!(p.services.len(), 2);
    let web = &p.services[0];
    assert_eq!(web.hosts, ["web-1", "web-2"]);
    assert_eq!((web.compose_project.as_deref(), web.compose_service.as_deref()), (Some("shop"), Some("web")));
    let probe = &web.probes[0];
    assert_eq!(probe.url, "http://127.0.0.1:{port}/health");
    assert_eq!((probe.container_port, probe.expect_status), (Some(8080), 200));
    assert_eq!(probe.status_field.as_deref(), Some("status"));
    assert_eq!((probe.interval, probe.timeout), (Duration::from_secs(10), Duration::from_secs(3)));
    assert_eq!(probe.degraded_values, ["degraded", "warn"]);
    let pg = &p.services[1];
    assert!(pg.container_name.as_ref().unwrap().is_match("shop-postgres-1"));
}

/// The fields shown commented out in the example (optional settings) are accepted too.
#[test]
fn example_profile_commented_fields_are_accepted() {
    let source = std::fs::read_to_string(example_path()).unwrap();
    let re = regex::Regex::new(r"^# ([a-z_]+ = .*)$").unwrap();
    let mut uncommented = 0;
    let text: Vec<String> = source
        .lines()
        .map(|l| match re.captures(l) {
            Some(c) => {
                uncommented += 1;
                c[1].to_string()
            }
            None => l.to_string(),
        })
        .collect();
    assert!(uncommented >= 2, "the example documents optional fields in comments");
    let p = Profile::parse(&example_path(), &text.join("\n")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.ssh.jump.as_deref(), Some("bastion.example.com"));
    let web = &p.services[0];
    assert!(web.container_name.as_ref().unwrap().is_match("shop-web-1"));
    assert!(web.matches("/shop-web-1", |l| match l {
        "com.docker.compose.project" => Some("shop".into()),
        "com.docker.compose.service" => Some("web".into()),
        _ => None,
    }));
}
