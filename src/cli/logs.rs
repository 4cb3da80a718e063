//! `fleetdeck logs`: the merged log stream of services, hosts and containers across the
//! fleet, like stern for Docker hosts. Without `-f` it reads what is there and prints it in
//! timestamp order; with `-f` it follows, holding lines briefly so that lines from different
//! hosts come out in timestamp order.

use super::status::connect_options;
use super::{ConnectArgs, UiArgs};
use crate::config::duration::parse_duration;
use crate::config::hosts::resolve_hosts;
use crate::config::Profile;
use crate::fleet::worker::WorkerConfig;
use crate::fleet::Fleet;
use crate::logs::filter::{parse_time_window, FilterSpec, LogFilter};
use crate::logs::level::parse_level;
use crate::logs::line::{strip_ansi, Entry, StreamKind};
use crate::logs::session::{LogOptions, LogSession};
use crate::logs::source::{Selector, SourceState, READ_TO_THE_END};
use crate::logs::store::LogStore;
use clap::Args;
use std::io::Write;
use std::time::{Duration, Instant};

#[derive(Debug, Args, Clone)]
pub struct LogsArgs {
    /// What to follow: a service, a host, HOST/CONTAINER, a container name, or `all`.
    #[arg(required = true)]
    pub targets: Vec<String>,
    /// Keep following new lines (Ctrl-C to stop).
    #[arg(short, long)]
    pub follow: bool,
    /// Only lines since a duration ago (5m, 1h) or a time (2026-11-30T03:00:00Z, "03:00").
    #[arg(long)]
    pub since: Option<String>,
    /// Lines of history per source to start with (default 200; all when --since is given).
    #[arg(long)]
    pub tail: Option<u64>,
    /// Only lines matching this regular expression.
    #[arg(long)]
    pub grep: Option<String>,
    /// Drop lines matching this regular expression.
    #[arg(long)]
    pub exclude: Option<String>,
    /// Only lines of at least this level (error, warn, info, debug).
    #[arg(long)]
    pub level: Option<String>,
    /// Case-sensitive --grep / --exclude.
    #[arg(long)]
    pub case_sensitive: bool,
    /// Print each line's timestamp (UTC).
    #[arg(short, long)]
    pub timestamps: bool,
    /// One JSON object per line: source, host, container, timestamp, stream, level, text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

pub fn run(ui: &UiArgs, args: &LogsArgs) -> i32 {
    match run_inner(ui, args) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("fleetdeck logs: {msg}");
            2
        }
    }
}

fn run_inner(ui: &UiArgs, args: &LogsArgs) -> Result<i32, String> {
    let path = ui.profile.as_ref().ok_or("no profile: pass --profile FILE (or set FLEETDECK_PROFILE)")?;
    let profile = Profile::load(path).map_err(|e| e.to_string())?;
    let hosts = resolve_hosts(&profile).map_err(|e| e.to_string())?;
    let timeout = parse_duration(&args.connect.timeout).map_err(|e| format!("--timeout: {e}"))?;
    let since = match &args.since {
        Some(s) => Some(parse_time_window(s, now_nanos()).map_err(|e| format!("--since: {e}"))?),
        None => None,
    };
    let min_level = match &args.level {
        Some(l) => Some(
            parse_level(l).ok_or_else(|| format!("--level: unknown level {l:?} (error, warn, info, debug, trace)"))?,
        ),
        None => None,
    };
    let filter = LogFilter::new(&FilterSpec {
        include: args.grep.clone(),
        exclude: args.exclude.clone(),
        case_sensitive: args.case_sensitive,
        min_level,
        since,
        include_unleveled: min_level.is_none(),
        ..Default::default()
    })?;
    let selectors: Vec<Selector> = args.targets.iter().map(|t| Selector::parse(t, &profile)).collect();
    let opts = LogOptions {
        follow: args.follow,
        since,
        tail: if since.is_some() { args.tail } else { Some(args.tail.unwrap_or(200)) },
        ..Default::default()
    };
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let code = rt.block_on(async move {
        let (mut fleet, mut state) =
            Fleet::start(&profile, hosts, connect_options(&args.connect), WorkerConfig::default());
        fleet.settle(&mut state, timeout, crate::fleet::model::FleetState::all_settled).await;
        for h in state.hosts.iter().filter(|h| !h.conn.is_connected()) {
            eprintln!("fleetdeck logs: {}: {} ({})", h.name, h.conn.label(), h.conn.error().unwrap_or(""));
        }
        for (t, s) in args.targets.iter().zip(&selectors) {
            if !s.matches_anything(&profile, &state) {
                return Err(format!("no service, host or container matches {t:?}"));
            }
        }
        let mut session = LogSession::new(&profile, selectors, opts);
        session.sync(&state, &fleet);
        let mut printer = Printer::new(args);
        let mut store = LogStore::new(usize::MAX >> 8);
        let mut batch = Vec::new();
        if !args.follow {
            // Read everything, then print in timestamp order.
            let deadline = tokio::time::Instant::now() + timeout.max(Duration::from_secs(30));
            while !session.all_ended() {
                tokio::select! {
                    _ = session.changed() => {}
                    _ = tokio::time::sleep_until(deadline) => break,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
                session.drain(&mut batch, usize::MAX);
                for e in batch.drain(..) {
                    store.insert(e);
                }
            }
            session.drain(&mut batch, usize::MAX);
            for e in batch.drain(..) {
                store.insert(e);
            }
            store.for_each(|_, e| {
                if filter.matches_entry(&e) {
                    printer.print(&session, &e);
                }
            });
            printer.flush();
            // sources that could not be read to their end say why; the exit status tells
            let mut incomplete = 0;
            for src in session.sources() {
                let why = match &src.state {
                    SourceState::Ended { reason } if reason == READ_TO_THE_END => continue,
                    SourceState::Removed | SourceState::Stopped => continue,
                    SourceState::Ended { reason } => reason.clone(),
                    SourceState::Live | SourceState::Reconnecting | SourceState::Queued => {
                        format!("not read to the end within {}s", timeout.max(Duration::from_secs(30)).as_secs())
                    }
                };
                eprintln!("fleetdeck logs: {}: {why}", src.label);
                incomplete += 1;
            }
            return Ok(if incomplete > 0 { 1 } else { 0 });
        }
        // Follow: hold each line ~300 ms so lines from other hosts can overtake it.
        let hold = Duration::from_millis(300);
        let mut pending: Vec<(Instant, Entry)> = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                ev = fleet.events.recv() => if let Some(ev) = ev {
                    if state.apply(ev) {
                        session.sync(&state, &fleet);
                    }
                },
                _ = session.changed() => {
                    session.drain(&mut batch, usize::MAX);
                    let now = Instant::now();
                    pending.extend(batch.drain(..).map(|e| (now, e)));
                }
                _ = tick.tick() => {
                    let cutoff = Instant::now() - hold;
                    let (ready, keep): (Vec<_>, Vec<_>) = pending.drain(..).partition(|(t, _)| *t <= cutoff);
                    pending = keep;
                    let mut ready: Vec<Entry> = ready.into_iter().map(|(_, e)| e).collect();
                    ready.sort_by_key(|e| e.ts());
                    for e in &ready {
                        if filter.matches_entry(e) {
                            printer.print(&session, e);
                        }
                    }
                    printer.flush();
                    if printer.broken {
                        return Ok(0);
                    }
                }
                _ = tokio::signal::ctrl_c() => return Ok(0),
            }
        }
    });
    rt.shutdown_timeout(Duration::from_millis(200));
    code
}

struct Printer {
    json: bool,
    timestamps: bool,
    color: bool,
    out: std::io::BufWriter<std::io::Stdout>,
    /// stdout was closed (e.g. piped into `head`).
    broken: bool,
}

const COLORS: [u8; 6] = [36, 33, 35, 32, 34, 31];

impl Printer {
    fn new(args: &LogsArgs) -> Printer {
        use std::io::IsTerminal;
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Printer {
            json: args.json,
            timestamps: args.timestamps,
            color,
            out: std::io::BufWriter::new(std::io::stdout()),
            broken: false,
        }
    }

    fn print<T: AsRef<str>>(&mut self, session: &LogSession, e: &Entry<T>) {
        let source = session.sources().get(e.source() as usize);
        let label = source.map(|s| s.label.as_str()).unwrap_or("?");
        let ts = chrono::DateTime::from_timestamp_nanos(e.ts()).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let line = match e {
            Entry::Line(l) if self.json => {
                let (container, host) = match source.map(|s| &s.kind) {
                    Some(crate::logs::source::SourceKind::Container { name, .. }) => {
                        (Some(name.as_str()), source.map(|s| s.host_name.as_str()))
                    }
                    _ => (None, source.map(|s| s.host_name.as_str())),
                };
                serde_json::json!({
                    "source": label,
                    "host": host,
                    "container": container,
                    "timestamp": ts,
                    "stream": l.stream.as_str(),
                    "level": l.level.map(|v| format!("{v:?}").to_lowercase()),
                    "text": strip_ansi(l.text.as_ref()),
                })
                .to_string()
            }
            Entry::Gap(g) if self.json => serde_json::json!({
                "source": label,
                "gap": { "count": g.count, "reason": g.reason.describe() },
                "timestamp": ts,
            })
            .to_string(),
            Entry::Line(l) => {
                let mut s = String::new();
                if self.color {
                    let c = COLORS[e.source() as usize % COLORS.len()];
                    s.push_str(&format!("\x1b[{c}m{label}\x1b[0m "));
                } else {
                    s.push_str(label);
                    s.push(' ');
                }
                if self.timestamps {
                    s.push_str(&ts);
                    s.push(' ');
                }
                if l.stream == StreamKind::Stderr {
                    s.push_str("2> ");
                }
                if self.color {
                    s.push_str(l.text.as_ref());
                } else {
                    s.push_str(&strip_ansi(l.text.as_ref()));
                }
                s
            }
            Entry::Gap(g) => crate::logs::export::gap_text(g, label),
        };
        if writeln!(self.out, "{line}").is_err() {
            self.broken = true;
        }
    }

    fn flush(&mut self) {
        if self.out.flush().is_err() {
            self.broken = true;
        }
    }
}
