//! Help over any screen: the screen it was opened from is kept (a log session keeps
//! streaming behind it) and comes back when help closes.

use super::app::{App, Screen};

impl App {
    /// Shows help over the current screen, which is kept to return to.
    pub(crate) fn open_help(&mut self) {
        if self.screen != Screen::Help {
            self.help_return = Some(self.screen.clone());
        }
        self.screen = Screen::Help;
        self.scroll = 0;
    }

    /// Back to the screen help was opened from (the dashboard if it is gone).
    pub(crate) fn close_help(&mut self) {
        self.screen = match self.help_return.take() {
            Some(Screen::Logs) if self.logs.is_none() => Screen::Dashboard,
            Some(Screen::Deploy) if self.wizard.is_none() => Screen::Dashboard,
            Some(Screen::Backups) if self.backups.is_none() => Screen::Dashboard,
            Some(s) => s,
            None => Screen::Dashboard,
        };
        self.scroll = 0;
    }
}
