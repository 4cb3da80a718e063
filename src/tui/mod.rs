//! The terminal console: a thin front end over the engine. Input and worker events become
//! messages; one `update` changes the state; views are pure functions of that state.

pub mod action;
pub mod app;
mod app_help;
mod app_logs;
mod app_palette;
pub mod applog;
pub mod backups;
pub mod fuzzy;
pub mod keymap;
pub mod log_since;
pub mod logpane;
pub mod msg;
pub mod rows;
pub mod run;
mod run_backups;
mod run_deploy;
pub mod text;
pub mod theme;
pub mod view;
pub mod wizard;
mod wizard_plan;
