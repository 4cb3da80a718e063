//! Deploy hooks: the commands a profile declares around a deploy (`pre_deploy`, `pre_stop`,
//! `post_start`, and start-first's traffic `switch`). Their placeholders are filled by the
//! same checked renderer as backup commands (`backup::template`): every value becomes one
//! shell-quoted word of data, and a placeholder where a value could run as code (inside
//! quotes, in a here-document, as an argument of `sh -c`/`ssh`/`eval`) is refused when the
//! profile is loaded.

use crate::backup::template;

/// Which hook a command is, and so which placeholders it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    /// `pre_deploy`: once, before anything changes.
    Deploy,
    /// `pre_stop` / `post_start`: around one replica.
    Replica,
    /// `switch`: moves one replica's traffic from one container to another (start-first).
    Switch,
}

const DEPLOY: [&str; 4] = ["service", "image", "release", "host"];
const REPLICA: [&str; 7] = ["service", "image", "release", "host", "address", "container", "port"];
const SWITCH: [&str; 11] = [
    "service",
    "image",
    "release",
    "host",
    "address",
    "container",
    "port",
    "from_container",
    "to_container",
    "from_port",
    "to_port",
];

impl HookKind {
    pub fn placeholders(self) -> &'static [&'static str] {
        match self {
            HookKind::Deploy => &DEPLOY,
            HookKind::Replica => &REPLICA,
            HookKind::Switch => &SWITCH,
        }
    }
}

/// Problems of a hook command (unknown or unsafe placeholders); empty when it is fine.
pub fn check(kind: HookKind, run: &str) -> Vec<String> {
    template::check_with(run, kind.placeholders(), &[])
}

/// The values of a hook's placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vars {
    kind: HookKind,
    values: Vec<(&'static str, String)>,
}

impl Vars {
    /// `pre_deploy`: `{host}` is the host the command runs on.
    pub fn deploy(service: &str, image: &str, release: &str, host: &str) -> Vars {
        Vars {
            kind: HookKind::Deploy,
            values: vec![
                ("service", service.to_string()),
                ("image", image.to_string()),
                ("release", release.to_string()),
                ("host", host.to_string()),
            ],
        }
    }

    /// Around one replica: `{host}` and `{address}` are the replica's host (wherever the
    /// hook runs), `{container}` and `{port}` the container the hook is about.
    pub fn replica(mut self, address: &str, container: &str, port: Option<u16>) -> Vars {
        self.kind = HookKind::Replica;
        self.values.push(("address", address.to_string()));
        self.values.push(("container", container.to_string()));
        self.values.push(("port", port.map(|p| p.to_string()).unwrap_or_default()));
        self
    }

    /// A traffic switch from one container (and port) to another. `{container}` and
    /// `{port}` are the target's, like `{to_container}` and `{to_port}`.
    pub fn switch(mut self, from_container: &str, from_port: u16, to_container: &str, to_port: u16) -> Vars {
        self.kind = HookKind::Switch;
        for (k, v) in [("container", to_container.to_string()), ("port", to_port.to_string())] {
            match self.values.iter_mut().find(|(n, _)| *n == k) {
                Some(slot) => slot.1 = v,
                None => self.values.push((k, v)),
            }
        }
        self.values.push(("from_container", from_container.to_string()));
        self.values.push(("to_container", to_container.to_string()));
        self.values.push(("from_port", from_port.to_string()));
        self.values.push(("to_port", to_port.to_string()));
        self
    }

    /// The command with its placeholders replaced by shell-quoted values.
    pub fn render(&self, run: &str) -> Result<String, String> {
        template::render_with(run, self.kind.placeholders(), |name| {
            self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()).unwrap_or_default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVIL: &str = "x$(touch PWNED);y `id` 'q' \"d\" \\ * {to_port}";

    fn switch_vars(name: &str) -> Vars {
        Vars::deploy("web", "shop/web:v2", "r1-ab", "host-1").replica("10.0.0.1", name, Some(8080)).switch(
            name,
            8080,
            &format!("{name}-new"),
            8101,
        )
    }

    #[test]
    fn switch_placeholders_become_quoted_words() {
        let cmd = switch_vars("web-1")
            .render(r"sed -i s/127.0.0.1:{from_port}\;/127.0.0.1:{to_port}\;/ /etc/nginx/up.conf && nginx -s reload")
            .unwrap();
        assert_eq!(cmd, r"sed -i s/127.0.0.1:8080\;/127.0.0.1:8101\;/ /etc/nginx/up.conf && nginx -s reload");
        let cmd = switch_vars("web 1").render("echo {host} {address} {container} {port} {from_container}").unwrap();
        assert_eq!(cmd, "echo host-1 10.0.0.1 'web 1-new' 8101 'web 1'");
    }

    #[test]
    fn metacharacters_in_values_stay_data_in_a_real_shell() {
        let dir = tempfile::tempdir().unwrap();
        let vars = Vars::deploy(EVIL, EVIL, EVIL, EVIL).replica(EVIL, EVIL, None).switch(EVIL, 1, EVIL, 2);
        let cmd = vars
            .render("printf '%s|' {service} {image} {release} {host} {address} {container} {from_container} {to_container} {from_port}:{to_port}")
            .unwrap();
        let out = std::process::Command::new("sh").arg("-c").arg(&cmd).current_dir(dir.path()).output().unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{}1:2|", format!("{EVIL}|").repeat(8)));
        assert!(!dir.path().join("PWNED").exists());
    }

    #[test]
    fn unsafe_or_unknown_placeholders_are_refused_per_kind() {
        for t in ["echo '{to_port}'", "sh -c {to_container}", "ssh lb-1 reload {to_port}", "eval x={port}"] {
            assert!(!check(HookKind::Switch, t).is_empty(), "{t:?} must be refused");
            assert!(switch_vars("web-1").render(t).is_err(), "{t:?} must not render");
        }
        assert!(check(HookKind::Switch, "reload-upstream {host} {to_port} > /run/{container}.port").is_empty());
        // a replica hook has no from/to; a pre-deploy hook no container
        assert!(check(HookKind::Replica, "echo {to_port}")[0].contains("unknown placeholder {to_port}"));
        assert!(check(HookKind::Deploy, "echo {container}")[0].contains("unknown placeholder {container}"));
        assert!(check(HookKind::Deploy, "pg_dumpall | gzip > /var/backups/pre-{release}.sql.gz").is_empty());
    }
}
