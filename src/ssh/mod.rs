//! SSH connections (russh, in process): host-key checking, authentication, jump hosts,
//! exec, and the channels that carry Docker API calls and HTTP probes.

pub mod client;
pub mod error;
pub mod exec;
pub mod known_hosts;
pub mod quote;

pub use client::{connect, ConnectOptions, Prompt, SshSession};
pub use error::SshError;
