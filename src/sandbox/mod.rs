//! The local sandbox fleet used by `fleetdeck demo` and by the end-to-end tests.
//!
//! A sandbox of N hosts runs, per host, an OpenSSH server on 127.0.0.1:<free port> with its own
//! host key, and a Docker engine of its own (separate `dockerd` with its own data root, exec
//! root, socket and config; no bridge, no iptables), so each engine sees only its own
//! containers, as a real host would. Many hosts can share fewer engines
//! ([`SandboxSpec::with_engines`]): 50 sshd hosts over 5 engines, say. The demo images
//! (`fleetdeck-demo/web:{v1,v2,v3-broken,v4-degraded}`, `fleetdeck-demo/worker:v1`,
//! `fleetdeck-demo/idle:v1`) are built from the machine's static busybox once per machine and
//! loaded into every engine from a cached `docker save` archive; no registry is needed. `up`
//! also writes a client key, a hashed known_hosts, a fleetdeck profile (`profile.toml`) and a
//! state file (`sandbox.json`) for `load`.
//!
//! Everything here is blocking (`std::process::Command`); async callers use `spawn_blocking`.
//! Host arguments (`host: usize`) are 0-based indexes into [`Sandbox::hosts`].

mod control;
mod demo;
mod engine;
mod error;
mod images;
mod lifecycle;
mod net;
mod nginx;
mod postgres;
mod prereq;
mod procs;
mod profile;
mod spec;
mod sshd;
mod state;

pub use engine::STORAGE_DRIVER_ENV;
pub use error::SandboxError;
pub use images::{
    health_json, web_image, BASE_IMAGE, IDLE_IMAGE, IDLE_TAG, IMAGE_CACHE_ENV, WEB_IMAGE, WEB_TAGS, WORKER_IMAGE,
    WORKER_TAG,
};
pub use lifecycle::Sandbox;
pub use net::http_get;
pub use postgres::{Postgres, ThrowawayPostgres, DEMO_DATABASE};
pub use prereq::check_prerequisites;
pub use spec::{random_prefix, SandboxSpec};
pub use state::{SandboxHost, STATE_FILE};
