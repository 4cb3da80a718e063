//! `fleetdeck demo`: a real local fleet (one sshd + one dockerd per host) to try the console
//! on, or to script against (`--up` / `--down`).

use super::UiArgs;
use crate::sandbox::{check_prerequisites, Sandbox, SandboxSpec};
use std::path::PathBuf;

/// Where `demo` keeps its state, so `demo --down` in another shell finds it.
pub fn default_dir() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("fleetdeck").join("demo")
}

pub fn run(ui: &UiArgs, up: bool, down: bool, hosts: usize, dir: Option<PathBuf>) -> i32 {
    let dir = dir.unwrap_or_else(default_dir);
    if down {
        return match Sandbox::load(&dir) {
            Ok(mut sb) => match sb.down() {
                Ok(()) => {
                    println!("demo fleet in {} removed", dir.display());
                    0
                }
                Err(e) => {
                    eprintln!("fleetdeck demo --down: {e}");
                    1
                }
            },
            Err(e) => {
                if !dir.exists() {
                    println!("no demo fleet in {}", dir.display());
                    return 0;
                }
                eprintln!("fleetdeck demo --down: {e}");
                1
            }
        };
    }
    if let Err(e) = check_prerequisites() {
        eprintln!("fleetdeck demo: {e}");
        return 2;
    }
    // A fleet left from an earlier `demo --up` is reused if it still runs, else replaced.
    if let Ok(mut old) = Sandbox::load(&dir) {
        if old.is_running() {
            eprintln!("using the demo fleet already running in {}", dir.display());
            old.keep();
            return finish(ui, old, up);
        }
        let _ = old.down();
    }
    let hosts = hosts.max(1);
    eprintln!("starting a demo fleet of {hosts} hosts in {} (sshd + dockerd per host)...", dir.display());
    let started = std::time::Instant::now();
    let spec = SandboxSpec::new(hosts, dir.clone()).with_demo_services();
    match Sandbox::up(spec) {
        Ok(sb) => {
            eprintln!("demo fleet up in {:.1}s", started.elapsed().as_secs_f32());
            finish(ui, sb, up)
        }
        Err(e) => {
            eprintln!("fleetdeck demo: {e}");
            1
        }
    }
}

fn finish(ui: &UiArgs, mut sb: Sandbox, up_only: bool) -> i32 {
    let profile = sb.profile_path.clone();
    if let Some(url) = sb.demo_url() {
        eprintln!("web is served through nginx at {url} (try a deploy while curling it)");
    }
    if let Some(pg) = sb.postgres() {
        eprintln!(
            "PostgreSQL database shop ({} -d shop) is backed up by job shop-db: press b in the console",
            pg.conn()
        );
    }
    if up_only {
        sb.keep();
        eprintln!("stop it with: fleetdeck demo --down");
        println!("{}", profile.display());
        return 0;
    }
    // The console owns the fleet: it goes away when the console exits.
    let code = crate::tui::run::run_console(&profile, ui);
    if !sb.is_kept() {
        let _ = sb.down();
    }
    code
}
