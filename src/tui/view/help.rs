//! `?` help: every binding of every context, generated from the keymap and the registry.

use crate::tui::action::{self, Context};
use crate::tui::app::App;
use crate::tui::theme::Theme;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let lines = lines(app, theme);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border_focused)
        .title(Span::styled(" Help: keys ", theme.title));
    let scroll = app.scroll.min(super::max_scroll(&lines, block.inner(area)));
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), area);
}

pub fn lines<'a>(app: &App, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    for ctx in Context::ALL {
        let bindings = app.keymap.bindings(ctx);
        if bindings.is_empty() {
            continue;
        }
        lines.push(Line::styled(ctx.name().to_string(), theme.title));
        for (keys, a, desc) in bindings {
            let info = action::info(a);
            let disabled = info.mutating && app.read_only;
            let mut spans = vec![
                Span::styled(format!("  {keys:<18}"), theme.accent),
                Span::styled(format!("{:<16}", info.name), theme.muted),
                Span::styled(desc, if disabled { theme.muted } else { theme.base }),
            ];
            if disabled {
                spans.push(Span::styled("  (disabled: read-only)", theme.warning));
            }
            lines.push(Line::from(spans));
        }
        lines.push(Line::raw(""));
    }
    lines
}
