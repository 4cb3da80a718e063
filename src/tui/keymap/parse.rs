//! Validation of keymap files: every error is located (file:line:col) and explains itself.

use super::*;
use toml::de::DeValue;
use toml::Spanned;

// ---------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------

pub(super) struct Parser<'a> {
    pub(super) file: &'a Path,
    pub(super) source: &'a str,
    pub(super) errors: Vec<ConfigError>,
    pub(super) bindings: Vec<FileBinding>,
}

/// A key of the current section already seen: (sequence, line, text as written).
type Seen = Vec<(KeySeq, usize, String)>;

impl Parser<'_> {
    pub(super) fn err(&mut self, span: Range<usize>, msg: String) {
        self.errors.push(ConfigError::at(self.file, self.source, Some(span), msg));
    }

    pub(super) fn line(&self, span: &Range<usize>) -> usize {
        crate::config::diag::line_col(self.source, span.start).0
    }

    pub(super) fn section(&mut self, name: &Spanned<Cow<'_, str>>, value: &Spanned<DeValue<'_>>) {
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

    pub(super) fn binding(&mut self, ctx: Context, item: &Spanned<DeValue<'_>>, seen: &mut Seen) {
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
