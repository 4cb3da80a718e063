//! `fleetdeck status` and `fleetdeck hosts`: connect to every host, wait until each has a
//! complete picture (or has failed), print it, exit with a code scripts can use.

use super::{ConnectArgs, UiArgs};
use crate::config::duration::parse_duration;
use crate::config::hosts::resolve_hosts;
use crate::config::Profile;
use crate::fleet::model::FleetState;
use crate::fleet::report::StatusReport;
use crate::fleet::worker::WorkerConfig;
use crate::fleet::Fleet;
use crate::ssh::ConnectOptions;
use serde::Serialize;
use std::time::Duration;

pub fn connect_options(args: &ConnectArgs) -> ConnectOptions {
    ConnectOptions {
        accept_new_host_keys: args.accept_new_host_keys,
        prompts: None,
        passphrase: std::env::var("FLEETDECK_KEY_PASSPHRASE").ok(),
    }
}

/// Load the profile and collect the fleet until `done` holds or the timeout passes.
pub fn collect(
    ui: &UiArgs,
    args: &ConnectArgs,
    done: impl Fn(&FleetState) -> bool,
) -> Result<(Profile, FleetState), (i32, String)> {
    let Some(path) = &ui.profile else {
        return Err((2, "no profile: pass --profile FILE (or set FLEETDECK_PROFILE)".into()));
    };
    let profile = Profile::load(path).map_err(|e| (2, e.to_string()))?;
    let hosts = resolve_hosts(&profile).map_err(|e| (2, e.to_string()))?;
    let timeout = parse_duration(&args.timeout).map_err(|e| (2, format!("--timeout: {e}")))?;
    let rt = tokio::runtime::Runtime::new().map_err(|e| (2, e.to_string()))?;
    let state = rt.block_on(async {
        let (mut fleet, mut state) = Fleet::start(&profile, hosts, connect_options(args), WorkerConfig::default());
        fleet.settle(&mut state, timeout, &done).await;
        drop(fleet);
        state
    });
    rt.shutdown_timeout(Duration::from_millis(200));
    Ok((profile, state))
}

pub fn run_status(ui: &UiArgs, args: &ConnectArgs, json: bool) -> i32 {
    let (profile, state) = match collect(ui, args, FleetState::all_settled) {
        Ok(x) => x,
        Err((code, msg)) => {
            eprintln!("fleetdeck: {msg}");
            return code;
        }
    };
    let report = StatusReport::build(&profile, &state);
    if json {
        println!("{}", serde_json::to_string_pretty(&report).expect("report serializes"));
    } else {
        print!("{}", report.to_text());
    }
    report.exit_code()
}

#[derive(Serialize)]
struct HostLine {
    name: String,
    address: String,
    state: String,
    fingerprint: Option<String>,
    error: Option<String>,
}

pub fn run_hosts(ui: &UiArgs, args: &ConnectArgs, json: bool) -> i32 {
    let connected_or_failed =
        |s: &FleetState| s.hosts.iter().all(|h| h.fingerprint.is_some() && h.conn.is_connected() || h.settled());
    let (_profile, state) = match collect(ui, args, connected_or_failed) {
        Ok(x) => x,
        Err((code, msg)) => {
            eprintln!("fleetdeck: {msg}");
            return code;
        }
    };
    let lines: Vec<HostLine> = state
        .hosts
        .iter()
        .map(|h| HostLine {
            name: h.name.clone(),
            address: h.address.clone(),
            state: h.conn.label().into(),
            fingerprint: h.fingerprint.clone(),
            error: h.conn.error().map(String::from),
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&lines).expect("serializes"));
    } else {
        for l in &lines {
            println!("{:<16} {:<28} {:<18} {}", l.name, l.address, l.state, l.fingerprint.as_deref().unwrap_or("-"));
            if let Some(e) = &l.error {
                println!("    {e}");
            }
        }
    }
    if lines.iter().all(|l| l.state == "connected") {
        0
    } else {
        2
    }
}
