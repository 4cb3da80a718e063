//! What to build: [`SandboxSpec`], and random short prefixes that keep sandboxes apart.

use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// What [`Sandbox::up`](super::Sandbox::up) builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSpec {
    /// Short unique name of this sandbox (lowercase letters, digits, `-`), e.g. `fd3a9c51e0`.
    /// It names the socket directory when the state dir is too long for socket paths.
    pub prefix: String,
    /// Number of hosts (1..=99), named `host-1`, `host-2`, ...
    pub hosts: usize,
    /// State directory: created if missing; removed entirely by `down()`.
    pub dir: PathBuf,
    /// Start the demo containers (service `web` on host-1 and host-2, `api` and `worker` on
    /// host-3; with fewer hosts they wrap around) and wait until they are healthy.
    pub demo_services: bool,
    /// Number of Docker engines the hosts are spread over (1..=`hosts`): host `i` (0-based)
    /// uses the engine of host `i % engines`, so several sshd hosts can share one engine (a
    /// cheap way to get many hosts). `None` (the default): one engine per host.
    pub engines: Option<usize>,
    /// Give SSH sessions an empty home directory (`HOME=<dir>/home`, set by sshd's `SetEnv`),
    /// so that the login user's shell rc files do not run for every exec, as on a typical
    /// server. Without it, sessions run as root with HOME=/root, and bash sources
    /// /root/.bashrc for every SSH command (on a developer machine that can be slow: e.g.
    /// `pyenv init` costs ~0.25 s per exec, and a stale pyenv rehash lock hangs every exec).
    /// On by default.
    pub empty_home: bool,
}

impl SandboxSpec {
    /// `hosts` hosts in `dir`, a random prefix, no demo containers.
    pub fn new(hosts: usize, dir: PathBuf) -> Self {
        SandboxSpec { prefix: random_prefix(), hosts, dir, demo_services: false, engines: None, empty_home: true }
    }

    /// The same spec with the hosts spread over `engines` Docker engines (see
    /// [`engines`](SandboxSpec::engines)).
    pub fn with_engines(mut self, engines: usize) -> Self {
        self.engines = Some(engines);
        self
    }

    /// The same spec with an empty home directory for SSH sessions (see
    /// [`empty_home`](SandboxSpec::empty_home)).
    pub fn with_empty_home(mut self) -> Self {
        self.empty_home = true;
        self
    }

    /// How many engines this spec starts.
    pub fn engine_count(&self) -> usize {
        self.engines.unwrap_or(self.hosts).min(self.hosts)
    }

    /// The same spec with the demo containers on.
    pub fn with_demo_services(mut self) -> Self {
        self.demo_services = true;
        self
    }
}

/// `fd` followed by 8 random hex digits.
pub fn random_prefix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    format!("fd{:08x}", h.finish() as u32)
}

/// Whether `prefix` is usable: 1..=24 characters of `[a-z0-9-]`, not starting with `-`.
pub(crate) fn valid_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.len() <= 24
        && !prefix.starts_with('-')
        && prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_random_and_valid() {
        let a = random_prefix();
        let b = random_prefix();
        assert_ne!(a, b);
        assert!(valid_prefix(&a), "{a}");
        assert_eq!(a.len(), 10);
        assert!(!valid_prefix("Bad/Prefix"));
    }

    #[test]
    fn engines_default_to_one_per_host() {
        let spec = SandboxSpec::new(50, PathBuf::from("/tmp/x"));
        assert_eq!(spec.engines, None);
        assert_eq!(spec.engine_count(), 50);
        assert!(spec.empty_home, "sandbox sessions never run the machine's own dotfiles");
        let spec = spec.with_engines(5).with_empty_home();
        assert_eq!(spec.engine_count(), 5);
        assert!(spec.empty_home);
        assert_eq!(SandboxSpec::new(3, PathBuf::from("/tmp/x")).with_engines(7).engine_count(), 3);
    }
}
