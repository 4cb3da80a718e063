//! Small formatting helpers shared by the views.

use chrono::{DateTime, Utc};

/// "1.2G", "340M", "12K", "512B"
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n}B")
    } else if v < 10.0 {
        format!("{v:.1}{}", UNITS[u])
    } else {
        format!("{v:.0}{}", UNITS[u])
    }
}

/// A host's LOAD, MEM and DISK cells as the dashboard shows them.
pub fn host_metrics(m: &crate::fleet::model::HostMetrics) -> [String; 3] {
    [format!("{:.2}", m.load1), format!("{:.0}%", m.mem_used_percent()), format!("{:.0}%", m.disk_used_percent())]
}

/// A container's CPU and MEM cells as the dashboard shows them.
pub fn container_usage(u: &crate::fleet::model::ContainerUsage) -> [String; 2] {
    [format!("{:.1}%", u.cpu_percent), bytes(u.mem_bytes)]
}

/// Everything of a host's usage the dashboard shows, to tell whether a new sample changes
/// the picture at all.
pub fn shown_usage(host: &crate::fleet::model::HostState) -> Vec<String> {
    let mut out: Vec<String> = host.metrics.as_ref().map(|m| host_metrics(m).to_vec()).unwrap_or_default();
    for (id, u) in &host.usage {
        out.push(id.clone());
        out.extend(container_usage(u));
    }
    out
}

/// "12s", "5m", "3h", "2d" between `then` and `now`.
pub fn age(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (now - then).num_seconds().max(0);
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86400)
    }
}

/// Cut `s` to `max` characters with an ellipsis.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Environment variables whose names suggest secrets are shown masked.
pub fn mask_env(entry: &str) -> (String, String, bool) {
    let (name, value) = entry.split_once('=').unwrap_or((entry, ""));
    let upper = name.to_uppercase();
    let secret = ["PASSWORD", "SECRET", "TOKEN", "KEY"].iter().any(|w| upper.contains(w));
    if secret {
        (name.to_string(), "••••••".to_string(), true)
    } else {
        (name.to_string(), value.to_string(), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(1536), "1.5K");
        assert_eq!(bytes(300 * 1024 * 1024), "300M");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(mask_env("DB_PASSWORD=hunter2").1, "••••••");
        assert!(mask_env("api_key=x").2);
        assert_eq!(mask_env("PORT=8080"), ("PORT".into(), "8080".into(), false));
    }
}
