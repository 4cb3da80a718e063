//! ANSI escape sequences in log text: removal (for matching and export) and SGR styling spans
//! (for rendering colours). Plain data only; the TUI maps [`AnsiStyle`] to its own types.

use std::borrow::Cow;

/// A colour from an SGR sequence: `Indexed` 0–7 normal, 8–15 bright, 16–255 the 256-colour
/// palette; `Rgb` true colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnsiColor {
    Indexed(u8),
    Rgb(u8, u8, u8),
}

/// The SGR state in effect for a span of text; `None` colours mean the terminal default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AnsiStyle {
    pub fg: Option<AnsiColor>,
    pub bg: Option<AnsiColor>,
    pub bold: bool,
    pub dim: bool,
    pub italic: bool,
    pub underline: bool,
    pub reverse: bool,
}

/// `s` without CSI, OSC, DCS/APC/PM/SOS strings and other ESC sequences; borrowed when `s`
/// holds no ESC byte.
pub fn strip_ansi(s: &str) -> Cow<'_, str> {
    if !s.contains('\x1b') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for (seg, _) in Segments::new(s) {
        out.push_str(seg);
    }
    Cow::Owned(out)
}

/// The text of `s` split into runs with their SGR style; escape sequences are removed and
/// empty runs left out. Unknown SGR codes are ignored.
pub fn ansi_spans(s: &str) -> Vec<(AnsiStyle, &str)> {
    let mut style = AnsiStyle::default();
    let mut out = Vec::new();
    for (seg, sgr) in Segments::new(s) {
        if !seg.is_empty() {
            out.push((style, seg));
        }
        if let Some(params) = sgr {
            apply_sgr(&mut style, params);
        }
    }
    out
}

/// Iterates `(text before the next escape, that escape's SGR parameters if it is one)`.
struct Segments<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Segments<'a> {
    fn new(s: &'a str) -> Self {
        Segments { s, pos: 0 }
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = (&'a str, Option<&'a str>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.s.len() {
            return None;
        }
        let rest = &self.s[self.pos..];
        let Some(esc) = rest.find('\x1b') else {
            self.pos = self.s.len();
            return Some((rest, None));
        };
        let start = self.pos + esc;
        let (end, sgr) = skip_escape(self.s.as_bytes(), start);
        self.pos = end;
        Some((&rest[..esc], sgr.map(|(a, b)| &self.s[a..b])))
    }
}

/// Given `b[i] == ESC`, the end of the sequence and, for SGR (`ESC [ … m`), the parameter range.
/// Ends always fall on UTF-8 boundaries: only ASCII bytes are consumed, except the body of
/// OSC/DCS strings, which run to their ASCII terminator (or the end of the text).
fn skip_escape(b: &[u8], i: usize) -> (usize, Option<(usize, usize)>) {
    let Some(&kind) = b.get(i + 1) else { return (b.len(), None) };
    match kind {
        b'[' => {
            let p0 = i + 2;
            let mut j = p0;
            while j < b.len() && (0x30..=0x3f).contains(&b[j]) {
                j += 1;
            }
            let p1 = j;
            while j < b.len() && (0x20..=0x2f).contains(&b[j]) {
                j += 1;
            }
            if j < b.len() && (0x40..=0x7e).contains(&b[j]) {
                let sgr = (b[j] == b'm' && p1 == j).then_some((p0, p1));
                (j + 1, sgr)
            } else {
                (j, None) // truncated or malformed: drop what was consumed
            }
        }
        b']' | b'P' | b'X' | b'^' | b'_' => {
            let mut j = i + 2;
            while j < b.len() {
                match b[j] {
                    0x07 => return (j + 1, None),
                    0x1b if b.get(j + 1) == Some(&b'\\') => return (j + 2, None),
                    _ => j += 1,
                }
            }
            (b.len(), None)
        }
        0x20..=0x2f => {
            let mut j = i + 1;
            while j < b.len() && (0x20..=0x2f).contains(&b[j]) {
                j += 1;
            }
            (if j < b.len() && b[j] < 0x80 { j + 1 } else { j }, None)
        }
        c if c < 0x80 => (i + 2, None),
        _ => (i + 1, None),
    }
}

fn apply_sgr(st: &mut AnsiStyle, params: &str) {
    if params.is_empty() {
        *st = AnsiStyle::default();
        return;
    }
    let mut groups = params.split(';');
    while let Some(group) = groups.next() {
        if group.contains(':') {
            apply_sub_params(st, group);
            continue;
        }
        let code = num(group);
        match code {
            0 => *st = AnsiStyle::default(),
            1 => st.bold = true,
            2 => st.dim = true,
            3 => st.italic = true,
            4 => st.underline = true,
            7 => st.reverse = true,
            22 => (st.bold, st.dim) = (false, false),
            23 => st.italic = false,
            24 => st.underline = false,
            27 => st.reverse = false,
            30..=37 => st.fg = Some(AnsiColor::Indexed((code - 30) as u8)),
            39 => st.fg = None,
            40..=47 => st.bg = Some(AnsiColor::Indexed((code - 40) as u8)),
            49 => st.bg = None,
            90..=97 => st.fg = Some(AnsiColor::Indexed((code - 90 + 8) as u8)),
            100..=107 => st.bg = Some(AnsiColor::Indexed((code - 100 + 8) as u8)),
            38 | 48 => {
                let color = match num(groups.next().unwrap_or("")) {
                    5 => Some(AnsiColor::Indexed(byte(groups.next()))),
                    2 => Some(AnsiColor::Rgb(byte(groups.next()), byte(groups.next()), byte(groups.next()))),
                    _ => None,
                };
                set_color(st, code, color);
            }
            _ => {}
        }
    }
}

/// ITU T.416 colon forms: `38:5:n`, `38:2::r:g:b` / `38:2:r:g:b`, `4:0`…`4:5` underline styles.
fn apply_sub_params(st: &mut AnsiStyle, group: &str) {
    let subs: Vec<&str> = group.split(':').collect();
    let code = num(subs[0]);
    match code {
        38 | 48 => {
            let color = match subs.get(1).map(|s| num(s)) {
                Some(5) => Some(AnsiColor::Indexed(byte(subs.get(2).copied()))),
                Some(2) if subs.len() >= 5 => {
                    let n = subs.len();
                    Some(AnsiColor::Rgb(byte(Some(subs[n - 3])), byte(Some(subs[n - 2])), byte(Some(subs[n - 1]))))
                }
                _ => None,
            };
            set_color(st, code, color);
        }
        4 => st.underline = subs.get(1).map(|s| num(s)) != Some(0),
        _ => {}
    }
}

fn set_color(st: &mut AnsiStyle, code: u32, color: Option<AnsiColor>) {
    if color.is_some() {
        if code == 38 {
            st.fg = color;
        } else {
            st.bg = color;
        }
    }
}

fn num(s: &str) -> u32 {
    if s.is_empty() {
        0
    } else {
        s.parse().unwrap_or(u32::MAX)
    }
}

fn byte(s: Option<&str>) -> u8 {
    num(s.unwrap_or("")).min(255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fg(c: u8) -> AnsiStyle {
        AnsiStyle { fg: Some(AnsiColor::Indexed(c)), ..Default::default() }
    }

    #[test]
    fn strip_borrows_plain_text() {
        assert!(matches!(strip_ansi("plain text ünïcode"), Cow::Borrowed("plain text ünïcode")));
    }

    #[test]
    fn strip_removes_all_sequence_kinds() {
        let cases = [
            ("\x1b[31mERROR\x1b[0m boom", "ERROR boom"),
            ("\x1b[1;38;5;208mwarn\x1b[m: x", "warn: x"),
            ("a\x1b[2Kb\x1b[10;20Hc", "abc"),   // erase line, cursor move
            ("\x1b]0;title\x07after", "after"), // OSC ended by BEL
            ("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"), // OSC 8 hyperlink, ST
            ("\x1bPq#0;2;0;0;0\x1b\\sixel", "sixel"), // DCS
            ("\x1b(Bcharset\x1b=keypad", "charsetkeypad"), // designate G0, DECKPAM
            ("ü\x1b[32mgrün\x1b[0mé", "ügrüné"), // multi-byte text around
            ("trunc\x1b[31", "trunc"),          // truncated CSI
            ("lone\x1b", "lone"),
            ("\x1bé", "é"), // ESC before non-ASCII
        ];
        for (input, want) in cases {
            assert_eq!(strip_ansi(input), want, "{input:?}");
        }
    }

    #[test]
    fn spans_basic_colours_and_reset() {
        let s = "\x1b[31mred\x1b[0m plain \x1b[92mbright\x1b[39m def";
        assert_eq!(
            ansi_spans(s),
            vec![(fg(1), "red"), (AnsiStyle::default(), " plain "), (fg(10), "bright"), (AnsiStyle::default(), " def")]
        );
        assert_eq!(ansi_spans("no escapes"), vec![(AnsiStyle::default(), "no escapes")]);
        assert_eq!(ansi_spans(""), vec![]);
    }

    #[test]
    fn spans_attributes_and_extended_colours() {
        let spans =
            ansi_spans("\x1b[1;3;4;44mA\x1b[22;23;24mB\x1b[38;5;208;48;2;1;2;3mC\x1b[38:2::10:20:30mD\x1b[49;7mE");
        let a = AnsiStyle {
            bold: true,
            italic: true,
            underline: true,
            bg: Some(AnsiColor::Indexed(4)),
            ..Default::default()
        };
        let b = AnsiStyle { bg: Some(AnsiColor::Indexed(4)), ..Default::default() };
        let c =
            AnsiStyle { fg: Some(AnsiColor::Indexed(208)), bg: Some(AnsiColor::Rgb(1, 2, 3)), ..Default::default() };
        let d = AnsiStyle { fg: Some(AnsiColor::Rgb(10, 20, 30)), ..c };
        let e = AnsiStyle { bg: None, reverse: true, ..d };
        assert_eq!(spans, vec![(a, "A"), (b, "B"), (c, "C"), (d, "D"), (e, "E")]);
    }

    #[test]
    fn spans_ignore_non_sgr_sequences_and_unknown_codes() {
        let spans = ansi_spans("\x1b[2K\x1b[33mwa\x1b]0;t\x07rn\x1b[999;5m!");
        assert_eq!(spans, vec![(fg(3), "wa"), (fg(3), "rn"), (fg(3), "!")]);
        // 38 without a colour spec changes nothing; bright backgrounds 100-107
        assert_eq!(ansi_spans("\x1b[38;9mx\x1b[101my")[0], (AnsiStyle::default(), "x"));
        let bright_bg = AnsiStyle { bg: Some(AnsiColor::Indexed(9)), ..Default::default() };
        assert_eq!(ansi_spans("\x1b[101my"), vec![(bright_bg, "y")]);
    }
}
