//! Traffic for deploy tests: Debian's nginx (unprivileged prefix, our own config) in front of
//! web replicas, and a steady load generator that counts failed requests.

use fleetdeck::sandbox::Sandbox;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Nginx {
    child: Child,
    pub port: u16,
    /// Its prefix directory (nginx.conf, upstream.conf, logs).
    pub dir: PathBuf,
}

impl Nginx {
    /// The `upstream web { ... }` servers file, which the config includes.
    pub fn upstream_file(&self) -> PathBuf {
        self.dir.join("upstream.conf")
    }

    pub fn upstream(&self) -> String {
        std::fs::read_to_string(self.upstream_file()).unwrap_or_default()
    }

    /// The command that reloads this nginx (reads the config again, graceful for requests).
    pub fn reload_command(&self) -> String {
        format!("/usr/sbin/nginx -p {d} -c {d}/nginx.conf -s reload", d = self.dir.display())
    }
}

impl Drop for Nginx {
    /// Stops this nginx by its pid: TERM (the master stops its workers, the reloaded ones
    /// too), KILL if it is still there after 5 s.
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Debian's nginx in the foreground with a config of our own, proxying to `upstreams` (listed
/// in `upstream.conf`, one `server 127.0.0.1:PORT max_fails=0;` line each).
pub fn nginx(dir: &Path, upstreams: &[u16]) -> Nginx {
    let port = Sandbox::free_port();
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let servers: String = upstreams.iter().map(|p| format!("server 127.0.0.1:{p} max_fails=0;\n")).collect();
    std::fs::write(dir.join("upstream.conf"), servers).unwrap();
    let conf = format!(
        "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log;\nevents {{ worker_connections 256; }}\nhttp {{\n access_log off;\n client_body_temp_path {d}/tmp;\n proxy_temp_path {d}/tmp;\n fastcgi_temp_path {d}/tmp;\n uwsgi_temp_path {d}/tmp;\n scgi_temp_path {d}/tmp;\n upstream web {{\n  include {d}/upstream.conf;\n }}\n server {{\n  listen 127.0.0.1:{port};\n  location / {{\n   proxy_pass http://web;\n   proxy_connect_timeout 1s;\n   proxy_next_upstream error timeout http_502 http_503 http_504;\n   proxy_next_upstream_tries 0;\n  }}\n }}\n}}\n",
        d = dir.display()
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let mut child = Command::new("/usr/sbin/nginx")
        .args(["-p", dir.to_str().unwrap(), "-c", dir.join("nginx.conf").to_str().unwrap(), "-g", "daemon off;"])
        .spawn()
        .expect("nginx (apt-get install nginx-light)");
    for _ in 0..50 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Nginx { child, port, dir: dir.to_path_buf() };
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("nginx did not start: {}", std::fs::read_to_string(dir.join("logs/error.log")).unwrap_or_default());
}

/// `GET /health` through `port`: the status code.
pub fn get(port: u16) -> Result<u16, String> {
    get_body(port).map(|(code, _)| code)
}

/// `GET /health` through `port`: the status code and the body.
pub fn get_body(port: u16) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    s.write_all(b"GET /health HTTP/1.0\r\nHost: web\r\n\r\n").map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text.split_whitespace().nth(1).and_then(|c| c.parse().ok());
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    code.map(|c| (c, body)).ok_or_else(|| format!("bad response: {text:.60}"))
}

/// What the load generator saw.
#[derive(Debug)]
pub struct LoadReport {
    pub sent: u64,
    pub failed: u64,
    /// The first few errors.
    pub errors: Vec<String>,
    pub elapsed: Duration,
    /// Bodies' `"version":"…"` values seen, in order of first appearance.
    pub versions: Vec<String>,
    /// Every request: when it was sent and whether it succeeded (HTTP 200).
    pub outcomes: Vec<(Instant, bool)>,
}

impl LoadReport {
    pub fn rate(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64().max(0.001)
    }
}

/// Sends `rate` requests a second through `port` until `stop` is set (at most 5 minutes).
pub fn load(port: u16, rate: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<LoadReport> {
    std::thread::spawn(move || {
        let (sent, failed) = (AtomicU64::new(0), AtomicU64::new(0));
        let mut errors = Vec::new();
        let mut versions: Vec<String> = Vec::new();
        let mut outcomes = Vec::new();
        let interval = Duration::from_secs(1) / rate;
        let started = Instant::now();
        while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(300) {
            let t = Instant::now();
            sent.fetch_add(1, Ordering::Relaxed);
            let answer = get_body(port);
            outcomes.push((t, matches!(answer, Ok((200, _)))));
            match answer {
                Ok((200, body)) => {
                    let v = body.split("\"version\":\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("?");
                    if !versions.iter().any(|x| x == v) {
                        versions.push(v.to_string());
                    }
                }
                Ok((code, _)) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    errors.push(format!("HTTP {code}"));
                }
                Err(e) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    errors.push(e);
                }
            }
            if let Some(rest) = interval.checked_sub(t.elapsed()) {
                std::thread::sleep(rest);
            }
        }
        errors.truncate(5);
        LoadReport {
            sent: sent.into_inner(),
            failed: failed.into_inner(),
            errors,
            elapsed: started.elapsed(),
            versions,
            outcomes,
        }
    })
}
