//! Guided rolling deploys, the release journal, locks and rollbacks. No UI here: long
//! operations report `DeployEvent`s that the console renders and the CLI prints.

pub mod audit;
pub mod gate;
pub mod hooks;
pub mod journal;
pub mod lock;
pub mod plan;
pub mod ports;
pub mod recreate;
pub mod runner;
pub mod swarm;
pub mod target;
