//! The demo's front door: Debian's nginx on 127.0.0.1 proxying to the `web` replicas, so a
//! deploy can be watched under traffic (`curl` it while deploying). Optional: without
//! /usr/sbin/nginx the demo runs without it.

use super::error::SandboxError;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) const NGINX: &str = "/usr/sbin/nginx";

pub(crate) fn root(dir: &Path) -> PathBuf {
    dir.join("nginx")
}

pub(crate) fn access_log(dir: &Path) -> PathBuf {
    root(dir).join("logs/access.log")
}

/// Start nginx in front of `upstreams` (ports on 127.0.0.1); returns its port.
pub(crate) fn start(dir: &Path, upstreams: &[u16], port: u16) -> Result<u16, SandboxError> {
    let r = root(dir);
    for sub in ["logs", "tmp"] {
        std::fs::create_dir_all(r.join(sub)).map_err(|e| SandboxError::io("create nginx dir", &r, e))?;
    }
    let servers: String = upstreams.iter().map(|p| format!("    server 127.0.0.1:{p} max_fails=0;\n")).collect();
    let d = r.display();
    let conf = format!(
        "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log;\nevents {{ worker_connections 256; }}\nhttp {{\n  access_log {d}/logs/access.log;\n  client_body_temp_path {d}/tmp;\n  proxy_temp_path {d}/tmp;\n  fastcgi_temp_path {d}/tmp;\n  uwsgi_temp_path {d}/tmp;\n  scgi_temp_path {d}/tmp;\n  upstream web {{\n{servers}  }}\n  server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://web;\n      proxy_connect_timeout 1s;\n      proxy_next_upstream error timeout http_502 http_503 http_504;\n    }}\n  }}\n}}\n"
    );
    let conf_path = r.join("nginx.conf");
    std::fs::write(&conf_path, conf).map_err(|e| SandboxError::io("write nginx.conf", &conf_path, e))?;
    let out = std::process::Command::new(NGINX)
        .arg("-p")
        .arg(&r)
        .arg("-c")
        .arg(&conf_path)
        .output()
        .map_err(|e| SandboxError::new("start nginx", e.to_string()))?;
    if !out.status.success() {
        return Err(SandboxError::new("start nginx", String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(SandboxError::new("start nginx", format!("nothing listens on 127.0.0.1:{port}")))
}

/// Stop the demo's nginx, if it runs.
pub(crate) fn stop(dir: &Path) {
    let pidfile = root(dir).join("nginx.pid");
    if let Ok(pid) = std::fs::read_to_string(&pidfile) {
        let pid = pid.trim();
        if !pid.is_empty() {
            let _ = std::process::Command::new("kill").arg(pid).status();
            for _ in 0..30 {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}
