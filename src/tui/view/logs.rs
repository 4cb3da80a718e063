//! The merged log view: a status line (follow/pause, filters, drops), the sources with their
//! states, then the visible window of the filtered store, each line with a coloured source
//! prefix, level badge and stderr mark.

use super::format::clip;
use crate::logs::export::format_json;
use crate::logs::level::Level;
use crate::logs::line::{ansi_spans, strip_ansi, AnsiColor, Entry, StreamKind};
use crate::logs::source::SourceState;
use crate::tui::app::App;
use crate::tui::logpane::{JsonMode, LogPane, WINDOWS};
use crate::tui::theme::Theme;
use chrono::{DateTime, Local, Utc};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

/// Colours for source prefixes (not used under NO_COLOR).
const SOURCE_COLORS: [Color; 6] =
    [Color::Cyan, Color::Magenta, Color::Yellow, Color::Green, Color::Blue, Color::LightRed];

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(p) = &app.logs else { return };
    let title = format!(" Logs · {} · {} sources ", p.title, p.sources.len());
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border_focused)
        .title(Span::styled(title, theme.title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [status, sources, body] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1), Constraint::Min(1)]).areas(inner);
    frame.render_widget(Paragraph::new(status_line(p, theme)), status);
    frame.render_widget(Paragraph::new(sources_line(p, theme)), sources);
    let lines = body_lines(p, theme, body.height as usize);
    let mut para = Paragraph::new(lines);
    if p.wrap {
        para = para.wrap(Wrap { trim: false });
    }
    frame.render_widget(para, body);
}

fn colored(theme: &Theme) -> bool {
    theme.accent.fg.is_some_and(|c| c != Color::Reset)
}

fn source_style(theme: &Theme, source: u32) -> Style {
    if colored(theme) {
        Style::default().fg(SOURCE_COLORS[source as usize % SOURCE_COLORS.len()])
    } else {
        Style::default().add_modifier(Modifier::BOLD)
    }
}

fn status_line<'a>(p: &'a LogPane, theme: &Theme) -> Line<'a> {
    if let Some((field, input)) = &p.editing {
        return Line::from(vec![
            Span::styled(format!("{}: ", field.prompt()), theme.accent),
            Span::raw(input.value.clone()),
            Span::styled("▏", theme.accent),
        ]);
    }
    let mut spans = Vec::new();
    if p.follow.following {
        spans.push(Span::styled(" FOLLOWING ", theme.healthy.add_modifier(Modifier::REVERSED)));
    } else {
        spans.push(Span::styled(" PAUSED ", theme.degraded.add_modifier(Modifier::REVERSED)));
        if p.follow.new_since_pause > 0 {
            spans.push(Span::styled(format!(" {} new lines ", p.follow.new_since_pause), theme.degraded));
        }
    }
    spans.push(Span::styled(format!(" {} / {} lines", p.view.len(), p.store.len()), theme.muted));
    let mut add = |label: String, style: Style| {
        spans.push(Span::styled(" · ", theme.muted));
        spans.push(Span::styled(label, style));
    };
    if !p.include.is_empty() {
        add(format!("show /{}/", p.include), theme.filter_match);
    }
    if !p.exclude.is_empty() {
        add(format!("hide /{}/", p.exclude), theme.filter_match);
    }
    if !p.highlight_text.is_empty() {
        add(format!("highlight /{}/", p.highlight_text), theme.filter_match);
    }
    if !p.search_text.is_empty() {
        add(format!("search /{}/", p.search_text), theme.filter_match);
    }
    if p.case_sensitive {
        add("case-sensitive".into(), theme.accent);
    }
    if let Some(l) = p.min_level {
        add(format!("level ≥ {}", l.as_str()), theme.accent);
    }
    if p.window > 0 {
        add(WINDOWS[p.window].1.to_string(), theme.accent);
    }
    if p.json != JsonMode::Raw {
        add(format!("json {}", if p.json == JsonMode::Pretty { "pretty" } else { "fields" }), theme.accent);
    }
    if p.dropped > 0 {
        add(format!("{} lines dropped (console too slow)", p.dropped), theme.warning);
    }
    if let Some(m) = &p.message {
        add(m.clone(), theme.warning);
    }
    Line::from(spans)
}

fn sources_line<'a>(p: &'a LogPane, theme: &Theme) -> Line<'a> {
    let mut spans = Vec::new();
    for (i, s) in p.sources.iter().enumerate() {
        let (mark, style) = match &s.state {
            SourceState::Live => ("●", theme.healthy),
            SourceState::Reconnecting => ("◌ reconnecting", theme.degraded),
            SourceState::Stopped => ("■ stopped", theme.down),
            SourceState::Removed => ("✗ removed", theme.unhealthy),
            SourceState::Ended { .. } => ("○ ended", theme.muted),
        };
        spans.push(Span::styled(s.label.clone(), source_style(theme, i as u32)));
        spans.push(Span::styled(format!(" {mark}  "), style));
    }
    if spans.is_empty() {
        spans.push(Span::styled("waiting for sources…", theme.muted));
    }
    Line::from(spans)
}

fn level_badge(level: Option<Level>, theme: &Theme) -> Span<'static> {
    match level {
        Some(Level::Error) => Span::styled("E ", theme.unhealthy),
        Some(Level::Warn) => Span::styled("W ", theme.degraded),
        Some(Level::Info) => Span::styled("I ", theme.healthy),
        Some(Level::Debug) => Span::styled("D ", theme.muted),
        Some(Level::Trace) => Span::styled("T ", theme.muted),
        None => Span::raw("  "),
    }
}

fn ts_text(nanos: i64, utc: bool) -> String {
    let dt = DateTime::<Utc>::from_timestamp_nanos(nanos);
    if utc {
        dt.format("%H:%M:%S%.3f").to_string()
    } else {
        dt.with_timezone(&Local).format("%H:%M:%S%.3f").to_string()
    }
}

fn body_lines<'a>(p: &'a LogPane, theme: &Theme, height: usize) -> Vec<Line<'a>> {
    let mut out: Vec<Line> = Vec::new();
    if p.follow.top == 0 {
        if let Some(notice) = p.store.eviction_notice() {
            out.push(Line::styled(format!("⋯ {notice}"), theme.warning));
        }
    }
    let label_width = p.sources.iter().map(|s| s.label.chars().count()).max().unwrap_or(8).min(28);
    let entries = p.view.window(&p.store, p.follow.top, height);
    for (k, e) in entries.into_iter().enumerate() {
        if out.len() >= height {
            break;
        }
        let index = p.follow.top + k;
        match e {
            Entry::Gap(g) => out.push(Line::styled(
                format!("─── {} lines missing from {}: {} ───", g.count, p.label(g.source), g.reason.describe()),
                theme.warning,
            )),
            Entry::Line(l) => {
                let mut prefix = Vec::new();
                if p.timestamps {
                    prefix.push(Span::styled(format!("{} ", ts_text(l.ts, p.utc)), theme.muted));
                }
                let label = clip(p.label(l.source), label_width);
                prefix.push(Span::styled(format!("{label:<label_width$} "), source_style(theme, l.source)));
                prefix.push(if l.stream == StreamKind::Stderr {
                    Span::styled("! ", theme.error)
                } else {
                    Span::raw("│ ")
                });
                prefix.push(level_badge(l.level, theme));
                let is_hit = p.search_hit == Some(index);
                let texts: Vec<String> = match p.json {
                    JsonMode::Raw => vec![],
                    JsonMode::Pretty => {
                        format_json(&l.text, None).map(|t| t.lines().map(String::from).collect()).unwrap_or_default()
                    }
                    JsonMode::Fields => format_json(&l.text, Some(&p.fields)).map(|t| vec![t]).unwrap_or_default(),
                };
                if texts.is_empty() {
                    let mut spans = prefix;
                    spans.extend(text_spans(p, theme, &l.text, is_hit));
                    out.push(Line::from(spans));
                } else {
                    let indent = prefix.iter().map(|s| s.width()).sum::<usize>();
                    for (n, t) in texts.into_iter().enumerate() {
                        let mut spans = if n == 0 { prefix.clone() } else { vec![Span::raw(" ".repeat(indent))] };
                        spans.extend(
                            text_spans(p, theme, &t, is_hit)
                                .into_iter()
                                .map(|s| Span::styled(s.content.into_owned(), s.style)),
                        );
                        out.push(Line::from(spans));
                        if out.len() >= height {
                            break;
                        }
                    }
                }
            }
        }
    }
    out
}

/// The text of a line: ANSI colours rendered (or stripped), highlight and search matches
/// marked.
fn text_spans<'a>(p: &LogPane, theme: &Theme, text: &'a str, is_hit: bool) -> Vec<Span<'a>> {
    let base = if is_hit { theme.selection } else { theme.base };
    let marks: Vec<(usize, usize, Style)> = {
        let plain = strip_ansi(text);
        let mut m = Vec::new();
        for (re, style) in [(&p.highlight, theme.filter_match), (&p.search, theme.selection)] {
            if let Some(re) = re {
                m.extend(re.find_iter(&plain).map(|x| (x.start(), x.end(), style)));
            }
        }
        m
    };
    if !marks.is_empty() || !p.ansi || !colored(theme) {
        // Work on the plain text so match offsets line up.
        let plain = strip_ansi(text).into_owned();
        let mut spans = Vec::new();
        let mut at = 0;
        let mut marks = marks;
        marks.sort_by_key(|m| m.0);
        for (s, e, style) in marks {
            if s < at {
                continue;
            }
            spans.push(Span::styled(plain[at..s].to_string(), base));
            spans.push(Span::styled(plain[s..e].to_string(), style.add_modifier(Modifier::BOLD)));
            at = e;
        }
        spans.push(Span::styled(plain[at..].to_string(), base));
        return spans;
    }
    ansi_spans(text)
        .into_iter()
        .map(|(st, seg)| {
            let mut style = base;
            if let Some(c) = st.fg {
                style = style.fg(ansi_color(c));
            }
            if let Some(c) = st.bg {
                style = style.bg(ansi_color(c));
            }
            if st.bold {
                style = style.add_modifier(Modifier::BOLD);
            }
            if st.italic {
                style = style.add_modifier(Modifier::ITALIC);
            }
            if st.underline {
                style = style.add_modifier(Modifier::UNDERLINED);
            }
            if st.dim {
                style = style.add_modifier(Modifier::DIM);
            }
            if st.reverse {
                style = style.add_modifier(Modifier::REVERSED);
            }
            Span::styled(seg, style)
        })
        .collect()
}

fn ansi_color(c: AnsiColor) -> Color {
    match c {
        AnsiColor::Indexed(i) => Color::Indexed(i),
        AnsiColor::Rgb(r, g, b) => Color::Rgb(r, g, b),
    }
}
