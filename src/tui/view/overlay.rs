//! Floating windows: the command palette and prompts from the engine (host keys,
//! passphrases).

use crate::ssh::Prompt;
use crate::tui::action::Context;
use crate::tui::app::{App, PendingPrompt};
use crate::tui::theme::Theme;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

pub(super) fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(height.min(area.height))]).flex(Flex::Center).areas(area);
    let [h] = Layout::horizontal([Constraint::Length(width.min(area.width))]).flex(Flex::Center).areas(v);
    h
}

pub fn render_palette(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(p) = &app.palette else { return };
    let items = app.palette_items();
    let rect = centered(area, 80, 16);
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border_focused)
        .title(Span::styled(" Command ", theme.title));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let [input, list] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(": ", theme.accent),
            Span::raw(p.input.value.clone()),
            Span::styled("▏", theme.accent),
        ])),
        input,
    );
    let ctx = app.screen.context();
    let rows: Vec<ListItem> = items
        .iter()
        .map(|i| {
            let keys = app.keys(ctx, i.action).join(", ");
            let disabled = i.mutating && app.read_only;
            ListItem::new(Line::from(vec![
                Span::styled(format!("{:<16}", i.name), if disabled { theme.muted } else { theme.base }),
                Span::styled(format!("{:<34}", i.desc), theme.muted),
                Span::styled(keys, theme.accent),
            ]))
        })
        .collect();
    let mut state = ListState::default().with_selected(Some(p.selected.min(items.len().saturating_sub(1))));
    frame.render_stateful_widget(List::new(rows).highlight_style(theme.selection), list, &mut state);
}

pub fn render_prompt(frame: &mut Frame, area: Rect, p: &PendingPrompt, app: &App, theme: &Theme) {
    let yes = app.keys(Context::Prompt, crate::tui::action::Action::Confirm).join("/");
    let no = app.keys(Context::Prompt, crate::tui::action::Action::Cancel).join("/");
    let (title, lines) = match &p.prompt {
        Prompt::HostKey { host, addr, fingerprint, .. } => (
            " Unknown host key ",
            vec![
                Line::raw(format!("{host} ({addr}) is not in known_hosts.")),
                Line::raw("It presented this key:"),
                Line::styled(format!("  {fingerprint}"), theme.accent),
                Line::raw("Compare it with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host."),
                Line::raw(""),
                Line::from(vec![
                    Span::styled(format!(" {yes} "), theme.hint_key),
                    Span::raw(" trust and record it   "),
                    Span::styled(format!(" {no} "), theme.hint_key),
                    Span::raw(" refuse"),
                ]),
            ],
        ),
        Prompt::Passphrase { host, key_path, .. } => (
            " Passphrase ",
            vec![
                Line::raw(format!("{host}: {} is passphrase-protected.", key_path.display())),
                Line::from(vec![
                    Span::raw("passphrase: "),
                    Span::styled(p.input.masked(), theme.accent),
                    Span::styled("▏", theme.accent),
                ]),
                Line::raw(""),
                Line::from(vec![
                    Span::styled(format!(" {yes} "), theme.hint_key),
                    Span::raw(" unlock   "),
                    Span::styled(format!(" {no} "), theme.hint_key),
                    Span::raw(" skip this key"),
                ]),
            ],
        ),
    };
    let rect = centered(area, 84, lines.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    let block =
        Block::default().borders(Borders::ALL).border_style(theme.warning).title(Span::styled(title, theme.warning));
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), rect);
}

/// The line of a typed confirmation on a protected profile: ` PROTECTED: type WORD and press
/// KEY to VERB: ` then what was typed so far and a cursor.
pub fn typed_confirmation(theme: &Theme, word: &str, key: &str, verb: &str, typed: &str) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!(" PROTECTED: type {word} and press {key} to {verb}: "), theme.protected_banner),
        Span::raw(format!(" {typed}")),
        Span::styled("▏", theme.accent),
    ])
}
