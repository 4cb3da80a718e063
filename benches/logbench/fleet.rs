//! The fleetdeck side of the log throughput bench: the console's own path in this process
//! (`App`, a `LogSession` over the fleet's SSH connection, drained and drawn like `tui::run`),
//! with keys injected from another thread while lines stream in.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fleetdeck::config::hosts::resolve_hosts;
use fleetdeck::config::Profile;
use fleetdeck::fleet::worker::WorkerConfig;
use fleetdeck::fleet::Fleet;
use fleetdeck::logs::line::Entry;
use fleetdeck::logs::session::{LogOptions, LogSession};
use fleetdeck::sandbox::Sandbox;
use fleetdeck::ssh::ConnectOptions;
use fleetdeck::tui::action::Action;
use fleetdeck::tui::app::{App, Effect, Msg, Screen};
use fleetdeck::tui::keymap::Keymap;
use fleetdeck::tui::logpane::LogPane;
use fleetdeck::tui::rows::Row as DashRow;
use fleetdeck::tui::theme::Theme;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tokio::sync::mpsc;

use super::common::{check_interrupted, ms, Row};
use super::{rusage_secs, Case, Markers, OutsideCpu, Round, RssPeak, Seen, Settings};

/// As `tui::run`: at most this often a frame while data streams in.
const FRAME: Duration = Duration::from_millis(33);
const WIDTH: u16 = 200;
const HEIGHT: u16 = 50;
/// Lines in the buffer for the render measurement.
const RENDER_LINES: usize = 100_000;

/// Time thread `tid` of this process has spent running and waiting on a run queue (ready but
/// not given a CPU), from `/proc/self/task/TID/schedstat`.
fn schedstat(tid: i32) -> Option<(Duration, Duration)> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
    let mut f = text.split_whitespace().map(|v| v.parse::<u64>().ok());
    Some((Duration::from_nanos(f.next()??), Duration::from_nanos(f.next()??)))
}

/// A key as injected: when, and the UI thread's schedstat then.
type Injected = (Instant, Option<(Duration, Duration)>);

/// Sends the injection time of a key every 50-150 ms while `on`.
struct KeyInjector {
    on: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl KeyInjector {
    fn start(tx: mpsc::UnboundedSender<Injected>, ui_tid: i32) -> KeyInjector {
        let (on, stop) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let (on2, stop2) = (on.clone(), stop.clone());
        std::thread::Builder::new()
            .name("key-injector".into())
            .spawn(move || {
                let mut rng = 0x2545_f491_4f6c_dd1du64;
                while !stop2.load(Ordering::Relaxed) {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    std::thread::sleep(Duration::from_millis(50 + rng % 101));
                    if on2.load(Ordering::Relaxed) && tx.send((Instant::now(), schedstat(ui_tid))).is_err() {
                        break;
                    }
                }
            })
            .expect("key injector thread");
        KeyInjector { on, stop }
    }
}

impl Drop for KeyInjector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Draw times of the log view with [`RENDER_LINES`] lines in the buffer.
pub struct RenderTimes {
    pub lines: usize,
    /// (case, view length, median ms, max ms)
    pub cases: Vec<(&'static str, usize, f64, f64)>,
}

/// The console minus the terminal: fleet, app, theme, a 200x50 TestBackend.
pub struct Console {
    profile: Profile,
    fleet: Fleet,
    app: App,
    theme: Theme,
    term: Terminal<TestBackend>,
    keys: mpsc::UnboundedReceiver<Injected>,
    injector: KeyInjector,
    /// The thread running the event loop (this runtime's `block_on` thread).
    ui_tid: i32,
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

impl Console {
    pub async fn start(sb: &Sandbox) -> Result<Console, String> {
        let profile = Profile::load(&sb.profile_path).map_err(|e| e.to_string())?;
        let hosts = resolve_hosts(&profile).map_err(|e| e.to_string())?;
        let (fleet, state) = Fleet::start(&profile, hosts, ConnectOptions::default(), WorkerConfig::default());
        let keymap = Keymap::load(None, None).map_err(|e| e.to_string())?;
        let theme = Theme::load(None, None, false).map_err(|e| e.to_string())?;
        let mut app = App::new(&profile, false, state, keymap);
        app.update(Msg::Resize(WIDTH, HEIGHT));
        let term = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).map_err(|e| e.to_string())?;
        let (tx, keys) = mpsc::unbounded_channel();
        // SAFETY: gettid has no preconditions.
        let ui_tid = unsafe { libc::gettid() };
        let injector = KeyInjector::start(tx, ui_tid);
        Ok(Console { profile, fleet, app, theme, term, keys, injector, ui_tid })
    }

    fn draw(&mut self) -> Result<Duration, String> {
        let t = Instant::now();
        let (app, theme) = (&self.app, &self.theme);
        self.term.draw(|f| fleetdeck::tui::view::render(f, f.area(), app, theme)).map_err(|e| e.to_string())?;
        self.app.dirty = false;
        Ok(t.elapsed())
    }

    /// Applies fleet events until `names` are all running on host-1.
    pub async fn wait_for_containers(&mut self, names: &[String], timeout: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let seen = self.app.fleet.hosts.first().is_some_and(|h| {
                h.ready && names.iter().all(|n| h.containers.iter().any(|c| &c.name == n && c.is_running()))
            });
            if seen {
                return Ok(());
            }
            check_interrupted()?;
            match tokio::time::timeout_at(deadline, self.fleet.events.recv()).await {
                Ok(Some(ev)) => {
                    self.app.update(Msg::Fleet(ev));
                }
                Ok(None) => return Err("the fleet stopped".into()),
                Err(_) => return Err(format!("{} containers not all seen running within {timeout:?}", names.len())),
            }
        }
    }

    /// Runs `work` on a blocking thread while fleet events keep being applied.
    pub async fn while_pumping<T: Send + 'static>(
        &mut self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let mut task = tokio::task::spawn_blocking(work);
        loop {
            tokio::select! {
                r = &mut task => return r.map_err(|e| e.to_string()),
                Some(ev) = self.fleet.events.recv() => { self.app.update(Msg::Fleet(ev)); }
            }
        }
    }

    /// Opens the `worker` service's logs as a user would, with the include filter typed in.
    fn open_logs(&mut self, filter: &str) -> Result<LogSession, String> {
        self.app.screen = Screen::Dashboard;
        let rows = self.app.rows();
        let at = rows
            .iter()
            .position(|r| matches!(r, DashRow::Service(si) if self.app.summaries[*si].name == "worker"))
            .ok_or("no worker service row on the dashboard")?;
        self.app.selected = at;
        let effects = self.app.update(Msg::Action(Action::OpenLogs));
        let selectors = effects
            .into_iter()
            .find_map(|e| match e {
                Effect::OpenLogs(s) => Some(s),
                _ => None,
            })
            .ok_or("open_logs did not ask for a log session")?;
        let mut session = LogSession::new(&self.profile, selectors, LogOptions::default());
        session.sync(&self.app.fleet, &self.fleet);
        let sources = Some(session.sources().to_vec());
        self.app.update(Msg::Logs { entries: Vec::new(), sources, dropped: session.dropped() });
        self.app.update(key(KeyCode::Char('/')));
        for c in filter.chars() {
            self.app.update(key(KeyCode::Char(c)));
        }
        self.app.update(key(KeyCode::Enter));
        let pane = self.app.logs.as_ref().ok_or("the log view did not open")?;
        if pane.include != filter.trim() {
            return Err(format!("include filter not taken: {:?} ({:?})", pane.include, pane.message));
        }
        Ok(session)
    }

    /// One fleetdeck round (see the bench header). With `render`, also measures the log view's
    /// draw time with [`RENDER_LINES`] of this round's lines in the buffer.
    pub async fn round(
        &mut self,
        sb: &Sandbox,
        case: &Case,
        k: usize,
        s: &Settings,
        rss: &RssPeak,
        render: bool,
    ) -> Result<(Round, Option<RenderTimes>), String> {
        let mut session = self.open_logs(&s.filter)?;
        let m = Markers::new(k);
        case.signal("arm", k)?;
        let (mut ready, mut ended) = (HashSet::new(), HashSet::new());
        let want = case.containers.len();
        let mut seen: HashMap<u32, Seen> = HashMap::new();
        let (mut keys, mut keys_ran, mut keys_queued) = (Vec::new(), Vec::new(), Vec::new());
        let mut pending_keys: Vec<Injected> = Vec::new();
        let (mut up, mut start) = (true, None);
        let (mut cpu0, mut outside, mut dropped0, mut rss_start) = (0.0, None, 0, 0);
        let mut last_draw = Instant::now() - FRAME;
        let mut urgent = true;
        let (mut max_batch, mut max_ingest, mut max_draw) = (0, Duration::ZERO, Duration::ZERO);
        let deadline = Instant::now() + s.timeout;
        let mut end = None;
        while end.is_none() {
            if self.app.dirty && (urgent || last_draw.elapsed() >= FRAME) {
                let took = self.draw()?;
                last_draw = Instant::now();
                if start.is_some() {
                    max_draw = max_draw.max(took);
                }
            }
            // a key is answered once its frame is drawn (or at once if it changed nothing)
            if !self.app.dirty {
                let now = schedstat(self.ui_tid);
                for (sent, then) in pending_keys.drain(..) {
                    keys.push(sent.elapsed());
                    // meanwhile: how long the UI thread ran, and was ready but had no CPU
                    let (ran, queued) = then
                        .zip(now)
                        .map(|((r0, w0), (r1, w1))| (r1.saturating_sub(r0), w1.saturating_sub(w0)))
                        .unwrap_or_default();
                    keys_ran.push(ran);
                    keys_queued.push(queued);
                }
            }
            urgent = false;
            check_interrupted()?;
            if Instant::now() > deadline {
                break;
            }
            if start.is_none() && ready.len() == want {
                // every follower is attached: go
                outside = Some(OutsideCpu::start(sb));
                cpu0 = rusage_secs(libc::RUSAGE_SELF);
                dropped0 = session.dropped();
                rss_start = rss.reset();
                case.signal("go", k)?;
                start = Some(Instant::now());
                self.injector.on.store(true, Ordering::Relaxed);
            }
            let next_frame = tokio::time::Instant::from_std(last_draw + FRAME);
            // as tui::run: a ready key goes first
            tokio::select! {
                biased;
                Some(sent) = self.keys.recv() => {
                    urgent = true;
                    up = !up;
                    self.app.update(key(if up { KeyCode::Up } else { KeyCode::End }));
                    pending_keys.push(sent);
                }
                Some(ev) = self.fleet.events.recv() => {
                    self.app.update(Msg::Fleet(ev));
                    if session.sync(&self.app.fleet, &self.fleet) {
                        let sources = Some(session.sources().to_vec());
                        self.app.update(Msg::Logs { entries: Vec::new(), sources, dropped: session.dropped() });
                    }
                }
                _ = session.changed() => {
                    let mut entries = Vec::new();
                    let changed = session.drain(&mut entries, fleetdeck::tui::run::LOG_BATCH);
                    scan(&entries, &m, case.per_container, &mut seen, &mut ready, &mut ended);
                    let sources = changed.then(|| session.sources().to_vec());
                    let (n, t) = (entries.len(), Instant::now());
                    self.app.update(Msg::Logs { entries, sources, dropped: session.dropped() });
                    if start.is_some() {
                        max_batch = max_batch.max(n);
                        max_ingest = max_ingest.max(t.elapsed());
                    }
                    if start.is_some() && ended.len() == want {
                        end = Some(Instant::now());
                    }
                }
                _ = tokio::time::sleep_until(next_frame), if self.app.dirty => {}
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        self.injector.on.store(false, Ordering::Relaxed);
        let start = start.ok_or_else(|| format!("round {k}: {} of {want} containers ready in time", ready.len()))?;
        let end_at = end.unwrap_or_else(Instant::now);
        let cpu_self = rusage_secs(libc::RUSAGE_SELF) - cpu0;
        let (cpu_sshd, cpu_engine) = outside.map(|o| o.since()).unwrap_or_default();
        let pane = self.app.logs.as_ref().ok_or("the log view closed")?;
        let mut reader = pane.store.reader();
        let view_burst = (0..pane.view.len())
            .filter(|&i| {
                let entry = pane.view.abs_at(i).and_then(|abs| reader.get(abs));
                entry.and_then(|e| e.into_line()).is_some_and(|l| l.text.starts_with(&m.burst))
            })
            .count();
        drop(reader);
        let round = Round {
            lines: seen.values().map(|s| s.distinct).sum(),
            repeated: seen.values().map(|s| s.repeated).sum(),
            secs: (end_at - start).as_secs_f64(),
            dropped: session.dropped() - dropped0,
            cpu_self,
            cpu_clients: 0.0,
            cpu_sshd,
            cpu_engine,
            rss_start,
            rss_peak: rss.peak(),
            store_len: pane.store.len(),
            store_bytes: pane.store.bytes_held(),
            store_packing: pane.store.packing_stats(),
            store_text_bytes: {
                let mut n = 0;
                pane.store.for_each(|_, e| n += e.into_line().map_or(0, |l| l.text.len()));
                n
            },
            view_burst,
            keys,
            keys_ran,
            keys_queued,
            max_batch,
            max_ingest,
            max_draw,
        };
        let times = if render { Some(self.measure_render()?) } else { None };
        // close the view like the user: Esc, then the session goes
        self.app.update(key(KeyCode::Esc));
        drop(session);
        // drain keys injected after the round
        while self.keys.try_recv().is_ok() {}
        if end.is_none() {
            return Err(format!(
                "round {k}: not every container's end line arrived within {:?}; {}",
                s.timeout,
                summary(&round, case.expected())
            ));
        }
        Ok((round, times))
    }

    /// Draws the log view with [`RENDER_LINES`] lines of the open pane in a fresh pane.
    fn measure_render(&mut self) -> Result<RenderTimes, String> {
        let old = self.app.logs.take().ok_or("no log view to take lines from")?;
        let from = old.store.end_abs().saturating_sub(RENDER_LINES as u64);
        let mut entries: Vec<Entry> = Vec::with_capacity(RENDER_LINES);
        old.store.for_each(|abs, e| {
            if abs >= from {
                entries.push(e.into_owned());
            }
        });
        let mut pane = LogPane::new(old.title.clone(), self.app.log_budget);
        pane.sources = old.sources.clone();
        pane.height = old.height;
        pane.now = old.now;
        pane.ingest(entries);
        let lines = pane.store.len();
        self.app.logs = Some(pane);
        let mut cases = Vec::new();
        for (name, filter, paused) in [
            ("following, filter on", old.include.as_str(), false),
            ("paused mid-buffer, filter on", old.include.as_str(), true),
            ("following, no filter", "", false),
            ("paused mid-buffer, no filter", "", true),
        ] {
            let pane = self.app.logs.as_mut().expect("just set");
            pane.include = filter.to_string();
            pane.refilter();
            let len = pane.view.len();
            if paused {
                pane.follow.pause();
                pane.follow.top = len / 2;
            } else {
                pane.follow.resume(len, pane.height);
            }
            let mut times = Vec::new();
            for _ in 0..50 {
                let t = Instant::now();
                self.app.dirty = true;
                self.draw()?;
                times.push(t.elapsed());
            }
            times.sort();
            cases.push((name, len, ms(times[times.len() / 2]), ms(times[times.len() - 1])));
        }
        self.app.logs = Some(old);
        Ok(RenderTimes { lines, cases })
    }
}

/// Notes the round's burst lines per source and which sources said ready / end.
fn scan(
    entries: &[Entry],
    m: &Markers,
    per_source: usize,
    seen: &mut HashMap<u32, Seen>,
    ready: &mut HashSet<u32>,
    ended: &mut HashSet<u32>,
) {
    for l in entries.iter().filter_map(Entry::as_line) {
        if l.text.starts_with(&m.burst) {
            seen.entry(l.source).or_insert_with(|| Seen::new(per_source)).note(m.line_number(l.text.as_bytes()));
        } else if l.text.starts_with(&m.ready) {
            ready.insert(l.source);
        } else if l.text.starts_with(&m.end) {
            ended.insert(l.source);
        }
    }
}

pub fn summary(r: &Round, expected: usize) -> String {
    let keys = super::percentiles(&r.keys)
        .map(|(p50, p99, max)| format!(", keys p50 {p50:.1} / p99 {p99:.1} / max {max:.1} ms"))
        .unwrap_or_default();
    let keys = format!(
        "{keys} (longest run-queue wait {:.1} ms; largest batch {}, longest update {:.1} ms, frame {:.1} ms)",
        r.keys_queued.iter().map(|d| ms(*d)).fold(0.0, f64::max),
        r.max_batch,
        ms(r.max_ingest),
        ms(r.max_draw)
    );
    format!(
        "{}/{expected} lines ({} repeated) in {:.2} s = {:.0} lines/s, CPU {:.2} s (sshd {:.2}, engine {:.2}), RSS {:.0} MiB, {} dropped{keys}",
        r.lines,
        r.repeated,
        r.secs,
        r.rate(),
        r.cpu_self,
        r.cpu_sshd,
        r.cpu_engine,
        super::common::mib(r.rss_peak),
        r.dropped
    )
}

pub fn render_rows(t: &RenderTimes) -> Vec<Row> {
    t.cases
        .iter()
        .map(|(name, len, median, max)| Row {
            what: format!("render the log view, {} lines buffered, {name}", t.lines),
            value: format!("median {median:.2} ms, max {max:.2} ms ({len} lines in the view)"),
            target: "-".into(),
            how: format!("view::render on a {WIDTH}x{HEIGHT} TestBackend, 50 frames"),
        })
        .collect()
}
