//! [`Sandbox`]: bringing a local fleet up (sshd + dockerd per host, keys, images, profile,
//! state file), re-opening it from another process, and tearing it down completely.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Instant;

use super::error::SandboxError;
use super::postgres::{self, Postgres};
use super::spec::{valid_prefix, SandboxSpec};
use super::state::{run_root_for, SandboxHost, SandboxState, STATE_FILE};
use super::{demo, engine, images, net, nginx, procs, profile, sshd};

/// A running local fleet. Dropping it tears it down unless [`keep`](Sandbox::keep) was called
/// (a sandbox re-opened with [`load`](Sandbox::load) is kept: call [`down`](Sandbox::down)).
#[derive(Debug)]
pub struct Sandbox {
    /// State directory (absolute): keys, configs, logs, engine data, the state file.
    pub dir: PathBuf,
    /// The sandbox's unique prefix.
    pub prefix: String,
    /// The generated fleetdeck profile (`<dir>/profile.toml`).
    pub profile_path: PathBuf,
    /// The client's private key (ed25519, no passphrase), authorized on every host as root.
    pub client_key: PathBuf,
    /// known_hosts listing every host's key, all entries hashed.
    pub known_hosts: PathBuf,
    /// An empty ssh_config file (the profile points at it, so ~/.ssh/config cannot interfere).
    pub ssh_config: PathBuf,
    /// Where sockets and exec roots live (inside `dir`, or `/tmp/<prefix>` if `dir` is long).
    pub run_root: PathBuf,
    /// The hosts, `hosts[0]` is `host-1`. Every `host: usize` argument indexes this.
    pub hosts: Vec<SandboxHost>,
    /// The storage driver the engines use.
    pub storage_driver: Option<String>,
    pub(crate) authorized_keys: PathBuf,
    kept: bool,
    /// dockerd children started by this process (reaped in `down`), by host index.
    children: Vec<(usize, Child)>,
}

impl Sandbox {
    /// Builds the whole fleet: keys, one sshd per host and one dockerd per host (or per
    /// `spec.engines`, shared; engines start in parallel), the demo images on every engine,
    /// known_hosts, profile and state file, and the demo containers (healthy) if
    /// `spec.demo_services`. On failure everything started so far
    /// is torn down again and the error names the step, the host and the output.
    pub fn up(spec: SandboxSpec) -> Result<Sandbox, SandboxError> {
        if spec.hosts == 0 || spec.hosts > 99 {
            return Err(SandboxError::new("check spec", format!("hosts must be 1..=99, not {}", spec.hosts)));
        }
        if let Some(engines) = spec.engines {
            if engines == 0 || engines > spec.hosts {
                return Err(SandboxError::new(
                    "check spec",
                    format!("engines must be 1..={} (the number of hosts), not {engines}", spec.hosts),
                ));
            }
        }
        if !valid_prefix(&spec.prefix) {
            return Err(SandboxError::new(
                "check spec",
                format!("prefix {:?} must be 1-24 chars of [a-z0-9-]", spec.prefix),
            ));
        }
        let started = Instant::now();
        super::check_prerequisites()?;
        std::fs::create_dir_all(&spec.dir).map_err(|e| SandboxError::io("create sandbox dir", &spec.dir, e))?;
        let dir = spec.dir.canonicalize().map_err(|e| SandboxError::io("create sandbox dir", &spec.dir, e))?;
        if dir.join(STATE_FILE).exists() {
            clear_stale(&dir)?;
            std::fs::create_dir_all(&dir).map_err(|e| SandboxError::io("create sandbox dir", &dir, e))?;
        } else if std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(false) {
            // `down` removes the directory entirely: never adopt one holding anything else.
            return Err(SandboxError::new(
                "create sandbox dir",
                format!("{} is not empty and holds no sandbox; use an empty or new directory", dir.display()),
            ));
        }
        let run_root = run_root_for(&dir, &spec.prefix);
        let mut hosts: Vec<SandboxHost> =
            (1..=spec.hosts).map(|n| SandboxHost::layout(n, &spec.prefix, &dir, &run_root, net::free_port())).collect();
        if spec.empty_home {
            let home = dir.join("home");
            for host in &mut hosts {
                host.session_home = Some(home.clone());
            }
        }
        let engines = spec.engine_count();
        for i in engines..hosts.len() {
            let owner = hosts[i % engines].clone();
            hosts[i].share_engine_of(&owner, i % engines);
        }
        let mut sb = Sandbox {
            profile_path: dir.join("profile.toml"),
            client_key: dir.join("client_ed25519"),
            known_hosts: dir.join("known_hosts"),
            ssh_config: dir.join("ssh_config"),
            authorized_keys: dir.join("authorized_keys"),
            run_root,
            prefix: spec.prefix.clone(),
            hosts,
            storage_driver: None,
            kept: false,
            children: Vec::new(),
            dir,
        };
        // From here on, dropping `sb` (an error) tears down whatever was started. The state file
        // is written first so that even a crashed `up` can be cleaned by `load` + `down`.
        for host in &sb.hosts {
            std::fs::create_dir_all(&host.host_dir)
                .map_err(|e| SandboxError::io("create host dir", &host.host_dir, e))?;
        }
        std::fs::create_dir_all(&sb.run_root).map_err(|e| SandboxError::io("create socket dir", &sb.run_root, e))?;
        if let Some(home) = sb.hosts.first().and_then(|h| h.session_home.clone()) {
            std::fs::create_dir_all(&home).map_err(|e| SandboxError::io("create session home", &home, e))?;
        }
        sb.state().write()?;
        sb.start_everything()?;
        sshd::write_known_hosts(&sb.known_hosts, &sb.hosts)?;
        let name = if spec.demo_services { "demo" } else { "sandbox" };
        // The demo's database (when PostgreSQL is installed) and its backup job on host-1.
        let backups = match spec.demo_services && postgres::installed().is_some() {
            true => {
                let pg = Postgres::start(&postgres::dir_for(&sb.prefix), net::free_port())?;
                pg.seed_demo()?;
                Some(pg.demo_backup_job(&sb.hosts[0].name, &sb.dir.join("backups/shop-db")))
            }
            false => None,
        };
        let text = profile::render(&profile::ProfileInput {
            name,
            client_key: &sb.client_key,
            known_hosts: &sb.known_hosts,
            ssh_config: &sb.ssh_config,
            hosts: &sb.hosts,
            nginx_access_log: (spec.demo_services && Path::new(nginx::NGINX).exists())
                .then(|| nginx::access_log(&sb.dir))
                .as_deref(),
            backups,
        });
        std::fs::write(&sb.profile_path, text).map_err(|e| SandboxError::io("write profile", &sb.profile_path, e))?;
        sb.state().write()?;
        log::debug!("sandbox {}: {} hosts ready after {:?}", sb.prefix, sb.hosts.len(), started.elapsed());
        if spec.demo_services {
            demo::start(&sb)?;
            log::debug!("sandbox {}: demo services healthy after {:?}", sb.prefix, started.elapsed());
        }
        Ok(sb)
    }

    /// Keys, sshd per host, and (in parallel threads) dockerd + images per engine.
    fn start_everything(&mut self) -> Result<(), SandboxError> {
        sshd::keygen(&self.client_key, &format!("fleetdeck-sandbox-{}", self.prefix))?;
        let client_pub = sshd::public_key(&self.client_key)?;
        std::fs::write(&self.authorized_keys, format!("{client_pub} fleetdeck-sandbox\n"))
            .map_err(|e| SandboxError::io("write authorized_keys", &self.authorized_keys, e))?;
        std::fs::write(&self.ssh_config, "# empty on purpose: the sandbox profile needs no ssh_config aliases\n")
            .map_err(|e| SandboxError::io("write ssh_config", &self.ssh_config, e))?;
        let contexts = images::write_contexts(&self.dir.join("images"))?;

        // Only the hosts that own an engine start one; the others share it.
        let engine_hosts: Vec<(usize, SandboxHost)> =
            self.hosts.iter().cloned().enumerate().filter(|(_, h)| h.owns_engine()).collect();
        let mut ssh_hosts = self.hosts.clone();
        let authorized_keys = self.authorized_keys.clone();
        let image_source = images::ImageSource::new(contexts);
        let (engine_results, ssh_result) = std::thread::scope(|scope| {
            let workers: Vec<_> = engine_hosts
                .iter()
                .map(|(index, host)| {
                    let image_source = &image_source;
                    let worker = scope.spawn(move || -> (Option<Child>, Result<String, SandboxError>) {
                        let t = Instant::now();
                        match engine::start(host) {
                            Ok((child, driver)) => {
                                log::debug!("sandbox {}: dockerd ({driver}) ready after {:?}", host.name, t.elapsed());
                                let built = image_source.install(host).map(|()| driver);
                                log::debug!("sandbox {}: images ready after {:?}", host.name, t.elapsed());
                                (Some(child), built)
                            }
                            Err(e) => (None, Err(e)),
                        }
                    });
                    (*index, worker)
                })
                .collect();
            let t = Instant::now();
            let ssh_result = ssh_hosts.iter_mut().try_for_each(|host| start_sshd_fresh(host, &authorized_keys));
            log::debug!("sandbox: sshd of {} hosts ready after {:?}", ssh_hosts.len(), t.elapsed());
            let engine_results: Vec<_> = workers
                .into_iter()
                .map(|(index, w)| {
                    let result =
                        w.join().unwrap_or_else(|_| (None, Err(SandboxError::new("start dockerd", "thread panicked"))));
                    (index, result)
                })
                .collect();
            (engine_results, ssh_result)
        });
        // sshd may have moved to another port (if the first one was taken meanwhile).
        for (host, ssh_host) in self.hosts.iter_mut().zip(&ssh_hosts) {
            host.ssh_port = ssh_host.ssh_port;
        }
        let mut first_error = ssh_result.err();
        for (i, (child, result)) in engine_results {
            if let Some(child) = child {
                let pid = child.id();
                for host in self.hosts.iter_mut().filter(|h| h.engine_host == Some(i)) {
                    host.dockerd_pid = Some(pid);
                }
                self.hosts[i].dockerd_pid = Some(pid);
                self.children.push((i, child));
            }
            match result {
                Ok(driver) => self.storage_driver = Some(driver),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        self.state().write()?;
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Re-opens a sandbox from the state file `up` wrote in `dir` (e.g. for `demo --down` in
    /// another process). The returned sandbox is kept: dropping it leaves the fleet running;
    /// call [`down`](Sandbox::down) to stop it.
    pub fn load(dir: &Path) -> Result<Sandbox, SandboxError> {
        let dir = dir.canonicalize().map_err(|e| SandboxError::io("read state file", dir, e))?;
        let st = SandboxState::read(&dir)?;
        Ok(Sandbox {
            dir: st.dir,
            prefix: st.prefix,
            profile_path: st.profile_path,
            client_key: st.client_key,
            known_hosts: st.known_hosts,
            ssh_config: st.ssh_config,
            run_root: st.run_root,
            hosts: st.hosts,
            storage_driver: st.storage_driver,
            authorized_keys: st.authorized_keys,
            kept: true,
            children: Vec::new(),
        })
    }

    pub(crate) fn state(&self) -> SandboxState {
        SandboxState {
            version: 1,
            prefix: self.prefix.clone(),
            dir: self.dir.clone(),
            run_root: self.run_root.clone(),
            profile_path: self.profile_path.clone(),
            client_key: self.client_key.clone(),
            known_hosts: self.known_hosts.clone(),
            ssh_config: self.ssh_config.clone(),
            authorized_keys: self.authorized_keys.clone(),
            storage_driver: self.storage_driver.clone(),
            hosts: self.hosts.clone(),
        }
    }

    /// Leave the fleet running when this value is dropped (`demo --up`).
    pub fn keep(&mut self) {
        self.kept = true;
    }

    /// Whether dropping this value leaves the fleet running.
    pub fn is_kept(&self) -> bool {
        self.kept
    }

    /// The demo's web address through nginx, when it runs one.
    pub fn demo_url(&self) -> Option<String> {
        let port = std::fs::read_to_string(nginx::root(&self.dir).join("port")).ok()?;
        Some(format!("http://127.0.0.1:{}/", port.trim()))
    }

    /// The sandbox's PostgreSQL cluster (the demo's database `shop`), when it has one.
    pub fn postgres(&self) -> Option<Postgres> {
        Postgres::find(&self.prefix)
    }

    /// Whether any sshd or dockerd (or containerd, shim) of this sandbox is still running.
    pub fn is_running(&self) -> bool {
        self.hosts.iter().any(|h| sshd::running(h) || engine::running(h))
    }

    /// Tears everything down: removes the containers, stops every sshd (and its connections)
    /// and every dockerd (and its containerd and shims) by pid, unmounts what is mounted under
    /// the sandbox's directories, and removes them. Idempotent; touches nothing it did not
    /// start (processes are matched by this sandbox's paths, never by name).
    pub fn down(&mut self) -> Result<(), SandboxError> {
        nginx::stop(&self.dir);
        if let Some(pg) = Postgres::find(&self.prefix) {
            pg.destroy()?;
        }
        let mut children: Vec<Option<Child>> = (0..self.hosts.len()).map(|_| None).collect();
        for (i, child) in self.children.drain(..) {
            children[i] = Some(child);
        }
        std::thread::scope(|scope| {
            for (host, child) in self.hosts.iter().zip(children) {
                scope.spawn(move || {
                    sshd::stop(host);
                    // A shared engine is stopped once, by the host that owns it.
                    if host.owns_engine() {
                        engine::stop(host, child);
                    }
                });
            }
        });
        let roots = [self.dir.clone(), self.run_root.clone()];
        let left = procs::unmount_under(&roots);
        if !left.is_empty() {
            let list: Vec<String> = left.iter().map(|m| m.display().to_string()).collect();
            return Err(SandboxError::new("unmount", format!("still mounted: {}", list.join(", "))));
        }
        for root in &roots {
            match std::fs::remove_dir_all(root) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(SandboxError::io("remove sandbox dir", root, e)),
            }
        }
        let still: Vec<String> =
            self.hosts.iter().filter(|h| sshd::running(h) || engine::running(h)).map(|h| h.name.clone()).collect();
        if !still.is_empty() {
            return Err(SandboxError::new(
                "stop processes",
                format!("processes still running for {}", still.join(", ")),
            ));
        }
        Ok(())
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        if let Err(e) = self.down() {
            eprintln!("{e}");
        }
    }
}

/// sshd for a host that has none yet: host key, config, start. If the port was taken in the
/// meantime (another process bound it), moves to a new port, up to 3 times.
fn start_sshd_fresh(host: &mut SandboxHost, authorized_keys: &Path) -> Result<(), SandboxError> {
    sshd::keygen(&host.host_key, &format!("fleetdeck-sandbox-{}", host.name)).map_err(|e| e.on_host(&host.name))?;
    let mut attempt = 0;
    loop {
        sshd::write_config(host, authorized_keys)?;
        match sshd::start(host) {
            Ok(()) => return Ok(()),
            Err(e)
                if attempt < 3 && (e.detail.contains("Address already in use") || e.detail.contains("Cannot bind")) =>
            {
                attempt += 1;
                host.ssh_port = net::free_port();
            }
            Err(e) => return Err(e),
        }
    }
}

/// A state file already exists in `dir`: refuse if that sandbox still runs, else clean it.
fn clear_stale(dir: &Path) -> Result<(), SandboxError> {
    let mut old = Sandbox::load(dir)?;
    if old.is_running() {
        return Err(SandboxError::new(
            "create sandbox dir",
            format!("a sandbox is already running in {} (stop it first: `fleetdeck demo --down`)", dir.display()),
        ));
    }
    old.down()
}
