//! Rolling deploys, rollbacks, locks and safety against the real sandbox (sshd + a Docker
//! engine per host, images built locally), through the real binary.

mod common;

use common::*;
use fleetdeck::sandbox::Sandbox;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// A sandbox with web v1 on host-1 and host-2 and a profile whose `web` service deploys
/// with a short monitor window.
fn web_fleet(extra: &str) -> (tempfile::TempDir, Sandbox, PathBuf, Vec<String>) {
    let (tmp, sb) = sandbox(2);
    let (ids, _) = web_replicas(&sb, 2, "v1");
    let web = web_service("interval = \"1s\"\n", "monitor = \"1s\"\nhealth_timeout = \"30s\"\nstop_timeout = \"2s\"\n");
    let profile = write_sandbox_profile(&sb, "deploy.toml", &format!("{extra}{web}"));
    (tmp, sb, profile, ids)
}

fn fleetdeck(profile: &Path, args: &[&str], audit: &Path) -> Output {
    Command::new(bin()).args(args).arg("--profile").arg(profile).env("FLEETDECK_AUDIT_LOG", audit).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// (image, health) of the container named `name` on host `h`.
fn web_state(sb: &Sandbox, h: usize, name: &str) -> (String, String) {
    let out = sb
        .docker(h)
        .args([
            "inspect",
            "-f",
            "{{.Config.Image}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.Status}}",
            name,
        ])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let mut it = s.split(' ');
    (it.next().unwrap_or("").to_string(), format!("{} {}", it.next().unwrap_or(""), it.next().unwrap_or("")))
}

fn names(sb: &Sandbox) -> Vec<String> {
    (1..=2).map(|i| format!("{}-web-{i}", sb.prefix)).collect()
}

fn wait_all_healthy_on(sb: &Sandbox, image: &str) {
    for (h, n) in names(sb).iter().enumerate() {
        let mut last = (String::new(), String::new());
        for _ in 0..60 {
            last = web_state(sb, h, n);
            if last.0 == image && last.1 == "healthy running" {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        assert_eq!(last, (image.to_string(), "healthy running".to_string()), "{n} on host {h}");
    }
}

fn journal(sb: &Sandbox, h: usize) -> Vec<serde_json::Value> {
    let path = sb.hosts[h].host_dir.join("state/releases/web.jsonl");
    std::fs::read_to_string(&path).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn deploy_v2_then_a_broken_v3_rolls_back_everywhere_then_rollbacks() {
    let (tmp, sb, profile, _) = web_fleet("");
    let audit = tmp.path().join("audit.jsonl");

    // Dry run: the plan, and nothing changes.
    let o = fleetdeck(&profile, &["deploy", "web", "--image", "fleetdeck-demo/web:v2", "--dry-run"], &audit);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("batch 1: host-1/") && t.contains("batch 2: host-2/"), "{t}");
    assert!(t.contains("fleetdeck-demo/web:v1 -> fleetdeck-demo/web:v2") && t.contains("nothing changed"), "{t}");
    wait_all_healthy_on(&sb, "fleetdeck-demo/web:v1");

    // v2: every replica ends on v2 and healthy; the journal on each host has the release.
    let o = fleetdeck(&profile, &["deploy", "web", "--image", "fleetdeck-demo/web:v2", "-m", "ship v2"], &audit);
    assert!(o.status.success(), "{}", text(&o));
    wait_all_healthy_on(&sb, "fleetdeck-demo/web:v2");
    for h in 0..2 {
        let j = journal(&sb, h);
        let last = j.last().expect("journal written");
        assert_eq!(last["state"], "succeeded", "{j:?}");
        assert_eq!(last["to_image"], "fleetdeck-demo/web:v2");
        assert_eq!(last["message"], "ship v2");
        assert!(last["replicas"].as_array().unwrap().iter().all(|r| r["outcome"] == "healthy"));
    }
    // No parked containers are left behind.
    let ps = sb.docker(0).args(["ps", "-a", "--format", "{{.Names}}"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&ps.stdout).lines().count(), 1);

    // v3-broken: the first gate fails; every replica is back on v2 and healthy, on every host.
    let o = fleetdeck(&profile, &["deploy", "web", "--image", "fleetdeck-demo/web:v3-broken"], &audit);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("HEALTH GATE FAILED"), "{t}");
    assert!(t.contains("last log lines of"), "the failing container's logs are shown: {t}");
    assert!(t.contains("probe health") || t.contains("healthcheck"), "probe answers or healthcheck output: {t}");
    assert!(t.contains("failed, rolled back"), "{t}");
    wait_all_healthy_on(&sb, "fleetdeck-demo/web:v2");
    for h in 0..2 {
        assert_eq!(journal(&sb, h).last().unwrap()["state"], "failed_rolled_back");
    }
    // The second replica was never touched.
    let j = journal(&sb, 0);
    let outcomes: Vec<&str> =
        j.last().unwrap()["replicas"].as_array().unwrap().iter().map(|r| r["outcome"].as_str().unwrap()).collect();
    assert!(outcomes.contains(&"rolled back") && outcomes.contains(&"not started"), "{outcomes:?}");

    // releases: the history, newest last.
    let o = fleetdeck(&profile, &["releases", "web", "--json"], &audit);
    let rel: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let states: Vec<&str> = rel.as_array().unwrap().iter().map(|r| r["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["succeeded", "failed_rolled_back"]);

    // Rollback to the previous healthy image (v1: the only earlier image of a healthy release
    // other than what runs now is none — so first record v1 by deploying it, then go back).
    let o = fleetdeck(&profile, &["deploy", "web", "--image", "fleetdeck-demo/web:v4-degraded"], &audit);
    assert_eq!(o.status.code(), Some(1), "degraded answers fail the gate: {}", text(&o));
    assert!(text(&o).contains("degraded"), "{}", text(&o));
    wait_all_healthy_on(&sb, "fleetdeck-demo/web:v2");
    let o = fleetdeck(&profile, &["deploy", "web", "--image", "fleetdeck-demo/web:v1"], &audit);
    assert!(o.status.success(), "{}", text(&o));
    wait_all_healthy_on(&sb, "fleetdeck-demo/web:v1");
    // Default rollback: the last healthy release running another image (v2).
    let o = fleetdeck(&profile, &["rollback", "web"], &audit);
    assert!(o.status.success(), "{}", text(&o));
    wait_all_healthy_on(&sb, "fleetdeck-demo/web:v2");
    // Rollback to an older chosen release: the v1 deploy.
    let rel: serde_json::Value =
        serde_json::from_slice(&fleetdeck(&profile, &["releases", "web", "--json"], &audit).stdout).unwrap();
    let v1 = rel.as_array().unwrap().iter().find(|r| r["to_image"] == "fleetdeck-demo/web:v1").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let o = fleetdeck(&profile, &["rollback", "web", "--to", &v1[..v1.len() - 2]], &audit);
    assert!(o.status.success(), "{}", text(&o));
    wait_all_healthy_on(&sb, "fleetdeck-demo/web:v1");
    let last = journal(&sb, 1).last().unwrap().clone();
    assert_eq!(last["kind"], "rollback");
    // The audit log has a begin and an end for every mutating action.
    let audit_text = std::fs::read_to_string(&audit).unwrap();
    let begins = audit_text.matches("\"phase\":\"begin\"").count();
    let ends = audit_text.matches("\"phase\":\"end\"").count();
    assert_eq!(begins, 6, "{audit_text}");
    assert_eq!(begins, ends);
}

#[test]
fn locks_read_only_and_protected_profiles() {
    let (tmp, sb, profile, _) = web_fleet("");
    let audit = tmp.path().join("audit.jsonl");
    // Someone holds the lock (a crashed deploy): a deploy reports the holder and changes nothing.
    let lock = sb.hosts[0].host_dir.join("state/locks/web.lock");
    std::fs::create_dir_all(&lock).unwrap();
    std::fs::write(
        lock.join("holder.json"),
        r#"{"id":"r1","who":"alice@laptop","since":"2026-11-30T04:00:00Z","message":"hotfix"}"#,
    )
    .unwrap();
    let o = fleetdeck(&profile, &["deploy", "web", "--image", "fleetdeck-demo/web:v2"], &audit);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("held on host-1 by alice@laptop"), "{}", text(&o));
    assert!(text(&o).contains("hotfix"));
    wait_all_healthy_on(&sb, "fleetdeck-demo/web:v1");
    assert!(!sb.hosts[1].host_dir.join("state/locks/web.lock").exists(), "our lock on host-2 was released");
    let o = fleetdeck(&profile, &["lock", "web", "status"], &audit);
    assert!(text(&o).contains("alice@laptop"), "{}", text(&o));
    let o = fleetdeck(&profile, &["lock", "web", "release"], &audit);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!lock.exists());
    assert!(std::fs::read_to_string(&audit).unwrap().contains("lock-break"));

    // Read-only: refused, by the flag and by the profile.
    let o = fleetdeck(&profile, &["deploy", "web", "--image", "fleetdeck-demo/web:v2", "--read-only"], &audit);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("read-only"), "{}", text(&o));
    let ro = edit_profile(&profile, "read_only = false", "read_only = true");
    for args in [
        vec!["deploy", "web", "--image", "fleetdeck-demo/web:v2"],
        vec!["rollback", "web"],
        vec!["lock", "web", "release"],
    ] {
        let o = fleetdeck(&ro, &args, &audit);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains("read-only"), "{}", text(&o));
    }
    // Protected: refused without --yes, done with it.
    let prot = edit_profile(&profile, "protected = false", "protected = true");
    let o = fleetdeck(&prot, &["deploy", "web", "--image", "fleetdeck-demo/web:v2"], &audit);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("protected; pass --yes"), "{}", text(&o));
    wait_all_healthy_on(&sb, "fleetdeck-demo/web:v1");
    let o = fleetdeck(&prot, &["deploy", "web", "--image", "fleetdeck-demo/web:v2", "--yes"], &audit);
    assert!(o.status.success(), "{}", text(&o));
    wait_all_healthy_on(&sb, "fleetdeck-demo/web:v2");
}

#[test]
fn two_deploys_at_once_exactly_one_proceeds() {
    let (tmp, sb, profile, _) = web_fleet("");
    let audit = tmp.path().join("audit.jsonl");
    let spawn = |image: &str| {
        Command::new(bin())
            .args(["deploy", "web", "--image", image, "--profile"])
            .arg(&profile)
            .env("FLEETDECK_AUDIT_LOG", &audit)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn("fleetdeck-demo/web:v2");
    let b = spawn("fleetdeck-demo/web:v2");
    let (oa, ob) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [oa.status.code().unwrap(), ob.status.code().unwrap()];
    assert!(
        codes.contains(&0) && codes.contains(&3),
        "one succeeds, the other finds the lock: {codes:?}\n{}\n{}",
        text(&oa),
        text(&ob)
    );
    let loser = if codes[0] == 3 { &oa } else { &ob };
    assert!(text(loser).contains("deploy lock is held"), "{}", text(loser));
    wait_all_healthy_on(&sb, "fleetdeck-demo/web:v2");
    for h in 0..2 {
        assert!(!sb.hosts[h].host_dir.join("state/locks/web.lock").exists(), "lock released on host {h}");
        let j = journal(&sb, h);
        assert_eq!(j.iter().filter(|r| r["state"] == "succeeded").count(), 1, "{j:?}");
    }
}

#[test]
fn a_pre_deploy_backup_is_recorded_with_the_release() {
    let (tmp, sb, _, _) = web_fleet("");
    let dir = tmp.path().join("backups");
    let extra = format!(
        "\n[[backups]]\nname = \"db\"\nhost = \"host-1\"\ndirectory = \"{}\"\nfile_name = \"{{job}}-{{timestamp}}.txt\"\nbackup = \"echo state > {{file}}\"\nrestore = \"cat {{file}} > /dev/null\"\nbefore_deploy = [\"web\"]\n",
        dir.display()
    );
    // the same profile, with the backup job added before the services
    let base = std::fs::read_to_string(sb.profile_path.with_file_name("deploy.toml")).unwrap();
    let profile = sb.profile_path.with_file_name("deploy-backup.toml");
    let (head, tail) = base.split_at(base.find("\n[[services]]").unwrap());
    std::fs::write(&profile, format!("{head}{extra}{tail}")).unwrap();
    let audit = tmp.path().join("audit.jsonl");
    let o = fleetdeck(&profile, &["deploy", "web", "--image", "fleetdeck-demo/web:v2", "--dry-run"], &audit);
    assert!(text(&o).contains("before: backup job db on host-1"), "{}", text(&o));
    let o = fleetdeck(&profile, &["deploy", "web", "--image", "fleetdeck-demo/web:v2"], &audit);
    assert!(o.status.success(), "{}", text(&o));
    let last = journal(&sb, 0).last().unwrap().clone();
    let backups = last["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 1, "{last}");
    assert!(backups[0].as_str().unwrap().starts_with("db:db-"), "{last}");
    // the backup's own record names the release it preceded
    let index = std::fs::read_to_string(dir.join(".fleetdeck-backups.jsonl")).unwrap();
    assert!(index.contains(last["id"].as_str().unwrap()), "{index}");
}
