//! Configuration: profiles, ssh_config lookups, durations and located diagnostics.
//! UI data files (keymaps, themes) are parsed in `tui`, with the same diagnostics.

pub mod backup;
pub mod diag;
pub mod duration;
pub mod hosts;
pub mod profile;
pub mod ssh_config;

pub use diag::{ConfigError, ConfigErrors};
pub use profile::{Deploy, HookSpec, Probe, Profile, Service};
