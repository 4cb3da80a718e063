//! The demo images, built on each sandbox engine from tiny build contexts holding Debian's
//! static busybox (no registry needed): `fleetdeck-demo/web:{v1,v2,v3-broken,v4-degraded}` and
//! `fleetdeck-demo/worker:v1`, all `FROM` one `fleetdeck-demo/base:latest`.

use std::path::{Path, PathBuf};
use std::time::Duration;

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
    Ok(out)
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
}
