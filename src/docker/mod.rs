//! Docker engines reached over SSH: the transport, and the reads fleetdeck makes.

pub mod model;
pub mod transport;

pub use transport::{docker_over_ssh, error_chain};
