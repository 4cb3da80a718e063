//! HTTP health probes, sent through the host's SSH connection (`direct-tcpip` to the host's
//! loopback), so nothing needs to be exposed beyond SSH.

use super::model::{ProbeResult, ProbeVerdict};
use crate::config::Probe;
use crate::docker::model::ContainerInfo;
use crate::ssh::SshSession;
use chrono::Utc;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use std::time::Instant;

const MAX_BODY: usize = 64 * 1024;
const KEPT_BODY: usize = 4 * 1024;

/// Run `probe` against `container`; never fails: errors become an unhealthy result.
/// Probe `container` of `service`; `port_env` is the service's `deploy.port_env` (the variable
/// its app reads its port from), for `{port}` in the probe's URL.
pub async fn run(
    session: &SshSession,
    service: &str,
    probe: &Probe,
    container: &ContainerInfo,
    port_env: Option<&str>,
) -> ProbeResult {
    let started = Instant::now();
    let mut result = ProbeResult {
        service: service.to_string(),
        probe: probe.name.clone(),
        container_id: container.id.clone(),
        url: probe.url.clone(),
        at: Utc::now(),
        http_status: None,
        status_value: None,
        body: String::new(),
        verdict: ProbeVerdict::Unhealthy,
        error: None,
        latency_ms: 0,
    };
    let url = if probe.url.contains("{port}") {
        match container.listening_port(probe.container_port, port_env) {
            Some(port) => probe.url.replace("{port}", &port.to_string()),
            None => {
                result.error = Some(
                    "no port to probe: the container publishes none, has no fleetdeck.port label, and the service sets no port_env"
                        .into(),
                );
                return result;
            }
        }
    } else {
        probe.url.clone()
    };
    result.url = url.clone();
    match tokio::time::timeout(probe.timeout, fetch(session, &url)).await {
        Err(_) => result.error = Some(format!("no answer within {}s", probe.timeout.as_secs_f32())),
        Ok(Err(e)) => result.error = Some(e),
        Ok(Ok((status, body))) => {
            result.http_status = Some(status);
            result.body = truncate(&body, KEPT_BODY);
            let (verdict, value, error) = judge(probe, status, &body);
            result.verdict = verdict;
            result.status_value = value;
            result.error = error;
        }
    }
    result.latency_ms = started.elapsed().as_millis() as u64;
    result
}

/// Decide a verdict from the HTTP status and body.
pub fn judge(probe: &Probe, status: u16, body: &str) -> (ProbeVerdict, Option<String>, Option<String>) {
    let field_value = probe.status_field.as_ref().map(|field| {
        let json: serde_json::Value = serde_json::from_str(body).map_err(|_| "body is not JSON".to_string())?;
        let mut v = &json;
        for part in field.split('.') {
            v = v.get(part).ok_or_else(|| format!("no field {field:?} in the body"))?;
        }
        Ok::<String, String>(match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    });
    let value = field_value.as_ref().and_then(|r| r.as_ref().ok().cloned());
    if status != probe.expect_status {
        return (ProbeVerdict::Unhealthy, value, Some(format!("HTTP {status}, expected {}", probe.expect_status)));
    }
    match field_value {
        None => (ProbeVerdict::Healthy, None, None),
        Some(Err(e)) => (ProbeVerdict::Unhealthy, None, Some(e)),
        Some(Ok(v)) => {
            if probe.healthy_values.iter().any(|h| h == &v) {
                (ProbeVerdict::Healthy, Some(v), None)
            } else if probe.degraded_values.iter().any(|d| d == &v) {
                (ProbeVerdict::Degraded, Some(v), None)
            } else {
                (ProbeVerdict::Unhealthy, Some(v), None)
            }
        }
    }
}

async fn fetch(session: &SshSession, url: &str) -> Result<(u16, String), String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("bad URL {url:?}: {e}"))?;
    let host = uri.host().ok_or_else(|| format!("URL {url:?} has no host"))?.to_string();
    let port = uri.port_u16().unwrap_or(80);
    let channel =
        session.open_tcpip(&host, port).await.map_err(|e| format!("cannot reach {host}:{port} from the host: {e}"))?;
    let io = TokioIo::new(channel.into_stream());
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<bytes::Bytes>>(io)
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    let conn_task = tokio::spawn(conn);
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string();
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, format!("{host}:{port}"))
        .header(hyper::header::USER_AGENT, "fleetdeck-probe")
        .body(Empty::new())
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| format!("request failed: {e}"))?;
    let status = resp.status().as_u16();
    let body = Limited::new(resp.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| format!("reading the body failed: {e}"))?
        .to_bytes();
    conn_task.abort();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    format!("{}…", crate::text::head(s, max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn probe(field: Option<&str>) -> Probe {
        Probe {
            name: "health".into(),
            url: "http://127.0.0.1:{port}/health".into(),
            container_port: None,
            expect_status: 200,
            status_field: field.map(String::from),
            healthy_values: vec!["ok".into(), "UP".into()],
            degraded_values: vec!["degraded".into()],
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
        }
    }

    #[test]
    fn verdicts_from_status_and_json() {
        let p = probe(Some("status"));
        assert_eq!(judge(&p, 200, r#"{"status":"ok"}"#).0, ProbeVerdict::Healthy);
        let (v, val, _) = judge(&p, 200, r#"{"status":"degraded","checks":{"redis":"down"}}"#);
        assert_eq!((v, val.as_deref()), (ProbeVerdict::Degraded, Some("degraded")));
        assert_eq!(judge(&p, 200, r#"{"status":"down"}"#).0, ProbeVerdict::Unhealthy);
        let (v, _, e) = judge(&p, 503, r#"{"status":"ok"}"#);
        assert_eq!(v, ProbeVerdict::Unhealthy);
        assert_eq!(e.as_deref(), Some("HTTP 503, expected 200"));
        assert_eq!(judge(&p, 200, "not json").2.as_deref(), Some("body is not JSON"));
        assert_eq!(judge(&probe(None), 200, "anything").0, ProbeVerdict::Healthy);
        let nested = probe(Some("health.state"));
        assert_eq!(judge(&nested, 200, r#"{"health":{"state":"UP"}}"#).0, ProbeVerdict::Healthy);
    }
}
