//! The demo images, built from tiny build contexts holding Debian's static busybox (no
//! registry needed): `fleetdeck-demo/web:{v1,v2,v3-broken,v4-degraded}`,
//! `fleetdeck-demo/worker:v1` and `fleetdeck-demo/idle:v1`, all `FROM` one
//! `fleetdeck-demo/base:latest`.
//!
//! They are built once per machine: the first engine that needs them builds them and saves
//! them (`docker save`) to `/tmp/fleetdeck-image-cache-<hash of the build inputs>.tar`; every
//! other engine (of this sandbox, of later sandboxes, of other processes) loads that archive
//! (`docker load`), which costs the engine far less than building. Set
//! [`IMAGE_CACHE_ENV`]`=0` to build on every engine instead.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::engine::docker_command;
use super::error::SandboxError;
use super::procs;
use super::state::SandboxHost;

/// Repository of the web demo image.
pub const WEB_IMAGE: &str = "fleetdeck-demo/web";
/// Repository of the worker demo image.
pub const WORKER_IMAGE: &str = "fleetdeck-demo/worker";
/// The shared base image.
pub const BASE_IMAGE: &str = "fleetdeck-demo/base:latest";
/// Tags of the web image: healthy v1 and v2, v3 never healthy (no /health), v4 healthy for
/// Docker but degraded in its /health JSON.
pub const WEB_TAGS: [&str; 4] = ["v1", "v2", "v3-broken", "v4-degraded"];
/// Tag of the worker image.
pub const WORKER_TAG: &str = "v1";
/// Repository of the idle image: a container that only sleeps (no logs, no health check,
/// stops promptly on SIGTERM), for many cheap containers.
pub const IDLE_IMAGE: &str = "fleetdeck-demo/idle";
/// Tag of the idle image.
pub const IDLE_TAG: &str = "v1";

/// Environment variable: `0` (or `false`, `no`, `off`) builds the demo images on every engine
/// instead of building them once per machine and loading the saved archive.
pub const IMAGE_CACHE_ENV: &str = "FLEETDECK_SANDBOX_IMAGE_CACHE";

/// Bumped when the way images are cached changes, so old archives are not used.
const CACHE_FORMAT: &str = "fleetdeck-image-cache/1";

/// Where the static busybox is taken from.
pub const BUSYBOX: &str = "/bin/busybox";

/// The web app: serves /www with busybox httpd on 127.0.0.1:$PORT and logs a numbered line
/// every second. Exits when httpd dies (port taken), stops promptly on SIGTERM.
const APP_SH: &str = r#"#!/bin/sh
# fleetdeck demo web app
PORT="${PORT:-8080}"
VERSION="$(cat /etc/fleetdeck-demo/version 2>/dev/null || echo unknown)"
MODE="$(cat /etc/fleetdeck-demo/mode 2>/dev/null || echo ok)"
ts() { date -u +%Y-%m-%dT%H:%M:%SZ; }
busybox httpd -f -p "127.0.0.1:$PORT" -h /www &
HTTPD=$!
trap 'echo "$(ts) level=info msg=\"shutting down\" version=$VERSION"; kill $HTTPD 2>/dev/null; exit 0' TERM INT
echo "$(ts) level=info msg=\"listening\" addr=127.0.0.1:$PORT version=$VERSION"
n=0
while :; do
  sleep 1
  if ! kill -0 $HTTPD 2>/dev/null; then
    echo "$(ts) level=error msg=\"httpd exited\" addr=127.0.0.1:$PORT" >&2
    exit 1
  fi
  n=$((n+1))
  echo "$(ts) level=info msg=\"tick\" n=$n"
  case "$MODE" in
    degraded) [ $((n % 5)) -eq 0 ] && echo "$(ts) level=warn msg=\"redis unreachable\" check=redis" ;;
    broken) [ $((n % 3)) -eq 0 ] && echo "$(ts) level=error msg=\"health endpoint missing\"" >&2 ;;
  esac
done
"#;

/// The worker: only logs a numbered line every second.
const WORKER_SH: &str = r#"#!/bin/sh
# fleetdeck demo worker
ts() { date -u +%Y-%m-%dT%H:%M:%SZ; }
trap 'echo "$(ts) level=info msg=\"shutting down\""; exit 0' TERM INT
echo "$(ts) level=info msg=\"worker started\" queue=default"
n=0
while :; do
  sleep 1
  n=$((n+1))
  echo "$(ts) level=info msg=\"processed job\" n=$n"
done
"#;

/// Docker's health check: GET /health on the app's port.
const HEALTHCHECK_SH: &str = r#"#!/bin/sh
exec busybox wget -q -O- "http://127.0.0.1:${PORT:-8080}/health"
"#;

const BASE_DOCKERFILE: &str = r#"FROM scratch
COPY rootfs/ /
ENV PORT=8080
HEALTHCHECK --interval=1s --timeout=1s --retries=2 CMD ["/bin/sh","/bin/healthcheck"]
ENTRYPOINT ["/bin/sh","/bin/app"]
"#;

const WEB_DOCKERFILE: &str = "FROM fleetdeck-demo/base:latest\nCOPY rootfs/ /\n";

const WORKER_DOCKERFILE: &str = r#"FROM fleetdeck-demo/base:latest
COPY rootfs/ /
HEALTHCHECK NONE
ENTRYPOINT ["/bin/sh","/bin/worker"]
"#;

const IDLE_DOCKERFILE: &str = r#"FROM fleetdeck-demo/base:latest
HEALTHCHECK NONE
ENTRYPOINT ["/bin/sh","-c","trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"]
"#;

fn write(path: &Path, content: &[u8], mode: u32) -> Result<(), SandboxError> {
    use std::os::unix::fs::PermissionsExt;
    let step = "write image build context";
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| SandboxError::io(step, parent, e))?;
    }
    std::fs::write(path, content).map_err(|e| SandboxError::io(step, path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| SandboxError::io(step, path, e))
}

/// The /health body of a web tag, or `None` for the broken tag (no /health at all).
pub fn health_json(tag: &str) -> Option<String> {
    let version = tag.split('-').next().unwrap_or(tag);
    match tag {
        "v3-broken" => None,
        "v4-degraded" => Some(format!(
            r#"{{"status":"degraded","version":"{version}","checks":{{"database":"up","redis":"down"}}}}"#
        )),
        _ => Some(format!(r#"{{"status":"ok","version":"{version}","checks":{{"database":"up","redis":"up"}}}}"#)),
    }
}

/// One build: context directory, Dockerfile content is already in it, and the tag.
pub(crate) struct BuildContext {
    pub dir: PathBuf,
    pub tag: String,
}

/// Writes every build context under `root` (once per sandbox); the base first.
pub(crate) fn write_contexts(root: &Path) -> Result<Vec<BuildContext>, SandboxError> {
    let mut out = Vec::new();

    let base = root.join("base");
    let rootfs = base.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin"))
        .map_err(|e| SandboxError::io("write image build context", &rootfs, e))?;
    std::fs::create_dir_all(rootfs.join("tmp"))
        .map_err(|e| SandboxError::io("write image build context", &rootfs, e))?;
    std::fs::create_dir_all(rootfs.join("www"))
        .map_err(|e| SandboxError::io("write image build context", &rootfs, e))?;
    let busybox = rootfs.join("bin/busybox");
    std::fs::copy(BUSYBOX, &busybox)
        .map_err(|e| SandboxError::io("copy busybox into build context", Path::new(BUSYBOX), e))?;
    let sh = rootfs.join("bin/sh");
    let _ = std::fs::remove_file(&sh);
    std::os::unix::fs::symlink("busybox", &sh).map_err(|e| SandboxError::io("write image build context", &sh, e))?;
    write(&rootfs.join("bin/app"), APP_SH.as_bytes(), 0o755)?;
    write(&rootfs.join("bin/worker"), WORKER_SH.as_bytes(), 0o755)?;
    write(&rootfs.join("bin/healthcheck"), HEALTHCHECK_SH.as_bytes(), 0o755)?;
    write(&rootfs.join("etc/passwd"), b"root:x:0:0:root:/:/bin/sh\n", 0o644)?;
    write(&rootfs.join("etc/group"), b"root:x:0:\n", 0o644)?;
    write(&base.join("Dockerfile"), BASE_DOCKERFILE.as_bytes(), 0o644)?;
    out.push(BuildContext { dir: base, tag: BASE_IMAGE.to_string() });

    for tag in WEB_TAGS {
        let ctx = root.join(format!("web-{tag}"));
        let rootfs = ctx.join("rootfs");
        let version = tag.split('-').next().unwrap_or(tag);
        let mode = tag.split_once('-').map(|(_, m)| m).unwrap_or("ok");
        write(&rootfs.join("etc/fleetdeck-demo/version"), version.as_bytes(), 0o644)?;
        write(&rootfs.join("etc/fleetdeck-demo/mode"), mode.as_bytes(), 0o644)?;
        write(&rootfs.join("www/version"), format!("{version}\n").as_bytes(), 0o644)?;
        write(
            &rootfs.join("www/index.html"),
            format!("<html><body><h1>fleetdeck demo web {tag}</h1></body></html>\n").as_bytes(),
            0o644,
        )?;
        if let Some(json) = health_json(tag) {
            write(&rootfs.join("www/health"), format!("{json}\n").as_bytes(), 0o644)?;
        }
        write(&ctx.join("Dockerfile"), WEB_DOCKERFILE.as_bytes(), 0o644)?;
        out.push(BuildContext { dir: ctx, tag: format!("{WEB_IMAGE}:{tag}") });
    }

    let ctx = root.join(format!("worker-{WORKER_TAG}"));
    write(&ctx.join("rootfs/etc/fleetdeck-demo/version"), WORKER_TAG.as_bytes(), 0o644)?;
    write(&ctx.join("Dockerfile"), WORKER_DOCKERFILE.as_bytes(), 0o644)?;
    out.push(BuildContext { dir: ctx, tag: format!("{WORKER_IMAGE}:{WORKER_TAG}") });

    let ctx = root.join(format!("idle-{IDLE_TAG}"));
    write(&ctx.join("Dockerfile"), IDLE_DOCKERFILE.as_bytes(), 0o644)?;
    out.push(BuildContext { dir: ctx, tag: format!("{IDLE_IMAGE}:{IDLE_TAG}") });
    Ok(out)
}

/// Where the demo images come from for each engine of one sandbox: built on the first engine
/// and saved to the machine's cache archive, loaded from that archive on every other engine
/// (see the module docs). Shared by the engine threads of `Sandbox::up`.
pub(crate) struct ImageSource {
    contexts: Vec<BuildContext>,
    /// The cache archive for these inputs; `None`: the cache is off (build everywhere).
    archive: Option<PathBuf>,
    /// Whether `archive` holds the images. Locked while the first engine builds and saves
    /// them, so the other engines wait for the archive instead of building too.
    ready: Mutex<bool>,
}

impl ImageSource {
    pub(crate) fn new(contexts: Vec<BuildContext>) -> Self {
        let archive = cache_enabled().then(|| cache_path(&contexts));
        let ready = archive.as_deref().is_some_and(Path::is_file);
        ImageSource { contexts, archive, ready: Mutex::new(ready) }
    }

    /// Puts every demo image into the host's engine.
    pub(crate) fn install(&self, host: &SandboxHost) -> Result<(), SandboxError> {
        let Some(archive) = &self.archive else {
            return build_all(host, &self.contexts);
        };
        let mut ready = self.ready.lock().unwrap_or_else(|e| e.into_inner());
        if *ready {
            drop(ready);
            let t = Instant::now();
            match load(host, archive, &self.contexts) {
                Ok(()) => {
                    log::debug!("sandbox {}: images loaded from {} in {:?}", host.name, archive.display(), t.elapsed());
                    return Ok(());
                }
                Err(e) => {
                    // A damaged or foreign archive: build here, and replace it.
                    log::warn!("sandbox {}: cannot load cached images ({e}); building them", host.name);
                    ready = self.ready.lock().unwrap_or_else(|e| e.into_inner());
                    *ready = false;
                    let _ = std::fs::remove_file(archive);
                }
            }
        }
        // The first engine here (or a failed load): build, then save for everyone else.
        build_all(host, &self.contexts)?;
        match save(host, archive, &self.contexts) {
            Ok(()) => *ready = true,
            Err(e) => log::warn!("sandbox {}: cannot save the images to the cache ({e})", host.name),
        }
        Ok(())
    }
}

fn cache_enabled() -> bool {
    match std::env::var(IMAGE_CACHE_ENV) {
        Ok(v) => !matches!(v.trim().to_ascii_lowercase().as_str(), "0" | "false" | "no" | "off"),
        Err(_) => true,
    }
}

/// `/tmp/fleetdeck-image-cache-<hash>.tar`, the hash covering every file of every build
/// context (path, mode, content or link target), the tags and the cache format.
fn cache_path(contexts: &[BuildContext]) -> PathBuf {
    let mut h = Fnv64::default();
    h.update(CACHE_FORMAT.as_bytes());
    for ctx in contexts {
        h.update(b"\0tag\0");
        h.update(ctx.tag.as_bytes());
        hash_tree(&mut h, &ctx.dir, &ctx.dir);
    }
    std::env::temp_dir().join(format!("fleetdeck-image-cache-{:016x}.tar", h.0))
}

fn hash_tree(h: &mut Fnv64, root: &Path, dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    entries.sort();
    for path in entries {
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        h.update(b"\0path\0");
        h.update(path.strip_prefix(root).unwrap_or(&path).to_string_lossy().as_bytes());
        h.update(&meta.permissions().mode().to_le_bytes());
        if meta.file_type().is_symlink() {
            h.update(std::fs::read_link(&path).unwrap_or_default().to_string_lossy().as_bytes());
        } else if meta.is_dir() {
            hash_tree(h, root, &path);
        } else {
            h.update(&std::fs::read(&path).unwrap_or_default());
        }
    }
}

/// 64-bit FNV-1a: stable across Rust versions and machines (unlike `DefaultHasher`).
struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    fn update(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// `docker save` of every demo image into `archive` (written aside, then renamed into place,
/// so no process ever loads a half-written archive).
fn save(host: &SandboxHost, archive: &Path, contexts: &[BuildContext]) -> Result<(), SandboxError> {
    let tmp = PathBuf::from(format!("{}.tmp-{}-{}", archive.display(), std::process::id(), super::random_prefix()));
    let mut cmd = docker_command(host);
    cmd.args(["save", "-o"]).arg(&tmp).args(contexts.iter().map(|c| c.tag.as_str()));
    let saved = procs::run(&mut cmd, "save demo images", Duration::from_secs(120)).map_err(|e| e.on_host(&host.name));
    let renamed = saved
        .and_then(|_| std::fs::rename(&tmp, archive).map_err(|e| SandboxError::io("save demo images", archive, e)));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed
}

/// `docker load` of the archive, then a check that every demo image is there.
fn load(host: &SandboxHost, archive: &Path, contexts: &[BuildContext]) -> Result<(), SandboxError> {
    let mut cmd = docker_command(host);
    cmd.args(["load", "-q", "-i"]).arg(archive);
    procs::run(&mut cmd, "load demo images", Duration::from_secs(120)).map_err(|e| e.on_host(&host.name))?;
    let mut cmd = docker_command(host);
    cmd.args(["image", "inspect", "-f", "{{.Id}}"]).args(contexts.iter().map(|c| c.tag.as_str()));
    procs::run(&mut cmd, "check loaded demo images", Duration::from_secs(30)).map_err(|e| e.on_host(&host.name))?;
    Ok(())
}

/// Builds every context on the host's engine, in order (the base first). Building the
/// variants in parallel was measured: no faster on 2 cores, the engines already build in
/// parallel with each other.
pub(crate) fn build_all(host: &SandboxHost, contexts: &[BuildContext]) -> Result<(), SandboxError> {
    contexts.iter().try_for_each(|ctx| build(host, ctx))
}

fn build(host: &SandboxHost, ctx: &BuildContext) -> Result<(), SandboxError> {
    let mut cmd = docker_command(host);
    cmd.args(["build", "-q", "--force-rm", "-t", &ctx.tag]).arg(&ctx.dir);
    procs::run(&mut cmd, &format!("build image {}", ctx.tag), Duration::from_secs(180))
        .map_err(|e| e.on_host(&host.name))?;
    Ok(())
}

/// The full image reference for a web tag: `v2` -> `fleetdeck-demo/web:v2`; a reference
/// with a `:` or `/` is used as is.
pub fn web_image(tag: &str) -> String {
    if tag.contains(':') || tag.contains('/') {
        tag.to_string()
    } else {
        format!("{WEB_IMAGE}:{tag}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_bodies() {
        assert!(health_json("v1").unwrap().contains(r#""status":"ok","version":"v1""#));
        assert!(health_json("v2").unwrap().contains(r#""version":"v2""#));
        assert!(health_json("v3-broken").is_none());
        let v4 = health_json("v4-degraded").unwrap();
        assert!(v4.contains(r#""status":"degraded","version":"v4","checks":{"database":"up","redis":"down"}"#), "{v4}");
    }

    #[test]
    fn image_refs() {
        assert_eq!(web_image("v2"), "fleetdeck-demo/web:v2");
        assert_eq!(web_image("fleetdeck-demo/web:v1"), "fleetdeck-demo/web:v1");
    }

    #[test]
    fn cache_key_follows_the_build_inputs() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let (ca, cb) = (write_contexts(a.path()).unwrap(), write_contexts(b.path()).unwrap());
        let tags: Vec<&str> = ca.iter().map(|c| c.tag.as_str()).collect();
        assert_eq!(tags[0], BASE_IMAGE);
        assert!(tags.contains(&"fleetdeck-demo/idle:v1") && tags.contains(&"fleetdeck-demo/worker:v1"), "{tags:?}");
        // Same inputs in another directory: the same archive.
        let path = cache_path(&ca);
        assert_eq!(path, cache_path(&cb));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("fleetdeck-image-cache-") && name.ends_with(".tar"), "{name}");
        // Any change of content: another archive.
        std::fs::write(b.path().join("worker-v1/rootfs/etc/fleetdeck-demo/version"), "v9").unwrap();
        assert_ne!(path, cache_path(&cb));
    }
}
