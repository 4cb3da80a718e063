//! The dashboard's visible rows: services (sorted, filtered) and, when expanded or when the
//! filter matches inside them, their replicas.

use crate::fleet::health::{Health, ServiceSummary};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Profile order, then other containers by name.
    #[default]
    Profile,
    /// Worst health first.
    Health,
    Name,
}

impl SortKey {
    pub fn next(self) -> SortKey {
        match self {
            SortKey::Profile => SortKey::Health,
            SortKey::Health => SortKey::Name,
            SortKey::Name => SortKey::Profile,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Profile => "profile order",
            SortKey::Health => "worst health first",
            SortKey::Name => "name",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Service(usize),
    Replica(usize, usize),
}

/// Does `text` contain the (lowercase) `needle`, ignoring case?
pub fn contains_ci(text: &str, needle_lower: &str) -> bool {
    needle_lower.is_empty() || text.to_lowercase().contains(needle_lower)
}

/// Order of services for display (indexes into `services`).
pub fn service_order(services: &[ServiceSummary], sort: SortKey) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..services.len()).collect();
    match sort {
        SortKey::Profile => {}
        SortKey::Name => idx.sort_by(|&a, &b| services[a].name.cmp(&services[b].name)),
        SortKey::Health => {
            idx.sort_by_key(|&i| (std::cmp::Reverse(severity(services[i].health)), services[i].name.clone()))
        }
    }
    idx
}

fn severity(h: Health) -> u8 {
    match h {
        Health::Healthy => 0,
        Health::Starting => 1,
        Health::Unknown => 2,
        Health::Degraded => 3,
        Health::Unhealthy => 4,
        Health::Down => 5,
    }
}

/// The rows shown: a service matches the filter by its name (then all replicas are
/// candidates) or through replicas whose container, host or image match.
pub fn visible_rows(
    services: &[ServiceSummary],
    sort: SortKey,
    filter: &str,
    is_expanded: impl Fn(&str) -> bool,
) -> Vec<Row> {
    let needle = filter.trim().to_lowercase();
    let mut rows = Vec::new();
    for si in service_order(services, sort) {
        let s = &services[si];
        let name_match = contains_ci(&s.name, &needle);
        let matching: Vec<usize> = s
            .replicas
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                name_match
                    || contains_ci(&r.container, &needle)
                    || contains_ci(&r.host, &needle)
                    || contains_ci(&r.image, &needle)
            })
            .map(|(i, _)| i)
            .collect();
        if !name_match && matching.is_empty() {
            continue;
        }
        rows.push(Row::Service(si));
        let filtered_inside = !needle.is_empty() && !name_match;
        if is_expanded(&s.name) || filtered_inside {
            rows.extend(matching.into_iter().map(|ri| Row::Replica(si, ri)));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::health::Replica;

    fn svc(name: &str, health: Health, replicas: &[(&str, &str)]) -> ServiceSummary {
        ServiceSummary {
            logs_only: false,
            name: name.into(),
            configured: true,
            health,
            healthy: 0,
            total: replicas.len(),
            replicas: replicas
                .iter()
                .map(|(host, c)| Replica {
                    host: host.to_string(),
                    host_index: 0,
                    container_id: c.to_string(),
                    container: c.to_string(),
                    image: "img:v1".into(),
                    health,
                    reason: String::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn filter_expands_matching_replicas_only() {
        let s = vec![
            svc("web", Health::Healthy, &[("host-1", "web-1"), ("host-2", "web-2")]),
            svc("api", Health::Down, &[("host-3", "api-1")]),
        ];
        let collapsed = |_: &str| false;
        assert_eq!(visible_rows(&s, SortKey::Profile, "", collapsed), vec![Row::Service(0), Row::Service(1)]);
        assert_eq!(visible_rows(&s, SortKey::Profile, "HOST-2", collapsed), vec![Row::Service(0), Row::Replica(0, 1)]);
        assert_eq!(visible_rows(&s, SortKey::Profile, "web", collapsed), vec![Row::Service(0)]);
        let all = |_: &str| true;
        assert_eq!(visible_rows(&s, SortKey::Health, "", all)[0], Row::Service(1));
        assert!(visible_rows(&s, SortKey::Profile, "nothing", all).is_empty());
    }
}
