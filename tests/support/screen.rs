//! Drawing the console on ratatui's TestBackend and reading cells back: the text of the
//! screen for snapshots, and the colours of the cell where a piece of text starts.
#![allow(dead_code)]

use fleetdeck::tui::app::App;
use fleetdeck::tui::theme::Theme;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Style};
use ratatui::Terminal;

/// Draw `app` on a `width`×`height` screen with the default theme.
pub fn draw_sized(app: &App, width: u16, height: u16) -> (Buffer, String) {
    let theme = Theme::default();
    let mut t = Terminal::new(TestBackend::new(width, height)).unwrap();
    t.draw(|f| fleetdeck::tui::view::render(f, f.area(), app, &theme)).unwrap();
    let buf = t.backend().buffer().clone();
    let text = screen_text(&buf);
    (buf, text)
}

pub fn screen_text(buf: &Buffer) -> String {
    (0..buf.area.height)
        .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The cell where `needle` first starts on screen.
fn find(buf: &Buffer, needle: &str) -> (u16, u16) {
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_string()).collect();
        if let Some(byte) = line.find(needle) {
            return (line[..byte].chars().count() as u16, y);
        }
    }
    panic!("{needle:?} not on screen:\n{}", screen_text(buf));
}

/// The foreground colour of the first cell of `needle`.
pub fn fg_of(buf: &Buffer, needle: &str) -> Color {
    buf[find(buf, needle)].fg
}

/// The background colour of the first cell of `needle`.
pub fn bg_of(buf: &Buffer, needle: &str) -> Color {
    buf[find(buf, needle)].bg
}

/// The embedded default theme.
pub fn default_theme() -> Theme {
    Theme::load(None, None, false).unwrap_or_else(|e| panic!("{e}"))
}

/// Draw `app` on a `width`×`height` screen with `theme`.
pub fn draw(app: &App, theme: &Theme, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal.draw(|f| fleetdeck::tui::view::render(f, f.area(), app, theme)).expect("draw");
    terminal.backend().buffer().clone()
}

/// The symbols of one buffer row (trailing blanks removed).
pub fn row_text(buf: &Buffer, y: u16) -> String {
    let mut s: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
    s.truncate(s.trim_end().len());
    s
}

/// The whole screen as text, one line per row, trailing blanks removed, for a snapshot.
pub fn buffer_text(buf: &Buffer) -> String {
    (0..buf.area.height).map(|y| row_text(buf, y)).collect::<Vec<_>>().join("\n")
}

/// Column of the cell where the byte `offset` of row `y`'s text starts.
pub fn column_of(buf: &Buffer, y: u16, offset: usize) -> u16 {
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
pub fn find_in_row(buf: &Buffer, y: u16, needle: &str) -> Option<u16> {
    let text: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
    text.find(needle).map(|i| column_of(buf, y, i))
}

/// Where `needle` occurs in row `y` as a whole word (not inside a longer word, so that
/// "healthy" does not match "unhealthy"), from column `from` on.
pub fn find_word_in_row(buf: &Buffer, y: u16, needle: &str, from: u16) -> Option<u16> {
    let text: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut start = 0;
    while let Some(i) = text[start..].find(needle).map(|i| i + start) {
        let before = text[..i].chars().next_back();
        let after = text[i + needle.len()..].chars().next();
        let bounded = !before.is_some_and(is_word) && !after.is_some_and(is_word);
        let x = column_of(buf, y, i);
        if bounded && x >= from {
            return Some(x);
        }
        start = i + needle.len();
    }
    None
}

/// The first row whose text contains `needle`.
pub fn row_with(buf: &Buffer, needle: &str) -> u16 {
    (0..buf.area.height)
        .find(|&y| row_text(buf, y).contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} is not on screen:\n{}", buffer_text(buf)))
}

/// Position of `needle` (anywhere) in the first row that contains `row_marker`.
pub fn in_row_with(buf: &Buffer, row_marker: &str, needle: &str) -> (u16, u16) {
    let y = row_with(buf, row_marker);
    let x = find_in_row(buf, y, needle)
        .unwrap_or_else(|| panic!("no {needle:?} in the row of {row_marker:?}: {:?}", row_text(buf, y)));
    (x, y)
}

/// Position of `word` (as a whole word) in the row that contains `row_marker`.
pub fn word_in_row_with(buf: &Buffer, row_marker: &str, word: &str) -> (u16, u16) {
    let y = row_with(buf, row_marker);
    let x = find_word_in_row(buf, y, word, 0)
        .unwrap_or_else(|| panic!("no {word:?} in the row of {row_marker:?}: {:?}", row_text(buf, y)));
    (x, y)
}

/// Position of the first occurrence of `needle` (as a whole word) anywhere on screen.
pub fn find_word(buf: &Buffer, needle: &str) -> (u16, u16) {
    (0..buf.area.height)
        .find_map(|y| find_word_in_row(buf, y, needle, 0).map(|x| (x, y)))
        .unwrap_or_else(|| panic!("{needle:?} is not on screen:\n{}", buffer_text(buf)))
}

/// Every cell of `text` drawn at `at` has the style's foreground and background (where the
/// style sets them) and its modifiers.
#[track_caller]
pub fn assert_styled(buf: &Buffer, at: (u16, u16), text: &str, style: Style) {
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

/// The word `word` in the row containing `row_marker` is drawn in `style`.
#[track_caller]
pub fn assert_word_style(buf: &Buffer, row_marker: &str, word: &str, style: Style) {
    assert_styled(buf, word_in_row_with(buf, row_marker, word), word, style);
}

/// Every cell between the borders of row `y` has the selection's background.
#[track_caller]
pub fn assert_row_selected(buf: &Buffer, y: u16, theme: &Theme) {
    let bg = theme.selection.bg.expect("the theme's selection has a background");
    for x in 1..buf.area.width - 1 {
        assert_eq!(buf[(x, y)].bg, bg, "selection bg at ({x},{y}) in {:?}", row_text(buf, y));
    }
}
