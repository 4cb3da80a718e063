//! Running commands on a host: collected (`exec`) or streamed line by line (`exec_lines`).
//! Concurrent execs are bounded below sshd's MaxSessions.

use super::client::SshSession;
use russh::ChannelMsg;
use tokio::sync::mpsc;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Exit status; `None` when the process was killed by a signal.
    pub status: Option<u32>,
    pub signal: Option<String>,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// One piece of a streamed command's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecEvent {
    Stdout(String),
    Stderr(String),
    Exit { status: Option<u32>, signal: Option<String> },
}

impl SshSession {
    /// Run `command` and collect its output. Reads until the channel closes: the exit status
    /// can arrive before or after EOF.
    pub async fn exec(&self, command: &str) -> Result<ExecOutput, russh::Error> {
        let _slot = self.exec_slots.acquire().await.expect("semaphore never closed");
        let mut ch = self.handle.channel_open_session().await?;
        ch.exec(true, command).await?;
        let mut out = ExecOutput::default();
        while let Some(msg) = ch.wait().await {
            match msg {
                ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, .. } => out.stderr.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => out.status = Some(exit_status),
                ChannelMsg::ExitSignal { signal_name, .. } => out.signal = Some(format!("{signal_name:?}")),
                ChannelMsg::Close => break,
                _ => {}
            }
        }
        Ok(out)
    }

    /// Run a long-lived `command`, sending each complete output line into `tx` as it comes.
    /// The channel is drained continuously (so it can never stall the connection); when `tx`
    /// is full, lines are dropped rather than blocking. Returns when the command exits or the
    /// receiver is gone.
    pub async fn exec_lines(&self, command: &str, tx: mpsc::Sender<ExecEvent>) -> Result<(), russh::Error> {
        let _slot = self.follow_slots.acquire().await.expect("semaphore never closed");
        let mut ch = self.handle.channel_open_session().await?;
        ch.exec(true, command).await?;
        let (mut out_buf, mut err_buf) = (Vec::new(), Vec::new());
        let (mut status, mut signal) = (None, None);
        while let Some(msg) = ch.wait().await {
            match msg {
                ChannelMsg::Data { data } => split_lines(&mut out_buf, &data, |l, _| {
                    let _ = tx.try_send(ExecEvent::Stdout(l));
                }),
                ChannelMsg::ExtendedData { data, .. } => split_lines(&mut err_buf, &data, |l, _| {
                    let _ = tx.try_send(ExecEvent::Stderr(l));
                }),
                ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                ChannelMsg::ExitSignal { signal_name, .. } => signal = Some(format!("{signal_name:?}")),
                ChannelMsg::Close => break,
                _ => {}
            }
            if tx.is_closed() {
                let _ = ch.close().await;
                return Ok(());
            }
        }
        let _ = tx.send(ExecEvent::Exit { status, signal }).await;
        Ok(())
    }
}

impl SshSession {
    /// Run a long-lived `command`, handing each complete output line to `on_line` as it
    /// arrives (`true` for stderr). `on_line` must not block: the channel is drained as fast
    /// as the server sends. Returns the exit status (None: killed by a signal or the
    /// connection went away).
    pub async fn exec_each(
        &self,
        command: &str,
        mut on_line: impl FnMut(&str, bool) -> std::ops::ControlFlow<()>,
    ) -> Result<Option<u32>, russh::Error> {
        self.exec_each_sized(command, |line, _, stderr| on_line(line, stderr)).await
    }

    /// [`exec_each`](Self::exec_each), also handing over how many bytes of output each line
    /// took (its newline included): what a reader resuming at a byte offset counts.
    pub async fn exec_each_sized(
        &self,
        command: &str,
        on_line: impl FnMut(&str, usize, bool) -> std::ops::ControlFlow<()>,
    ) -> Result<Option<u32>, russh::Error> {
        let _slot = self.exec_slots.acquire().await.expect("semaphore never closed");
        self.each_line(command, true, on_line).await
    }

    /// [`exec_each_sized`](Self::exec_each_sized) for a command that follows until stopped
    /// (`tail -F`, `journalctl -f`): it takes one of the connection's follower channels
    /// ([`MAX_FOLLOWERS`](super::client::MAX_FOLLOWERS)), never one the commands that end
    /// need. When it has to wait for one, `on_queue(true)` is called, and `on_queue(false)`
    /// once it has it. A last line without a newline is handed over when the command ends
    /// only with `unfinished_last_line` (a reader that resumes at a byte offset would read it
    /// again, completed, after an interruption).
    pub async fn follow_each_sized(
        &self,
        command: &str,
        unfinished_last_line: bool,
        mut on_queue: impl FnMut(bool),
        on_line: impl FnMut(&str, usize, bool) -> std::ops::ControlFlow<()>,
    ) -> Result<Option<u32>, russh::Error> {
        let _slot = match self.follow_slots.try_acquire() {
            Ok(slot) => slot,
            Err(_) => {
                on_queue(true);
                let slot = self.follow_slots.acquire().await.expect("semaphore never closed");
                on_queue(false);
                slot
            }
        };
        self.each_line(command, unfinished_last_line, on_line).await
    }

    async fn each_line(
        &self,
        command: &str,
        unfinished_last_line: bool,
        mut on_line: impl FnMut(&str, usize, bool) -> std::ops::ControlFlow<()>,
    ) -> Result<Option<u32>, russh::Error> {
        let mut ch = self.handle.channel_open_session().await?;
        ch.exec(true, command).await?;
        let (mut out_buf, mut err_buf) = (Vec::new(), Vec::new());
        let mut status = None;
        let mut stop = false;
        while let Some(msg) = ch.wait().await {
            match msg {
                ChannelMsg::Data { data } => split_lines(&mut out_buf, &data, |l, n| {
                    stop |= on_line(&l, n, false).is_break();
                }),
                ChannelMsg::ExtendedData { data, .. } => split_lines(&mut err_buf, &data, |l, n| {
                    stop |= on_line(&l, n, true).is_break();
                }),
                ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                ChannelMsg::Close => break,
                _ => {}
            }
            if stop {
                let _ = ch.close().await;
                return Ok(status);
            }
        }
        if unfinished_last_line {
            for (buf, stderr) in [(out_buf, false), (err_buf, true)] {
                if !buf.is_empty() {
                    let text = String::from_utf8_lossy(&buf).trim_end_matches('\r').to_string();
                    let _ = on_line(&text, buf.len(), stderr);
                }
            }
        }
        Ok(status)
    }
}

/// Splits complete lines off `buf` (after appending `data`): each as text (lossy UTF-8, without
/// its `\n` or `\r\n`) and the number of bytes it took, newline included.
fn split_lines(buf: &mut Vec<u8>, data: &[u8], mut emit: impl FnMut(String, usize)) {
    buf.extend_from_slice(data);
    while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = buf.drain(..=pos).collect();
        emit(String::from_utf8_lossy(&line[..line.len() - 1]).trim_end_matches('\r').to_string(), line.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_across_chunks() {
        let mut buf = Vec::new();
        let mut got = Vec::new();
        split_lines(&mut buf, b"ab", |l, n| got.push((l, n)));
        split_lines(&mut buf, b"c\r\nde\nf\xff\n", |l, n| got.push((l, n)));
        // the bytes each line took, whatever its text became: \r\n, invalid UTF-8
        assert_eq!(got, vec![("abc".to_string(), 5), ("de".to_string(), 3), ("f\u{fffd}".to_string(), 3)]);
        assert!(buf.is_empty());
    }
}
