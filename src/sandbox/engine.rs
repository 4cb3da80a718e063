//! The Docker side of a sandbox host: a separate `dockerd` with its own data root, exec root,
//! pid file, socket and config file, no bridge and no iptables; started, awaited and stopped by
//! pid, never touching the machine's main engine.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::error::{log_tail, SandboxError};
use super::net;
use super::procs;
use super::state::SandboxHost;

/// Environment variable that forces the storage driver of sandbox engines.
pub const STORAGE_DRIVER_ENV: &str = "FLEETDECK_SANDBOX_STORAGE_DRIVER";

/// Storage drivers tried in order: overlay2 is fastest; fuse-overlayfs works where the kernel's
/// overlay cannot be used on the backing filesystem; vfs works everywhere (copies layers).
const DRIVERS: [&str; 3] = ["overlay2", "fuse-overlayfs", "vfs"];

/// The driver that worked last in this process, tried first next time.
static WORKING_DRIVER: Mutex<Option<String>> = Mutex::new(None);

/// How long a new engine may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// `docker -H unix://<socket>` for this host, with an environment that cannot redirect it
/// elsewhere, and the classic builder (no buildx needed).
pub fn docker_command(host: &SandboxHost) -> Command {
    let mut cmd = Command::new("docker");
    cmd.arg("-H").arg(host.docker_host());
    cmd.env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_TLS_VERIFY")
        .env("DOCKER_BUILDKIT", "0")
        .env("DOCKER_CLI_HINTS", "false");
    cmd
}

fn candidates() -> Vec<String> {
    if let Ok(forced) = std::env::var(STORAGE_DRIVER_ENV) {
        if !forced.trim().is_empty() {
            return vec![forced.trim().to_string()];
        }
    }
    let mut list: Vec<String> = DRIVERS.iter().map(|d| d.to_string()).collect();
    if let Some(good) = WORKING_DRIVER.lock().unwrap_or_else(|e| e.into_inner()).clone() {
        list.retain(|d| *d != good);
        list.insert(0, good);
    }
    if !std::path::Path::new("/usr/bin/fuse-overlayfs").exists() && which("fuse-overlayfs").is_none() {
        list.retain(|d| d != "fuse-overlayfs");
    }
    list
}

/// First `name` on $PATH.
pub(crate) fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// Starts the host's dockerd, trying storage drivers until one works, and waits until it
/// answers `/_ping`. Returns the child (to reap it later) and the storage driver used.
pub(crate) fn start(host: &SandboxHost) -> Result<(Child, String), SandboxError> {
    let fail = |detail: String| SandboxError::new("start dockerd", detail).on_host(&host.name);
    for dir in [&host.data_root, &host.exec_root] {
        std::fs::create_dir_all(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
    }
    if let Some(parent) = host.docker_socket.parent() {
        std::fs::create_dir_all(parent).map_err(|e| fail(format!("{}: {e}", parent.display())))?;
    }
    // Our own config file, so that /etc/docker/daemon.json (data-root, storage-driver, ...)
    // cannot conflict with the flags below.
    let config = r#"{ "log-driver": "json-file", "log-opts": { "max-size": "5m", "max-file": "2" } }"#;
    std::fs::write(&host.dockerd_config, config)
        .map_err(|e| fail(format!("{}: {e}", host.dockerd_config.display())))?;
    let dockerd = if std::path::Path::new("/usr/sbin/dockerd").exists() {
        PathBuf::from("/usr/sbin/dockerd")
    } else {
        which("dockerd").ok_or_else(|| fail("dockerd not found (apt-get install -y docker.io)".into()))?
    };

    let mut failures = Vec::new();
    for driver in candidates() {
        let _ = std::fs::remove_file(&host.docker_socket);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&host.dockerd_log)
            .map_err(|e| fail(format!("{}: {e}", host.dockerd_log.display())))?;
        let log2 = log.try_clone().map_err(|e| fail(e.to_string()))?;
        let mut cmd = Command::new(&dockerd);
        cmd.arg("--config-file")
            .arg(&host.dockerd_config)
            .arg("--data-root")
            .arg(&host.data_root)
            .arg("--exec-root")
            .arg(&host.exec_root)
            .arg("--pidfile")
            .arg(&host.dockerd_pidfile)
            .arg("-H")
            .arg(host.docker_host())
            .args(["--bridge=none", "--iptables=false", "--ip-masq=false"])
            .arg("--storage-driver")
            .arg(&driver)
            // Containers' cgroups apart from the main engine's /docker, removable in `stop`.
            .arg("--cgroup-parent")
            .arg(&host.cgroup_parent)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            // Its own process group: a Ctrl-C in the terminal does not half-stop a kept sandbox.
            .process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| fail(format!("cannot run {}: {e}", dockerd.display())).with_command(procs::describe(&cmd)))?;
        let deadline = Instant::now() + START_TIMEOUT;
        let outcome = loop {
            if net::docker_ping(&host.docker_socket) {
                break Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                break Err(format!("dockerd --storage-driver {driver} exited ({status})"));
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                kill_leftovers(host);
                break Err(format!("dockerd --storage-driver {driver} did not answer within {START_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        match outcome {
            Ok(()) => {
                *WORKING_DRIVER.lock().unwrap_or_else(|e| e.into_inner()) = Some(driver.clone());
                return Ok((child, driver));
            }
            Err(why) => {
                kill_leftovers(host);
                failures.push(why);
                // A driver that failed may have left a half-initialised data root.
                let _ = procs::unmount_under(&[host.data_root.clone(), host.exec_root.clone()]);
                let _ = std::fs::remove_dir_all(&host.data_root);
                let _ = std::fs::create_dir_all(&host.data_root);
                if ignored_flag_error(&host.dockerd_log) {
                    break;
                }
            }
        }
    }
    Err(fail(format!("{}\n{}", failures.join("\n"), log_tail(&host.dockerd_log, 12))))
}

/// Whether dockerd's last failure was not about the storage driver (no point trying others).
fn ignored_flag_error(log: &std::path::Path) -> bool {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let last = text.lines().rev().take(5).collect::<Vec<_>>().join("\n");
    last.contains("unknown flag") || last.contains("specified both as a flag and in the configuration file")
}

/// The engine's processes: dockerd itself, its containerd, shims and anything else started
/// with this host's exec root, data root or socket on the command line.
fn engine_pids(host: &SandboxHost) -> Vec<u32> {
    let mut pids =
        procs::pids_mentioning(&[host.exec_root.clone(), host.data_root.clone(), host.docker_socket.clone()]);
    if let Some(pid) = host.dockerd_pid {
        if !pids.contains(&pid) && procs::process(pid).is_some_and(|p| procs::mentions(&p, &host.exec_root)) {
            pids.push(pid);
        }
    }
    pids
}

/// SIGKILLs every process of this engine and their descendants (container processes).
/// Shims killed this way leave their socket in containerd's shared /run/containerd/s: remove
/// the ones that belonged to our shims.
fn kill_leftovers(host: &SandboxHost) {
    let roots = engine_pids(host);
    let mut all = procs::descendants(&roots);
    all.extend(&roots);
    let shims: Vec<u32> = roots
        .iter()
        .copied()
        .filter(|pid| {
            procs::process(*pid).is_some_and(|p| p.args.first().is_some_and(|a| a.contains("containerd-shim")))
        })
        .collect();
    let shim_sockets = procs::unix_socket_paths(&shims);
    procs::signal(&all, "KILL");
    procs::wait_dead(&all, Duration::from_secs(5));
    for socket in shim_sockets {
        if socket.starts_with("/run/containerd/s/") {
            let _ = std::fs::remove_file(socket);
        }
    }
}

/// Whether any process of this engine is alive.
pub(crate) fn running(host: &SandboxHost) -> bool {
    !engine_pids(host).is_empty()
}

/// Removes every container of the engine (if it answers), stops dockerd (SIGTERM, up to 10 s,
/// then SIGKILL), then kills its containerd, shims and their children if any are left.
pub(crate) fn stop(host: &SandboxHost, child: Option<Child>) {
    if net::docker_ping(&host.docker_socket) {
        let ids = procs::run(docker_command(host).args(["ps", "-aq"]), "list containers", Duration::from_secs(20))
            .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .unwrap_or_default();
        if !ids.is_empty() {
            let _ = procs::run(
                docker_command(host).args(["rm", "-f", "-v"]).args(&ids),
                "remove containers",
                Duration::from_secs(60),
            );
        }
    }
    let dockerds: Vec<u32> = engine_pids(host)
        .into_iter()
        .filter(|pid| procs::process(*pid).is_some_and(|p| p.args.first().is_some_and(|a| a.ends_with("dockerd"))))
        .collect();
    procs::terminate(&dockerds, Duration::from_secs(10));
    if let Some(mut child) = child {
        if child.try_wait().ok().flatten().is_none() {
            let _ = child.kill();
        }
        let _ = child.wait();
    }
    kill_leftovers(host);
    procs::remove_cgroups(&host.cgroup_parent);
}
