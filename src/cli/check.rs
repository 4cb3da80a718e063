//! `fleetdeck check`: validate configuration files without connecting anywhere.

use super::UiArgs;
use crate::config::Profile;
use crate::tui::keymap::Keymap;
use crate::tui::theme::Theme;
use std::path::Path;

pub fn run(profile: Option<&Path>, ui: &UiArgs) -> i32 {
    let mut failed = false;
    if let Some(path) = profile {
        match Profile::load(path).and_then(|p| crate::config::hosts::resolve_hosts(&p).map(|h| (p, h))) {
            Ok((p, hosts)) => println!(
                "{}: ok (profile {:?}: {} hosts, {} services)",
                path.display(),
                p.name,
                hosts.len(),
                p.services.len()
            ),
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    if let Some(k) = &ui.keymap {
        match Keymap::load(Some(k), None) {
            Ok(_) => println!("keymap {k}: ok"),
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    if let Some(t) = &ui.theme {
        match Theme::load(Some(t), None, false) {
            Ok(_) => println!("theme {t}: ok"),
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    if profile.is_none() && ui.keymap.is_none() && ui.theme.is_none() {
        eprintln!("fleetdeck check: nothing to check; give a profile file, --keymap or --theme");
        return 2;
    }
    if failed {
        1
    } else {
        0
    }
}
