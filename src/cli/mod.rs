//! The command line: the console (default), and headless commands for scripts and CI.

pub mod backup;
pub mod check;
pub mod demo;
pub mod deploy;
pub mod logs;
pub mod status;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "fleetdeck", version, about = "Terminal operations console for Docker fleets reached over SSH")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub ui: UiArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct UiArgs {
    /// Profile file (TOML) describing the environment.
    #[arg(long, short, global = true, env = "FLEETDECK_PROFILE")]
    pub profile: Option<PathBuf>,
    /// Theme: default, light, high-contrast, or a path to a theme file.
    #[arg(long, global = true)]
    pub theme: Option<String>,
    /// Keymap: default, k9s, vim, or a path to a keymap file.
    #[arg(long, global = true)]
    pub keymap: Option<String>,
    /// Disable every mutating action, whatever the profile says.
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Most log lines the console's log view keeps (older ones are dropped, and counted).
    #[arg(long, global = true, default_value_t = 1_000_000)]
    pub log_budget: usize,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ConnectArgs {
    /// Record host keys not yet in known_hosts instead of refusing them.
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// Give up waiting for hosts after this long (e.g. 20s).
    #[arg(long, default_value = "20s")]
    pub timeout: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the fleet: hosts, services and replica health. Exit 0 when every service is
    /// healthy, 1 when any is not, 2 when a host could not be read or on errors.
    Status {
        #[command(flatten)]
        connect: ConnectArgs,
        /// Print JSON (schema documented in the README).
        #[arg(long)]
        json: bool,
    },
    /// Show each host's connection state and host-key fingerprint.
    Hosts {
        #[command(flatten)]
        connect: ConnectArgs,
        #[arg(long)]
        json: bool,
    },
    /// Print the merged logs of services, hosts or containers across the fleet (like stern).
    Logs(logs::LogsArgs),
    /// Roll out a new image to a service, replica by replica behind health gates; any
    /// failure puts every moved replica back. A Swarm service is updated by the engine (update
    /// config set by fleetdeck, failure action rollback). Exit 0 done, 1 failed (rolled
    /// back), 3 lock held.
    Deploy(deploy::DeployArgs),
    /// Go back to an earlier release of a service (default: the last healthy one; for a Swarm
    /// service, the engine's rollback to its previous spec).
    Rollback(deploy::RollbackArgs),
    /// The release history of a service, from the journal on its hosts.
    Releases(deploy::ReleasesArgs),
    /// Show or break a service's deploy lock.
    Lock(deploy::LockArgs),
    /// Backups of the profile's [[backups]] jobs: list (exit 1 when an RPO is breached), run,
    /// verify, restore (behind a safety backup) and prune by retention.
    Backup(backup::BackupArgs),
    /// Validate a profile (and optionally a keymap and a theme) without connecting.
    Check {
        /// Profile file to validate.
        file: Option<PathBuf>,
    },
    /// Bring up a local sandbox fleet (sshd + dockerd per host) and open the console on it.
    Demo {
        /// Only bring the fleet up; print the generated profile's path as the last line.
        #[arg(long, conflicts_with = "down")]
        up: bool,
        /// Remove everything a previous `demo --up` started.
        #[arg(long)]
        down: bool,
        /// Number of hosts.
        #[arg(long, default_value_t = 3)]
        hosts: usize,
        /// State directory (default: $XDG_STATE_HOME/fleetdeck/demo or ~/.local/state/fleetdeck/demo).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// Run the program; returns the process exit code.
/// Run a headless command on a runtime of its own: its `Ok` is the exit code; an `Err` is
/// printed and exits 2.
pub(crate) fn block_on<F: std::future::Future<Output = Result<i32, String>>>(f: F) -> i32 {
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fleetdeck: {e}");
            return 2;
        }
    };
    let code = rt.block_on(f);
    rt.shutdown_timeout(std::time::Duration::from_millis(300));
    match code {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fleetdeck: {e}");
            2
        }
    }
}

pub fn run(cli: Cli) -> i32 {
    match cli.command {
        None => {
            let Some(profile) = cli.ui.profile.clone() else {
                eprintln!("fleetdeck: no profile given. Use --profile FILE, or `fleetdeck demo` to try it on a local sandbox fleet.");
                return 2;
            };
            crate::tui::run::run_console(&profile, &cli.ui)
        }
        Some(Command::Check { file }) => check::run(file.as_deref().or(cli.ui.profile.as_deref()), &cli.ui),
        Some(Command::Status { connect, json }) => status::run_status(&cli.ui, &connect, json),
        Some(Command::Hosts { connect, json }) => status::run_hosts(&cli.ui, &connect, json),
        Some(Command::Logs(args)) => logs::run(&cli.ui, &args),
        Some(Command::Deploy(a)) => deploy::run_deploy(&cli.ui, &a),
        Some(Command::Rollback(a)) => deploy::run_rollback(&cli.ui, &a),
        Some(Command::Releases(a)) => deploy::run_releases(&cli.ui, &a),
        Some(Command::Lock(a)) => deploy::run_lock(&cli.ui, &a),
        Some(Command::Backup(a)) => backup::run(&cli.ui, &a),
        Some(Command::Demo { up, down, hosts, dir }) => demo::run(&cli.ui, up, down, hosts, dir),
    }
}
