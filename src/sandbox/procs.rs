//! Processes and mounts: running a command with a deadline, finding the processes a sandbox
//! started (by the paths on their command lines, and their descendants), signalling them by pid,
//! and lazily unmounting whatever is mounted under the sandbox's directories.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::error::{tail, SandboxError};

/// A command line as a readable string, for error messages.
pub(crate) fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        if arg.is_empty() || arg.contains(char::is_whitespace) {
            s.push_str(&format!(" '{arg}'"));
        } else {
            s.push(' ');
            s.push_str(&arg);
        }
    }
    s
}

/// Runs `cmd` (stdin closed, output captured), killing it after `timeout`.
/// Fails if it cannot start, times out or exits unsuccessfully; the error carries `step`, the
/// command line and the tail of its stderr (or stdout).
pub(crate) fn run(cmd: &mut Command, step: &str, timeout: Duration) -> Result<Output, SandboxError> {
    let out = run_unchecked(cmd, step, timeout)?;
    if out.status.success() {
        return Ok(out);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let text = if stderr.trim().is_empty() { stdout } else { stderr };
    Err(SandboxError::new(step, format!("{}\n{}", out.status, tail(&text, 15))).with_command(describe(cmd)))
}

/// Like [`run`], but an unsuccessful exit status is returned, not an error.
pub(crate) fn run_unchecked(cmd: &mut Command, step: &str, timeout: Duration) -> Result<Output, SandboxError> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| SandboxError::new(step, format!("cannot start: {e}")).with_command(describe(cmd)))?;
    let mut stdout_pipe = child.stdout.take();
    let mut stderr_pipe = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(p) = stdout_pipe.as_mut() {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(p) = stderr_pipe.as_mut() {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SandboxError::new(step, format!("timed out after {timeout:?}")).with_command(describe(cmd)));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(SandboxError::new(step, format!("wait: {e}")).with_command(describe(cmd))),
        }
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    Ok(Output { status, stdout, stderr })
}

/// One running process, as read from /proc.
#[derive(Debug, Clone)]
pub(crate) struct ProcInfo {
    pub pid: u32,
    pub ppid: u32,
    /// Zombies are dead for our purposes.
    pub zombie: bool,
    pub args: Vec<String>,
}

/// Every process on the machine (those that vanish while reading are skipped).
pub(crate) fn processes() -> Vec<ProcInfo> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(info) = process(pid) {
            out.push(info);
        }
    }
    out
}

/// One process by pid, if it exists.
pub(crate) fn process(pid: u32) -> Option<ProcInfo> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args =
        cmdline.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    Some(ProcInfo { pid, ppid, zombie: state == "Z" || state == "X", args })
}

/// Whether `pid` names a live (not zombie) process.
pub(crate) fn alive(pid: u32) -> bool {
    process(pid).is_some_and(|p| !p.zombie)
}

/// Whether one of the process's arguments (or, for a process that rewrote its command line
/// into one string like sshd's `sshd: /usr/sbin/sshd -f CONFIG [listener]`, one of its
/// words) is `path` or lies under it (also as `unix://PATH` or `--flag=PATH`).
pub(crate) fn mentions(info: &ProcInfo, path: &Path) -> bool {
    let p = path.to_string_lossy();
    let under = format!("{p}/");
    info.args.iter().flat_map(|a| a.split_whitespace()).any(|word| {
        let word = word.rsplit_once('=').map(|(_, v)| v).unwrap_or(word);
        let word = word.strip_prefix("unix://").unwrap_or(word);
        word == p.as_ref() || word.starts_with(&under)
    })
}

/// Pids of live processes that mention one of `paths` (see [`mentions`]), never this process.
pub(crate) fn pids_mentioning(paths: &[PathBuf]) -> Vec<u32> {
    let me = std::process::id();
    processes()
        .into_iter()
        .filter(|p| p.pid != me && !p.zombie && paths.iter().any(|path| mentions(p, path)))
        .map(|p| p.pid)
        .collect()
}

/// All live descendants of `roots` (not the roots themselves), children before grandchildren.
pub(crate) fn descendants(roots: &[u32]) -> Vec<u32> {
    let procs = processes();
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for p in procs.iter().filter(|p| !p.zombie) {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let me = std::process::id();
    let mut seen: HashSet<u32> = roots.iter().copied().collect();
    let mut out = Vec::new();
    let mut queue: Vec<u32> = roots.to_vec();
    while let Some(pid) = queue.pop() {
        for &child in children.get(&pid).map(Vec::as_slice).unwrap_or(&[]) {
            if child != me && seen.insert(child) {
                out.push(child);
                queue.push(child);
            }
        }
    }
    out
}

/// Sends `signal` ("TERM", "KILL", ...) to `pids` with the `kill` command; errors are ignored
/// (a process may already be gone).
pub(crate) fn signal(pids: &[u32], signal: &str) {
    let me = std::process::id();
    let pids: Vec<String> = pids.iter().filter(|p| **p != me && **p > 1).map(u32::to_string).collect();
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .args(&pids)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Waits until none of `pids` is alive, up to `timeout`. Returns those still alive.
pub(crate) fn wait_dead(pids: &[u32], timeout: Duration) -> Vec<u32> {
    let deadline = Instant::now() + timeout;
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM, wait up to `grace`, then SIGKILL whatever is left and wait a little more.
pub(crate) fn terminate(pids: &[u32], grace: Duration) {
    if pids.is_empty() {
        return;
    }
    signal(pids, "TERM");
    let left = wait_dead(pids, grace);
    if !left.is_empty() {
        signal(&left, "KILL");
        wait_dead(&left, Duration::from_secs(5));
    }
}

/// Mount points (from /proc/self/mountinfo) equal to or under one of `roots`, deepest first.
pub(crate) fn mounts_under(roots: &[PathBuf]) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = text
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|m| PathBuf::from(unescape_mount(m)))
        .filter(|m| roots.iter().any(|r| m.starts_with(r)))
        .collect();
    found.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    found.dedup();
    found
}

/// Decodes mountinfo's octal escapes (`\040` is a space).
fn unescape_mount(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() && bytes[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b)) {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Lazily unmounts everything mounted under `roots` (deepest first, a few passes).
/// Returns the mount points still present afterwards.
pub(crate) fn unmount_under(roots: &[PathBuf]) -> Vec<PathBuf> {
    for _ in 0..4 {
        let mounts = mounts_under(roots);
        if mounts.is_empty() {
            return mounts;
        }
        for m in &mounts {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(m)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
    mounts_under(roots)
}

/// Removes the cgroup `name` (e.g. `/fleetdeck-fd12-h1`) and everything below it from every
/// mounted cgroup hierarchy (v1 and v2), deepest first. Only empty cgroups can be removed:
/// run it after the processes in them are dead.
pub(crate) fn remove_cgroups(name: &str) {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let rel = name.trim_start_matches('/');
    if rel.is_empty() || rel.contains("..") {
        return;
    }
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let fstype = right.split(' ').next().unwrap_or("");
        if fstype != "cgroup" && fstype != "cgroup2" {
            continue;
        }
        let Some(mountpoint) = left.split(' ').nth(4) else {
            continue;
        };
        let root = Path::new(&unescape_mount(mountpoint)).join(rel);
        if root.is_dir() {
            remove_cgroup_dir(&root);
        }
    }
}

fn remove_cgroup_dir(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_dir(&entry.path());
            }
        }
    }
    // cgroup directories are removed with rmdir even though they list control files.
    let _ = std::fs::remove_dir(dir);
}

/// Paths of the unix sockets that `pids` have open and that are bound to a path (from
/// /proc/PID/fd and /proc/net/unix).
pub(crate) fn unix_socket_paths(pids: &[u32]) -> Vec<PathBuf> {
    let mut inodes = HashSet::new();
    for pid in pids {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { continue };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                let t = target.to_string_lossy();
                if let Some(inode) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                    inodes.insert(inode.to_string());
                }
            }
        }
    }
    let table = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    let mut out: Vec<PathBuf> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (inode, path) = (fields.get(6)?, fields.get(7)?);
            (inodes.contains(*inode) && path.starts_with('/')).then(|| PathBuf::from(path))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Reads a pid file (a number, maybe followed by a newline).
pub(crate) fn read_pidfile(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_mountinfo_paths() {
        assert_eq!(unescape_mount(r"/tmp/a\040b"), "/tmp/a b");
        assert_eq!(unescape_mount(r"/plain"), "/plain");
        assert_eq!(unescape_mount(r"/x\"), "/x\\");
    }

    #[test]
    fn mentions_matches_whole_paths_only() {
        let p = ProcInfo {
            pid: 1,
            ppid: 0,
            zombie: false,
            args: vec![
                "dockerd".into(),
                "--exec-root".into(),
                "/tmp/ab/exec".into(),
                "-H".into(),
                "unix:///tmp/s/d.sock".into(),
            ],
        };
        assert!(mentions(&p, Path::new("/tmp/ab")));
        assert!(mentions(&p, Path::new("/tmp/ab/exec")));
        assert!(!mentions(&p, Path::new("/tmp/a")));
        assert!(mentions(&p, Path::new("/tmp/s/d.sock")));
        let sshd = ProcInfo {
            pid: 2,
            ppid: 1,
            zombie: false,
            args: vec!["sshd: /usr/sbin/sshd -f /tmp/x/sshd_config -E /tmp/x/log [listener] 0 of 10".into()],
        };
        assert!(mentions(&sshd, Path::new("/tmp/x/sshd_config")));
        assert!(!mentions(&sshd, Path::new("/tmp/x/sshd")));
    }

    #[test]
    fn runs_with_timeout() {
        let out = run(Command::new("sh").args(["-c", "echo hi"]), "echo", Duration::from_secs(5)).unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hi");
        let err = run(Command::new("sleep").arg("5"), "sleep", Duration::from_millis(100)).unwrap_err();
        assert!(err.to_string().contains("timed out"), "{err}");
        let err =
            run(Command::new("sh").args(["-c", "echo boom >&2; exit 3"]), "fail", Duration::from_secs(5)).unwrap_err();
        assert!(err.to_string().contains("boom"), "{err}");
    }
}
