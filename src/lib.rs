//! fleetdeck: a terminal operations console for Docker fleets reached over SSH.
//!
//! The engine (`config`, `ssh`, `docker`, `fleet`, `logs`, `deploy`, `backup`, `sandbox`, `text`)
//! never imports ratatui or crossterm; `tui` and `cli` are thin front ends over it.

pub mod backup;
pub mod cli;
pub mod config;
pub mod deploy;
pub mod docker;
pub mod fleet;
pub mod logs;
pub mod sandbox;
pub mod ssh;
pub mod text;
pub mod tui;
