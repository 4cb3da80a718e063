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
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// Longest key sequence accepted in keymap files.
pub const MAX_SEQUENCE: usize = 3;

/// The action name that unbinds a key in an overlay.
pub const NOOP: &str = "noop";

const EMBEDDED: &[(&str, &str)] = &[
    ("default", include_str!("../../keymaps/default.toml")),
    ("k9s", include_str!("../../keymaps/k9s.toml")),
    ("vim", include_str!("../../keymaps/vim.toml")),
];

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
    fn overlaps(&self, other: &KeySeq) -> bool {
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
// Validation
// ---------------------------------------------------------------------------------------

struct Parser<'a> {
    file: &'a Path,
    source: &'a str,
    errors: Vec<ConfigError>,
    bindings: Vec<FileBinding>,
}

/// A key of the current section already seen: (sequence, line, text as written).
type Seen = Vec<(KeySeq, usize, String)>;

impl Parser<'_> {
    fn err(&mut self, span: Range<usize>, msg: String) {
        self.errors.push(ConfigError::at(self.file, self.source, Some(span), msg));
    }

    fn line(&self, span: &Range<usize>) -> usize {
        crate::config::diag::line_col(self.source, span.start).0
    }

    fn section(&mut self, name: &Spanned<Cow<'_, str>>, value: &Spanned<DeValue<'_>>) {
        let Some(ctx) = Context::from_name(name.get_ref()) else {
            let names: Vec<&str> = Context::ALL.iter().map(|c| c.name()).collect();
            let hint = match closest(name.get_ref(), names.iter().copied()) {
                Some(c) => format!("did you mean [{c}]?"),
                None => format!(
                    "expected one of: {}",
                    names.iter().map(|n| format!("[{n}]")).collect::<Vec<_>>().join(", ")
                ),
            };
            self.err(name.span(), format!("unknown section [{}] ({hint})", name.get_ref()));
            return;
        };
        let Some(table) = value.get_ref().as_table() else {
            self.err(
                value.span(),
                format!("[{}] must be a table with a `keys` list, found {}", ctx.name(), value.get_ref().type_str()),
            );
            return;
        };
        let mut seen: Seen = Vec::new();
        for (field, v) in table.iter() {
            if field.get_ref() != "keys" {
                self.err(
                    field.span(),
                    format!("unknown field `{}` in [{}] (expected `keys`)", field.get_ref(), ctx.name()),
                );
                continue;
            }
            let Some(items) = v.get_ref().as_array() else {
                self.err(
                    v.span(),
                    format!(
                        "`keys` in [{}] must be a list of bindings like [{{ on = \"q\", run = \"quit\" }}], found {}",
                        ctx.name(),
                        v.get_ref().type_str()
                    ),
                );
                continue;
            };
            for item in items.iter() {
                self.binding(ctx, item, &mut seen);
            }
        }
    }

    fn binding(&mut self, ctx: Context, item: &Spanned<DeValue<'_>>, seen: &mut Seen) {
        let Some(table) = item.get_ref().as_table() else {
            self.err(
                item.span(),
                format!(
                    "each binding in [{}] must be a table like {{ on = \"q\", run = \"quit\" }}, found {}",
                    ctx.name(),
                    item.get_ref().type_str()
                ),
            );
            return;
        };
        let (mut on, mut run, mut desc) = (None, None, None);
        for (field, v) in table.iter() {
            match field.get_ref().as_ref() {
                "on" => on = Some(v),
                "run" => run = Some(v),
                "desc" => desc = Some(v),
                other => self.err(
                    field.span(),
                    format!("unknown field `{other}` in a [{}] binding (expected `on`, `run` or `desc`)", ctx.name()),
                ),
            }
        }

        // run
        let mut ok = true;
        let action = match run {
            None => {
                self.err(
                    item.span(),
                    format!("binding in [{}] has no `run` (the action to run, e.g. run = \"quit\")", ctx.name()),
                );
                ok = false;
                None
            }
            Some(v) => match v.get_ref().as_str() {
                None => {
                    self.err(
                        v.span(),
                        format!("`run` must be an action name (a string), found {}", v.get_ref().type_str()),
                    );
                    ok = false;
                    None
                }
                Some(NOOP) => None,
                Some(name) => match action::by_name(name) {
                    Some(info) if allowed_in(info, ctx) => Some(info.action),
                    Some(info) => {
                        let where_: Vec<&str> = info.contexts.iter().map(|c| c.name()).collect();
                        self.err(
                            v.span(),
                            format!(
                                "action {name:?} cannot be bound in [{}]; it applies to: {}",
                                ctx.name(),
                                where_.join(", ")
                            ),
                        );
                        ok = false;
                        None
                    }
                    None => {
                        let names = REGISTRY.iter().map(|i| i.name).chain([NOOP]);
                        let hint = match closest(name, names) {
                            Some(c) => format!("did you mean {c:?}?"),
                            None => {
                                let here: Vec<&str> =
                                    REGISTRY.iter().filter(|i| allowed_in(i, ctx)).map(|i| i.name).collect();
                                format!("actions for [{}]: {}, or {NOOP} to unbind", ctx.name(), here.join(", "))
                            }
                        };
                        self.err(v.span(), format!("unknown action {name:?} ({hint})"));
                        ok = false;
                        None
                    }
                },
            },
        };

        // desc
        let desc = match desc {
            None => None,
            Some(v) => match v.get_ref().as_str() {
                Some(s) => Some(s.to_string()),
                None => {
                    self.err(v.span(), format!("`desc` must be a string, found {}", v.get_ref().type_str()));
                    ok = false;
                    None
                }
            },
        };

        // on
        let Some(on) = on else {
            self.err(
                item.span(),
                format!("binding in [{}] has no `on` (the key, e.g. on = \"q\" or on = [\"j\", \"down\"])", ctx.name()),
            );
            return;
        };
        let alternatives: Vec<(&str, Range<usize>)> = match on.get_ref() {
            DeValue::String(s) => vec![(s.as_ref(), on.span())],
            DeValue::Array(items) if !items.is_empty() => {
                let mut out = Vec::new();
                for it in items.iter() {
                    match it.get_ref().as_str() {
                        Some(s) => out.push((s, it.span())),
                        None => self.err(
                            it.span(),
                            format!(
                                "each key in `on` must be a string such as \"j\", found {}",
                                it.get_ref().type_str()
                            ),
                        ),
                    }
                }
                out
            }
            DeValue::Array(_) => {
                self.err(on.span(), "`on` must not be empty: give at least one key".into());
                Vec::new()
            }
            other => {
                self.err(
                    on.span(),
                    format!(
                        "`on` must be a key (\"q\") or a list of keys ([\"j\", \"down\"]), found {}",
                        other.type_str()
                    ),
                );
                Vec::new()
            }
        };
        for (text, span) in alternatives {
            let seq = match KeySeq::parse(text) {
                Ok(seq) => seq,
                Err(msg) => {
                    self.err(span, msg);
                    continue;
                }
            };
            let line = self.line(&span);
            if let Some((_, first_line, _)) = seen.iter().find(|(s, _, _)| *s == seq) {
                let msg = format!("key {text:?} is bound twice in [{}] (also line {first_line})", ctx.name());
                self.err(span, msg);
                continue;
            }
            if let Some((_, other_line, other_text)) = seen.iter().find(|(s, _, _)| s.overlaps(&seq)) {
                let (short, long) = if other_text.split_whitespace().count() < seq.0.len() {
                    (other_text.as_str(), text)
                } else {
                    (text, other_text.as_str())
                };
                let msg = format!(
                    "key {text:?} conflicts with {other_text:?} in [{}] (line {other_line}): \
                     {short:?} cannot be bound on its own and also start the sequence {long:?}",
                    ctx.name()
                );
                self.err(span, msg);
                continue;
            }
            seen.push((seq.clone(), line, text.to_string()));
            if ok {
                self.bindings.push(FileBinding { context: ctx, keys: seq, action, desc: desc.clone(), line });
            }
        }
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
