//! Colors and text styles, loaded from TOML data files.
//!
//! ```toml
//! [styles]
//! title = { fg = "cyan", bold = true }
//! selection = { fg = "black", bg = "#00afd7", reversed = false }
//! border = { fg = 240 }
//! ```
//!
//! Colors are ratatui color names (black, red, green, yellow, blue, magenta, cyan, gray,
//! darkgray, lightred, lightgreen, lightyellow, lightblue, lightmagenta, lightcyan, white,
//! reset), "#rrggbb", or an ANSI index 0-255. Modifiers are booleans: bold, italic,
//! underlined, reversed, dim (`false` removes a modifier set by an underlying theme).
//!
//! The embedded `default` theme is the base; the chosen theme (embedded name or path) is
//! overlaid on it, then the user's `theme.toml`. A file only lists what it changes, and
//! within a style only the given fields change.

use crate::config::diag::{ConfigError, ConfigErrors};
use crate::fleet::health::Health;
use crate::tui::keymap::{closest, collect_layers};
use ratatui::style::{Color, Modifier, Style};
use std::borrow::Cow;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

const EMBEDDED: &[(&str, &str)] = &[
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("high-contrast", include_str!("../../themes/high-contrast.toml")),
];

const FIELDS: &str = "`fg`, `bg`, `bold`, `italic`, `underlined`, `reversed` or `dim`";

const MODIFIERS: &[(&str, Modifier)] = &[
    ("bold", Modifier::BOLD),
    ("italic", Modifier::ITALIC),
    ("underlined", Modifier::UNDERLINED),
    ("reversed", Modifier::REVERSED),
    ("dim", Modifier::DIM),
];

const COLORS: &[(&str, Color)] = &[
    ("reset", Color::Reset),
    ("black", Color::Black),
    ("red", Color::Red),
    ("green", Color::Green),
    ("yellow", Color::Yellow),
    ("blue", Color::Blue),
    ("magenta", Color::Magenta),
    ("cyan", Color::Cyan),
    ("gray", Color::Gray),
    ("darkgray", Color::DarkGray),
    ("lightred", Color::LightRed),
    ("lightgreen", Color::LightGreen),
    ("lightyellow", Color::LightYellow),
    ("lightblue", Color::LightBlue),
    ("lightmagenta", Color::LightMagenta),
    ("lightcyan", Color::LightCyan),
    ("white", Color::White),
];

macro_rules! theme_styles {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        /// Every style the console uses. Build it with `Theme::load` (or `Theme::default()`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct Theme {
            $($(#[doc = $doc])* pub $name: Style,)*
        }

        impl Theme {
            /// The style names, as written in theme files.
            pub const STYLE_NAMES: &'static [&'static str] = &[$(stringify!($name)),*];

            /// The style of that name.
            pub fn style(&self, name: &str) -> Option<Style> {
                match name {
                    $(stringify!($name) => Some(self.$name),)*
                    _ => None,
                }
            }

            fn style_mut(&mut self, name: &str) -> Option<&mut Style> {
                match name {
                    $(stringify!($name) => Some(&mut self.$name),)*
                    _ => None,
                }
            }

            fn blank() -> Theme {
                Theme { $($name: Style::new(),)* }
            }
        }
    };
}

theme_styles! {
    /// Default text on the background.
    base,
    /// Titles of panes and the title bar.
    title,
    border,
    /// The border of the focused pane.
    border_focused,
    /// The selected row.
    selection,
    healthy,
    starting,
    degraded,
    unhealthy,
    down,
    /// Health of containers on unreachable hosts (stale).
    unknown,
    /// Secondary text: ages, ids, counts.
    muted,
    accent,
    error,
    warning,
    /// A key in the hint bar.
    hint_key,
    /// The description next to a key in the hint bar.
    hint_desc,
    /// The banner of protected (production) profiles.
    protected_banner,
    /// The part of a name that matches the filter.
    filter_match,
    /// Masked secrets in environment listings.
    masked,
}

/// The changes a theme file makes to one style.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StylePatch {
    pub fg: Option<Color>,
    pub bg: Option<Color>,
    /// Modifiers set to `true`.
    pub add: Modifier,
    /// Modifiers set to `false`.
    pub remove: Modifier,
}

impl StylePatch {
    pub fn apply(&self, style: &mut Style) {
        if let Some(fg) = self.fg {
            style.fg = Some(fg);
        }
        if let Some(bg) = self.bg {
            style.bg = Some(bg);
        }
        style.add_modifier = (style.add_modifier | self.add) - self.remove;
        style.sub_modifier = Modifier::empty();
    }
}

/// A validated theme file, before it is overlaid on other themes.
#[derive(Debug, Clone)]
pub struct ThemeFile {
    pub path: PathBuf,
    /// (style name, changes), in file order.
    pub styles: Vec<(String, StylePatch)>,
}

impl Default for Theme {
    /// The embedded default theme.
    fn default() -> Theme {
        let mut theme = Theme::blank();
        let file = Theme::parse(Path::new("<built-in>/themes/default.toml"), EMBEDDED[0].1)
            .expect("the embedded default theme is valid");
        theme.apply(&file);
        theme
    }
}

impl Theme {
    /// The text of an embedded theme: "default", "light" or "high-contrast".
    pub fn embedded(name: &str) -> Option<&'static str> {
        EMBEDDED.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }

    /// Names of the embedded themes.
    pub fn embedded_names() -> impl Iterator<Item = &'static str> {
        EMBEDDED.iter().map(|(n, _)| *n)
    }

    /// The embedded default theme, overlaid with `name_or_path` (an embedded name or a file
    /// path), then with `theme.toml` of `user_overlay_dir` when that file exists; colors are
    /// stripped when `no_color` (the NO_COLOR convention).
    pub fn load(
        name_or_path: Option<&str>,
        user_overlay_dir: Option<&Path>,
        no_color: bool,
    ) -> Result<Theme, ConfigErrors> {
        let mut theme = Theme::blank();
        let layers = collect_layers("theme", "theme.toml", name_or_path, user_overlay_dir, |n| {
            EMBEDDED.iter().find(|(e, _)| *e == n).map(|(e, s)| (format!("themes/{e}.toml"), *s))
        });
        let mut errors = Vec::new();
        for layer in layers {
            match layer {
                Ok((path, source)) => match Theme::parse(&path, &source) {
                    Ok(file) => theme.apply(&file),
                    Err(e) => errors.extend(e.0),
                },
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Ok(if no_color { theme.no_color() } else { theme })
    }

    /// Parse and validate one theme file; `file` is only used in messages.
    pub fn parse(file: &Path, source: &str) -> Result<ThemeFile, ConfigErrors> {
        let doc = DeTable::parse(source).map_err(|e| ConfigError::from_toml(file, source, &e))?;
        let mut p = Parser { file, source, errors: Vec::new() };
        let mut styles = Vec::new();
        for (key, value) in doc.get_ref().iter() {
            if key.get_ref() != "styles" {
                p.err(
                    key.span(),
                    format!("unknown section [{}] (a theme file has one section: [styles])", key.get_ref()),
                );
                continue;
            }
            let Some(table) = value.get_ref().as_table() else {
                p.err(value.span(), format!("[styles] must be a table, found {}", value.get_ref().type_str()));
                continue;
            };
            for (name, v) in table.iter() {
                if let Some(patch) = p.style(name, v) {
                    styles.push((name.get_ref().to_string(), patch));
                }
            }
        }
        if p.errors.is_empty() {
            Ok(ThemeFile { path: file.to_path_buf(), styles })
        } else {
            p.errors.sort_by_key(|e| (e.line, e.col));
            Err(ConfigErrors(p.errors))
        }
    }

    /// Overlay a parsed file.
    pub fn apply(&mut self, file: &ThemeFile) {
        for (name, patch) in &file.styles {
            if let Some(style) = self.style_mut(name) {
                patch.apply(style);
            }
        }
    }

    /// NO_COLOR: no foreground or background anywhere, modifiers kept. What colors alone
    /// made visible gets a modifier: the selection, hint keys and the protected banner are
    /// reversed; unhealthy and degraded are bold.
    pub fn no_color(mut self) -> Theme {
        for name in Theme::STYLE_NAMES {
            let style = self.style_mut(name).expect("listed style");
            style.fg = None;
            style.bg = None;
            style.underline_color = None;
        }
        self.selection.add_modifier |= Modifier::REVERSED;
        self.hint_key.add_modifier |= Modifier::REVERSED;
        self.protected_banner.add_modifier |= Modifier::REVERSED | Modifier::BOLD;
        self.unhealthy.add_modifier |= Modifier::BOLD;
        self.degraded.add_modifier |= Modifier::BOLD;
        self
    }

    /// The style of a health state.
    pub fn health(&self, h: Health) -> Style {
        match h {
            Health::Healthy => self.healthy,
            Health::Starting => self.starting,
            Health::Degraded => self.degraded,
            Health::Unhealthy => self.unhealthy,
            Health::Down => self.down,
            Health::Unknown => self.unknown,
        }
    }
}

/// Parse a color: a name, "#rrggbb", or an ANSI index 0-255 (as a number or a string).
pub fn parse_color(s: &str) -> Result<Color, String> {
    let norm: String = s.trim().to_ascii_lowercase().chars().filter(|c| !matches!(c, ' ' | '_' | '-')).collect();
    let norm = norm.replace("grey", "gray");
    if let Some((_, c)) = COLORS.iter().find(|(n, _)| *n == norm) {
        return Ok(*c);
    }
    if let Some(hex) = norm.strip_prefix('#') {
        if hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            let v = u32::from_str_radix(hex, 16).expect("hex digits");
            return Ok(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
        }
    }
    if let Ok(n) = norm.parse::<u8>() {
        return Ok(Color::Indexed(n));
    }
    let hint = match closest(&norm, COLORS.iter().map(|(n, _)| *n)) {
        Some(c) => format!("; did you mean {c:?}?"),
        None => String::new(),
    };
    Err(format!("invalid color {s:?} (expected a color name, #rrggbb or 0-255{hint})"))
}

struct Parser<'a> {
    file: &'a Path,
    source: &'a str,
    errors: Vec<ConfigError>,
}

impl Parser<'_> {
    fn err(&mut self, span: Range<usize>, msg: String) {
        self.errors.push(ConfigError::at(self.file, self.source, Some(span), msg));
    }

    fn style(&mut self, name: &Spanned<Cow<'_, str>>, value: &Spanned<DeValue<'_>>) -> Option<StylePatch> {
        let name_str = name.get_ref().as_ref();
        if !Theme::STYLE_NAMES.contains(&name_str) {
            let hint = match closest(name_str, Theme::STYLE_NAMES.iter().copied()) {
                Some(c) => format!("did you mean {c:?}?"),
                None => format!("styles: {}", Theme::STYLE_NAMES.join(", ")),
            };
            self.err(name.span(), format!("unknown style {name_str:?} ({hint})"));
            return None;
        }
        let Some(table) = value.get_ref().as_table() else {
            self.err(
                value.span(),
                format!(
                    "style {name_str:?} must be a table such as {{ fg = \"cyan\", bold = true }}, found {}",
                    value.get_ref().type_str()
                ),
            );
            return None;
        };
        let mut patch = StylePatch::default();
        let mut ok = true;
        for (field, v) in table.iter() {
            let field_str = field.get_ref().as_ref();
            match field_str {
                "fg" | "bg" => {
                    let color = match v.get_ref() {
                        DeValue::String(s) => parse_color(s),
                        DeValue::Integer(i) => match u8::from_str_radix(i.as_str(), i.radix()) {
                            Ok(n) => Ok(Color::Indexed(n)),
                            _ => Err(format!("invalid color {} (expected a color name, #rrggbb or 0-255)", i.as_str())),
                        },
                        other => Err(format!(
                            "invalid color: expected a color name, #rrggbb or 0-255, found {}",
                            other.type_str()
                        )),
                    };
                    match color {
                        Ok(c) if field_str == "fg" => patch.fg = Some(c),
                        Ok(c) => patch.bg = Some(c),
                        Err(msg) => {
                            self.err(v.span(), format!("{name_str}.{field_str}: {msg}"));
                            ok = false;
                        }
                    }
                }
                _ => match MODIFIERS.iter().find(|(n, _)| *n == field_str) {
                    Some((_, m)) => match v.get_ref().as_bool() {
                        Some(true) => patch.add |= *m,
                        Some(false) => patch.remove |= *m,
                        None => {
                            self.err(
                                v.span(),
                                format!(
                                    "{name_str}.{field_str} must be true or false, found {}",
                                    v.get_ref().type_str()
                                ),
                            );
                            ok = false;
                        }
                    },
                    None => {
                        let alias = match field_str.to_ascii_lowercase().as_str() {
                            "color" | "colour" | "foreground" | "fg_color" | "text" => Some("fg"),
                            "background" | "bg_color" => Some("bg"),
                            "underline" => Some("underlined"),
                            "reverse" | "inverse" | "inverted" => Some("reversed"),
                            "faint" => Some("dim"),
                            _ => None,
                        };
                        let fields = ["fg", "bg"].into_iter().chain(MODIFIERS.iter().map(|(n, _)| *n));
                        let hint = match alias.or_else(|| closest(field_str, fields)) {
                            Some(c) => format!("did you mean `{c}`? "),
                            None => String::new(),
                        };
                        self.err(
                            field.span(),
                            format!("unknown field `{field_str}` in style {name_str:?} ({hint}expected {FIELDS})"),
                        );
                        ok = false;
                    }
                },
            }
        }
        ok.then_some(patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colors() {
        assert_eq!(parse_color("darkgray"), Ok(Color::DarkGray));
        assert_eq!(parse_color("dark_grey"), Ok(Color::DarkGray));
        assert_eq!(parse_color("Light Red"), Ok(Color::LightRed));
        assert_eq!(parse_color("#ff8000"), Ok(Color::Rgb(255, 128, 0)));
        assert_eq!(parse_color("208"), Ok(Color::Indexed(208)));
        assert!(parse_color("256").is_err());
        assert!(parse_color("#ff80").is_err());
        assert_eq!(
            parse_color("grene").unwrap_err(),
            "invalid color \"grene\" (expected a color name, #rrggbb or 0-255; did you mean \"green\"?)"
        );
    }

    #[test]
    fn overlay_changes_only_given_fields() {
        let mut t = Theme::default();
        assert_eq!(t.title, Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD));
        let f = Theme::parse(Path::new("x.toml"), "[styles]\ntitle = { fg = 33, bold = false }\n").unwrap();
        t.apply(&f);
        assert_eq!(t.title, Style::new().fg(Color::Indexed(33)));
    }

    #[test]
    fn no_color_keeps_modifiers() {
        let t = Theme::default().no_color();
        for name in Theme::STYLE_NAMES {
            let s = t.style(name).unwrap();
            assert!(s.fg.is_none() && s.bg.is_none(), "{name}");
        }
        assert!(t.selection.add_modifier.contains(Modifier::REVERSED | Modifier::BOLD));
        assert!(t.unhealthy.add_modifier.contains(Modifier::BOLD));
        assert!(t.filter_match.add_modifier.contains(Modifier::UNDERLINED));
    }
}
