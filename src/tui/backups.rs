//! The backups view: state and its part of `App::update`. Every `[[backups]]` job of the
//! profile with its files on the host and the newest backup's age against the RPO; run a
//! backup now (output streamed in), verify a file, restore a file (the plan first; on a
//! protected profile the job name must be typed), prune by retention (exactly what will be
//! deleted is shown first). The work itself is done by the backups engine
//! (`crate::backup`), started by the event loop from the effects returned here.

use super::action::Action;
use super::app::{App, Effect, Screen};
use super::text::TextInput;
use crate::backup::{plan_prune, plan_restore, BackupEvent, BackupFile, BackupJob, JobListing, PrunePlan, RestorePlan};
use chrono::{DateTime, Utc};

/// Which list the cursor moves in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupFocus {
    Jobs,
    Files,
}

/// One job of the profile and what is known of its files.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub job: String,
    pub host: String,
    pub listing: Option<Result<JobListing, String>>,
    pub loading: bool,
}

/// What kind of work runs (or ran) on a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Run,
    Verify,
    Restore,
    Prune,
}

impl OpKind {
    pub fn label(self) -> &'static str {
        match self {
            OpKind::Run => "backup",
            OpKind::Verify => "verify",
            OpKind::Restore => "restore",
            OpKind::Prune => "prune",
        }
    }
}

/// The running or last finished operation, with its streamed output.
#[derive(Debug, Clone)]
pub struct Operation {
    pub kind: OpKind,
    pub job: String,
    /// (text, from standard error or a failure)
    pub lines: Vec<(String, bool)>,
    /// Bytes written so far and the previous backup's size.
    pub progress: Option<(u64, Option<u64>)>,
    pub safety_path: Option<String>,
    /// `None` while it runs; then whether it succeeded, and the outcome in a sentence.
    pub result: Option<(bool, String)>,
}

/// A question before a change: what exactly will happen.
#[derive(Debug, Clone)]
pub enum Confirm {
    Restore { plan: Box<RestorePlan>, typed: TextInput },
    Prune { plan: Box<PrunePlan> },
}

#[derive(Debug, Clone)]
pub struct BackupsView {
    pub jobs: Vec<JobRow>,
    pub selected_job: usize,
    pub selected_file: usize,
    pub focus: BackupFocus,
    pub op: Option<Operation>,
    pub confirm: Option<Confirm>,
}

/// Lines of output kept for the operation pane.
const MAX_OP_LINES: usize = 500;

impl BackupsView {
    pub fn new(jobs: &[crate::backup::BackupJob]) -> BackupsView {
        BackupsView {
            jobs: jobs
                .iter()
                .map(|j| JobRow { job: j.name.clone(), host: j.host.clone(), listing: None, loading: true })
                .collect(),
            selected_job: 0,
            selected_file: 0,
            focus: BackupFocus::Jobs,
            op: None,
            confirm: None,
        }
    }

    pub fn job(&self) -> Option<&JobRow> {
        self.jobs.get(self.selected_job)
    }

    pub fn listing(&self) -> Option<&JobListing> {
        self.job()?.listing.as_ref()?.as_ref().ok()
    }

    /// The file the cursor is on (the newest while the cursor is on the jobs list).
    pub fn file(&self) -> Option<&BackupFile> {
        let l = self.listing()?;
        match self.focus {
            BackupFocus::Jobs => l.newest(),
            BackupFocus::Files => l.files.get(self.selected_file),
        }
    }

    pub fn running(&self) -> bool {
        self.op.as_ref().is_some_and(|o| o.result.is_none())
    }

    /// Is a typed confirmation being entered?
    pub fn typing(&self, protected: bool) -> bool {
        protected && matches!(self.confirm, Some(Confirm::Restore { .. }))
    }

    /// Keys of the backups screen (and of its confirmation); `flash` gets a message for the
    /// status line.
    fn act(
        &mut self,
        a: Action,
        job: Option<BackupJob>,
        protected: bool,
        now: DateTime<Utc>,
        flash: &mut Option<String>,
    ) -> Vec<Effect> {
        if let Some(confirm) = self.confirm.take() {
            return match (confirm, a) {
                (Confirm::Restore { plan, typed }, Action::Confirm) => {
                    if protected && typed.value.trim() != plan.confirm_word {
                        *flash = Some(format!("protected profile: type {} to confirm the restore", plan.confirm_word));
                        self.confirm = Some(Confirm::Restore { plan, typed });
                        return vec![];
                    }
                    self.op = Some(Operation::new(OpKind::Restore, &plan.job));
                    vec![Effect::BackupRestore(plan)]
                }
                (Confirm::Prune { plan }, Action::Confirm) if plan.delete.is_empty() => vec![],
                (Confirm::Prune { plan }, Action::Confirm) => {
                    self.op = Some(Operation::new(OpKind::Prune, &plan.job));
                    vec![Effect::BackupPrune(plan)]
                }
                (_, Action::Cancel | Action::Back) => {
                    *flash = Some("cancelled: nothing was changed".into());
                    vec![]
                }
                (Confirm::Restore { plan, .. }, Action::ClearFilter) => {
                    self.confirm = Some(Confirm::Restore { plan, typed: TextInput::default() });
                    vec![]
                }
                (c, _) => {
                    self.confirm = Some(c);
                    vec![]
                }
            };
        }
        let files = self.listing().map(|l| l.files.len()).unwrap_or(0);
        match a {
            Action::Up | Action::Down => {
                let down = a == Action::Down;
                match self.focus {
                    BackupFocus::Jobs => {
                        let last = self.jobs.len().saturating_sub(1);
                        let cur = self.selected_job;
                        let next = if down { (cur + 1).min(last) } else { cur.saturating_sub(1) };
                        if next != cur {
                            self.selected_job = next;
                            self.selected_file = 0;
                        }
                    }
                    BackupFocus::Files => {
                        let (cur, last) = (self.selected_file, files.saturating_sub(1));
                        self.selected_file = if down { (cur + 1).min(last) } else { cur.saturating_sub(1) };
                    }
                }
            }
            Action::FocusNext | Action::Open => {
                self.focus = match self.focus {
                    BackupFocus::Jobs if files > 0 => BackupFocus::Files,
                    _ => BackupFocus::Jobs,
                };
            }
            Action::BackupRefresh => {
                for j in &mut self.jobs {
                    j.loading = true;
                }
                return vec![Effect::LoadBackups(None)];
            }
            Action::BackupRun | Action::BackupVerify | Action::BackupRestore | Action::BackupPrune => {
                if self.running() {
                    *flash = Some("an operation is running: wait for it to finish".into());
                    return vec![];
                }
                let Some(job) = job else { return vec![] };
                if a == Action::BackupRun {
                    self.op = Some(Operation::new(OpKind::Run, &job.name));
                    return vec![Effect::BackupRun(job.name)];
                }
                let Some(listing) = self.listing() else {
                    *flash = Some(format!("{}: the backups are not listed yet", job.name));
                    return vec![];
                };
                match a {
                    Action::BackupVerify => match self.file().cloned() {
                        Some(file) => {
                            self.op = Some(Operation::new(OpKind::Verify, &job.name));
                            return vec![Effect::BackupVerify(job.name, Box::new(file))];
                        }
                        None => *flash = Some(format!("{} has no backup to verify", job.name)),
                    },
                    Action::BackupRestore => {
                        let file = self.file().map(|f| f.name.clone());
                        match plan_restore(&job, listing, file.as_deref(), now) {
                            Ok(plan) => {
                                let typed = TextInput::default();
                                self.confirm = Some(Confirm::Restore { plan: Box::new(plan), typed });
                            }
                            Err(e) => *flash = Some(e.to_string()),
                        }
                    }
                    _ => self.confirm = Some(Confirm::Prune { plan: Box::new(plan_prune(&job, listing)) }),
                }
            }
            _ => {}
        }
        vec![]
    }

    fn push(&mut self, line: String, bad: bool) {
        if let Some(op) = self.op.as_mut() {
            op.lines.push((line, bad));
            if op.lines.len() > MAX_OP_LINES {
                op.lines.drain(..op.lines.len() - MAX_OP_LINES);
            }
        }
    }
}

impl App {
    pub(super) fn open_backups(&mut self) -> Vec<Effect> {
        if self.profile.backups.is_empty() {
            self.flash = Some("this profile has no [[backups]] jobs".into());
            return vec![];
        }
        self.screen = Screen::Backups;
        match &self.backups {
            // keep the running operation and its output; refresh the listings
            Some(v) if v.running() => vec![],
            _ => {
                self.backups = Some(BackupsView::new(&self.profile.backups));
                vec![Effect::LoadBackups(None)]
            }
        }
    }

    fn selected_job_config(&self) -> Option<crate::backup::BackupJob> {
        let v = self.backups.as_ref()?;
        let row = v.job()?;
        self.profile.backups.iter().find(|j| j.name == row.job).cloned()
    }

    pub(super) fn act_backups(&mut self, a: Action) -> Vec<Effect> {
        let protected = self.profile.protected;
        let now = self.now;
        let job = self.selected_job_config();
        let Some(v) = self.backups.as_mut() else {
            self.screen = Screen::Dashboard;
            return vec![];
        };
        if v.confirm.is_none() {
            match a {
                Action::Back | Action::Cancel => {
                    self.screen = Screen::Dashboard;
                    if v.running() {
                        self.flash = Some("the backup operation continues: press the backups key to watch it".into());
                    } else {
                        self.backups = None;
                    }
                    return vec![];
                }
                Action::Quit => self.should_quit = true,
                Action::Help => {
                    self.open_help();
                    return vec![];
                }
                _ => {}
            }
        }
        let mut flash = None;
        let effects = v.act(a, job, protected, now, &mut flash);
        if flash.is_some() {
            self.flash = flash;
        }
        effects
    }

    /// A job's listing arrived.
    pub(super) fn on_backup_listing(&mut self, job: String, result: Result<JobListing, String>) {
        let Some(v) = self.backups.as_mut() else { return };
        if let Some(row) = v.jobs.iter_mut().find(|r| r.job == job) {
            row.loading = false;
            row.listing = Some(result);
        }
        let files = v.listing().map(|l| l.files.len()).unwrap_or(0);
        v.selected_file = v.selected_file.min(files.saturating_sub(1));
    }

    /// Progress of the running operation.
    pub(super) fn on_backup_event(&mut self, ev: BackupEvent) {
        let Some(v) = self.backups.as_mut() else { return };
        let t = self.now.format("%H:%M:%S");
        match ev {
            BackupEvent::Step(s) => v.push(format!("{t} {s}"), false),
            BackupEvent::Output { line, stderr } => v.push(format!("  | {line}"), stderr),
            BackupEvent::Progress { bytes, expected, .. } => {
                if let Some(op) = v.op.as_mut() {
                    op.progress = Some((bytes, expected));
                }
            }
            BackupEvent::SafetyBackup { path } => {
                v.push(format!("{t} safety backup of the current state: {path}"), false);
                if let Some(op) = v.op.as_mut() {
                    op.safety_path = Some(path);
                }
            }
        }
    }

    /// The operation ended; the job is listed again to show its effect.
    pub(super) fn on_backup_done(&mut self, ok: bool, summary: String) -> Vec<Effect> {
        let Some(v) = self.backups.as_mut() else { return vec![] };
        let t = self.now.format("%H:%M:%S");
        v.push(format!("{t} {summary}"), !ok);
        let Some(op) = v.op.as_mut() else { return vec![] };
        op.result = Some((ok, summary));
        let job = op.job.clone();
        if let Some(row) = v.jobs.iter_mut().find(|r| r.job == job) {
            row.loading = true;
        }
        vec![Effect::LoadBackups(Some(job))]
    }
}

impl Operation {
    fn new(kind: OpKind, job: &str) -> Operation {
        Operation { kind, job: job.to_string(), lines: vec![], progress: None, safety_path: None, result: None }
    }
}
