//! Running a job's commands on its host: in the job's directory, under `bash -o pipefail`
//! when the host has bash (else `sh`), with every output line streamed as an event and the
//! last lines kept for the error message; and the progress of a file being written.

use super::template::{self, Vars};
use super::{BackupError, BackupEvent, BackupJob};
use crate::ssh::quote::sh_quote;
use crate::ssh::SshSession;
use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How many of a command's last output lines an error message quotes.
const TAIL: usize = 12;

/// Exit status the wrapper uses when the job's directory is missing.
const NO_DIR: u32 = 111;

/// The wrapper running `command` (already rendered) in `dir`.
pub(crate) fn wrap(dir: &str, command: &str) -> String {
    let script = "cd -- \"$1\" || exit 111\n\
                  if command -v bash >/dev/null 2>&1; then exec bash -o pipefail -c \"$2\"; fi\n\
                  (set -o pipefail) 2>/dev/null && set -o pipefail\neval \"$2\"";
    format!("sh -c {} fleetdeck {} {}", sh_quote(script), sh_quote(dir), sh_quote(command))
}

/// Render one of the job's command templates.
pub(crate) fn render(job: &BackupJob, template: &str, file: &str, ts: &str) -> Result<String, BackupError> {
    template::render(template, &Vars { file, directory: &job.directory, timestamp: ts, job: &job.name })
        .map_err(|e| BackupError::Refused(format!("job {}: unsafe command: {e}", job.name)))
}

/// How a streamed command ended.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub status: Option<u32>,
    /// Last lines of output (stderr lines preferred when there are any).
    pub tail: Vec<String>,
}

impl Finished {
    pub fn ok(&self) -> bool {
        self.status == Some(0)
    }

    /// "exit status 3: <last lines>"
    pub fn describe(&self, job: &BackupJob) -> String {
        let status = match self.status {
            Some(NO_DIR) => return format!("directory {} is missing on {}", job.directory, job.host),
            Some(s) => format!("exit status {s}"),
            None => "killed (no exit status)".to_string(),
        };
        if self.tail.is_empty() {
            status
        } else {
            format!("{status}: {}", self.tail.join(" / "))
        }
    }
}

/// Run `command` (rendered) in the job's directory, streaming its output into `tx`.
pub(crate) async fn stream(
    session: &SshSession,
    job: &BackupJob,
    command: &str,
    tx: &mpsc::Sender<BackupEvent>,
) -> Result<Finished, BackupError> {
    let mut err_tail: VecDeque<String> = VecDeque::new();
    let mut out_tail: VecDeque<String> = VecDeque::new();
    let mut dropped = 0usize;
    let status = session
        .exec_each(&wrap(&job.directory, command), |line, stderr| {
            let tail = if stderr { &mut err_tail } else { &mut out_tail };
            if tail.len() == TAIL {
                tail.pop_front();
            }
            tail.push_back(line.trim().to_string());
            if tx.try_send(BackupEvent::Output { line: line.to_string(), stderr }).is_err() && !tx.is_closed() {
                dropped += 1;
            }
            ControlFlow::Continue(())
        })
        .await
        .map_err(|e| BackupError::Ssh(format!("{}: {e}", session.addr)))?;
    if dropped > 0 {
        super::step(tx, format!("({dropped} output lines were not shown: the receiver was too slow)")).await;
    }
    let tail = if err_tail.is_empty() { out_tail } else { err_tail };
    Ok(Finished { status, tail: tail.into_iter().filter(|l| !l.is_empty()).collect() })
}

/// Run `fut` while reporting every second how large `path` has grown.
pub(crate) async fn with_progress<T>(
    session: &SshSession,
    path: &str,
    expected: Option<u64>,
    tx: &mpsc::Sender<BackupEvent>,
    fut: impl std::future::Future<Output = T>,
) -> T {
    let start = Instant::now();
    let cmd = format!("stat -c %s -- {} 2>/dev/null || echo 0", sh_quote(path));
    let poll = async {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Ok(out) = session.exec(&cmd).await {
                if let Ok(bytes) = out.stdout_str().trim().parse::<u64>() {
                    let _ = tx.try_send(BackupEvent::Progress { bytes, expected, elapsed: start.elapsed() });
                }
            }
        }
    };
    tokio::select! {
        r = fut => r,
        _ = poll => unreachable!("the progress loop never ends"),
    }
}

/// Run a plain command (no streaming) and return stdout, or the error with stderr.
pub(crate) async fn exec_ok(session: &SshSession, cmd: &str, what: &str) -> Result<String, BackupError> {
    let out = session.exec(cmd).await.map_err(|e| BackupError::Ssh(format!("{}: {e}", session.addr)))?;
    if out.success() {
        Ok(out.stdout_str())
    } else {
        Err(BackupError::Failed(format!("{what}: {}", out.stderr_str().trim())))
    }
}

/// `size` and sha256 of a file on the host.
pub(crate) async fn size_and_sha256(session: &SshSession, path: &str) -> Result<(u64, String), BackupError> {
    let cmd = format!("stat -c %s -- {p} && sha256sum -- {p}", p = sh_quote(path));
    let out = exec_ok(session, &cmd, &format!("cannot read {path}")).await?;
    let mut lines = out.lines();
    let size = lines.next().and_then(|l| l.trim().parse().ok());
    // sha256sum escapes names with backslashes or newlines by starting the line with '\'
    let sum = lines.next().map(|l| l.trim_start_matches('\\')).and_then(|l| l.split_whitespace().next());
    match (size, sum) {
        (Some(size), Some(sum)) if sum.len() == 64 => Ok((size, sum.to_string())),
        _ => Err(BackupError::Failed(format!("cannot read the size and checksum of {path}: {out:?}"))),
    }
}
