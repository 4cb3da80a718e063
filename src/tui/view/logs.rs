//! The merged log view: a status line (follow/pause, filters, drops), the sources with their
//! states, then the visible window of the filtered store, each line with a coloured source
//! prefix, level badge and stderr mark.

use super::format::clip;
use crate::logs::export::{format_json, gap_text};
use crate::logs::level::Level;
use crate::logs::line::{ansi_spans, strip_ansi, AnsiColor, Entry, EntryRef, StreamKind};
use crate::logs::source::SourceState;
use crate::tui::app::App;
use crate::tui::logpane::{JsonMode, LogPane, WINDOWS};
use crate::tui::theme::Theme;
use chrono::{DateTime, Local, Utc};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
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
    frame.render_widget(Paragraph::new(status_line(p, theme, status.width as usize)), status);
    frame.render_widget(Paragraph::new(sources_line(p, theme)), sources);
    let lines = body_lines(p, theme, body.width as usize, body.height as usize);
    frame.render_widget(Paragraph::new(lines), body);
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

fn status_line<'a>(p: &'a LogPane, theme: &Theme, width: usize) -> Line<'a> {
    if let Some((field, input)) = &p.editing {
        let mut spans = vec![
            Span::styled(format!("{}: ", field.prompt()), theme.accent),
            Span::raw(input.value.clone()),
            Span::styled("▏", theme.accent),
        ];
        // what stays in force while typing, at the right end when it fits
        let used: usize = spans.iter().map(Span::width).sum();
        let summary = edit_summary(p, theme);
        // all of it, else PAUSED alone
        let paused = usize::from(!p.follow.following);
        for summary in [&summary[..], &summary[..paused]] {
            let need: usize = summary.iter().map(Span::width).sum();
            if need > 0 && used + 2 + need <= width {
                spans.push(Span::raw(" ".repeat(width - used - need)));
                spans.extend(summary.iter().cloned());
                break;
            }
        }
        return Line::from(spans);
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
    if let Some(t) = p.since {
        add(crate::tui::log_since::describe_since(t, p.now, p.utc), theme.accent);
    }
    if p.json != JsonMode::Raw {
        add(format!("json {}", if p.json == JsonMode::Pretty { "pretty" } else { "fields" }), theme.accent);
    }
    if !p.utc {
        // timestamps in the machine's zone: say which (on a UTC machine they look the same)
        let zone = DateTime::<Utc>::from_timestamp_nanos(p.now).with_timezone(&Local).format("UTC%:z");
        add(format!("local time ({zone})"), theme.accent);
    }
    if !p.ansi {
        add("colours stripped".into(), theme.accent);
    }
    if p.dropped > 0 {
        add(format!("{} lines dropped (console too slow)", p.dropped), theme.warning);
    }
    if let Some(m) = &p.message {
        add(m.clone(), theme.warning);
    }
    Line::from(spans)
}

/// The compact state shown beside a field being edited: PAUSED first, then the filters in
/// force.
fn edit_summary(p: &LogPane, theme: &Theme) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    if !p.follow.following {
        spans.push(Span::styled(" PAUSED ", theme.degraded.add_modifier(Modifier::REVERSED)));
    }
    let mut filters = Vec::new();
    if !p.include.is_empty() {
        filters.push(format!("show /{}/", p.include));
    }
    if !p.exclude.is_empty() {
        filters.push(format!("hide /{}/", p.exclude));
    }
    if let Some(l) = p.min_level {
        filters.push(format!("level ≥ {}", l.as_str()));
    }
    if p.window > 0 {
        filters.push(WINDOWS[p.window].1.to_string());
    }
    if let Some(t) = p.since {
        filters.push(crate::tui::log_since::describe_since(t, p.now, p.utc));
    }
    if p.case_sensitive {
        filters.push("case-sensitive".into());
    }
    if !filters.is_empty() {
        let sep = if spans.is_empty() { "" } else { " " };
        spans.push(Span::styled(format!("{sep}{}", filters.join(" · ")), theme.muted));
    }
    spans
}

fn sources_line<'a>(p: &'a LogPane, theme: &Theme) -> Line<'a> {
    let mut spans = Vec::new();
    for (i, s) in p.sources.iter().enumerate() {
        let (mark, style) = match &s.state {
            SourceState::Live => ("●", theme.healthy),
            SourceState::Reconnecting => ("◌ reconnecting", theme.degraded),
            SourceState::Queued => ("◌ queued: no free SSH channel", theme.degraded),
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

/// The rows of the text area. Paused, the window runs down from `follow.top`; following, it
/// is laid out from the newest entry upwards, so entries taking several rows (pretty JSON,
/// wrapped lines) never push the newest off the bottom.
fn body_lines<'a>(p: &'a LogPane, theme: &Theme, width: usize, height: usize) -> Vec<Line<'a>> {
    let label_width = p.sources.iter().map(|s| s.short_label().chars().count()).max().unwrap_or(8).min(28);
    let hit = p.search_hit();
    let rows_of = |index: usize| -> Vec<Line<'a>> {
        p.view
            .entry_at(&p.store, index)
            .map_or_else(Vec::new, |e| entry_rows(p, theme, e, hit == Some(index), label_width, width))
    };
    let notice = || p.store.eviction_notice().map(|n| Line::styled(format!("⋯ {n}"), theme.warning));
    let mut out: Vec<Line> = Vec::new();
    if p.follow.following {
        let mut first = p.view.len();
        let mut entries = Vec::new();
        let mut rows = 0;
        while first > 0 && rows < height {
            first -= 1;
            let r = rows_of(first);
            rows += r.len();
            entries.push(r);
        }
        out.extend(entries.into_iter().rev().flatten());
        // an entry taller than the space left above shows its last rows
        out.drain(..out.len().saturating_sub(height));
        if first == 0 && out.len() < height {
            out.splice(0..0, notice());
        }
        return out;
    }
    let top = p.follow.top;
    for index in top..p.view.len() {
        if out.len() >= height {
            break;
        }
        out.extend(rows_of(index));
    }
    // the notice sits above the first entry: shown when it fits, or when scrolling reveals
    // what it pushes out
    if top == 0 && (out.len() < height || p.view.len() > height) {
        out.splice(0..0, notice());
    }
    out.truncate(height);
    out
}

/// The rows of one entry: a gap marker, or a line with its prefix (timestamp, source, stream
/// mark, level badge) and its text, over several rows for pretty JSON and when wrapping.
fn entry_rows<'a>(
    p: &'a LogPane,
    theme: &Theme,
    e: EntryRef<'a>,
    is_hit: bool,
    label_width: usize,
    width: usize,
) -> Vec<Line<'a>> {
    let l = match e {
        Entry::Gap(g) => {
            let line = Line::styled(gap_text(&g, p.label(g.source)), theme.warning);
            return if p.wrap { wrap_line(&line, width, 0) } else { vec![line] };
        }
        Entry::Line(l) => l,
    };
    let mut prefix = Vec::new();
    if p.timestamps {
        prefix.push(Span::styled(format!("{} ", ts_text(l.ts, p.utc)), theme.muted));
    }
    let label = clip(&p.short_label(l.source), label_width);
    prefix.push(Span::styled(format!("{label:<label_width$} "), source_style(theme, l.source)));
    prefix.push(if l.stream == StreamKind::Stderr { Span::styled("! ", theme.error) } else { Span::raw("│ ") });
    prefix.push(level_badge(l.level, theme));
    let indent = prefix.iter().map(|s| s.width()).sum::<usize>();
    let texts: Vec<String> = match p.json {
        JsonMode::Raw => vec![],
        JsonMode::Pretty => {
            format_json(l.text, None).map(|t| t.lines().map(String::from).collect()).unwrap_or_default()
        }
        JsonMode::Fields => format_json(l.text, Some(&p.fields)).map(|t| vec![t]).unwrap_or_default(),
    };
    let lines = if texts.is_empty() {
        let mut spans = prefix;
        spans.extend(text_spans(p, theme, l.text, is_hit));
        vec![Line::from(spans)]
    } else {
        let mut lines = Vec::with_capacity(texts.len());
        for (n, t) in texts.into_iter().enumerate() {
            let mut spans = if n == 0 { prefix.clone() } else { vec![Span::raw(" ".repeat(indent))] };
            spans.extend(
                text_spans(p, theme, &t, is_hit).into_iter().map(|s| Span::styled(s.content.into_owned(), s.style)),
            );
            lines.push(Line::from(spans));
        }
        lines
    };
    if !p.wrap {
        return lines;
    }
    lines.iter().flat_map(|line| wrap_line(line, width, indent)).collect()
}

/// `line` in rows of at most `width` columns, broken after the last blank that fits (within
/// the text, not the prefix of `indent` columns), or inside a word longer than a row. The rows
/// after the first start with `indent` blanks, under the text, when that leaves room.
fn wrap_line(line: &Line, width: usize, indent: usize) -> Vec<Line<'static>> {
    let width = width.max(1);
    let indent = if indent * 2 <= width { indent } else { 0 };
    let graphemes: Vec<(&str, Style, usize)> = line
        .spans
        .iter()
        .flat_map(|span| span.styled_graphemes(Style::default()))
        .map(|g| (g.symbol, g.style, Span::raw(g.symbol).width()))
        .collect();
    let mut rows = Vec::new();
    let mut start = 0;
    while start < graphemes.len() || rows.is_empty() {
        // the first row holds the prefix (no break in it), the others start with the indent
        let (lead, min_break) = if rows.is_empty() { (0, indent) } else { (indent, 0) };
        let (mut end, mut used, mut after_blank) = (start, 0, None);
        while end < graphemes.len() && used + graphemes[end].2 <= width - lead {
            used += graphemes[end].2;
            end += 1;
            if graphemes[end - 1].0 == " " && used > min_break {
                after_blank = Some(end);
            }
        }
        if end < graphemes.len() {
            end = after_blank.unwrap_or(end);
        }
        let end = end.max(start + 1).min(graphemes.len());
        let mut spans: Vec<Span<'static>> = Vec::new();
        if lead > 0 {
            spans.push(Span::raw(" ".repeat(lead)));
        }
        let text_from = spans.len();
        for &(symbol, style, _) in &graphemes[start..end] {
            let merge = spans.len() > text_from && spans.last().is_some_and(|last| last.style == style);
            match spans.last_mut() {
                Some(last) if merge => last.content.to_mut().push_str(symbol),
                _ => spans.push(Span::styled(symbol.to_string(), style)),
            }
        }
        rows.push(Line::from(spans).style(line.style));
        start = end;
    }
    rows
}

/// The text of a line: ANSI colours rendered (or stripped), highlight and search matches
/// marked over them.
fn text_spans<'a>(p: &LogPane, theme: &Theme, text: &'a str, is_hit: bool) -> Vec<Span<'a>> {
    let base = if is_hit { theme.selection } else { theme.base };
    let mut marks: Vec<(usize, usize, Style)> = Vec::new();
    if p.highlight.is_some() || p.search.is_some() {
        let plain = strip_ansi(text);
        for (re, style) in [(&p.highlight, theme.filter_match), (&p.search, theme.selection)] {
            if let Some(re) = re {
                marks.extend(re.find_iter(&plain).map(|x| (x.start(), x.end(), style.add_modifier(Modifier::BOLD))));
            }
        }
        marks.sort_by_key(|m| m.0);
        // a mark overlapping an earlier one is left out
        let mut drawn_to = 0;
        marks.retain(|&(s, e, _)| {
            let keep = s >= drawn_to;
            if keep {
                drawn_to = e;
            }
            keep
        });
    }
    // runs of the text without escape sequences, each with its style
    let runs: Vec<(Style, std::borrow::Cow<'a, str>)> = if p.ansi && colored(theme) {
        ansi_spans(text).into_iter().map(|(st, seg)| (ansi_style(base, st), seg.into())).collect()
    } else {
        vec![(base, strip_ansi(text))]
    };
    if marks.is_empty() {
        return runs.into_iter().map(|(style, seg)| Span::styled(seg, style)).collect();
    }
    // split the runs at the marks' edges; a mark's style replaces the run's inside it
    let mut spans = Vec::new();
    let (mut pos, mut m) = (0, 0);
    for (style, seg) in runs {
        let end = pos + seg.len();
        let mut at = pos;
        while at < end {
            while m < marks.len() && marks[m].1 <= at {
                m += 1;
            }
            let (to, st) = match marks.get(m) {
                Some(&(s, e, ms)) if s <= at => (e.min(end), ms),
                Some(&(s, _, _)) => (s.min(end), style),
                None => (end, style),
            };
            spans.push(Span::styled(seg[at - pos..to - pos].to_string(), st));
            at = to;
        }
        pos = end;
    }
    spans
}

fn ansi_style(base: Style, st: crate::logs::line::AnsiStyle) -> Style {
    let mut style = base;
    if let Some(c) = st.fg {
        style = style.fg(ansi_color(c));
    }
    if let Some(c) = st.bg {
        style = style.bg(ansi_color(c));
    }
    for (on, m) in [
        (st.bold, Modifier::BOLD),
        (st.italic, Modifier::ITALIC),
        (st.underline, Modifier::UNDERLINED),
        (st.dim, Modifier::DIM),
        (st.reverse, Modifier::REVERSED),
    ] {
        if on {
            style = style.add_modifier(m);
        }
    }
    style
}

fn ansi_color(c: AnsiColor) -> Color {
    match c {
        AnsiColor::Indexed(i) => Color::Indexed(i),
        AnsiColor::Rgb(r, g, b) => Color::Rgb(r, g, b),
    }
}
