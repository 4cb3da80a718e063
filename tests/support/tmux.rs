//! A tmux server of its own (killed on drop) with one session "fd" running a command, for
//! tests that drive the real binary as a person would: send keys, read the screen, wait.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    pub socket: String,
}

impl Tmux {
    /// Start `command` (run by the shell) in a `width`×`height` terminal on tmux server `socket`.
    pub fn start(socket: &str, width: u16, height: u16, command: &str) -> Tmux {
        let tmux = Tmux { socket: socket.to_string() };
        let (w, h) = (width.to_string(), height.to_string());
        let ok = tmux.cmd().args(["new-session", "-d", "-s", "fd", "-x", &w, "-y", &h]).arg(command).status();
        assert!(ok.is_ok_and(|s| s.success()), "tmux new-session");
        tmux
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    /// Send keys by tmux name ("Enter", "Escape", "C-c") or as characters.
    pub fn send(&self, keys: &[&str]) {
        let st = self.cmd().args(["send-keys", "-t", "fd"]).args(keys).status().unwrap();
        assert!(st.success(), "tmux send-keys {keys:?}");
    }

    /// Type `text` literally (no key names).
    pub fn type_text(&self, text: &str) {
        self.send(&["-l", text]);
    }

    /// A tmux format of the session (`#{alternate_on}`, ...).
    pub fn display(&self, fmt: &str) -> String {
        let out = self.cmd().args(["display-message", "-p", "-t", "fd", fmt]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn screen(&self) -> String {
        let out = self.cmd().args(["capture-pane", "-p", "-t", "fd"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Poll the screen until `cond` holds, for up to `secs` seconds.
    pub fn wait_for(&self, what: &str, secs: u64, cond: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if cond(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; screen:\n{s}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    /// Kills the server and removes its socket file (tmux leaves it behind).
    fn drop(&mut self) {
        let socket = self.cmd().args(["display-message", "-p", "#{socket_path}"]).output().ok();
        let _ = self.cmd().arg("kill-server").status();
        if let Some(path) = socket.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()) {
            if path.ends_with(&self.socket) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}
