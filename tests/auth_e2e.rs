//! Authentication paths against the real sandbox sshd: passphrase-protected keys (headless
//! via FLEETDECK_KEY_PASSPHRASE), ssh-agent, and a jump host (ProxyJump).

mod common;

use common::*;
use std::process::Command;

fn hosts_json(profile: &std::path::Path, env: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
    let mut cmd = Command::new(bin());
    cmd.args(["hosts", "--json", "--timeout", "10s", "--profile"]).arg(profile);
    cmd.env_remove("SSH_AUTH_SOCK").env_remove("FLEETDECK_KEY_PASSPHRASE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let v = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (out.status.code().unwrap(), v, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn keygen(path: &std::path::Path, passphrase: &str) -> String {
    let st =
        Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", passphrase, "-f"]).arg(path).status().unwrap();
    assert!(st.success());
    std::fs::read_to_string(path.with_extension("pub")).unwrap()
}

#[test]
fn passphrase_protected_key_headless() {
    let (tmp, sb) = sandbox(1);
    let key = tmp.path().join("locked_key");
    let public = keygen(&key, "correct horse");
    let ak = sb.dir.join("authorized_keys");
    let mut keys = std::fs::read_to_string(&ak).unwrap();
    keys.push_str(&public);
    std::fs::write(&ak, keys).unwrap();
    let profile = edit_profile(
        &sb.profile_path,
        &format!("identity_file = \"{}\"", sb.client_key.display()),
        &format!("identity_file = \"{}\"", key.display()),
    );

    let (code, v, _) = hosts_json(&profile, &[]);
    assert_eq!(code, 2);
    let err = v[0]["error"].as_str().unwrap();
    assert!(err.contains("passphrase-protected") && err.contains("FLEETDECK_KEY_PASSPHRASE"), "{err}");

    let (code, v, _) = hosts_json(&profile, &[("FLEETDECK_KEY_PASSPHRASE", "wrong")]);
    assert_eq!(code, 2);
    assert!(v[0]["error"].as_str().unwrap().contains("wrong passphrase"), "{v}");

    let (code, v, err) = hosts_json(&profile, &[("FLEETDECK_KEY_PASSPHRASE", "correct horse")]);
    assert_eq!(code, 0, "{v} {err}");
    assert_eq!(v[0]["state"], "connected");
}

#[test]
fn ssh_agent_authentication() {
    let (tmp, sb) = sandbox(1);
    let sock = tmp.path().join("agent.sock");
    let out = Command::new("ssh-agent").arg("-a").arg(&sock).arg("-s").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let pid: String = text.split("SSH_AGENT_PID=").nth(1).unwrap().chars().take_while(|c| c.is_ascii_digit()).collect();
    struct Kill(String);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = Command::new("kill").arg(&self.0).status();
        }
    }
    let _agent = Kill(pid);
    let st = Command::new("ssh-add").arg(&sb.client_key).env("SSH_AUTH_SOCK", &sock).output().unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let profile = edit_profile(
        &sb.profile_path,
        &format!("identity_file = \"{}\"\nuse_agent = false", sb.client_key.display()),
        "use_agent = true",
    );
    let sock = sock.to_str().unwrap();
    let (code, v, err) = hosts_json(&profile, &[("SSH_AUTH_SOCK", sock)]);
    assert_eq!(code, 0, "{v} {err}");
    // Without the agent there is no key at all, and the message says what to do.
    let (code, v, _) = hosts_json(&profile, &[]);
    assert_eq!(code, 2);
    assert!(v[0]["error"].as_str().unwrap().contains("no key to offer"), "{v}");
}

#[test]
fn jump_host_carries_the_connection() {
    let (_tmp, sb) = sandbox(2);
    let port1 = sb.hosts[0].ssh_port;
    let port2 = sb.hosts[1].ssh_port;
    let via = edit_profile(
        &sb.profile_path,
        &format!("port = {port2}\n"),
        &format!("port = {port2}\njump = \"root@127.0.0.1:{port1}\"\n"),
    );
    let (code, v, err) = hosts_json(&via, &[]);
    assert_eq!(code, 0, "{v} {err}");
    assert!(v.as_array().unwrap().iter().all(|h| h["state"] == "connected"), "{v}");
    // Through a jump host that is down, host-2 fails and the error names the jump.
    sb.stop_sshd(0);
    let (code, v, _) = hosts_json(&via, &[]);
    assert_eq!(code, 2);
    let err = v[1]["error"].as_str().unwrap();
    assert!(err.contains(&format!("via jump host root@127.0.0.1:{port1}")), "{err}");
}
