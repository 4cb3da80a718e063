//! bollard over SSH: each HTTP/1.1 connection to the Docker API is a `direct-streamlocal`
//! channel to the host's Docker socket, pooled by hyper-util so idle connections are reused.
//! No docker CLI runs anywhere.

use crate::ssh::SshSession;
use bollard::{Docker, API_DEFAULT_VERSION};
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use russh::client::Msg;
use russh::ChannelStream;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Semaphore;

/// One SSH channel to the Docker socket, as a hyper connection.
pub struct SshChannelIo(TokioIo<ChannelStream<Msg>>);

impl Connection for SshChannelIo {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl Read for SshChannelIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl Write for SshChannelIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

/// Opens streamlocal channels; caps concurrent opens (a socket's accept backlog is small)
/// and retries the transient connect failure that bursts of opens cause.
#[derive(Clone)]
pub struct StreamLocalConnector {
    session: Arc<SshSession>,
    socket: Arc<str>,
    opens: Arc<Semaphore>,
}

impl tower_service::Service<Uri> for StreamLocalConnector {
    type Response = SshChannelIo;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<SshChannelIo>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let _permit = this.opens.acquire().await.map_err(io::Error::other)?;
            let mut last = None;
            for attempt in 0..4u32 {
                if this.session.is_closed() {
                    return Err(io::Error::new(io::ErrorKind::NotConnected, "SSH connection is closed"));
                }
                match this.session.open_streamlocal(&this.socket).await {
                    Ok(ch) => return Ok(SshChannelIo(TokioIo::new(ch.into_stream()))),
                    Err(e) => {
                        last = Some(e);
                        tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
                    }
                }
            }
            Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!(
                    "cannot open the Docker socket {} over SSH: {} (is the socket there, does the login user have access to it, and is AllowStreamLocalForwarding on?)",
                    this.socket,
                    last.map(|e| e.to_string()).unwrap_or_default()
                ),
            ))
        })
    }
}

/// A bollard client whose every request travels through `session` to `socket` on the host.
pub fn docker_over_ssh(
    session: Arc<SshSession>,
    socket: &str,
    timeout_secs: u64,
) -> Result<Docker, bollard::errors::Error> {
    let connector = StreamLocalConnector { session, socket: socket.into(), opens: Arc::new(Semaphore::new(4)) };
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(8)
        .build(connector);
    let client = Arc::new(client);
    Docker::connect_with_custom_transport(
        move |req: bollard::BollardRequest| {
            let client = client.clone();
            async move {
                client.request(req).await.map_err(|e| bollard::errors::Error::IOError {
                    // bollard would only say "client error (Connect)": give the whole cause chain.
                    err: io::Error::other(error_chain(&e)),
                })
            }
        },
        Some("http://docker"),
        timeout_secs,
        API_DEFAULT_VERSION,
    )
}

/// "outer: inner: innermost" from an error and its sources.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        src = inner.source();
    }
    s
}
