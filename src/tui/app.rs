//! The console's state and its single `update`: every key (already resolved to an action by
//! the keymap), worker event and prompt becomes a `Msg`; `update` mutates the state and
//! returns the effects the event loop must carry out.

use super::action::{self, Action, Context};
use super::keymap::{KeyResolution, Keymap};
use super::rows::{visible_rows, Row, SortKey};
use super::text::TextInput;
use crate::config::Service;
use crate::fleet::health::{summarize, ServiceSummary};
use crate::fleet::model::{FleetState, HostEvent};
use crate::ssh::Prompt;
use chrono::{DateTime, Utc};
use std::collections::{HashSet, VecDeque};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    Dashboard,
    /// A container's details (host index, container id).
    Detail {
        host: usize,
        container: String,
    },
    Help,
    /// The merged log view (state in `App::logs`).
    Logs,
    /// The deploy wizard (state in `App::wizard`).
    Deploy,
    /// A service's release history (state in `App::releases`).
    Releases,
    /// The profile's backup jobs (state in `App::backups`).
    Backups,
}

impl Screen {
    /// The context of the screen itself (without overlays or text entry).
    pub fn context(&self) -> Context {
        match self {
            Screen::Dashboard => Context::Dashboard,
            Screen::Detail { .. } => Context::Detail,
            Screen::Help => Context::Help,
            Screen::Logs => Context::Log,
            Screen::Deploy => Context::Deploy,
            Screen::Releases => Context::Releases,
            Screen::Backups => Context::Backups,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Services,
    Hosts,
}

pub use super::app_palette::{PaletteState, PendingPrompt};
pub use super::msg::{Effect, Msg};

pub struct App {
    pub profile_name: String,
    pub protected: bool,
    pub read_only: bool,
    pub services: Vec<Service>,
    pub fleet: FleetState,
    pub summaries: Vec<ServiceSummary>,
    pub keymap: Keymap,
    pub screen: Screen,
    /// The screen help was opened from (its state, a log session included, is kept).
    pub help_return: Option<Screen>,
    /// Rows marked for the log view (a target and its label), in the order marked.
    pub marked: Vec<(crate::logs::source::Selector, String)>,
    pub focus: Focus,
    pub filter: TextInput,
    pub filter_editing: bool,
    pub sort: SortKey,
    pub expanded: HashSet<String>,
    pub selected: usize,
    pub host_selected: usize,
    pub scroll: u16,
    pub show_log: bool,
    pub palette: Option<PaletteState>,
    pub prompts: VecDeque<PendingPrompt>,
    pub now: DateTime<Utc>,
    pub should_quit: bool,
    /// Something visible changed since the last draw.
    pub dirty: bool,
    /// A transient message for the status line.
    pub flash: Option<String>,
    /// The terminal size, so scrolling stops at the end of the content.
    pub viewport: (u16, u16),
    /// The log view, while open.
    pub logs: Option<super::logpane::LogPane>,
    /// Lines the log view keeps at most.
    pub log_budget: usize,
    pub profile: crate::config::Profile,
    pub wizard: Option<super::wizard::Wizard>,
    pub releases: Option<super::wizard::ReleasesView>,
    pub backups: Option<super::backups::BackupsView>,
}

impl App {
    pub fn new(profile: &crate::config::Profile, read_only: bool, fleet: FleetState, keymap: Keymap) -> App {
        let mut app = App {
            profile_name: profile.name.clone(),
            protected: profile.protected,
            read_only: read_only || profile.read_only,
            services: profile.services.clone(),
            fleet,
            summaries: vec![],
            keymap,
            screen: Screen::Dashboard,
            help_return: None,
            marked: Vec::new(),
            focus: Focus::Services,
            filter: TextInput::default(),
            filter_editing: false,
            sort: SortKey::default(),
            expanded: HashSet::new(),
            selected: 0,
            host_selected: 0,
            scroll: 0,
            show_log: false,
            palette: None,
            prompts: VecDeque::new(),
            now: Utc::now(),
            should_quit: false,
            dirty: true,
            flash: None,
            viewport: (120, 40),
            logs: None,
            log_budget: 1_000_000,
            profile: profile.clone(),
            wizard: None,
            releases: None,
            backups: None,
        };
        app.recompute();
        app
    }

    /// The context whose bindings apply right now.
    pub fn context(&self) -> Context {
        if !self.prompts.is_empty() {
            Context::Prompt
        } else if self.palette.is_some() {
            Context::Palette
        } else if self.filter_editing || self.logs.as_ref().is_some_and(|l| l.editing.is_some()) {
            Context::Filter
        } else {
            match self.screen {
                Screen::Dashboard => Context::Dashboard,
                Screen::Detail { .. } => Context::Detail,
                Screen::Help => Context::Help,
                Screen::Logs => Context::Log,
                Screen::Deploy if self.wizard.as_ref().is_some_and(|w| w.typing(self.profile.protected)) => {
                    Context::Filter
                }
                Screen::Deploy => Context::Deploy,
                Screen::Releases => Context::Releases,
                Screen::Backups if self.backups.as_ref().is_some_and(|b| b.typing(self.profile.protected)) => {
                    Context::Filter
                }
                Screen::Backups if self.backups.as_ref().is_some_and(|b| b.confirm.is_some()) => Context::Prompt,
                Screen::Backups => Context::Backups,
            }
        }
    }

    /// Does this context take typed text (unbound printable keys edit a text field)?
    fn text_target(&mut self) -> Option<&mut TextInput> {
        if let Some(p) = self.prompts.front_mut() {
            return matches!(p.prompt, Prompt::Passphrase { .. }).then_some(&mut p.input);
        }
        if let Some(p) = self.palette.as_mut() {
            return Some(&mut p.input);
        }
        if self.filter_editing {
            return Some(&mut self.filter);
        }
        if let Some((_, input)) = self.logs.as_mut().and_then(|l| l.editing.as_mut()) {
            return Some(input);
        }
        let protected = self.profile.protected;
        if self.screen == Screen::Backups {
            if let Some(super::backups::Confirm::Restore { typed, .. }) =
                self.backups.as_mut().filter(|b| b.typing(protected)).and_then(|b| b.confirm.as_mut())
            {
                return Some(typed);
            }
        }
        if self.screen == Screen::Deploy {
            if let Some(w) = self.wizard.as_mut().filter(|w| w.typing(protected)) {
                return w.text_mut();
            }
        }
        None
    }

    pub fn rows(&self) -> Vec<Row> {
        visible_rows(&self.summaries, self.sort, &self.filter.value, |s| self.expanded.contains(s))
    }

    fn recompute(&mut self) {
        self.summaries = summarize(&self.services, &self.fleet);
        let n = self.rows().len();
        if self.selected >= n {
            self.selected = n.saturating_sub(1);
        }
        if self.host_selected >= self.fleet.hosts.len() {
            self.host_selected = self.fleet.hosts.len().saturating_sub(1);
        }
    }

    /// The single place where state changes.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        // the last frame may have unpacked log chunks to draw them: keep only a few dozen
        if let Some(p) = self.logs.as_mut() {
            p.store.trim_cache();
        }
        match msg {
            Msg::Key(key) => {
                let ctx = self.context();
                // While a passphrase is typed, printable keys are text, never bindings.
                let typing = self.prompts.front().is_some_and(|p| matches!(p.prompt, Prompt::Passphrase { .. }));
                let resolved =
                    if typing { self.keymap.resolve_typing(ctx, key) } else { self.keymap.resolve(ctx, key) };
                match resolved {
                    KeyResolution::Action(a) => return self.update(Msg::Action(a)),
                    KeyResolution::Pending => {}
                    KeyResolution::Unbound => {
                        if let Some(input) = self.text_target() {
                            if input.handle_key(key) {
                                self.after_text_edit();
                                self.dirty = true;
                            }
                        }
                    }
                }
                vec![]
            }
            Msg::Action(a) => {
                self.dirty = true;
                self.flash = None;
                self.act(a)
            }
            Msg::Fleet(ev) => {
                // A usage sample that changes nothing the dashboard shows needs no redraw
                // (the detail view shows more, so it always redraws).
                let sample =
                    matches!(ev.event, HostEvent::Usage(_) | HostEvent::Metrics(_)) && self.screen == Screen::Dashboard;
                let host = ev.host;
                let shown = |f: &FleetState| f.hosts.get(host).map(super::view::format::shown_usage);
                let before = sample.then(|| shown(&self.fleet));
                if self.fleet.apply(ev) {
                    if before.is_some_and(|b| b == shown(&self.fleet)) {
                        return vec![];
                    }
                    self.recompute();
                    self.dirty = true;
                }
                vec![]
            }
            Msg::Prompt(p) => {
                self.prompts.push_back(PendingPrompt { prompt: p, input: TextInput::default() });
                self.dirty = true;
                vec![]
            }
            Msg::Tick(now) => {
                // Time alone changes the picture only where ages are shown: redraw each second
                // where they are shown in seconds, else once a minute.
                let second = now.timestamp() != self.now.timestamp();
                let minute = now.timestamp() / 60 != self.now.timestamp() / 60;
                if minute || (second && self.shows_seconds(now)) {
                    self.dirty = true;
                }
                // a log time window ("last 5m") slides with the clock
                if self.logs.as_mut().is_some_and(|p| p.tick(now.timestamp_nanos_opt().unwrap_or(0))) {
                    self.dirty = true;
                }
                self.now = now;
                // backup ages and the RPO move with the clock: list the jobs again each minute
                let idle = self.backups.as_ref().is_some_and(|b| !b.running() && b.confirm.is_none());
                if minute && idle && self.screen == Screen::Backups {
                    return vec![Effect::LoadBackups(None)];
                }
                vec![]
            }
            Msg::Resize(w, h) => {
                self.viewport = (w, h);
                self.layout_logs();
                self.dirty = true;
                vec![]
            }
            Msg::DeployImages(images) => {
                if let Some(w) = self.wizard.as_mut() {
                    if let super::wizard::Step::PickImage { choices, loading, .. } = &mut w.step {
                        *choices = images;
                        *loading = false;
                    }
                }
                self.dirty = true;
                vec![]
            }
            Msg::Deploy(ev) => {
                self.on_deploy_event(ev);
                self.dirty = true;
                vec![]
            }
            Msg::DeployTarget { service, manager } => {
                self.on_deploy_target(service, manager);
                self.dirty = true;
                vec![]
            }
            Msg::SwarmPlanned(result) => {
                self.on_swarm_planned(result);
                self.dirty = true;
                vec![]
            }
            Msg::DeployRefused(why) => {
                self.on_deploy_refused(why);
                self.dirty = true;
                vec![]
            }
            Msg::Releases(result) => {
                if let Some(v) = self.releases.as_mut() {
                    v.loading = false;
                    match result {
                        Ok(r) => v.releases = r,
                        Err(e) => v.error = Some(e),
                    }
                }
                self.dirty = true;
                vec![]
            }
            Msg::BackupListing { job, result } => {
                self.on_backup_listing(job, result.map(|l| *l));
                self.dirty = true;
                vec![]
            }
            Msg::Backup(ev) => {
                self.on_backup_event(ev);
                self.dirty = true;
                vec![]
            }
            Msg::BackupDone { ok, summary } => {
                self.dirty = true;
                self.on_backup_done(ok, summary)
            }
            Msg::LogNotice(text) => {
                match self.logs.as_mut() {
                    Some(pane) => pane.message = Some(text),
                    None => self.flash = Some(text),
                }
                self.dirty = true;
                vec![]
            }
            Msg::Logs { entries, sources, dropped } => {
                if let Some(pane) = self.logs.as_mut() {
                    if !entries.is_empty() || sources.is_some() || dropped != pane.dropped {
                        self.dirty = true;
                    }
                    pane.ingest(entries);
                    if let Some(s) = sources {
                        pane.sources = s;
                    }
                    pane.dropped = dropped;
                }
                vec![]
            }
        }
    }

    /// Is anything on screen aged in seconds (so it changes every second)?
    fn shows_seconds(&self, now: DateTime<Utc>) -> bool {
        self.show_log
            || matches!(self.screen, Screen::Detail { .. })
            || self.fleet.hosts.iter().any(|h| {
                !h.conn.is_connected()
                    || h.containers.iter().any(|c| c.started_at.is_some_and(|t| (now - t).num_seconds() < 60))
            })
    }

    fn after_text_edit(&mut self) {
        if self.filter_editing {
            self.selected = 0;
        }
        if let Some(p) = self.palette.as_mut() {
            p.selected = 0;
        }
    }

    pub(super) fn act(&mut self, a: Action) -> Vec<Effect> {
        let info = action::info(a);
        if a == Action::Quit && self.wizard.as_ref().is_some_and(|w| w.is_running()) {
            self.screen = Screen::Deploy;
            self.flash =
                Some("a deploy is running: wait for it, or abort it (its moved replicas go back) first".into());
            return vec![];
        }
        if info.mutating && self.read_only {
            self.flash = Some(format!("{}: disabled (read-only)", info.name));
            return vec![];
        }
        match self.context() {
            Context::Prompt | Context::Filter if self.screen == Screen::Backups && self.prompts.is_empty() => {
                return self.act_backups(a)
            }
            Context::Backups => return self.act_backups(a),
            Context::Prompt => return self.act_prompt(a),
            Context::Palette => return self.act_palette(a),
            Context::Filter if self.screen == Screen::Logs => return self.act_log_edit(a),
            Context::Filter | Context::Deploy if self.screen == Screen::Deploy => {
                if a == Action::ClearFilter {
                    if let Some(t) = self.wizard.as_mut().and_then(|w| w.text_mut()) {
                        t.clear();
                    }
                    return vec![];
                }
                return self.act_wizard(a);
            }
            Context::Releases => return self.act_releases(a),
            Context::Log => return self.act_logs(a),
            Context::Filter => {
                match a {
                    Action::Confirm => self.filter_editing = false,
                    Action::Cancel | Action::ClearFilter => {
                        self.filter.clear();
                        self.filter_editing = false;
                    }
                    other => return self.act_screen(other),
                }
                return vec![];
            }
            _ => {}
        }
        self.act_screen(a)
    }

    fn act_screen(&mut self, a: Action) -> Vec<Effect> {
        let rows = self.rows();
        let page = 10;
        match a {
            Action::Quit => self.should_quit = true,
            Action::Help if self.screen == Screen::Help => self.close_help(),
            Action::Help => self.open_help(),
            Action::Palette => self.palette = Some(PaletteState::default()),
            Action::ToggleLog => self.show_log = !self.show_log,
            Action::Filter => {
                self.screen = Screen::Dashboard;
                self.filter_editing = true;
            }
            Action::ClearFilter => self.filter.clear(),
            Action::Back | Action::Cancel if self.screen == Screen::Help => self.close_help(),
            Action::Back | Action::Cancel => {
                self.screen = Screen::Dashboard;
                self.scroll = 0;
            }
            Action::SortNext => {
                self.sort = self.sort.next();
                self.flash = Some(format!("sorted by {}", self.sort.label()));
            }
            Action::FocusNext => {
                self.focus = if self.focus == Focus::Services { Focus::Hosts } else { Focus::Services };
            }
            Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom => {
                self.move_cursor(a, rows.len(), page)
            }
            Action::Expand | Action::Collapse | Action::ToggleExpand => {
                if let Some(name) = self.selected_service_name(&rows) {
                    let open = match a {
                        Action::Expand => true,
                        Action::Collapse => false,
                        _ => !self.expanded.contains(&name),
                    };
                    if open {
                        self.expanded.insert(name);
                    } else {
                        self.expanded.remove(&name);
                        // keep the cursor on the service row
                        if let Some(Row::Replica(si, _)) = rows.get(self.selected) {
                            let si = *si;
                            self.selected = self.rows().iter().position(|r| *r == Row::Service(si)).unwrap_or(0);
                        }
                    }
                }
            }
            Action::ExpandAll => self.expanded = self.summaries.iter().map(|s| s.name.clone()).collect(),
            Action::CollapseAll => {
                self.expanded.clear();
                self.selected = 0;
            }
            Action::Open | Action::Confirm if self.screen == Screen::Dashboard => self.open_selected(&rows),
            Action::OpenLogs => return self.open_logs(&rows),
            Action::Mark => self.toggle_mark(&rows),
            Action::OpenDeploy => return self.open_deploy(&rows),
            Action::OpenReleases => return self.open_releases(&rows),
            Action::OpenBackups => return self.open_backups(),
            Action::RetryHost => {
                if self.focus == Focus::Hosts {
                    self.flash = Some(format!("reconnecting {}", self.fleet.hosts[self.host_selected].name));
                    return vec![Effect::RetryHost(self.host_selected)];
                }
                if let Some(h) = self.selected_host(&rows) {
                    self.flash = Some(format!("reconnecting {}", self.fleet.hosts[h].name));
                    return vec![Effect::RetryHost(h)];
                }
            }
            // the log view's own actions are handled in `act_logs`
            _ => {}
        }
        vec![]
    }

    fn move_cursor(&mut self, a: Action, n: usize, page: usize) {
        if self.screen != Screen::Dashboard {
            let limit = super::view::scroll_limit(self, self.viewport.0, self.viewport.1);
            let page = self.viewport.1.saturating_sub(6).max(1);
            self.scroll = match a {
                Action::Up => self.scroll.saturating_sub(1),
                Action::Down => self.scroll.saturating_add(1),
                Action::PageUp => self.scroll.saturating_sub(page),
                Action::PageDown => self.scroll.saturating_add(page),
                Action::Top => 0,
                _ => limit,
            }
            .min(limit);
            return;
        }
        let (cur, len) = match self.focus {
            Focus::Services => (self.selected, n),
            Focus::Hosts => (self.host_selected, self.fleet.hosts.len()),
        };
        let last = len.saturating_sub(1);
        let next = match a {
            Action::Up => cur.saturating_sub(1),
            Action::Down => (cur + 1).min(last),
            Action::PageUp => cur.saturating_sub(page),
            Action::PageDown => (cur + page).min(last),
            Action::Top => 0,
            _ => last,
        };
        match self.focus {
            Focus::Services => self.selected = next,
            Focus::Hosts => self.host_selected = next,
        }
    }

    pub(super) fn selected_service_name(&self, rows: &[Row]) -> Option<String> {
        match rows.get(self.selected)? {
            Row::Service(si) | Row::Replica(si, _) => Some(self.summaries[*si].name.clone()),
        }
    }

    pub(super) fn selected_host(&self, rows: &[Row]) -> Option<usize> {
        match rows.get(self.selected)? {
            Row::Replica(si, ri) => Some(self.summaries[*si].replicas[*ri].host_index),
            Row::Service(_) => None,
        }
    }

    fn open_selected(&mut self, rows: &[Row]) {
        match rows.get(self.selected) {
            Some(Row::Replica(si, ri)) => {
                let r = &self.summaries[*si].replicas[*ri];
                self.screen = Screen::Detail { host: r.host_index, container: r.container_id.clone() };
                self.scroll = 0;
            }
            Some(Row::Service(si)) => {
                // a service with one replica opens it directly; otherwise expand it
                let s = &self.summaries[*si];
                if s.replicas.len() == 1 {
                    let r = &s.replicas[0];
                    self.screen = Screen::Detail { host: r.host_index, container: r.container_id.clone() };
                    self.scroll = 0;
                } else {
                    self.expanded.insert(s.name.clone());
                }
            }
            None => {}
        }
    }

    /// Keys bound to `action` in the current context, for hints ("q", "ctrl-c").
    pub fn keys(&self, ctx: Context, a: Action) -> Vec<String> {
        self.keymap.keys_for(ctx, a)
    }
}
