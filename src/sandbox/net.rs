//! Loopback networking helpers: free ports, waiting for an SSH banner, pinging a Docker socket,
//! fetching a URL on loopback.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Ports this process already handed out, so two sandboxes (or two replicas) of one test binary
/// never get the same port even before either has bound it.
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A TCP port on 127.0.0.1 that was free a moment ago and that this process has not handed out
/// before. Picked at random below the kernel's ephemeral range when possible, so that the many
/// short outgoing loopback connections of a test run (ssh clients, probes) cannot take it
/// before the server binds it.
pub fn free_port() -> u16 {
    let (low, high) = below_ephemeral_range();
    for attempt in 0u64.. {
        let port = if high > low && attempt < 200 {
            low + (random(attempt) % u64::from(high - low)) as u16
        } else {
            // Fall back to a kernel-chosen port.
            match TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
                Ok(addr) => addr.port(),
                Err(_) => continue,
            }
        };
        if TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        let mut guard = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if guard.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
    unreachable!()
}

/// `[10000, start of the ephemeral range)`, or an empty range if that is too small.
fn below_ephemeral_range() -> (u16, u16) {
    let start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<u16>().ok()))
        .unwrap_or(32768);
    if start > 11000 {
        (10000, start)
    } else {
        (0, 0)
    }
}

fn random(salt: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(salt);
    h.write_u32(std::process::id());
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    h.finish()
}

/// Whether something accepts TCP connections on 127.0.0.1:`port` and sends an SSH banner.
pub(crate) fn ssh_banner(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 8];
    let mut got = 0;
    while got < buf.len() {
        match stream.read(&mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    // Say goodbye politely so sshd does not log a protocol error.
    let _ = stream.write_all(b"SSH-2.0-fleetdeck-sandbox-probe\r\n");
    buf[..got].starts_with(b"SSH-")
}

/// Whether nothing accepts connections on 127.0.0.1:`port`.
pub(crate) fn port_closed(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err()
}

/// Whether the Docker engine on `socket` answers `GET /_ping` with 200.
pub(crate) fn docker_ping(socket: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(3)));
    if stream.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n").is_err() {
        return false;
    }
    let mut resp = Vec::new();
    let _ = stream.take(4096).read_to_end(&mut resp);
    let head = String::from_utf8_lossy(&resp);
    head.starts_with("HTTP/1.") && head.split_whitespace().nth(1) == Some("200")
}

/// `GET http://127.0.0.1:port/path` (HTTP/1.0): the status code and body, or `None` if nothing
/// answered within `timeout`.
pub fn http_get(port: u16, path: &str, timeout: Duration) -> Option<(u16, String)> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes()).ok()?;
    let mut resp = Vec::new();
    stream.take(1 << 20).read_to_end(&mut resp).ok()?;
    let text = String::from_utf8_lossy(&resp).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

/// Polls `ready` every `every` until it returns true or `timeout` passes.
pub(crate) fn wait_until(timeout: Duration, every: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct_and_bindable() {
        let a = free_port();
        let b = free_port();
        assert_ne!(a, b);
        TcpListener::bind(("127.0.0.1", a)).unwrap();
        assert!(port_closed(b));
    }
}
