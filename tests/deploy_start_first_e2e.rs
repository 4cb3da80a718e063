//! start-first deploys against the real sandbox (sshd + a Docker engine per host, replicas on
//! the host network), behind Debian's nginx under steady load: each replacement starts beside
//! its replica on a port of its own, passes the gate, and a switch hook declared in the
//! profile rewrites nginx's upstream file and reloads nginx; the old containers are stopped
//! and kept. A broken image never receives traffic, and an abort after the first switch
//! switches traffic back. Zero failed requests throughout.

mod common;

use common::traffic::{get_body, load, nginx, LoadReport, Nginx};
use common::*;
use fleetdeck::sandbox::Sandbox;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Fields drop in this order: nginx (by its pid), the sandbox, then its directory.
struct Fleet {
    ng: Nginx,
    sb: Sandbox,
    profile: PathBuf,
    /// The v1 replicas' ports and container ids, by host.
    ports: Vec<u16>,
    ids: Vec<String>,
    range: (u16, u16),
    tmp: tempfile::TempDir,
}

/// web v1 on `hosts` hosts (one replica each) behind nginx, and a start-first profile whose
/// switch hook rewrites nginx's upstream file and reloads it.
fn web_fleet(hosts: usize, monitor: &str) -> Fleet {
    let (tmp, sb) = sandbox(hosts);
    let (ids, ports) = web_replicas(&sb, hosts, "v1");
    let ng = nginx(&tmp.path().join("nginx"), &ports);
    let first = Sandbox::free_port();
    let range = (first, first + 9);
    let switch = format!(
        r"sed -i s/127.0.0.1:{{from_port}}\ /127.0.0.1:{{to_port}}\ / {} && {}",
        ng.upstream_file().display(),
        ng.reload_command()
    );
    let deploy = format!(
        "strategy = \"start-first\"\nport_env = \"PORT\"\nport_range = \"{}-{}\"\nswitch = [{{ run = '{switch}' }}]\nmonitor = \"{monitor}\"\nhealth_timeout = \"30s\"\nstop_timeout = \"2s\"\n",
        range.0, range.1
    );
    let profile = write_sandbox_profile(&sb, "start-first.toml", &web_service("interval = \"1s\"\n", &deploy));
    Fleet { tmp, sb, profile, ports, ids, range, ng }
}

impl Fleet {
    fn deploy(&self, image: &str) -> Command {
        let mut c = Command::new(bin());
        c.args(["deploy", "web", "--image", image, "--profile"])
            .arg(&self.profile)
            .env("FLEETDECK_AUDIT_LOG", self.tmp.path().join("audit.jsonl"));
        c
    }

    /// Every container on host `h`: (name, image, state, health, fleetdeck.port label, id).
    fn containers(&self, h: usize) -> Vec<[String; 6]> {
        let out = self
            .sb
            .docker(h)
            .args([
                "ps",
                "-a",
                "--format",
                "{{.Names}}|{{.Image}}|{{.State}}|{{.Status}}|{{.Label \"fleetdeck.port\"}}|{{.ID}}",
            ])
            .output()
            .unwrap();
        let mut v: Vec<[String; 6]> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('|').collect();
                let health = if f[3].contains("(healthy)") { "healthy" } else { "-" };
                [f[0], f[1], f[2], health, f[4], f[5]].map(String::from)
            })
            .collect();
        v.sort();
        v
    }

    fn journal(&self, h: usize) -> serde_json::Value {
        let path = self.sb.hosts[h].host_dir.join("state/releases/web.jsonl");
        let text = std::fs::read_to_string(&path).unwrap();
        serde_json::from_str(text.lines().last().unwrap()).unwrap()
    }

    fn name(&self, h: usize) -> String {
        format!("{}-web-{}", self.sb.prefix, h + 1)
    }

    /// Waits until replica `h` (by name) is healthy and running on `image`.
    fn wait_replica(&self, h: usize, image: &str) -> [String; 6] {
        let mut last = None;
        for _ in 0..60 {
            let c = self.containers(h).into_iter().find(|c| c[0] == self.name(h));
            if let Some(c) = &c {
                if c[1] == image && c[2] == "running" && c[3] == "healthy" {
                    return c.clone();
                }
            }
            last = c;
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("{} on host {h} is not healthy on {image}: {last:?}", self.name(h));
    }
}

/// Runs `cmd` under 50 requests/s through nginx; returns its output and what the load saw.
fn under_load(f: &Fleet, mut cmd: Command) -> (Output, LoadReport, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let gen = load(f.ng.port, 50, stop.clone());
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    let out = cmd.output().unwrap();
    let took = started.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    (out, gen.join().unwrap(), took)
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn report(what: &str, r: &LoadReport, took: Duration) {
    println!(
        "{what}: {} requests in {:.1}s ({:.1}/s), {} failed, versions served {:?}, deploy took {:.1}s",
        r.sent,
        r.elapsed.as_secs_f32(),
        r.rate(),
        r.failed,
        r.versions,
        took.as_secs_f32()
    );
}

fn upstream_ports(ng: &Nginx) -> Vec<u16> {
    let mut v: Vec<u16> =
        ng.upstream().lines().filter_map(|l| l.split("127.0.0.1:").nth(1)?.split(' ').next()?.parse().ok()).collect();
    v.sort();
    v
}

#[test]
fn start_first_v2_behind_nginx_then_broken_v3_never_gets_traffic() {
    let f = web_fleet(2, "1s");
    let v1 = "fleetdeck-demo/web:v1";
    let v2 = "fleetdeck-demo/web:v2";
    // The ports the plan gives the replacements: the range's first two that no container holds.
    let planned: Vec<u16> = (f.range.0..=f.range.1).filter(|p| !f.ports.contains(p)).take(2).collect();

    // Dry run: strategy, ports and the rendered switch per replica; nothing changes.
    let o = f.deploy(v2).arg("--dry-run").output().unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("strategy start-first") && t.contains("nothing changed"), "{t}");
    for (h, &new) in planned.iter().enumerate() {
        let old = f.ports[h];
        assert!(t.contains(&format!("  host-{}/{}: port {old} -> {new}\n", h + 1, f.name(h))), "{t}");
        let sed = format!("switch on host-{}: sed -i s/127.0.0.1:{old}\\ /127.0.0.1:{new}\\ / ", h + 1);
        assert!(t.contains(&sed), "{sed}\n{t}");
        assert_eq!(f.containers(h).len(), 1);
    }
    assert_eq!(upstream_ports(&f.ng), sorted(&f.ports));

    // v2 under load: zero failed requests; every replica ends on v2 on its new port, nginx
    // points at the new ports, the v1 containers are stopped and kept.
    let (o, load, took) = under_load(&f, f.deploy(v2));
    println!("{}", text(&o));
    report("start-first deploy v1 -> v2 of 2 replicas behind nginx", &load, took);
    assert!(o.status.success(), "{}", text(&o));
    assert!(load.sent > 100, "the load ran throughout: {load:?}");
    assert_eq!(load.failed, 0, "failed requests: {:?}", load.errors);
    assert_eq!(load.versions, ["v1", "v2"], "traffic moved from v1 to v2");
    let mut v2_ids = Vec::new();
    let mut new_ports = Vec::new();
    for h in 0..2 {
        let c = f.wait_replica(h, v2);
        new_ports.push(c[4].parse::<u16>().unwrap());
        v2_ids.push(c[5].clone());
        let all = f.containers(h);
        assert_eq!(all.len(), 2, "{all:?}");
        let kept = all.iter().find(|c| c[0] != f.name(h)).unwrap();
        assert!(kept[0].starts_with(&format!("{}-old-", f.name(h))), "{kept:?}");
        assert_eq!((kept[1].as_str(), kept[2].as_str()), (v1, "exited"), "old container stopped and kept");
        assert!(f.ids[h].starts_with(&kept[5]), "it is the original v1 container");
        let j = f.journal(h);
        assert_eq!(j["state"], "succeeded", "{j}");
        for r in j["replicas"].as_array().unwrap() {
            assert_eq!(r["outcome"], "healthy", "{j}");
            assert!(r["to_id"].as_str().is_some(), "{j}");
        }
    }
    assert_eq!(new_ports, planned);
    assert_eq!(upstream_ports(&f.ng), sorted(&new_ports));
    assert!(get_body(f.ng.port).unwrap().1.contains("\"version\":\"v2\""));

    // v3-broken: the first gate fails; its switch never runs, so no request reaches it; the
    // replacement is removed and everything stays on v2.
    let (o, load, took) = under_load(&f, f.deploy("fleetdeck-demo/web:v3-broken"));
    report("start-first deploy v2 -> v3-broken (gate fails)", &load, took);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("HEALTH GATE FAILED"), "{t}");
    assert!(!t.contains("switching traffic"), "the switch never ran: {t}");
    assert!(load.sent > 50, "{load:?}");
    assert_eq!(load.failed, 0, "failed requests: {:?}", load.errors);
    assert_eq!(load.versions, ["v2"], "traffic never left v2");
    assert_eq!(upstream_ports(&f.ng), sorted(&new_ports));
    for (h, v2_id) in v2_ids.iter().enumerate() {
        let c = f.wait_replica(h, v2);
        assert_eq!(&c[5], v2_id, "the same v2 container serves");
        let all = f.containers(h);
        assert_eq!(all.len(), 2, "replacement removed, kept v1 container still there: {all:?}");
        assert_eq!(f.journal(h)["state"], "failed_rolled_back");
    }
}

#[test]
fn start_first_abort_after_the_first_switch_switches_traffic_back() {
    // A long monitor window after the first batch, to abort in.
    let f = web_fleet(2, "6s");
    let original = f.ng.upstream();
    let stop = Arc::new(AtomicBool::new(false));
    let gen = load(f.ng.port, 50, stop.clone());
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    let mut child =
        Running(f.deploy("fleetdeck-demo/web:v2").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap());
    // Once host-1's traffic is on its replacement (nginx's upstream file changed), Ctrl-C.
    let deadline = Instant::now() + Duration::from_secs(90);
    while f.ng.upstream() == original {
        assert!(Instant::now() < deadline, "the first switch never happened");
        assert!(child.0.try_wait().unwrap().is_none(), "the deploy ended before its first switch");
        std::thread::sleep(Duration::from_millis(50));
    }
    let switched = f.ng.upstream();
    std::thread::sleep(Duration::from_millis(1500));
    Command::new("kill").args(["-INT", &child.0.id().to_string()]).status().unwrap();
    let status = child.0.wait().unwrap();
    let took = started.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let load = gen.join().unwrap();
    let mut out = String::new();
    child.0.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    child.0.stderr.take().unwrap().read_to_string(&mut out).unwrap();
    println!("{out}");
    report("start-first deploy aborted after host-1's switch", &load, took);
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("aborted"), "{out}");
    assert!(out.contains("switching traffic back"), "{out}");
    assert_ne!(switched, original);
    assert_eq!(f.ng.upstream(), original, "nginx points at the v1 replicas again");
    assert_eq!(load.failed, 0, "failed requests: {:?}", load.errors);
    assert!(load.versions.starts_with(&["v1".to_string()]), "{load:?}");
    assert!(get_body(f.ng.port).unwrap().1.contains("\"version\":\"v1\""));
    for h in 0..2 {
        let c = f.wait_replica(h, "fleetdeck-demo/web:v1");
        assert!(f.ids[h].starts_with(&c[5]), "the original container serves again");
        assert_eq!(c[4], f.ports[h].to_string());
        assert_eq!(f.containers(h).len(), 1, "the replacement is gone: {:?}", f.containers(h));
        let j = f.journal(h);
        assert_eq!(j["state"], "aborted", "{j}");
        let outcomes: Vec<&str> =
            j["replicas"].as_array().unwrap().iter().map(|r| r["outcome"].as_str().unwrap()).collect();
        assert_eq!(outcomes, ["rolled back", "not started"], "{j}");
    }
}

#[test]
fn start_first_keeps_a_single_replica_serving() {
    // With one replica nginx has nowhere else to retry: only the switch keeps requests alive.
    let f = web_fleet(1, "1s");
    let (o, load, took) = under_load(&f, f.deploy("fleetdeck-demo/web:v2"));
    report("start-first deploy v1 -> v2 of a single replica behind nginx", &load, took);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(!t.contains("warning: only one replica"), "{t}");
    assert!(load.sent > 100, "{load:?}");
    assert_eq!(load.failed, 0, "failed requests: {:?}", load.errors);
    assert_eq!(load.versions, ["v1", "v2"]);
    let c = f.wait_replica(0, "fleetdeck-demo/web:v2");
    assert_eq!(upstream_ports(&f.ng), [c[4].parse::<u16>().unwrap()]);
    assert_eq!(f.containers(0).len(), 2, "the v1 container is kept: {:?}", f.containers(0));
}

/// A deploy in the background, killed (by its pid) if the test fails while it runs.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn sorted(v: &[u16]) -> Vec<u16> {
    let mut v = v.to_vec();
    v.sort();
    v
}
