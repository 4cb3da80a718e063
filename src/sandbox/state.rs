//! What a sandbox is made of on disk: the per-host paths and ports, and the state file
//! (`<dir>/sandbox.json`) that lets another process re-open the sandbox to stop it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::SandboxError;

/// File name of the state file inside the sandbox directory.
pub const STATE_FILE: &str = "sandbox.json";

/// One sandbox host: an sshd on 127.0.0.1:`ssh_port` and a Docker engine on `docker_socket`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SandboxHost {
    /// Host name in the generated profile: `host-1`, `host-2`, ...
    pub name: String,
    /// Port of this host's sshd on 127.0.0.1.
    pub ssh_port: u16,
    /// This host's Docker engine socket (give it to `docker -H unix://...`).
    pub docker_socket: PathBuf,
    /// Per-host directory in the sandbox dir (configs, keys, logs, the engine's data root).
    pub host_dir: PathBuf,
    /// dockerd `--data-root`.
    pub data_root: PathBuf,
    /// dockerd `--exec-root` (short path: it holds containerd's sockets).
    pub exec_root: PathBuf,
    /// dockerd `--pidfile`.
    pub dockerd_pidfile: PathBuf,
    /// dockerd's own config file (so /etc/docker/daemon.json does not apply).
    pub dockerd_config: PathBuf,
    /// dockerd's log (stdout and stderr).
    pub dockerd_log: PathBuf,
    /// Pid of dockerd, once started.
    pub dockerd_pid: Option<u32>,
    /// sshd's config file.
    pub sshd_config: PathBuf,
    /// sshd's pid file (the listener's pid; changes when sshd is restarted).
    pub sshd_pidfile: PathBuf,
    /// sshd's log (`sshd -E`).
    pub sshd_log: PathBuf,
    /// This host's ed25519 host key (private; the public key is next to it with `.pub`).
    pub host_key: PathBuf,
    /// dockerd `--cgroup-parent` (cgroupfs path) of this engine's containers.
    pub cgroup_parent: String,
    /// When this host shares another host's Docker engine ([`SandboxSpec::engines`]): that
    /// host's 0-based index. The engine fields above (`docker_socket`, `data_root`,
    /// `exec_root`, `dockerd_*`, `cgroup_parent`) are then the owner's, and only the owner
    /// starts and stops the engine. `None`: the host runs an engine of its own.
    ///
    /// [`SandboxSpec::engines`]: super::SandboxSpec::engines
    #[serde(default)]
    pub engine_host: Option<usize>,
    /// HOME of this host's SSH sessions when the sandbox gives them an empty one
    /// ([`SandboxSpec::empty_home`]); `None`: the login user's own.
    ///
    /// [`SandboxSpec::empty_home`]: super::SandboxSpec::empty_home
    #[serde(default)]
    pub session_home: Option<PathBuf>,
}

impl SandboxHost {
    /// Lays out host number `number` (1-based) of sandbox `prefix` under `dir` (configs, logs,
    /// data) and `run_root` (sockets and exec root, kept short).
    pub(crate) fn layout(number: usize, prefix: &str, dir: &Path, run_root: &Path, ssh_port: u16) -> Self {
        let name = format!("host-{number}");
        let host_dir = dir.join(&name);
        let run = run_root.join(format!("h{number}"));
        SandboxHost {
            ssh_port,
            docker_socket: run.join("docker.sock"),
            data_root: host_dir.join("docker-data"),
            exec_root: run.join("exec"),
            dockerd_pidfile: host_dir.join("dockerd.pid"),
            dockerd_config: host_dir.join("daemon.json"),
            dockerd_log: host_dir.join("dockerd.log"),
            dockerd_pid: None,
            sshd_config: host_dir.join("sshd_config"),
            sshd_pidfile: host_dir.join("sshd.pid"),
            sshd_log: host_dir.join("sshd.log"),
            host_key: host_dir.join("ssh_host_ed25519_key"),
            cgroup_parent: format!("/fleetdeck-{prefix}-h{number}"),
            engine_host: None,
            session_home: None,
            host_dir,
            name,
        }
    }

    /// Makes this host use the Docker engine of `owner` (host index `owner_index`).
    pub(crate) fn share_engine_of(&mut self, owner: &SandboxHost, owner_index: usize) {
        self.docker_socket = owner.docker_socket.clone();
        self.data_root = owner.data_root.clone();
        self.exec_root = owner.exec_root.clone();
        self.dockerd_pidfile = owner.dockerd_pidfile.clone();
        self.dockerd_config = owner.dockerd_config.clone();
        self.dockerd_log = owner.dockerd_log.clone();
        self.dockerd_pid = owner.dockerd_pid;
        self.cgroup_parent = owner.cgroup_parent.clone();
        self.engine_host = Some(owner_index);
    }

    /// Whether this host runs (starts and stops) its own Docker engine.
    pub fn owns_engine(&self) -> bool {
        self.engine_host.is_none()
    }

    /// The sshd listener's pid right now (from its pid file), if it is running.
    pub fn sshd_pid(&self) -> Option<u32> {
        super::procs::read_pidfile(&self.sshd_pidfile).filter(|p| super::procs::alive(*p))
    }

    /// `unix://<docker_socket>`, the value for `docker -H` or `DOCKER_HOST`.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.docker_socket.display())
    }
}

/// The state file's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SandboxState {
    pub version: u32,
    pub prefix: String,
    pub dir: PathBuf,
    pub run_root: PathBuf,
    pub profile_path: PathBuf,
    pub client_key: PathBuf,
    pub known_hosts: PathBuf,
    pub ssh_config: PathBuf,
    pub authorized_keys: PathBuf,
    pub storage_driver: Option<String>,
    pub hosts: Vec<SandboxHost>,
}

impl SandboxState {
    pub(crate) fn write(&self) -> Result<(), SandboxError> {
        let path = self.dir.join(STATE_FILE);
        let json =
            serde_json::to_string_pretty(self).map_err(|e| SandboxError::new("write state file", e.to_string()))?;
        let tmp = self.dir.join(format!("{STATE_FILE}.tmp"));
        std::fs::write(&tmp, json).map_err(|e| SandboxError::io("write state file", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| SandboxError::io("write state file", &path, e))
    }

    pub(crate) fn read(dir: &Path) -> Result<SandboxState, SandboxError> {
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| SandboxError::io("read state file", &path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| SandboxError::new("read state file", format!("{}: {e}", path.display())))
    }
}

/// Where sockets and exec roots go: under `dir` when that keeps every socket path well within
/// the 108-byte limit of unix socket paths, else under `/tmp/<prefix>`.
pub(crate) fn run_root_for(dir: &Path, prefix: &str) -> PathBuf {
    let candidate = dir.join("run");
    // The longest socket path: <run_root>/h99/exec/containerd/containerd.sock.ttrpc
    let longest = candidate.join("h99/exec/containerd/containerd.sock.ttrpc");
    if longest.as_os_str().len() <= 100 {
        candidate
    } else {
        PathBuf::from(format!("/tmp/{prefix}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_dirs_put_sockets_under_tmp() {
        let short = run_root_for(Path::new("/tmp/.tmpAbc123"), "fdx");
        assert_eq!(short, Path::new("/tmp/.tmpAbc123/run"));
        let long_dir = PathBuf::from(format!("/work/{}", "d".repeat(80)));
        assert_eq!(run_root_for(&long_dir, "fdx"), Path::new("/tmp/fdx"));
    }

    #[test]
    fn hosts_can_share_an_engine() {
        let (dir, run) = (Path::new("/tmp/sb"), Path::new("/tmp/sb/run"));
        let owner = SandboxHost::layout(1, "fdx", dir, run, 2201);
        let mut other = SandboxHost::layout(6, "fdx", dir, run, 2206);
        assert!(owner.owns_engine() && other.owns_engine());
        other.share_engine_of(&owner, 0);
        assert!(!other.owns_engine());
        assert_eq!(other.engine_host, Some(0));
        assert_eq!(other.docker_socket, owner.docker_socket);
        assert_eq!(other.data_root, owner.data_root);
        assert_eq!(other.exec_root, owner.exec_root);
        assert_eq!(other.cgroup_parent, owner.cgroup_parent);
        // Its own sshd all the same.
        assert_eq!(other.ssh_port, 2206);
        assert_ne!(other.sshd_config, owner.sshd_config);
        assert_eq!(other.name, "host-6");
    }

    #[test]
    fn old_state_files_still_load() {
        // A host as written before engines could be shared and sessions given a home.
        let host = SandboxHost::layout(1, "fdx", Path::new("/tmp/sb"), Path::new("/tmp/sb/run"), 2201);
        let mut json: serde_json::Value = serde_json::to_value(&host).unwrap();
        let obj = json.as_object_mut().unwrap();
        obj.remove("engine_host");
        obj.remove("session_home");
        let back: SandboxHost = serde_json::from_value(json).unwrap();
        assert_eq!(back, host);
    }
}
