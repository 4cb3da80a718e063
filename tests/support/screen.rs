//! Drawing the console on ratatui's TestBackend and reading cells back: the text of the
//! screen for snapshots, and the colours of the cell where a piece of text starts.
#![allow(dead_code)]

use fleetdeck::tui::app::App;
use fleetdeck::tui::theme::Theme;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
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
