//! Merged, filtered, lossless log tailing across containers and hosts.
//!
//! Streams (container stdout/stderr through the SSH-forwarded Docker socket, `tail -F` of
//! files, journald) are each drained by their own task into a bounded ring that never
//! blocks the SSH connection and counts what it drops; the front end merges the rings into
//! a `LogStore` ordered by timestamp and bounded by a line budget, and looks at it through
//! `FilteredView`s.

pub mod docker_stream;
pub mod exec_stream;
pub mod export;
pub mod filter;
pub mod level;
pub mod line;
pub mod ring;
pub mod session;
pub mod source;
pub mod stated_time;
pub mod store;
pub mod view;
