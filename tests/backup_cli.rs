//! `fleetdeck backup list|run|verify|restore|prune`: the real binary against a sandbox host,
//! checking output, JSON and exit codes (0 done, 1 breached/failed, 2 refused/errors).

mod common;

use common::bin;
use fleetdeck::sandbox::{Sandbox, SandboxSpec};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Fx {
    _sb: Sandbox,
    tmp: tempfile::TempDir,
    profile: PathBuf,
}

impl Fx {
    fn dir(&self, job: &str) -> PathBuf {
        self.tmp.path().join(job)
    }

    fn audit(&self) -> PathBuf {
        self.tmp.path().join("audit.jsonl")
    }

    /// Run `fleetdeck backup ARGS --profile P`: (exit code, stdout, stderr).
    fn backup(&self, profile: &Path, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(bin())
            .arg("backup")
            .args(args)
            .arg("--profile")
            .arg(profile)
            .env("FLEETDECK_AUDIT_LOG", self.audit())
            .env_remove("FLEETDECK_PROFILE")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.backup(&self.profile, args)
    }

    /// A copy of the profile with `from` replaced by `to`.
    fn variant(&self, name: &str, from: &str, to: &str) -> PathBuf {
        let text = std::fs::read_to_string(&self.profile).unwrap();
        assert!(text.contains(from), "{from:?}");
        let p = self.tmp.path().join(name);
        std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
        p
    }
}

fn job(name: &str, dir: &Path, backup: &str, extra: &str) -> String {
    format!(
        "[[backups]]\nname = \"{name}\"\nhost = \"host-1\"\ndirectory = \"{}\"\nfile_name = \"{name}-{{timestamp}}.gz\"\n\
         backup = \"{backup}\"\nverify = \"gzip -t {{file}}\"\nrestore = \"gzip -dc {{file}} > {{directory}}/restored\"\n{extra}\n",
        dir.display()
    )
}

fn fixture() -> Fx {
    let tmp = tempfile::Builder::new().prefix("fdbkcli").tempdir_in("/tmp").unwrap();
    let sb = Sandbox::up(SandboxSpec::new(1, tmp.path().join("sb")).with_empty_home())
        .unwrap_or_else(|e| panic!("sandbox up: {e}"));
    let base = std::fs::read_to_string(&sb.profile_path).unwrap();
    let base = base.split("[[services]]").next().unwrap().to_string();
    let p = tmp.path();
    let jobs = [
        job("nightly", &p.join("nightly"), "date | gzip > {file}", "rpo = \"24h\"\nkeep_count = 5"),
        job("fresh", &p.join("fresh"), "date | gzip > {file}", "rpo = \"1h\"\nkeep_count = 1"),
        job("broken", &p.join("broken"), "echo 'disk on fire' >&2; false > {file}", ""),
    ];
    let text = format!("{base}\n{}", jobs.join("\n"));
    let profile = tmp.path().join("backup.toml");
    std::fs::write(&profile, text).unwrap();
    Fx { _sb: sb, tmp, profile }
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

#[test]
fn headless_backup_commands_and_their_exit_codes() {
    let fx = fixture();
    // An old backup of `nightly`, made by hand 30 hours ago; `fresh` has none.
    std::fs::create_dir_all(fx.dir("nightly")).unwrap();
    let old = fx.dir("nightly").join("nightly-20260101T000000Z.gz");
    let gz = Command::new("sh").arg("-c").arg("echo old | gzip").output().unwrap().stdout;
    std::fs::write(&old, gz).unwrap();
    let at = (chrono::Utc::now() - chrono::Duration::hours(30) - chrono::Duration::seconds(20)).to_rfc3339();
    assert!(Command::new("touch").arg("-d").arg(&at).arg(&old).status().unwrap().success());

    // list (every job): both RPOs are breached -> exit 1, clearly marked.
    let (code, out, err) = fx.run(&["list"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("nightly on host-1") && out.contains("RPO BREACHED: newest backup is 30h old, RPO 24h"),
        "{out}"
    );
    assert!(out.contains("RPO BREACHED: no backup at all, RPO 1h"), "{out}");
    assert!(out.contains("nightly-20260101T000000Z.gz") && out.contains("not verified"), "{out}");
    let (code, out, _) = fx.run(&["list", "--json"]);
    assert_eq!(code, 1);
    let v = json(&out);
    let jobs: Vec<&str> = v.as_array().unwrap().iter().map(|j| j["job"].as_str().unwrap()).collect();
    assert_eq!(jobs, ["nightly", "fresh", "broken"]);
    assert_eq!(v[0]["rpo"]["state"], "breached");
    assert_eq!(v[0]["files"][0]["name"], "nightly-20260101T000000Z.gz");
    assert!(v[0]["files"][0]["age_secs"].as_u64().unwrap() >= 30 * 3600 - 60);
    assert_eq!(v[1]["rpo"], serde_json::json!({"state": "breached", "age_secs": null, "rpo_secs": 3600}));
    assert_eq!(v[2]["rpo"]["state"], "not_set");

    // run: streamed steps, exit 0; JSON is the record.
    let (code, out, err) = fx.run(&["run", "nightly"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("backing up nightly on host-1") && out.contains("complete"), "{out}");
    let (code, out, err) = fx.run(&["run", "fresh", "--json", "--release", "r20261130T000000000Z-abcd"]);
    assert_eq!(code, 0, "{err}");
    let rec = json(&out);
    assert!(rec["error"].is_null() && rec["verified"] == true, "{rec}");
    assert_eq!(rec["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(rec["release"], "r20261130T000000000Z-abcd");
    assert!(err.contains("backing up fresh"), "progress goes to stderr with --json: {err}");
    // now every RPO is met (broken has none): exit 0
    let (code, out, _) = fx.run(&["list", "nightly"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("RPO 24h ok"), "{out}");
    let (code, out, _) = fx.run(&["list", "fresh", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json(&out)[0]["files"][0]["release"], "r20261130T000000000Z-abcd");

    // A failing backup: exit 1, the error shown, and recorded for `list`.
    let (code, out, _) = fx.run(&["run", "broken"]);
    assert_eq!(code, 1);
    assert!(out.contains("backup failed") && out.contains("disk on fire"), "{out}");
    let (_, out, _) = fx.run(&["list", "broken", "--json"]);
    assert!(json(&out)[0]["last_failure"]["error"].as_str().unwrap().contains("disk on fire"), "{out}");
    assert_eq!(json(&out)[0]["files"], serde_json::json!([]), "a failed run leaves no file");

    // verify: the newest by default, or a named file.
    let (code, out, _) = fx.run(&["verify", "nightly"]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = fx.run(&["verify", "nightly", "nightly-20260101T000000Z.gz", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json(&out)["checksum"]["state"], "not_recorded");
    std::fs::write(&old, b"not gzip at all").unwrap();
    let (code, out, _) = fx.run(&["verify", "nightly", "nightly-20260101T000000Z.gz", "--json"]);
    assert_eq!(code, 1, "{out}");
    let v = json(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["checksum"]["state"], "mismatch", "the checksum recorded by the last verify: {v}");
    let (code, _, err) = fx.run(&["verify", "nightly", "no-such-file.gz"]);
    assert_eq!(code, 2);
    assert!(err.contains("no file \"no-such-file.gz\""), "{err}");

    // restore: the plan; nothing happens without --yes.
    let (code, out, err) = fx.run(&["restore", "fresh"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("1. verify") && out.contains("safety backup"), "{out}");
    assert!(err.contains("pass --yes"), "{err}");
    assert!(!fx.dir("fresh").join("restored").exists());
    let (code, out, _) = fx.run(&["restore", "fresh", "--dry-run", "--json"]);
    assert_eq!(code, 0);
    let plan = json(&out);
    assert!(plan["safety_path"].as_str().unwrap().contains("/safety-"), "{plan}");
    assert_eq!(plan["confirm_word"], "fresh");
    let (code, out, err) = fx.run(&["restore", "fresh", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("restore of fresh-") && out.contains(": restored"), "{out}");
    assert!(out.contains("safety backup of the state before the restore:"), "{out}");
    assert!(fx.dir("fresh").join("restored").is_file());
    // a corrupted file is refused: exit 2, nothing changed
    let (code, out, err) = fx.run(&["restore", "nightly", "nightly-20260101T000000Z.gz", "--yes"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("refused") && err.contains("failed verification"), "{err}");
    assert!(!fx.dir("nightly").join("restored").exists());

    // protected: --yes is not enough, the job name must be typed.
    let protected = fx.variant("protected.toml", "protected = false", "protected = true");
    let (code, _, err) = fx.backup(&protected, &["restore", "fresh", "--yes"]);
    assert_eq!(code, 2);
    assert!(err.contains("protected") && err.contains("--confirm fresh"), "{err}");
    let (code, _, err) = fx.backup(&protected, &["restore", "fresh", "--yes", "--confirm", "nightly"]);
    assert_eq!(code, 2, "{err}");
    let (code, out, err) = fx.backup(&protected, &["restore", "fresh", "--yes", "--confirm", "fresh", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["outcome"], "restored");
    // read-only: no run, restore or prune.
    let read_only = fx.variant("ro.toml", "read_only = false", "read_only = true");
    let (code, _, err) = fx.backup(&read_only, &["run", "fresh"]);
    assert_eq!(code, 2);
    assert!(err.contains("read-only"), "{err}");

    // prune: keep_count = 1 for fresh; the preview, then exactly those files.
    let (code, _, _) = fx.run(&["run", "fresh"]);
    assert_eq!(code, 0);
    let (code, out, _) = fx.run(&["prune", "fresh", "--dry-run", "--json"]);
    assert_eq!(code, 0);
    let preview: Vec<String> = json(&out)["plan"]["delete"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["file"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(preview.len(), 2, "the older backup and the older safety backup: {out}");
    let (code, _, err) = fx.run(&["prune", "fresh"]);
    assert_eq!(code, 2);
    assert!(err.contains("pass --yes"), "{err}");
    let (code, out, err) = fx.run(&["prune", "fresh", "--yes", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    let deleted: Vec<String> =
        v["report"]["deleted"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect();
    assert_eq!(deleted, preview);
    for f in &preview {
        assert!(!fx.dir("fresh").join(f).exists());
    }
    let (code, out, _) = fx.run(&["prune", "fresh"]);
    assert_eq!(code, 0);
    assert!(out.contains("nothing is past retention"), "{out}");

    // Errors: an unknown job, and a job whose host cannot be reached.
    let (code, _, err) = fx.run(&["run", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("no backup job \"nope\"") && err.contains("nightly, fresh, broken"), "{err}");
    let dead = fx.variant("dead.toml", "port = ", &format!("port = {}\n# was: port = ", Sandbox::free_port()));
    let (code, out, _) = fx.backup(&dead, &["list", "--timeout", "5s"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("nightly on host-1  ERROR"), "{out}");

    // The audit log has the restores, their outcome, the prune and the runs.
    let audit = std::fs::read_to_string(fx.audit()).unwrap();
    let entries: Vec<Value> = audit.lines().map(json).collect();
    let count = |action: &str, outcome: &str| {
        entries.iter().filter(|e| e["action"] == action && e["phase"] == "end" && e["outcome"] == outcome).count()
    };
    assert_eq!(count("restore", "restored"), 2, "{audit}");
    assert_eq!(count("restore", "refused"), 1, "{audit}");
    assert_eq!(count("prune", "ok"), 1, "{audit}");
    assert_eq!(count("backup", "failed"), 1, "{audit}");
}
