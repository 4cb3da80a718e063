//! The command palette and the engine's questions (host keys, passphrases): their state
//! and their part of `App::update`.

use super::action::{self, Action, Context};
use super::app::{App, Effect};
use super::text::TextInput;
use crate::ssh::Prompt;

/// A question from the engine waiting for the user.
#[derive(Debug)]
pub struct PendingPrompt {
    pub prompt: Prompt,
    pub input: TextInput,
}

#[derive(Debug, Default)]
pub struct PaletteState {
    pub input: TextInput,
    pub selected: usize,
}

impl App {
    /// Actions offered by the palette in the current screen, best match first.
    pub fn palette_items(&self) -> Vec<&'static action::ActionInfo> {
        let ctx = self.screen.context();
        let candidates: Vec<&'static action::ActionInfo> = action::REGISTRY
            .iter()
            .filter(|i| i.contexts.iter().any(|c| *c == ctx || *c == Context::Global))
            .filter(|i| i.action != Action::Palette)
            .collect();
        let query = self.palette.as_ref().map(|p| p.input.value.as_str()).unwrap_or("");
        super::fuzzy::rank(query, candidates, |i| format!("{} {}", i.name, i.desc))
    }

    pub(super) fn act_palette(&mut self, a: Action) -> Vec<Effect> {
        let items = self.palette_items();
        let Some(p) = self.palette.as_mut() else { return vec![] };
        match a {
            Action::Up => p.selected = p.selected.saturating_sub(1),
            Action::Down => p.selected = (p.selected + 1).min(items.len().saturating_sub(1)),
            Action::Confirm => {
                let chosen = items.get(p.selected).map(|i| i.action);
                self.palette = None;
                if let Some(action) = chosen {
                    return self.act(action);
                }
            }
            Action::Cancel | Action::Back | Action::Palette => self.palette = None,
            Action::Quit => self.should_quit = true,
            _ => {}
        }
        vec![]
    }

    pub(super) fn act_prompt(&mut self, a: Action) -> Vec<Effect> {
        let answer = match a {
            Action::Confirm => true,
            Action::Cancel => false,
            Action::Quit => {
                self.should_quit = true;
                false
            }
            _ => return vec![],
        };
        if let Some(p) = self.prompts.pop_front() {
            match p.prompt {
                Prompt::HostKey { reply, host, .. } => {
                    let _ = reply.send(answer);
                    log::info!("{host}: host key {}", if answer { "accepted" } else { "refused" });
                }
                Prompt::Passphrase { reply, .. } => {
                    let _ = reply.send(answer.then(|| p.input.value.clone()));
                }
            }
        }
        vec![]
    }
}
