//! Key bindings, loaded from TOML data files (yazi style).
//!
//! ```toml
//! [global]
//! keys = [
//!   { on = "q", run = "quit" },
//!   { on = ["ctrl-c"], run = "quit", desc = "Quit now" },
//! ]
//! [dashboard]
//! keys = [ { on = ["j", "down"], run = "down" }, { on = "g g", run = "top" } ]
//! ```
//!
//! Sections are context names (`Context::name`). `on` is a key, or a list of alternative
//! keys; a key is a sequence of up to three key presses separated by spaces ("g g").
//! `run` names an action of the registry (`action::REGISTRY`), or `noop` to unbind the key
//! in an overlay. `desc` optionally replaces the registry's description in the help screen.
//!
//! The embedded `default` keymap is the base; a chosen keymap (embedded name or path) is
//! overlaid on it, then the user's `keymap.toml`. Every error names file, line and column.

use crate::config::diag::{ConfigError, ConfigErrors};
use crate::tui::action::{self, Action, ActionInfo, Context, REGISTRY};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::de::DeTable;

/// Longest key sequence accepted in keymap files.
pub const MAX_SEQUENCE: usize = 3;

/// The action name that unbinds a key in an overlay.
pub const NOOP: &str = "noop";

const EMBEDDED: &[(&str, &str)] = &[
    ("default", include_str!("../../../keymaps/default.toml")),
    ("k9s", include_str!("../../../keymaps/k9s.toml")),
    ("vim", include_str!("../../../keymaps/vim.toml")),
];

mod key;
mod parse;

pub use key::{Key, KeySeq};
use parse::Parser;

/// A validated keymap file, before it is overlaid on other keymaps.
#[derive(Debug, Clone)]
pub struct KeymapFile {
    pub path: PathBuf,
    /// In file order; one entry per alternative of `on`.
    pub bindings: Vec<FileBinding>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileBinding {
    pub context: Context,
    pub keys: KeySeq,
    /// `None` for `run = "noop"` (unbinds the key).
    pub action: Option<Action>,
    pub desc: Option<String>,
    /// 1-based line of the key in the file.
    pub line: usize,
}

/// What a key press means in a context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyResolution {
    Action(Action),
    /// The keys typed so far start a sequence: keep them buffered and wait for the next key.
    Pending,
    Unbound,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Binding {
    seq: KeySeq,
    action: Action,
    desc: Option<String>,
}

enum Lookup {
    Exact(Action),
    Prefix,
    None,
}

/// The merged key bindings, plus the pending-sequence buffer.
#[derive(Debug, Clone, Default)]
pub struct Keymap {
    maps: HashMap<Context, Vec<Binding>>,
    pending: Vec<Key>,
    pending_ctx: Option<Context>,
}

/// Contexts where plain characters are typed text: global bindings of plain characters do
/// not apply there (typing "q" in the filter must not quit).
fn takes_text(ctx: Context) -> bool {
    matches!(ctx, Context::Palette | Context::Filter | Context::Prompt)
}

/// Can this action be bound in this section? Global actions can be bound anywhere.
fn allowed_in(info: &ActionInfo, ctx: Context) -> bool {
    info.contexts.contains(&ctx) || info.contexts.contains(&Context::Global)
}

impl Keymap {
    /// The text of an embedded keymap: "default", "k9s" or "vim".
    pub fn embedded(name: &str) -> Option<&'static str> {
        EMBEDDED.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }

    /// Names of the embedded keymaps.
    pub fn embedded_names() -> impl Iterator<Item = &'static str> {
        EMBEDDED.iter().map(|(n, _)| *n)
    }

    /// The embedded default keymap, overlaid with `name_or_path` (an embedded name or a file
    /// path), then with `keymap.toml` of `user_overlay_dir` when that file exists.
    pub fn load(name_or_path: Option<&str>, user_overlay_dir: Option<&Path>) -> Result<Keymap, ConfigErrors> {
        let mut keymap = Keymap::default();
        let layers = collect_layers("keymap", "keymap.toml", name_or_path, user_overlay_dir, |n| {
            EMBEDDED.iter().find(|(e, _)| *e == n).map(|(e, s)| (format!("keymaps/{e}.toml"), *s))
        });
        let mut errors = Vec::new();
        for layer in layers {
            match layer {
                Ok((path, source)) => match Keymap::parse(&path, &source) {
                    Ok(file) => keymap.apply(&file),
                    Err(e) => errors.extend(e.0),
                },
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(keymap)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// Parse and validate one keymap file; `file` is only used in messages.
    pub fn parse(file: &Path, source: &str) -> Result<KeymapFile, ConfigErrors> {
        let doc = DeTable::parse(source).map_err(|e| ConfigError::from_toml(file, source, &e))?;
        let mut p = Parser { file, source, errors: Vec::new(), bindings: Vec::new() };
        for (name, value) in doc.get_ref().iter() {
            p.section(name, value);
        }
        if p.errors.is_empty() {
            Ok(KeymapFile { path: file.to_path_buf(), bindings: p.bindings })
        } else {
            p.errors.sort_by_key(|e| (e.line, e.col));
            Err(ConfigErrors(p.errors))
        }
    }

    /// Overlay a parsed file: each binding replaces the bindings of the same key (and of
    /// keys it would shadow, "g" vs "g g") in its context; `noop` only removes.
    pub fn apply(&mut self, file: &KeymapFile) {
        for b in &file.bindings {
            let list = self.maps.entry(b.context).or_default();
            list.retain(|old| !old.seq.overlaps(&b.keys));
            if let Some(action) = b.action {
                list.push(Binding { seq: b.keys.clone(), action, desc: b.desc.clone() });
            }
        }
        self.pending.clear();
        self.pending_ctx = None;
    }

    /// Resolve a key press in `ctx` (falling back to the global bindings). Keys that start
    /// a sequence are buffered (`Pending`); a key that breaks a sequence drops the buffer
    /// and is resolved on its own. Key releases are ignored (`Unbound`).
    pub fn resolve(&mut self, ctx: Context, key: KeyEvent) -> KeyResolution {
        if key.kind == KeyEventKind::Release {
            return KeyResolution::Unbound;
        }
        let key = Key::from_event(key);
        if self.pending_ctx != Some(ctx) {
            self.pending.clear();
        }
        let had_pending = !self.pending.is_empty();
        self.pending.push(key);
        match self.lookup(ctx, &self.pending) {
            Lookup::Exact(a) => {
                self.reset_pending();
                KeyResolution::Action(a)
            }
            Lookup::Prefix => {
                self.pending_ctx = Some(ctx);
                KeyResolution::Pending
            }
            Lookup::None => {
                self.reset_pending();
                if had_pending {
                    self.resolve(ctx, KeyEvent::new(key.code, key.mods))
                } else {
                    KeyResolution::Unbound
                }
            }
        }
    }

    /// Like `resolve`, for a focused free-text field (a passphrase): printable characters
    /// without ctrl/alt are always `Unbound`, so they reach the field even when the context
    /// binds them (the prompt's "y"/"n").
    pub fn resolve_typing(&mut self, ctx: Context, key: KeyEvent) -> KeyResolution {
        if key.kind != KeyEventKind::Release && Key::from_event(key).is_text() {
            self.reset_pending();
            return KeyResolution::Unbound;
        }
        self.resolve(ctx, key)
    }

    /// The keys typed so far of an unfinished sequence, for display ("g").
    pub fn pending(&self) -> Option<String> {
        if self.pending.is_empty() {
            None
        } else {
            Some(KeySeq(self.pending.clone()).to_string())
        }
    }

    /// Forget an unfinished sequence (on a context change, a timeout, ...).
    pub fn reset_pending(&mut self) {
        self.pending.clear();
        self.pending_ctx = None;
    }

    fn lookup(&self, ctx: Context, seq: &[Key]) -> Lookup {
        let own = self.lookup_in(ctx, seq);
        if !matches!(own, Lookup::None) || ctx == Context::Global {
            return own;
        }
        if takes_text(ctx) && seq.first().is_some_and(Key::is_text) {
            return Lookup::None;
        }
        self.lookup_in(Context::Global, seq)
    }

    fn lookup_in(&self, ctx: Context, seq: &[Key]) -> Lookup {
        let Some(list) = self.maps.get(&ctx) else { return Lookup::None };
        if let Some(b) = list.iter().find(|b| b.seq.0 == seq) {
            return Lookup::Exact(b.action);
        }
        if list.iter().any(|b| b.seq.0.len() > seq.len() && b.seq.0.starts_with(seq)) {
            return Lookup::Prefix;
        }
        Lookup::None
    }

    /// Is this global key hidden in `ctx` (by a binding of its own, or because `ctx` takes text)?
    fn shadowed(&self, ctx: Context, seq: &KeySeq) -> bool {
        if takes_text(ctx) && seq.0.first().is_some_and(Key::is_text) {
            return true;
        }
        self.maps.get(&ctx).is_some_and(|l| l.iter().any(|b| b.seq.overlaps(seq)))
    }

    /// The keys that run `action` in `ctx` (its own bindings first, then the global ones
    /// that still work there), as display strings: "j", "↓", "ctrl-c", "g g".
    pub fn keys_for(&self, ctx: Context, action: Action) -> Vec<String> {
        let mut out: Vec<String> = self
            .maps
            .get(&ctx)
            .into_iter()
            .flatten()
            .filter(|b| b.action == action)
            .map(|b| b.seq.to_string())
            .collect();
        if ctx != Context::Global {
            for b in self.maps.get(&Context::Global).into_iter().flatten() {
                if b.action == action && !self.shadowed(ctx, &b.seq) {
                    out.push(b.seq.to_string());
                }
            }
        }
        out
    }

    /// The bindings of `ctx` itself (not the global ones), for the help screen, in registry
    /// order: (keys joined with ", ", action, description). The keys of an action share one
    /// entry, except keys with their own `desc`, which get an entry of their own.
    pub fn bindings(&self, ctx: Context) -> Vec<(String, Action, String)> {
        let Some(list) = self.maps.get(&ctx) else { return Vec::new() };
        let mut out = Vec::new();
        for info in REGISTRY {
            let mut groups: Vec<(Option<&str>, Vec<String>)> = Vec::new();
            for b in list.iter().filter(|b| b.action == info.action) {
                let desc = b.desc.as_deref();
                match groups.iter_mut().find(|(d, _)| *d == desc) {
                    Some((_, keys)) => keys.push(b.seq.to_string()),
                    None => groups.push((desc, vec![b.seq.to_string()])),
                }
            }
            for (desc, keys) in groups {
                out.push((keys.join(", "), info.action, desc.unwrap_or(info.desc).to_string()));
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------
// Shared helpers (also used by `theme`)
// ---------------------------------------------------------------------------------------

/// `$XDG_CONFIG_HOME/fleetdeck`, else `$HOME/.config/fleetdeck`.
pub fn user_config_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME") {
        let x = PathBuf::from(x);
        if x.is_absolute() {
            return Some(x.join("fleetdeck"));
        }
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".config").join("fleetdeck"))
}

/// The closest of `candidates` to `word` (edit distance), if it is close enough to be a
/// plausible typo.
pub(crate) fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let w = word.to_lowercase();
    let (best, dist) =
        candidates.into_iter().map(|c| (c, edit_distance(&w, &c.to_lowercase()))).min_by_key(|(_, d)| *d)?;
    let limit = (w.chars().count().max(best.chars().count()) / 3).max(1) + usize::from(w.chars().count() > 3);
    (dist <= limit).then_some(best)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The layers of a data file, in overlay order: the embedded default, the chosen one (an
/// embedded name or a path), then `<user dir>/<user_file>` when it exists. Each layer is
/// (path used in messages, text), or the error that prevented reading it.
pub(crate) fn collect_layers(
    kind: &str,
    user_file: &str,
    name_or_path: Option<&str>,
    user_overlay_dir: Option<&Path>,
    embedded: impl Fn(&str) -> Option<(String, &'static str)>,
) -> Vec<Result<(PathBuf, Cow<'static, str>), ConfigError>> {
    let builtin =
        |(label, text): (String, &'static str)| Ok((PathBuf::from(format!("<built-in>/{label}")), Cow::Borrowed(text)));
    let mut layers = vec![builtin(embedded("default").expect("the default is embedded"))];
    if let Some(choice) = name_or_path.filter(|c| *c != "default") {
        match embedded(choice) {
            Some(e) => layers.push(builtin(e)),
            None => {
                let path = Path::new(choice);
                layers.push(match std::fs::read_to_string(path) {
                    Ok(text) => Ok((path.to_path_buf(), Cow::Owned(text))),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound && !choice.contains(['/', '.']) => {
                        Err(ConfigError::whole_file(
                            path,
                            format!("unknown {kind} {choice:?}: expected a built-in name or the path of a {kind} file"),
                        ))
                    }
                    Err(e) => Err(ConfigError::whole_file(path, format!("cannot read {kind} file: {e}"))),
                });
            }
        }
    }
    if let Some(dir) = user_overlay_dir {
        let path = dir.join(user_file);
        match std::fs::read_to_string(&path) {
            Ok(text) => layers.push(Ok((path, Cow::Owned(text)))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => layers.push(Err(ConfigError::whole_file(&path, format!("cannot read {kind} file: {e}")))),
        }
    }
    layers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn key_notation() {
        assert_eq!(Key::parse("G").unwrap(), Key::new(KeyCode::Char('G'), KeyModifiers::NONE));
        assert_eq!(Key::parse("shift-g").unwrap(), Key::new(KeyCode::Char('G'), KeyModifiers::NONE));
        assert_eq!(Key::parse("shift-tab").unwrap(), Key::parse("backtab").unwrap());
        assert_eq!(Key::parse("ctrl-c").unwrap(), Key::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        assert_eq!(Key::parse("ctrl--").unwrap(), Key::new(KeyCode::Char('-'), KeyModifiers::CONTROL));
        assert_eq!(Key::parse("-").unwrap(), Key::new(KeyCode::Char('-'), KeyModifiers::NONE));
        assert_eq!(Key::parse("space").unwrap(), Key::new(KeyCode::Char(' '), KeyModifiers::NONE));
        assert_eq!(Key::parse("F5").unwrap(), Key::new(KeyCode::F(5), KeyModifiers::NONE));
        assert!(Key::parse("ctrl-").unwrap_err().contains("modifier must be followed"));
        assert!(Key::parse("f13").is_err());
        assert!(Key::parse("ééé").is_err());
        assert_eq!(Key::parse("é").unwrap(), Key::new(KeyCode::Char('é'), KeyModifiers::NONE));
        assert!(Key::parse("gg").unwrap_err().contains("\"g g\""));
        assert!(KeySeq::parse("a b c d").unwrap_err().contains("at most 3"));
        assert_eq!(KeySeq::parse("g  g").unwrap().to_string(), "g g");
        assert_eq!(KeySeq::parse("down").unwrap().to_string(), "↓");
        assert_eq!(KeySeq::parse("backtab").unwrap().to_string(), "shift-tab");
    }

    #[test]
    fn shift_is_folded_into_characters() {
        let a = Key::from_event(press(KeyCode::Char('G'), KeyModifiers::SHIFT));
        let b = Key::from_event(press(KeyCode::Char('G'), KeyModifiers::NONE));
        let c = Key::from_event(press(KeyCode::Char('g'), KeyModifiers::SHIFT));
        assert_eq!(a, b);
        assert_eq!(a, c);
        let t = Key::from_event(press(KeyCode::BackTab, KeyModifiers::SHIFT));
        assert_eq!(t, Key::parse("shift-tab").unwrap());
    }

    #[test]
    fn closest_names() {
        assert_eq!(closest("quitt", ["quit", "help"]), Some("quit"));
        assert_eq!(closest("dashbord", ["global", "dashboard"]), Some("dashboard"));
        assert_eq!(closest("frobnicate", ["quit", "help"]), None);
    }

    #[test]
    fn sequences_and_text_contexts() {
        let mut km = Keymap::load(Some("vim"), None).unwrap();
        let g = press(KeyCode::Char('g'), KeyModifiers::NONE);
        assert_eq!(km.resolve(Context::Dashboard, g), KeyResolution::Pending);
        assert_eq!(km.pending().as_deref(), Some("g"));
        assert_eq!(km.resolve(Context::Dashboard, g), KeyResolution::Action(Action::Top));
        // A broken sequence: "g" then "j" resolves "j" on its own.
        assert_eq!(km.resolve(Context::Dashboard, g), KeyResolution::Pending);
        let j = press(KeyCode::Char('j'), KeyModifiers::NONE);
        assert_eq!(km.resolve(Context::Dashboard, j), KeyResolution::Action(Action::Down));
        // Typing "q" in the filter is text, not quit.
        let q = press(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(km.resolve(Context::Filter, q), KeyResolution::Unbound);
        let cc = press(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(km.resolve(Context::Filter, cc), KeyResolution::Action(Action::Quit));
    }
}
