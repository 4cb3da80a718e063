//! Key presses and key sequences: parsing the notation of keymap files, normalizing
//! terminal reports, and display.

use super::*;

// ---------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------

/// One key press, normalized so that equivalent reports compare equal: SHIFT is folded
/// into characters (`'G'`, `'?'`), shift-tab is `BackTab`, and only ctrl/alt/shift are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    pub fn new(code: KeyCode, mods: KeyModifiers) -> Key {
        let mut mods = mods & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match code {
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            KeyCode::Tab if mods.contains(KeyModifiers::SHIFT) => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            KeyCode::Char(c) if mods.contains(KeyModifiers::SHIFT) => {
                mods.remove(KeyModifiers::SHIFT);
                let mut upper = c.to_uppercase();
                match (upper.next(), upper.next()) {
                    (Some(u), None) => KeyCode::Char(u),
                    _ => KeyCode::Char(c),
                }
            }
            other => other,
        };
        Key { code, mods }
    }

    pub fn from_event(ev: KeyEvent) -> Key {
        Key::new(ev.code, ev.modifiers)
    }

    /// A plain printable character (no ctrl/alt): text in input fields.
    pub fn is_text(&self) -> bool {
        matches!(self.code, KeyCode::Char(_)) && !self.mods.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    }

    /// Parse one key of the notation: "q", "G", "/", "enter", "ctrl-c", "alt-x", "shift-tab", "f5".
    pub fn parse(token: &str) -> Result<Key, String> {
        const NAMES: &str = "enter, esc, tab, backtab, backspace, up, down, left, right, pgup, pgdn, \
                             home, end, space, delete, insert, f1-f12";
        let mut mods = KeyModifiers::NONE;
        let mut rest = token;
        'prefixes: loop {
            for (prefix, m) in
                [("ctrl-", KeyModifiers::CONTROL), ("alt-", KeyModifiers::ALT), ("shift-", KeyModifiers::SHIFT)]
            {
                if rest.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix)) {
                    if rest.len() == prefix.len() {
                        return Err(format!(
                            "invalid key {token:?}: a modifier must be followed by a key, as in \"{prefix}x\""
                        ));
                    }
                    mods |= m;
                    rest = &rest[prefix.len()..];
                    continue 'prefixes;
                }
            }
            break;
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (None, _) => return Err("empty key: write a key such as \"q\", \"enter\" or \"ctrl-c\"".into()),
            (Some(c), None) => KeyCode::Char(c),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "backspace" => KeyCode::Backspace,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "pgup" | "pageup" => KeyCode::PageUp,
                "pgdn" | "pagedown" => KeyCode::PageDown,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "space" => KeyCode::Char(' '),
                "delete" | "del" => KeyCode::Delete,
                "insert" | "ins" => KeyCode::Insert,
                lower => match lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                    Some(n @ 1..=12) => KeyCode::F(n),
                    _ => {
                        let hint = if mods.is_empty()
                            && rest.chars().count() <= MAX_SEQUENCE
                            && rest.chars().all(|c| !c.is_whitespace())
                        {
                            let spaced: Vec<String> = rest.chars().map(String::from).collect();
                            format!("; for a sequence of keys separate them with spaces: {:?}", spaced.join(" "))
                        } else {
                            String::new()
                        };
                        return Err(format!(
                            "invalid key {token:?}: expected a single character, a key name ({NAMES}) \
                             or a modifier form such as \"ctrl-x\"{hint}"
                        ));
                    }
                },
            },
        };
        Ok(Key::new(code, mods))
    }
}

impl From<KeyEvent> for Key {
    fn from(ev: KeyEvent) -> Key {
        Key::from_event(ev)
    }
}

/// Display form used in the help screen and hints: "j", "G", "↓", "enter", "ctrl-c".
impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::Delete => f.write_str("delete"),
            KeyCode::Insert => f.write_str("insert"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// A sequence of one to `MAX_SEQUENCE` key presses ("g g").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeySeq(pub Vec<Key>);

impl KeySeq {
    pub fn parse(s: &str) -> Result<KeySeq, String> {
        let tokens: Vec<&str> = s.split_whitespace().collect();
        if tokens.is_empty() {
            return Err(format!("invalid key {s:?}: empty key; write a key such as \"q\", \"enter\" or \"ctrl-c\""));
        }
        if tokens.len() > MAX_SEQUENCE {
            return Err(format!(
                "invalid key {s:?}: a sequence has at most {MAX_SEQUENCE} keys, this one has {}",
                tokens.len()
            ));
        }
        let keys = tokens.into_iter().map(Key::parse).collect::<Result<Vec<_>, _>>()?;
        Ok(KeySeq(keys))
    }

    pub fn keys(&self) -> &[Key] {
        &self.0
    }

    /// One of the two is a proper prefix of the other: they cannot both be bound.
    pub(super) fn overlaps(&self, other: &KeySeq) -> bool {
        let n = self.0.len().min(other.0.len());
        self.0[..n] == other.0[..n]
    }
}

impl fmt::Display for KeySeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, k) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{k}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Parsed files
// ---------------------------------------------------------------------------------------
