//! End-to-end tests of the local sandbox fleet: real sshd and dockerd per host, the real
//! OpenSSH client, the demo images. Needs root, Docker (dockerd), openssh-server and
//! busybox-static (see scripts/install-deps.sh).
//!
//! Run with `cargo test --test sandbox_e2e -- --nocapture`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use fleetdeck::sandbox::{check_prerequisites, Sandbox, SandboxSpec};

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().expect("spawn");
    assert!(out.status.success(), "{cmd:?} failed: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Container ids (full) of an engine.
fn container_ids(mut docker: Command) -> BTreeSet<String> {
    run_ok(docker.args(["ps", "-aq", "--no-trunc"])).split_whitespace().map(str::to_string).collect()
}

/// The main engine's containers (the machine's own dockerd), to check it is left alone.
fn main_engine_ps() -> String {
    let out = Command::new("docker")
        .args(["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.Status}}"])
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .output()
        .expect("docker");
    // Status text changes with time ("Up 3 minutes"); compare id + name only.
    text(&out)
        .lines()
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Pids of processes whose command line mentions `path` (or something under it).
fn pids_mentioning(path: &Path) -> Vec<u32> {
    let needle = path.to_string_lossy().into_owned();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        if pid == std::process::id() {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&needle) && alive(pid) {
            out.push(pid);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit_once(')').map(|(_, r)| r.trim_start().chars().next()).unwrap_or(None);
            !matches!(state, Some('Z') | Some('X') | None)
        }
        Err(_) => false,
    }
}

fn mounts_under(path: &Path) -> Vec<String> {
    let needle = path.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&needle))
        .map(str::to_string)
        .collect()
}

/// Everything a sandbox runs: dockerd, containerd, shims (by path), sshd listeners.
fn sandbox_pids(sb: &Sandbox) -> BTreeSet<u32> {
    let mut pids: BTreeSet<u32> = pids_mentioning(&sb.dir).into_iter().collect();
    pids.extend(pids_mentioning(&sb.run_root));
    for h in &sb.hosts {
        pids.extend(h.dockerd_pid);
        pids.extend(h.sshd_pid());
    }
    pids
}

/// Unix socket paths that `pids` have open (containerd shims listen in /run/containerd/s).
fn socket_paths(pids: &[u32]) -> Vec<String> {
    let mut inodes = Vec::new();
    for pid in pids {
        for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).into_iter().flatten().flatten() {
            if let Ok(t) = std::fs::read_link(fd.path()) {
                let t = t.to_string_lossy().into_owned();
                if let Some(i) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                    inodes.push(i.to_string());
                }
            }
        }
    }
    std::fs::read_to_string("/proc/net/unix")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 7 && inodes.iter().any(|i| i == f[6])).then(|| f[7].to_string())
        })
        .collect()
}

fn require_prerequisites() {
    if let Err(e) = check_prerequisites() {
        panic!("{e}");
    }
}

#[test]
fn two_host_sandbox_end_to_end() {
    require_prerequisites();
    let main_before = main_engine_ps();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sb");

    let started = Instant::now();
    let sb = Sandbox::up(SandboxSpec::new(2, dir.clone())).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("up(2 hosts, no demo services) took {:?}, storage driver {:?}", started.elapsed(), sb.storage_driver);
    assert_eq!(sb.hosts.len(), 2);
    assert_eq!(sb.hosts[0].name, "host-1");
    assert!(sb.profile_path.is_file() && sb.client_key.is_file() && sb.known_hosts.is_file());

    // The generated profile is accepted by fleetdeck's own parser.
    let profile = fleetdeck::config::Profile::load(&sb.profile_path)
        .unwrap_or_else(|e| panic!("generated profile does not parse: {e:?}"));
    assert_eq!(profile.name, "sandbox");

    // known_hosts: every entry hashed, no .old copy left.
    let kh = std::fs::read_to_string(&sb.known_hosts).unwrap();
    assert_eq!(kh.lines().count(), 2, "{kh}");
    assert!(kh.lines().all(|l| l.starts_with("|1|")), "{kh}");
    assert!(!PathBuf::from(format!("{}.old", sb.known_hosts.display())).exists());

    // One replica per engine.
    let (p1, p2) = (Sandbox::free_port(), Sandbox::free_port());
    let id1 = sb.run_web(0, "t-web-1", "v1", p1, "web").unwrap_or_else(|e| panic!("{e}"));
    let id2 = sb.run_web(1, "t-web-2", "v4-degraded", p2, "web").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(container_ids(sb.docker(0)), BTreeSet::from([id1.clone()]));
    assert_eq!(container_ids(sb.docker(1)), BTreeSet::from([id2.clone()]));

    let t = Instant::now();
    sb.wait_healthy(0, &id1, Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"));
    sb.wait_healthy(1, &id2, Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("both replicas healthy after {:?}", t.elapsed());

    // Labels as the profile expects them.
    let labels = run_ok(sb.docker(1).args(["inspect", "-f", "{{json .Config.Labels}}", &id2]));
    assert!(labels.contains(r#""com.docker.compose.project":"demo""#), "{labels}");
    assert!(labels.contains(r#""com.docker.compose.service":"web""#), "{labels}");
    assert!(labels.contains(&format!(r#""fleetdeck.port":"{p2}""#)), "{labels}");

    // Numbered log lines.
    std::thread::sleep(Duration::from_millis(1200));
    let logs = run_ok(sb.docker(0).args(["logs", &id1]));
    assert!(logs.contains(r#"level=info msg="tick" n=1"#), "{logs}");

    // The real OpenSSH client, strict host-key checking against the sandbox's known_hosts.
    let sock0 = sb.hosts[0].docker_socket.display().to_string();
    let ps = run_ok(sb.ssh(0).arg(format!("docker -H unix://{sock0} ps -q --no-trunc")));
    assert!(ps.contains(&id1) && !ps.contains(&id2), "{ps}");
    let health = run_ok(sb.ssh(1).arg(format!("busybox wget -q -O- http://127.0.0.1:{p2}/health")));
    assert!(health.contains(r#""status":"degraded""#) && health.contains(r#""version":"v4""#), "{health}");
    assert!(health.contains(r#""redis":"down""#), "{health}");
    let health1 = fleetdeck::sandbox::http_get(p1, "/health", Duration::from_secs(2)).expect("v1 answers");
    assert_eq!(health1.0, 200);
    assert!(health1.1.contains(r#""status":"ok","version":"v1""#), "{health1:?}");

    // Host-key checking is really on: an empty known_hosts is refused.
    let empty_kh = tmp.path().join("empty_known_hosts");
    std::fs::write(&empty_kh, "").unwrap();
    let out = Command::new("ssh")
        .arg("-F")
        .arg(&sb.ssh_config)
        .arg("-i")
        .arg(&sb.client_key)
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", empty_kh.display()))
        .args(["-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"])
        .args(["-p", &sb.hosts[0].ssh_port.to_string(), "root@127.0.0.1", "true"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "unknown host key was accepted");
    assert!(text(&out).contains("Host key verification failed"), "{}", text(&out));

    // Dropping connections: a running session ends, the listener stays.
    let mut long =
        sb.ssh(0).arg("sleep 30").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let t = Instant::now();
    sb.kill_ssh_connections(0);
    let status = long.wait().unwrap();
    assert!(!status.success() && t.elapsed() < Duration::from_secs(5), "{status:?} after {:?}", t.elapsed());
    run_ok(sb.ssh(0).arg("true"));

    // Unreachable host and back.
    sb.stop_sshd(1);
    let out = sb.ssh(1).arg("true").stdin(Stdio::null()).output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("Connection refused"), "{}", text(&out));
    sb.start_sshd(1).unwrap_or_else(|e| panic!("{e}"));
    run_ok(sb.ssh(1).arg("true"));

    // Changed host key: strict checking refuses it.
    sb.rotate_host_key(1).unwrap_or_else(|e| panic!("{e}"));
    let out = sb.ssh(1).arg("true").stdin(Stdio::null()).output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("REMOTE HOST IDENTIFICATION HAS CHANGED"), "{}", text(&out));

    // Another process can re-open it (loaded sandboxes are kept on drop).
    let loaded = Sandbox::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.hosts, sb.hosts);
    assert!(loaded.is_kept());
    drop(loaded);
    assert!(sb.is_running());

    // Teardown leaves nothing behind.
    let pids = sandbox_pids(&sb);
    assert!(pids.len() >= 2 * 3, "expected dockerd, containerd, shim, sshd...: {pids:?}");
    let (dir_abs, run_root) = (sb.dir.clone(), sb.run_root.clone());
    let t = Instant::now();
    drop(sb);
    eprintln!("down took {:?}", t.elapsed());
    assert!(!dir_abs.exists(), "{} still exists", dir_abs.display());
    assert!(!run_root.exists());
    let left: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "still alive: {left:?}");
    assert!(pids_mentioning(&dir_abs).is_empty() && pids_mentioning(&run_root).is_empty());
    assert!(mounts_under(&dir_abs).is_empty(), "{:?}", mounts_under(&dir_abs));
    assert!(mounts_under(&run_root).is_empty());
    assert_eq!(main_engine_ps(), main_before, "the main Docker engine changed");
}

#[test]
fn three_host_demo_fleet() {
    require_prerequisites();
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut sb = Sandbox::up(SandboxSpec::new(3, tmp.path().join("demo")).with_demo_services())
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("up(3 hosts, demo services) took {:?}", started.elapsed());

    let profile = fleetdeck::config::Profile::load(&sb.profile_path).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(profile.name, "demo");
    let names = |host: usize| {
        let mut cmd = sb.docker(host);
        run_ok(cmd.args(["ps", "--format", "{{.Names}} {{.Status}}"]))
    };
    let (h1, h2, h3) = (names(0), names(1), names(2));
    assert!(h1.contains("demo-web-1") && h1.contains("(healthy)") && h1.lines().count() == 1, "{h1}");
    assert!(h2.contains("demo-web-2") && h2.contains("(healthy)") && h2.lines().count() == 1, "{h2}");
    assert!(h3.contains("demo-api-1") && h3.contains("demo-worker-1") && h3.lines().count() == 2, "{h3}");

    // `demo --down` from another process: load + down.
    sb.keep();
    let dir = sb.dir.clone();
    drop(sb);
    let mut again = Sandbox::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert!(again.is_running());
    let pids = sandbox_pids(&again);
    again.down().unwrap_or_else(|e| panic!("{e}"));
    again.down().unwrap_or_else(|e| panic!("second down: {e}"));
    assert!(!dir.exists());
    assert!(pids.iter().all(|p| !alive(*p)));
}

#[test]
fn long_dir_broken_images_and_crashed_engine() {
    require_prerequisites();
    let tmp = tempfile::tempdir().unwrap();
    // Too long for socket paths under it: sockets and exec roots move to /tmp/<prefix>.
    let dir = tmp.path().join("a-rather-long-directory-name-for-the-sandbox-state").join("x".repeat(60));
    let spec = SandboxSpec::new(1, dir.clone());
    let prefix = spec.prefix.clone();
    let sb = Sandbox::up(spec).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sb.run_root, PathBuf::from(format!("/tmp/{prefix}")));
    assert!(sb.hosts[0].docker_socket.as_os_str().len() < 100);

    // A non-empty directory that is not a sandbox is never adopted (down() would remove it).
    let other = tmp.path().join("not-a-sandbox");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("precious.txt"), "keep me").unwrap();
    let err = Sandbox::up(SandboxSpec::new(1, other.clone())).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    assert!(other.join("precious.txt").exists());

    // A second sandbox in the same dir is refused while this one runs.
    let err = Sandbox::up(SandboxSpec::new(1, dir.clone())).unwrap_err();
    assert!(err.to_string().contains("already running"), "{err}");

    let (p2, p3) = (Sandbox::free_port(), Sandbox::free_port());
    let v2 = sb.run_web(0, "t-web-v2", "v2", p2, "web").unwrap_or_else(|e| panic!("{e}"));
    let v3 = sb.run_web(0, "t-web-v3", "v3-broken", p3, "web").unwrap_or_else(|e| panic!("{e}"));
    let worker = sb.run_worker(0, "t-worker", "worker").unwrap_or_else(|e| panic!("{e}"));
    sb.wait_healthy(0, &v2, Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"));
    let body = fleetdeck::sandbox::http_get(p2, "/health", Duration::from_secs(2)).expect("v2 answers");
    assert!(body.1.contains(r#""status":"ok","version":"v2""#), "{body:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, health) = sb.container_state(0, &v3).unwrap_or_else(|e| panic!("{e}"));
        if health.as_deref() == Some("unhealthy") {
            assert_eq!(status, "running");
            break;
        }
        assert!(Instant::now() < deadline, "v3-broken never became unhealthy: {status} {health:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(fleetdeck::sandbox::http_get(p3, "/health", Duration::from_secs(2)).map(|r| r.0), Some(404));
    assert_eq!(sb.container_state(0, &worker).unwrap(), ("running".to_string(), None));

    // The engine crashes hard, leaving containerd, shims, containers and mounts behind:
    // teardown still removes everything.
    let pids = sandbox_pids(&sb);
    let shims: Vec<u32> = pids_mentioning(&sb.run_root)
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default().contains("containerd-shim")
        })
        .collect();
    assert_eq!(shims.len(), 3, "one shim per container");
    let shim_sockets: Vec<String> =
        socket_paths(&shims).into_iter().filter(|s| s.starts_with("/run/containerd/s/")).collect();
    assert!(!shim_sockets.is_empty());
    let dockerd = sb.hosts[0].dockerd_pid.expect("dockerd pid");
    Command::new("kill").args(["-KILL", &dockerd.to_string()]).status().unwrap();
    let t = Instant::now();
    while alive(dockerd) && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (dir_abs, run_root) = (sb.dir.clone(), sb.run_root.clone());
    drop(sb);
    assert!(!dir_abs.exists() && !run_root.exists());
    let left: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "still alive: {left:?}");
    assert!(mounts_under(&dir_abs).is_empty() && mounts_under(&run_root).is_empty());
    assert!(fleetdeck::sandbox::http_get(p2, "/health", Duration::from_secs(1)).is_none(), "v2 still serving");
    let stale: Vec<&String> = shim_sockets.iter().filter(|s| Path::new(s.as_str()).exists()).collect();
    assert!(stale.is_empty(), "shim sockets left in /run/containerd/s: {stale:?}");
}
