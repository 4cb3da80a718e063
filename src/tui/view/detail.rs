//! A container's details: what `docker inspect` would say that matters during an incident,
//! plus fleetdeck's verdict, usage and the last probe responses. Secret-looking environment
//! values are masked.

use super::format::{age, bytes, mask_env};
use crate::fleet::health::{replica_health, Health};
use crate::tui::app::App;
use crate::tui::theme::Theme;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, host_index: usize, id: &str) {
    let host = &app.fleet.hosts[host_index];
    let block = Block::default().borders(Borders::ALL).border_style(theme.border_focused);
    let Some(c) = host.container(id) else {
        let msg = format!("container {} is gone from {}", &id[..id.len().min(12)], host.name);
        frame.render_widget(Paragraph::new(msg).style(theme.muted).block(block.title(" Container ")), area);
        return;
    };
    let lines = lines(app, theme, host_index, id);
    let inner = block.inner(area);
    let scroll = app.scroll.min(super::max_scroll(&lines, inner));
    let title = Span::styled(format!(" {} on {} ", c.name, host.name), theme.title);
    let para = Paragraph::new(lines).block(block.title(title)).wrap(Wrap { trim: false }).scroll((scroll, 0));
    frame.render_widget(para, area);
}

/// The detail text of a container (empty when it is gone).
pub fn lines<'a>(app: &'a App, theme: &Theme, host_index: usize, id: &str) -> Vec<Line<'a>> {
    let host = &app.fleet.hosts[host_index];
    let Some(c) = host.container(id) else { return vec![] };
    let (health, reason) = replica_health(host, c);
    let mut lines: Vec<Line> = Vec::new();
    let kv = |k: &str, v: String| Line::from(vec![Span::styled(format!("{k:<14}"), theme.muted), Span::raw(v)]);
    lines.push(Line::from(vec![
        Span::styled(format!("{:<14}", "verdict"), theme.muted),
        Span::styled(health.label().to_string(), theme.health(health)),
        Span::raw(format!("  {reason}")),
    ]));
    lines.push(kv("host", format!("{} ({})", host.name, host.address)));
    lines.push(kv("id", c.id.clone()));
    lines.push(kv("image", c.image.clone()));
    lines.push(kv("digest", c.image_digest.clone().unwrap_or_else(|| format!("(local) {}", c.image_id))));
    let state = match (c.state.as_str(), c.exit_code) {
        ("exited", Some(code)) => format!("exited ({code})"),
        (s, _) => s.to_string(),
    };
    lines.push(kv("state", state));
    if let Some(h) = &c.health {
        lines.push(Line::from(vec![
            Span::styled(format!("{:<14}", "healthcheck"), theme.muted),
            Span::raw(format!("{h} (failing streak {})", c.health_failing_streak)),
        ]));
        if let Some(out) = &c.health_output {
            for l in out.lines().take(5) {
                lines.push(Line::from(vec![Span::raw(" ".repeat(14)), Span::styled(l.to_string(), theme.muted)]));
            }
        }
    }
    lines.push(kv("restarts", c.restart_count.to_string()));
    if let Some(t) = c.started_at {
        lines.push(kv("started", format!("{} ({} ago)", t.format("%Y-%m-%d %H:%M:%S UTC"), age(t, app.now))));
    }
    if let Some(u) = host.usage.get(&c.id) {
        let limit = u.mem_limit.map(|l| format!(" / {}", bytes(l))).unwrap_or_default();
        lines.push(kv("usage", format!("cpu {:.1}%  mem {}{limit}", u.cpu_percent, bytes(u.mem_bytes))));
    }
    if let (Some(p), Some(s)) = (&c.compose_project, &c.compose_service) {
        lines.push(kv("compose", format!("{p} / {s}")));
    }
    let ports: Vec<String> = c
        .ports
        .iter()
        .map(|p| match p.host_port {
            Some(hp) => {
                format!("{}:{hp}->{}/{}", p.host_ip.as_deref().unwrap_or("0.0.0.0"), p.container_port, p.protocol)
            }
            None => format!("{}/{}", p.container_port, p.protocol),
        })
        .collect();
    lines.push(kv("ports", if ports.is_empty() { "-".into() } else { ports.join(", ") }));
    lines.push(kv("network", c.network_mode.clone().unwrap_or_default()));
    lines.push(kv("restart", c.restart_policy.clone().unwrap_or_else(|| "no".into())));
    lines.push(kv("command", if c.command.is_empty() { "-".into() } else { c.command.join(" ") }));
    for m in &c.mounts {
        lines.push(kv(
            "mount",
            format!("{} {} -> {}{}", m.kind, m.source, m.destination, if m.read_write { "" } else { " (ro)" }),
        ));
    }
    for p in host.probes_for(&c.id) {
        lines.push(Line::raw(""));
        let status = p.http_status.map(|s| format!("HTTP {s}")).unwrap_or_else(|| "no answer".into());
        lines.push(Line::from(vec![
            Span::styled(format!("probe {:<8}", p.probe), theme.muted),
            Span::styled(format!("{:?}", p.verdict).to_lowercase(), theme.health(probe_health(p.verdict))),
            Span::raw(format!("  {status}  {}ms  {}  ({} ago)", p.latency_ms, p.url, age(p.at, app.now))),
        ]));
        let key = format!("{}/{}", p.container_id, p.probe);
        if let Some(history) = host.probe_history.get(&key).filter(|h| h.len() > 1) {
            let mut spans = vec![Span::styled(format!("{:<14}", "  history"), theme.muted)];
            for m in history {
                let (mark, h) = match m.verdict {
                    crate::fleet::model::ProbeVerdict::Healthy => ("✓", Health::Healthy),
                    crate::fleet::model::ProbeVerdict::Degraded => ("~", Health::Degraded),
                    crate::fleet::model::ProbeVerdict::Unhealthy => ("✗", Health::Unhealthy),
                };
                spans.push(Span::styled(format!("{mark} "), theme.health(h)));
            }
            let worst = history.iter().map(|m| m.latency_ms).max().unwrap_or(0);
            spans.push(Span::styled(format!(" oldest → newest, slowest {worst}ms"), theme.muted));
            lines.push(Line::from(spans));
        }
        if let Some(e) = &p.error {
            lines.push(Line::from(vec![Span::raw(" ".repeat(14)), Span::styled(e.clone(), theme.error)]));
        }
        let body = pretty_json(&p.body);
        for l in body.lines().take(20) {
            lines.push(Line::from(vec![Span::raw(" ".repeat(14)), Span::raw(l.to_string())]));
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("labels", theme.title));
    for (k, v) in &c.labels {
        lines.push(Line::from(vec![Span::styled(format!("  {k}="), theme.muted), Span::raw(v.clone())]));
    }
    lines.push(Line::styled("environment", theme.title));
    for e in &c.env {
        let (name, value, masked) = mask_env(e);
        lines.push(Line::from(vec![
            Span::styled(format!("  {name}="), theme.muted),
            Span::styled(value, if masked { theme.masked } else { theme.base }),
        ]));
    }
    lines
}

fn probe_health(v: crate::fleet::model::ProbeVerdict) -> crate::fleet::health::Health {
    use crate::fleet::health::Health;
    use crate::fleet::model::ProbeVerdict;
    match v {
        ProbeVerdict::Healthy => Health::Healthy,
        ProbeVerdict::Degraded => Health::Degraded,
        ProbeVerdict::Unhealthy => Health::Unhealthy,
    }
}

fn pretty_json(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| body.to_string())
}
