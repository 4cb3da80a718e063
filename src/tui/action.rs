//! The one action registry: every user action, its name in keymap files, its description,
//! where it applies, and whether it changes anything on the hosts. Key handling, the help
//! screen, the hint bar and the command palette are all generated from this table.

/// Where a key binding applies. `Global` bindings work in every context unless the context
/// binds the same key itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    Global,
    Dashboard,
    Detail,
    Help,
    Palette,
    Filter,
    Log,
    Prompt,
    Deploy,
    Releases,
    Backups,
}

impl Context {
    pub const ALL: [Context; 11] = [
        Context::Global,
        Context::Dashboard,
        Context::Detail,
        Context::Help,
        Context::Palette,
        Context::Filter,
        Context::Log,
        Context::Prompt,
        Context::Deploy,
        Context::Releases,
        Context::Backups,
    ];

    /// The section name in keymap files.
    pub fn name(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::Dashboard => "dashboard",
            Context::Detail => "detail",
            Context::Help => "help",
            Context::Palette => "palette",
            Context::Filter => "filter",
            Context::Log => "log",
            Context::Deploy => "deploy",
            Context::Releases => "releases",
            Context::Backups => "backups",
            Context::Prompt => "prompt",
        }
    }

    pub fn from_name(s: &str) -> Option<Context> {
        Context::ALL.into_iter().find(|c| c.name() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Quit,
    Help,
    Palette,
    Filter,
    ClearFilter,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Expand,
    Collapse,
    ToggleExpand,
    ExpandAll,
    CollapseAll,
    Open,
    Back,
    SortNext,
    FocusNext,
    ToggleLog,
    RetryHost,
    Confirm,
    Cancel,
    OpenLogs,
    Mark,
    LogPause,
    LogInclude,
    LogExclude,
    LogHighlight,
    LogCase,
    LogSearch,
    LogNext,
    LogPrev,
    LogLevel,
    LogWindow,
    LogSince,
    LogTimestamps,
    LogUtc,
    LogWrap,
    LogJson,
    LogFields,
    LogAnsi,
    LogExport,
    OpenDeploy,
    OpenReleases,
    Rollback,
    DeployPause,
    DeployAbort,
    OpenBackups,
    BackupRun,
    BackupVerify,
    BackupRestore,
    BackupPrune,
    BackupRefresh,
}

/// Registry entry for an action.
#[derive(Debug, Clone, Copy)]
pub struct ActionInfo {
    pub action: Action,
    /// Name used in keymap files (`run = "..."`) and the palette.
    pub name: &'static str,
    pub desc: &'static str,
    /// Contexts where it can be bound; the palette offers those of the current screen.
    pub contexts: &'static [Context],
    /// Changes something on a host (disabled on read-only profiles).
    pub mutating: bool,
    /// Shown in the bottom hint bar.
    pub hint: bool,
}

use Context::*;

/// One registry row (keeps the table one line per action).
const fn entry(
    action: Action,
    name: &'static str,
    desc: &'static str,
    contexts: &'static [Context],
    mutating: bool,
    hint: bool,
) -> ActionInfo {
    ActionInfo { action, name, desc, contexts, mutating, hint }
}

#[rustfmt::skip]
pub const REGISTRY: &[ActionInfo] = &[
    entry(Action::Quit, "quit", "Quit fleetdeck", &[Global], false, true),
    entry(Action::Help, "help", "Show all keys", &[Global], false, true),
    entry(Action::Palette, "palette", "Command palette", &[Global], false, true),
    entry(Action::Filter, "filter", "Filter services and containers", &[Dashboard], false, true),
    entry(Action::ClearFilter, "clear_filter", "Clear the filter", &[Dashboard, Filter], false, false),
    entry(Action::Up, "up", "Move up", &[Dashboard, Detail, Help, Palette, Log, Filter, Deploy, Releases, Backups], false, false),
    entry(Action::Down, "down", "Move down", &[Dashboard, Detail, Help, Palette, Log, Filter, Deploy, Releases, Backups], false, false),
    entry(Action::PageUp, "page_up", "Page up", &[Dashboard, Detail, Help, Log], false, false),
    entry(Action::PageDown, "page_down", "Page down", &[Dashboard, Detail, Help, Log], false, false),
    entry(Action::Top, "top", "Go to the top", &[Dashboard, Detail, Help, Log], false, false),
    entry(Action::Bottom, "bottom", "Go to the bottom", &[Dashboard, Detail, Help, Log], false, false),
    entry(Action::Expand, "expand", "Expand the service", &[Dashboard], false, false),
    entry(Action::Collapse, "collapse", "Collapse the service", &[Dashboard], false, false),
    entry(Action::ToggleExpand, "toggle_expand", "Expand or collapse the service", &[Dashboard], false, true),
    entry(Action::ExpandAll, "expand_all", "Expand every service", &[Dashboard], false, false),
    entry(Action::CollapseAll, "collapse_all", "Collapse every service", &[Dashboard], false, false),
    entry(Action::Open, "open", "Open the container's details", &[Dashboard], false, true),
    entry(Action::Back, "back", "Back", &[Detail, Help, Palette, Log, Deploy, Releases, Backups], false, true),
    entry(Action::SortNext, "sort", "Change the sort order", &[Dashboard], false, false),
    entry(Action::FocusNext, "focus_next", "Switch the focused list (hosts, services; jobs, files)", &[Dashboard, Backups], false, false),
    entry(Action::ToggleLog, "toggle_log", "Show or hide fleetdeck's own log", &[Global], false, true),
    entry(Action::RetryHost, "retry_host", "Reconnect the selected host now", &[Dashboard], false, false),
    entry(Action::Confirm, "confirm", "Confirm", &[Prompt, Palette, Filter, Deploy], false, true),
    entry(Action::Cancel, "cancel", "Cancel", &[Prompt, Palette, Filter], false, true),
    entry(Action::OpenDeploy, "deploy", "Deploy an image to the selected service (plan first)", &[Dashboard], true, true),
    entry(Action::OpenReleases, "releases", "Release history of the selected service", &[Dashboard], false, false),
    entry(Action::Rollback, "rollback", "Roll back to the selected release (preview first)", &[Releases], true, true),
    entry(Action::DeployPause, "deploy_pause", "Pause or resume the deploy between batches", &[Deploy], false, true),
    entry(Action::DeployAbort, "deploy_abort", "Abort the deploy: moved replicas go back", &[Deploy], false, true),
    entry(Action::OpenBackups, "backups", "Backups: every job's files, age against the RPO", &[Dashboard], false, true),
    entry(Action::BackupRun, "backup_run", "Take a backup of the selected job now", &[Backups], true, true),
    entry(Action::BackupVerify, "backup_verify", "Verify the selected backup file", &[Backups], false, true),
    entry(Action::BackupRestore, "backup_restore", "Restore the selected backup file (plan first)", &[Backups], true, true),
    entry(Action::BackupPrune, "backup_prune", "Delete backups past retention (preview first)", &[Backups], true, true),
    entry(Action::BackupRefresh, "backup_refresh", "List the backup files again", &[Backups], false, false),
    entry(Action::OpenLogs, "open_logs", "Logs of the selected service, container or host (or of every marked one)", &[Dashboard, Detail], false, true),
    entry(Action::Mark, "mark", "Mark or unmark the row: the logs key opens every marked one together", &[Dashboard], false, false),
    entry(Action::LogPause, "log_pause", "Pause or follow (paused keeps receiving)", &[Log], false, true),
    entry(Action::LogInclude, "log_include", "Show only lines matching a regex", &[Log], false, true),
    entry(Action::LogExclude, "log_exclude", "Hide lines matching a regex", &[Log], false, true),
    entry(Action::LogHighlight, "log_highlight", "Highlight a regex", &[Log], false, false),
    entry(Action::LogCase, "log_case", "Toggle case-sensitive matching", &[Log], false, false),
    entry(Action::LogSearch, "log_search", "Search (then next / previous)", &[Log], false, true),
    entry(Action::LogNext, "log_next", "Next search match", &[Log], false, false),
    entry(Action::LogPrev, "log_prev", "Previous search match", &[Log], false, false),
    entry(Action::LogLevel, "log_level", "Minimum level: all, debug, info, warn, error", &[Log], false, true),
    entry(Action::LogWindow, "log_window", "Time window: all, last 1m, 5m, 15m, 1h", &[Log], false, false),
    entry(Action::LogSince, "log_since", "Show lines from a time on (14:05, 2026-11-30 14:05, 10m)", &[Log], false, false),
    entry(Action::LogTimestamps, "log_timestamps", "Show or hide timestamps", &[Log], false, false),
    entry(Action::LogUtc, "log_utc", "Timestamps in UTC or local time", &[Log], false, false),
    entry(Action::LogWrap, "log_wrap", "Wrap long lines", &[Log], false, false),
    entry(Action::LogJson, "log_json", "JSON lines: raw, pretty, or chosen fields", &[Log], false, false),
    entry(Action::LogFields, "log_fields", "Choose the JSON fields to show", &[Log], false, false),
    entry(Action::LogAnsi, "log_ansi", "Render or strip ANSI colours", &[Log], false, false),
    entry(Action::LogExport, "log_export", "Export the visible (filtered) lines to a file", &[Log], false, true),
];

pub fn info(action: Action) -> &'static ActionInfo {
    REGISTRY.iter().find(|i| i.action == action).expect("every action is registered")
}

pub fn by_name(name: &str) -> Option<&'static ActionInfo> {
    REGISTRY.iter().find(|i| i.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_resolvable() {
        for (i, a) in REGISTRY.iter().enumerate() {
            assert!(REGISTRY[i + 1..].iter().all(|b| b.name != a.name && b.action != a.action), "{}", a.name);
            assert_eq!(by_name(a.name).unwrap().action, a.action);
            assert_eq!(info(a.action).name, a.name);
        }
    }
}
