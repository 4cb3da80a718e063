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
}

impl Context {
    pub const ALL: [Context; 8] = [
        Context::Global,
        Context::Dashboard,
        Context::Detail,
        Context::Help,
        Context::Palette,
        Context::Filter,
        Context::Log,
        Context::Prompt,
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

pub const REGISTRY: &[ActionInfo] = &[
    ActionInfo {
        action: Action::Quit,
        name: "quit",
        desc: "Quit fleetdeck",
        contexts: &[Global],
        mutating: false,
        hint: true,
    },
    ActionInfo {
        action: Action::Help,
        name: "help",
        desc: "Show all keys",
        contexts: &[Global],
        mutating: false,
        hint: true,
    },
    ActionInfo {
        action: Action::Palette,
        name: "palette",
        desc: "Command palette",
        contexts: &[Global],
        mutating: false,
        hint: true,
    },
    ActionInfo {
        action: Action::Filter,
        name: "filter",
        desc: "Filter services and containers",
        contexts: &[Dashboard],
        mutating: false,
        hint: true,
    },
    ActionInfo {
        action: Action::ClearFilter,
        name: "clear_filter",
        desc: "Clear the filter",
        contexts: &[Dashboard, Filter],
        mutating: false,
        hint: false,
    },
    ActionInfo {
        action: Action::Up,
        name: "up",
        desc: "Move up",
        contexts: &[Dashboard, Detail, Help, Palette, Log],
        mutating: false,
        hint: false,
    },
    ActionInfo {
        action: Action::Down,
        name: "down",
        desc: "Move down",
        contexts: &[Dashboard, Detail, Help, Palette, Log],
        mutating: false,
        hint: false,
    },
    ActionInfo {
        action: Action::PageUp,
        name: "page_up",
        desc: "Page up",
        contexts: &[Dashboard, Detail, Help, Log],
        mutating: false,
        hint: false,
    },
    ActionInfo {
        action: Action::PageDown,
        name: "page_down",
        desc: "Page down",
        contexts: &[Dashboard, Detail, Help, Log],
        mutating: false,
        hint: false,
    },
    ActionInfo {
        action: Action::Top,
        name: "top",
        desc: "Go to the top",
        contexts: &[Dashboard, Detail, Help, Log],
        mutating: false,
        hint: false,
    },
    ActionInfo {
        action: Action::Bottom,
        name: "bottom",
        desc: "Go to the bottom",
        contexts: &[Dashboard, Detail, Help, Log],
        mutating: false,
        hint: false,
    },
    ActionInfo {
        action: Action::Expand,
        name: "expand",
        desc: "Expand the service",
        contexts: &[Dashboard],
        mutating: false,
        hint: false,
    },
    ActionInfo {
        action: Action::Collapse,
        name: "collapse",
        desc: "Collapse the service",
        contexts: &[Dashboard],
        mutating: false,
        hint: false,
    },
    ActionInfo {
        action: Action::ToggleExpand,
        name: "toggle_expand",
        desc: "Expand or collapse the service",
        contexts: &[Dashboard],
        mutating: false,
        hint: true,
    },
    ActionInfo {
        action: Action::ExpandAll,
        name: "expand_all",
        desc: "Expand every service",
        contexts: &[Dashboard],
        mutating: false,
        hint: false,
    },
    ActionInfo {
        action: Action::CollapseAll,
        name: "collapse_all",
        desc: "Collapse every service",
        contexts: &[Dashboard],
        mutating: false,
        hint: false,
    },
    ActionInfo {
        action: Action::Open,
        name: "open",
        desc: "Open the container's details",
        contexts: &[Dashboard],
        mutating: false,
        hint: true,
    },
    ActionInfo {
        action: Action::Back,
        name: "back",
        desc: "Back",
        contexts: &[Detail, Help, Palette, Log],
        mutating: false,
        hint: true,
    },
    ActionInfo {
        action: Action::SortNext,
        name: "sort",
        desc: "Change the sort order",
        contexts: &[Dashboard],
        mutating: false,
        hint: true,
    },
    ActionInfo {
        action: Action::FocusNext,
        name: "focus_next",
        desc: "Switch between hosts and services",
        contexts: &[Dashboard],
        mutating: false,
        hint: false,
    },
    ActionInfo {
        action: Action::ToggleLog,
        name: "toggle_log",
        desc: "Show or hide fleetdeck's own log",
        contexts: &[Global],
        mutating: false,
        hint: true,
    },
    ActionInfo {
        action: Action::RetryHost,
        name: "retry_host",
        desc: "Reconnect the selected host now",
        contexts: &[Dashboard],
        mutating: false,
        hint: false,
    },
    ActionInfo {
        action: Action::Confirm,
        name: "confirm",
        desc: "Confirm",
        contexts: &[Prompt, Palette, Filter],
        mutating: false,
        hint: true,
    },
    ActionInfo {
        action: Action::Cancel,
        name: "cancel",
        desc: "Cancel",
        contexts: &[Prompt, Palette, Filter],
        mutating: false,
        hint: true,
    },
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
