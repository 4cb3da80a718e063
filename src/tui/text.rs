//! A one-line text field (filter, palette query, passphrase).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    pub value: String,
}

impl TextInput {
    pub fn clear(&mut self) {
        self.value.clear();
    }

    /// Edit the text with a key the keymap did not claim; returns whether it was used.
    /// Text editing is the one place that looks at raw keys: typed characters are data.
    pub fn handle_key(&mut self, key: KeyEvent) -> bool {
        match key.code {
            KeyCode::Char(c) if !key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) => {
                self.value.push(c);
                true
            }
            KeyCode::Backspace => self.value.pop().is_some(),
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.value.clear();
                true
            }
            KeyCode::Char('w') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                let trimmed = self.value.trim_end().len();
                let cut = self.value[..trimmed].rfind(' ').map(|i| i + 1).unwrap_or(0);
                self.value.truncate(cut);
                true
            }
            _ => false,
        }
    }

    /// The text with every character replaced (for passphrases).
    pub fn masked(&self) -> String {
        "•".repeat(self.value.chars().count())
    }
}
