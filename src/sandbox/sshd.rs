//! The OpenSSH side of a sandbox host: ed25519 keys, a per-host `sshd_config`, starting and
//! stopping the listener, dropping its connections, and the (hashed) known_hosts file.

use std::path::Path;
use std::time::Duration;

use super::error::{log_tail, SandboxError};
use super::net;
use super::procs;
use super::state::SandboxHost;

/// Absolute path of the OpenSSH server (sshd refuses to start by a relative name).
pub const SSHD: &str = "/usr/sbin/sshd";

/// Generates an ed25519 key pair at `path` (and `path.pub`), replacing any existing one.
pub(crate) fn keygen(path: &Path, comment: &str) -> Result<(), SandboxError> {
    let _ = std::fs::remove_file(path);
    let pub_path = pub_path(path);
    let _ = std::fs::remove_file(&pub_path);
    procs::run(
        std::process::Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"]).arg(path),
        "generate ssh key",
        Duration::from_secs(20),
    )?;
    Ok(())
}

/// `<key>.pub`.
pub(crate) fn pub_path(key: &Path) -> std::path::PathBuf {
    let mut s = key.as_os_str().to_owned();
    s.push(".pub");
    s.into()
}

/// The `type base64` part of a public key file.
pub(crate) fn public_key(key: &Path) -> Result<String, SandboxError> {
    let path = pub_path(key);
    let text = std::fs::read_to_string(&path).map_err(|e| SandboxError::io("read public key", &path, e))?;
    let mut parts = text.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(kind), Some(b64)) => Ok(format!("{kind} {b64}")),
        _ => Err(SandboxError::new("read public key", format!("{}: not a public key", path.display()))),
    }
}

/// Writes the host's `sshd_config`.
pub(crate) fn write_config(host: &SandboxHost, authorized_keys: &Path) -> Result<(), SandboxError> {
    let text = format!(
        "# sshd for fleetdeck sandbox {name}; generated, do not edit\n\
         ListenAddress 127.0.0.1:{port}\n\
         HostKey {host_key}\n\
         PidFile {pidfile}\n\
         AuthorizedKeysFile {authorized_keys}\n\
         AuthenticationMethods publickey\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PermitRootLogin prohibit-password\n\
         StrictModes no\n\
         UsePAM no\n\
         AllowStreamLocalForwarding yes\n\
         AllowTcpForwarding yes\n\
         X11Forwarding no\n\
         PrintMotd no\n\
         PrintLastLog no\n\
         UseDNS no\n\
         MaxSessions 20\n\
         MaxStartups 100:30:200\n\
         LogLevel INFO\n\
         Subsystem sftp internal-sftp\n",
        name = host.name,
        port = host.ssh_port,
        host_key = host.host_key.display(),
        pidfile = host.sshd_pidfile.display(),
        authorized_keys = authorized_keys.display(),
    );
    let mut text = text;
    if let Some(home) = &host.session_home {
        // sshd applies SetEnv after its own HOME, so this one wins.
        text.push_str(&format!("SetEnv \"HOME={}\"\n", home.display()));
    }
    std::fs::write(&host.sshd_config, text)
        .map_err(|e| SandboxError::io("write sshd_config", &host.sshd_config, e).on_host(&host.name))
}

/// Starts the host's sshd (it daemonizes) and waits until it answers with an SSH banner.
/// Does nothing if it already runs.
pub(crate) fn start(host: &SandboxHost) -> Result<(), SandboxError> {
    if host.sshd_pid().is_some() && net::ssh_banner(host.ssh_port) {
        return Ok(());
    }
    // sshd's privilege separation directory.
    std::fs::create_dir_all("/run/sshd")
        .map_err(|e| SandboxError::io("start sshd", Path::new("/run/sshd"), e).on_host(&host.name))?;
    let _ = std::fs::remove_file(&host.sshd_pidfile);
    let log_len = std::fs::metadata(&host.sshd_log).map(|m| m.len() as usize).unwrap_or(0);
    let mut cmd = std::process::Command::new(SSHD);
    cmd.arg("-f").arg(&host.sshd_config).arg("-E").arg(&host.sshd_log);
    procs::run(&mut cmd, "start sshd", Duration::from_secs(20)).map_err(|mut e| {
        e.detail = format!("{}\n{}", e.detail, log_tail(&host.sshd_log, 10));
        e.on_host(&host.name)
    })?;
    // sshd daemonizes before it binds: a port taken meanwhile shows only in its log.
    let mut fatal = false;
    let up = net::wait_until(Duration::from_secs(15), Duration::from_millis(25), || {
        let log = std::fs::read(&host.sshd_log).unwrap_or_default();
        let new = String::from_utf8_lossy(log.get(log_len..).unwrap_or_default());
        fatal = new.contains("Cannot bind any address") || new.contains("no hostkeys available");
        fatal || (host.sshd_pid().is_some() && net::ssh_banner(host.ssh_port))
    });
    if !up || fatal {
        let why = if fatal { "sshd failed" } else { "sshd did not answer within 15s" };
        return Err(SandboxError::new(
            "start sshd",
            format!("{why} (127.0.0.1:{})\n{}", host.ssh_port, log_tail(&host.sshd_log, 10)),
        )
        .on_host(&host.name)
        .with_command(procs::describe(&cmd)));
    }
    Ok(())
}

/// The listener pids of this host's sshd: the pid file's, plus any process started with this
/// host's config file (a stale listener whose pid file is gone).
fn listeners(host: &SandboxHost) -> Vec<u32> {
    let mut pids = procs::pids_mentioning(std::slice::from_ref(&host.sshd_config));
    if let Some(pid) = host.sshd_pid() {
        if !pids.contains(&pid) && procs::process(pid).is_some_and(|p| procs::mentions(&p, &host.sshd_config)) {
            pids.push(pid);
        }
    }
    pids
}

/// Kills the per-connection sshd processes (and whatever runs in their sessions), not the
/// listener: every client connection drops, new connections are accepted.
pub(crate) fn kill_connections(host: &SandboxHost) {
    let children = procs::descendants(&listeners(host));
    procs::signal(&children, "KILL");
    procs::wait_dead(&children, Duration::from_secs(3));
}

/// Stops the listener and every connection; waits until the port is closed.
pub(crate) fn stop(host: &SandboxHost) {
    let roots = listeners(host);
    // Freeze the listener so it forks no new connection while its children are collected.
    procs::signal(&roots, "STOP");
    let mut all = procs::descendants(&roots);
    all.extend(&roots);
    procs::signal(&all, "KILL");
    procs::wait_dead(&all, Duration::from_secs(5));
    let _ = std::fs::remove_file(&host.sshd_pidfile);
    net::wait_until(Duration::from_secs(3), Duration::from_millis(20), || net::port_closed(host.ssh_port));
}

/// Whether any process of this host's sshd is alive.
pub(crate) fn running(host: &SandboxHost) -> bool {
    !listeners(host).is_empty()
}

/// Writes `known_hosts` listing each host as `[127.0.0.1]:PORT ssh-ed25519 ...`, then hashes
/// every entry with `ssh-keygen -H` (and removes the `.old` copy it leaves).
pub(crate) fn write_known_hosts(path: &Path, hosts: &[SandboxHost]) -> Result<(), SandboxError> {
    let mut text = String::new();
    for host in hosts {
        text.push_str(&format!("[127.0.0.1]:{} {}\n", host.ssh_port, public_key(&host.host_key)?));
    }
    std::fs::write(path, text).map_err(|e| SandboxError::io("write known_hosts", path, e))?;
    procs::run(
        std::process::Command::new("ssh-keygen").arg("-H").arg("-f").arg(path),
        "hash known_hosts",
        Duration::from_secs(20),
    )?;
    let mut old = path.as_os_str().to_owned();
    old.push(".old");
    let _ = std::fs::remove_file(std::path::PathBuf::from(old));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_sets_home_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let mut host = SandboxHost::layout(1, "fdx", dir.path(), &dir.path().join("run"), 2201);
        std::fs::create_dir_all(&host.host_dir).unwrap();
        write_config(&host, Path::new("/tmp/authorized_keys")).unwrap();
        let text = std::fs::read_to_string(&host.sshd_config).unwrap();
        assert!(text.contains("ListenAddress 127.0.0.1:2201\n"), "{text}");
        assert!(!text.contains("SetEnv"), "{text}");
        host.session_home = Some(dir.path().join("home"));
        write_config(&host, Path::new("/tmp/authorized_keys")).unwrap();
        let text = std::fs::read_to_string(&host.sshd_config).unwrap();
        assert!(text.contains(&format!("SetEnv \"HOME={}\"\n", dir.path().join("home").display())), "{text}");
    }
}
