//! What to follow: targets named by the user (service, host, container) resolved against
//! the profile and the live fleet into log sources, each with an honest state.

use crate::config::Profile;
use crate::docker::model::ContainerInfo;
use crate::fleet::model::FleetState;
use serde::Serialize;

/// A target as the user names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Every replica of a profile service on every host (new replicas join), plus the
    /// service's log files and journald units.
    Service(String),
    /// Every container on a host, plus the log files and units of the services there.
    Host(String),
    /// One container by name (or id prefix), optionally on one host ("host-1/web-1").
    Container { host: Option<String>, name: String },
    /// Containers no profile service takes, in the dashboard's group of that name
    /// ([`unprofiled_group`](crate::fleet::health::unprofiled_group): `project/service` of
    /// compose labels, `swarm/NAME`); new ones join.
    Group(String),
    /// Everything.
    All,
}

impl Selector {
    /// Interpret a target: "host/container", a service name, a host name, or a container
    /// name or id prefix (checked in that order).
    pub fn parse(target: &str, profile: &Profile) -> Selector {
        if target == "all" || target == "*" {
            return Selector::All;
        }
        if let Some((host, name)) = target.split_once('/') {
            return Selector::Container { host: Some(host.to_string()), name: name.to_string() };
        }
        if profile.services.iter().any(|s| s.name == target) {
            return Selector::Service(target.to_string());
        }
        if profile.host(target).is_some() {
            return Selector::Host(target.to_string());
        }
        Selector::Container { host: None, name: target.to_string() }
    }

    /// Does this selector take container `c` on `host`?
    pub fn takes_container(&self, profile: &Profile, host: &str, c: &ContainerInfo) -> bool {
        match self {
            Selector::All => true,
            Selector::Host(h) => h == host,
            Selector::Service(name) => profile
                .services
                .iter()
                .find(|s| &s.name == name)
                .is_some_and(|s| s.runs_on(host) && s.matches(&c.name, |k| c.labels.get(k).cloned())),
            Selector::Container { host: h, name } => {
                h.as_deref().is_none_or(|h| h == host)
                    && (c.name == *name || (name.len() >= 4 && c.id.starts_with(name)))
            }
            Selector::Group(g) => {
                crate::fleet::health::unprofiled_group(c) == *g
                    && !profile
                        .services
                        .iter()
                        .any(|s| s.runs_on(host) && s.matches(&c.name, |k| c.labels.get(k).cloned()))
            }
        }
    }

    /// The (file path, journald unit) sources this selector takes on `host`.
    pub fn host_sources(&self, profile: &Profile, host: &str) -> Vec<SourceKind> {
        let services: Vec<&crate::config::Service> = match self {
            Selector::All => profile.services.iter().filter(|s| s.runs_on(host)).collect(),
            Selector::Host(h) if h == host => profile.services.iter().filter(|s| s.runs_on(host)).collect(),
            Selector::Service(name) => profile.services.iter().filter(|s| &s.name == name && s.runs_on(host)).collect(),
            _ => vec![],
        };
        let mut out = Vec::new();
        for s in services {
            out.extend(s.log_files.iter().map(|p| SourceKind::File { path: p.clone() }));
            out.extend(s.journald_units.iter().map(|u| SourceKind::Journal { unit: u.clone() }));
        }
        out.dedup();
        out
    }

    /// Names a target that exists neither in the profile nor in the fleet?
    pub fn matches_anything(&self, profile: &Profile, fleet: &FleetState) -> bool {
        fleet.hosts.iter().any(|h| {
            h.containers.iter().any(|c| self.takes_container(profile, &h.name, c))
                || !self.host_sources(profile, &h.name).is_empty()
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceKind {
    Container { id: String, name: String },
    File { path: String },
    Journal { unit: String },
}

/// The reason of [`SourceState::Ended`] when a one-shot read got everything.
pub const READ_TO_THE_END: &str = "read to the end";

/// Where a source stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SourceState {
    /// Following.
    Live,
    /// The SSH connection is down; lines will be fetched from where they stopped.
    Reconnecting,
    /// Every channel the connection keeps for followers is taken (by other log files and
    /// units of the host); it starts when one is free.
    Queued,
    /// The container is not running; its logs resume if it starts again.
    Stopped,
    /// The container was removed.
    Removed,
    /// A one-shot read finished, or the source failed for good.
    Ended { reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceInfo {
    pub host: usize,
    pub host_name: String,
    pub kind: SourceKind,
    /// "host-1/web-1", "host-1:/var/log/nginx/access.log", "host-1:nginx.service"
    pub label: String,
    pub state: SourceState,
}

impl SourceInfo {
    /// The label for a line's prefix: a file by its name only (`host-1:access.log`; the
    /// sources line and exports keep the whole path).
    pub fn short_label(&self) -> std::borrow::Cow<'_, str> {
        match &self.kind {
            SourceKind::File { path } => {
                let name = path.rsplit('/').find(|p| !p.is_empty()).unwrap_or(path);
                format!("{}:{name}", self.host_name).into()
            }
            _ => self.label.as_str().into(),
        }
    }

    pub fn new(host: usize, host_name: &str, kind: SourceKind) -> SourceInfo {
        let label = match &kind {
            SourceKind::Container { name, .. } => format!("{host_name}/{name}"),
            SourceKind::File { path } => format!("{host_name}:{path}"),
            SourceKind::Journal { unit } => format!("{host_name}:{unit}"),
        };
        SourceInfo { host, host_name: host_name.to_string(), kind, label, state: SourceState::Live }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(name: &str, project: &str, service: &str) -> ContainerInfo {
        let mut c = ContainerInfo::from_inspect(Default::default());
        c.name = name.into();
        c.compose_project = Some(project.into());
        c.compose_service = Some(service.into());
        c.labels.insert("com.docker.compose.project".into(), project.into());
        c.labels.insert("com.docker.compose.service".into(), service.into());
        c
    }

    /// A group of containers no profile service takes (as the dashboard shows it) is followed
    /// by its name, so replicas that start later join it too.
    #[test]
    fn a_group_takes_the_containers_no_profile_service_takes() {
        let text = "name = \"p\"\n[[hosts]]\nname = \"h\"\naddress = \"x\"\n\
                    [[services]]\nname = \"web\"\ncompose_project = \"shop\"\ncompose_service = \"web\"\n";
        let profile = Profile::parse(std::path::Path::new("p.toml"), text).unwrap();
        let group = Selector::Group("shop/cron".into());
        assert!(group.takes_container(&profile, "h", &container("shop-cron-1", "shop", "cron")));
        assert!(group.takes_container(&profile, "h", &container("shop-cron-7", "shop", "cron")), "a later replica");
        assert!(!group.takes_container(&profile, "h", &container("shop-web-1", "shop", "web")));
        assert!(
            !Selector::Group("shop/web".into()).takes_container(&profile, "h", &container("shop-web-1", "shop", "web")),
            "a profile service's container is the service's, not a group's"
        );
    }

    #[test]
    fn a_file_is_shown_by_its_name_in_line_prefixes() {
        let f = SourceInfo::new(0, "host-1", SourceKind::File { path: "/var/log/nginx/access.log".into() });
        assert_eq!(
            (f.label.as_str(), f.short_label().as_ref()),
            ("host-1:/var/log/nginx/access.log", "host-1:access.log")
        );
        let c = SourceInfo::new(0, "host-1", SourceKind::Container { id: "abc".into(), name: "web-1".into() });
        assert_eq!(c.short_label(), "host-1/web-1");
    }
}
