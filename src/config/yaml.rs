//! Reading YAML files into typed structs with serde-saphyr, and turning its errors into
//! [`ConfigError`]s that name the file, line, column, key path and fix (with "did you mean" for
//! unknown keys and values). Shared by scenario, target profile and expected-failures files; what
//! differs between them (their name, an example, hints for some keys) comes in a [`DocKind`].

use std::io::Read;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_saphyr::Error as YamlError;

use super::did_you_mean;
use super::error::{ConfigError, ErrorKind};
use super::locate::Index;

/// The largest scenario or profile file read (they are a few KiB; this bounds memory).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Reads a whole (small) text file, refusing anything above [`MAX_FILE_BYTES`].
pub fn read_file(path: &Path) -> Result<String, ConfigError> {
    let file = std::fs::File::open(path).map_err(|e| ConfigError::io(path, &e))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ConfigError::io(path, &e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ConfigError::new(
            ErrorKind::Io,
            format!("the file is larger than {} KiB", MAX_FILE_BYTES / 1024),
        )
        .with_file(path)
        .with_fix("scenario and target files are small YAML documents; check the path"));
    }
    String::from_utf8(bytes).map_err(|e| {
        ConfigError::new(
            ErrorKind::Syntax,
            format!(
                "the file is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
        .with_file(path)
        .with_fix("save the file as UTF-8")
    })
}

/// Parser options: YAML 1.2 booleans only (`yes`/`no`/`y`/`n` stay strings) and tight budgets
/// against alias bombs and deep nesting.
pub fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        budget: serde_saphyr::budget! {
            max_events: 200_000,
            max_nodes: 100_000,
            max_depth: 32,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_total_scalar_bytes: 4 * 1024 * 1024,
            max_documents: 2,
        },
    }
}

/// How a list written where a single name belongs is told.
const LIST_FOR_ONE: &str = "invalid value: a list where";

/// What kind of document is being read, for messages (`scenario`, `target profile`).
#[derive(Debug, Clone, Copy)]
pub struct DocKind {
    /// `scenario` or `target profile`.
    pub noun: &'static str,
    /// A minimal valid example, for messages about empty or non-mapping documents.
    pub example: &'static str,
    /// The fix when a mapping was expected and something else was written.
    pub mapping_fix: &'static str,
    /// A list whose items are one-key maps naming a variant, and what an item is called:
    /// `("plan", "phase")` makes an unknown variant at `plan.N.x` an "unknown phase".
    pub tagged_list: Option<(&'static str, &'static str)>,
    /// What some keys take, by their whole dotted path or else their last segment
    /// (`("clients", "a whole number, e.g. 100")`), for the fix of an invalid value.
    pub value_hints: &'static [(&'static str, &'static str)],
    /// The fix for an invalid value of a key, from its dotted path and the value as written
    /// (`("client.scoped_share", "25%")` → `write the share as a number from 0 to 1: ...`);
    /// `None` leaves it to the general fixes. Asked first.
    pub value_fix: Option<fn(key: &str, written: &str) -> Option<String>>,
    /// The document's JSON Schema, for what a key takes when neither `value_fix` nor
    /// `value_hints` knows it ([`super::schema_hint`]).
    pub schema: Option<fn() -> &'static serde_json::Value>,
}

impl DocKind {
    /// A document kind with no key-specific hints.
    pub const fn plain(noun: &'static str, example: &'static str) -> DocKind {
        DocKind {
            noun,
            example,
            mapping_fix: "write a mapping (key: value) here",
            tagged_list: None,
            value_hints: &[],
            value_fix: None,
            schema: None,
        }
    }

    /// This kind with `schema` as its JSON Schema.
    pub const fn with_schema(self, schema: fn() -> &'static serde_json::Value) -> DocKind {
        DocKind {
            schema: Some(schema),
            ..self
        }
    }

    /// What `key` takes: the document's hint for its whole path, else its schema's description,
    /// else the hint for its last segment.
    pub fn what_key_takes(&self, key: &str) -> Option<String> {
        let hint = |k: &str| {
            self.value_hints
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, hint)| hint.to_string())
        };
        hint(key)
            .or_else(|| {
                self.schema
                    .and_then(|schema| super::schema_hint::what_key_takes(schema(), key))
            })
            .or_else(|| hint(key.rsplit('.').next().unwrap_or(key)))
    }
}

/// Deserializes `src` into `T`; errors carry `file`, position, key path and a fix.
pub fn parse<T: DeserializeOwned>(
    src: &str,
    file: Option<&Path>,
    kind: DocKind,
) -> Result<T, ConfigError> {
    if src.trim().is_empty() || is_only_comments(src) {
        let e = ConfigError::new(
            ErrorKind::Syntax,
            format!("the {} file is empty", kind.noun),
        )
        .with_fix(format!("start from an example: {}", kind.example));
        return Err(e.in_file(file));
    }
    match serde_saphyr::from_str_with_options::<T>(src, options()) {
        Ok(v) => Ok(v),
        Err(err) => Err(convert(&err, src, file, kind).in_file(file)),
    }
}

fn is_only_comments(src: &str) -> bool {
    src.lines()
        .map(str::trim)
        .all(|l| l.is_empty() || l.starts_with('#') || l == "---")
}

/// Maps a serde-saphyr error to a [`ConfigError`].
pub fn convert(err: &YamlError, src: &str, file: Option<&Path>, kind: DocKind) -> ConfigError {
    let inner = innermost(err);
    let index = Index::build(src);
    let pos = err.location().map(|l| (l.line(), l.column()));
    let key_here = pos.and_then(|(l, c)| index.path_at(l, c).map(str::to_string));
    // The error points at a key of a block mapping (`login:` under `plan:`): serde-saphyr gives
    // the mapping's start, which is its first key, so the value in error is the mapping itself.
    let mapping_at_key = match (&key_here, pos) {
        (Some(k), Some((l, c))) if !k.is_empty() => {
            let last = k.rsplit('.').next().unwrap_or(k);
            line_from(src, l, c).is_some_and(|rest| {
                rest.strip_prefix(last)
                    .is_some_and(|after| after.trim_start().starts_with(':'))
            })
        }
        _ => false,
    };
    let mapping_path = |k: &str| -> String {
        if mapping_at_key {
            k.rsplit_once('.')
                .map_or(String::new(), |(parent, _)| parent.to_string())
        } else {
            k.to_string()
        }
    };
    let (mut e, width) = match inner {
        YamlError::SerdeUnknownField {
            field, expected, ..
        } => {
            let suggestion = did_you_mean(field, expected.iter().copied());
            let message = match &suggestion {
                Some(s) => format!("unknown field `{field}`, did you mean `{s}`?"),
                None => format!("unknown field `{field}`"),
            };
            let allowed = expected.join(", ");
            let fix = match &suggestion {
                Some(s) => format!("rename `{field}` to `{s}` (keys allowed here: {allowed})"),
                None if expected.is_empty() => format!("remove `{field}`"),
                None => format!("remove `{field}` or use one of: {allowed}"),
            };
            (
                ConfigError::new(ErrorKind::UnknownKey, message).with_fix(fix),
                field.chars().count(),
            )
        }
        YamlError::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            let suggestion = did_you_mean(variant, expected.iter().copied());
            let what = kind
                .tagged_list
                .filter(|(list, _)| {
                    key_here.as_deref().is_some_and(|k| {
                        k.strip_prefix(list)
                            .and_then(|rest| rest.strip_prefix('.'))
                            .is_some_and(|rest| rest.matches('.').count() == 1)
                    })
                })
                .map_or("value", |(_, item)| item);
            let message = match &suggestion {
                Some(s) => format!("unknown {what} `{variant}`, did you mean `{s}`?"),
                None => format!("unknown {what} `{variant}`"),
            };
            let fix = match &suggestion {
                Some(s) => format!("write `{s}` (allowed: {})", expected.join(", ")),
                None => format!("use one of: {}", expected.join(", ")),
            };
            (
                ConfigError::new(ErrorKind::InvalidValue, message).with_fix(fix),
                variant.chars().count(),
            )
        }
        YamlError::SerdeMissingField { field, .. } => {
            let within = key_here.as_deref().map(mapping_path).unwrap_or_default();
            let fix = if within.is_empty() {
                format!("add `{field}:` at the top level of the file")
            } else {
                format!("add `{field}:` under `{within}`")
            };
            (
                ConfigError::new(ErrorKind::MissingKey, format!("missing key `{field}`"))
                    .with_fix(fix),
                1,
            )
        }
        YamlError::DuplicateMappingKey { key, .. } => {
            let k = key.clone().unwrap_or_else(|| "?".into());
            (
                ConfigError::new(ErrorKind::Syntax, format!("duplicate key `{k}`"))
                    .with_fix(format!("keep one `{k}:` and delete the other")),
                k.chars().count(),
            )
        }
        YamlError::Budget { .. }
        | YamlError::AliasReplayLimitExceeded { .. }
        | YamlError::AliasExpansionLimitExceeded { .. }
        | YamlError::AliasReplayStackDepthExceeded { .. } => (
            ConfigError::new(
                ErrorKind::Syntax,
                format!(
                    "the document is too large or too deeply nested for a {} file ({})",
                    kind.noun,
                    plain_message(inner)
                ),
            )
            .with_fix("remove the aliases or nesting; these files are small and flat"),
            1,
        ),
        YamlError::MultipleDocuments { .. } => (
            ConfigError::new(
                ErrorKind::Syntax,
                format!(
                    "the file holds more than one YAML document; a {} file is one",
                    kind.noun
                ),
            )
            .with_fix("remove the second `---` and what follows, or split it into two files"),
            3,
        ),
        YamlError::SerdeInvalidType { .. } | YamlError::Unexpected { .. }
            if key_here.as_deref() == Some("") =>
        {
            (
                ConfigError::new(
                    ErrorKind::InvalidValue,
                    format!(
                        "a {} file is a YAML mapping of keys, not {}",
                        kind.noun,
                        describe_root(src)
                    ),
                )
                .with_fix(format!("start from an example: {}", kind.example)),
                1,
            )
        }
        other => {
            let doc = kind;
            let kind = match other {
                YamlError::SerdeInvalidType { .. }
                | YamlError::SerdeInvalidValue { .. }
                | YamlError::SerdeInvalidLength { .. }
                | YamlError::InvalidScalar { .. }
                | YamlError::Message { .. }
                | YamlError::NullIntoString { .. }
                | YamlError::InvalidBooleanStrict { .. }
                | YamlError::QuotingRequired { .. }
                | YamlError::ExternallyTaggedEnumExpectedScalarOrMapping { .. }
                | YamlError::UnexpectedValueForUnitEnumVariant { .. }
                | YamlError::Unexpected { .. } => ErrorKind::InvalidValue,
                _ => ErrorKind::Syntax,
            };
            let msg = match other {
                // A key's own hint is more precise than its Rust type (`clients` is a u32 and
                // still refuses 0).
                YamlError::InvalidScalar { ty, .. } => format!(
                    "invalid value: expected {}",
                    key_here
                        .as_deref()
                        .and_then(|k| doc.what_key_takes(k))
                        .unwrap_or_else(|| describe_type(ty).to_string())
                ),
                // A list where one name (or a list's one-key item) belongs.
                YamlError::ExternallyTaggedEnumExpectedScalarOrMapping { .. } => {
                    let item = doc.tagged_list.and_then(|(list, item)| {
                        key_here
                            .as_deref()
                            .and_then(|k| k.strip_prefix(list))
                            .and_then(|rest| rest.strip_prefix('.'))
                            .is_some_and(|rest| !rest.contains('.'))
                            .then_some(item)
                    });
                    match item {
                        Some(item) => format!("{LIST_FOR_ONE} a {item} belongs"),
                        None => format!("{LIST_FOR_ONE} a single name belongs"),
                    }
                }
                // A list or mapping where one value belongs.
                YamlError::Unexpected { expected, .. } if expected.ends_with("scalar") => {
                    "invalid value: a list or mapping where a single value belongs".to_string()
                }
                _ => plain_message(other),
            };
            // A mapping where a list belongs: its items are the mapping's entries, each written
            // as `- entry`.
            let list_of_entries = (mapping_at_key && msg.trim() == "expected sequence start")
                .then(|| key_here.as_deref().map(mapping_path))
                .flatten()
                .filter(|k| !k.is_empty());
            let fix = if let Some(list) = &list_of_entries {
                let entry = pos
                    .and_then(|(l, c)| line_from(src, l, c))
                    .map(|rest| rest.trim_end().to_string())
                    .unwrap_or_default();
                Some(format!(
                    "write `{list}` as a list, each item on its own line after a `- `: `- {entry}`"
                ))
            } else if kind == ErrorKind::InvalidValue {
                let written = pos.and_then(|(l, c)| written_at(src, l, c));
                fix_for(&msg, key_here.as_deref(), written.as_deref(), doc)
            } else {
                Some("check the YAML syntax here: indentation, closing brackets and quotes, `key: value` with a space after the colon".to_string())
            };
            // A collection where a single value was written: say so by the key's name.
            let last = list_of_entries
                .as_deref()
                .or(key_here.as_deref())
                .map(|k| k.rsplit('.').next().unwrap_or(k));
            let msg = match (msg.trim(), last) {
                ("expected sequence start", Some(k)) if !k.is_empty() => {
                    format!("`{k}` takes a list, not a single value")
                }
                ("expected mapping start", Some(k)) if !k.is_empty() => {
                    format!("`{k}` takes a mapping (key: value), not a single value")
                }
                _ => msg,
            };
            let e = ConfigError::new(kind, msg);
            (
                match fix {
                    Some(f) => e.with_fix(f),
                    None => e,
                },
                1,
            )
        }
    };
    let key = match inner {
        YamlError::SerdeMissingField { field, .. } => {
            match key_here.as_deref().map(mapping_path).as_deref() {
                Some("") | None => Some(field.to_string()),
                Some(k) => Some(format!("{k}.{field}")),
            }
        }
        // A mapping where a list belongs (`plan:` with `login: {}` under it): the key in error
        // is the list's, not its first item's.
        _ if mapping_at_key && plain_message(inner).trim() == "expected sequence start" => key_here
            .as_deref()
            .map(mapping_path)
            .filter(|k| !k.is_empty()),
        _ => key_here.filter(|k| !k.is_empty()),
    };
    if let Some(k) = key {
        e = e.with_key(k);
    }
    if let Some((line, col)) = pos {
        e = e.at_position(line, col);
        match saphyr_snippet(err, file) {
            // The caret's label is serde's message: ours replaces it (`invalid u32` → what the
            // key takes).
            Some(s) => {
                let raw = plain_message(inner);
                let s = if raw.is_empty() || raw == e.0.message {
                    s
                } else {
                    s.replace(&raw, &e.0.message)
                };
                e = e.with_snippet(s)
            }
            None => e = e.at(src, line, col, width),
        }
    }
    e
}

/// The error inside alias and snippet wrappers.
fn innermost(err: &YamlError) -> &YamlError {
    let mut e = err.without_snippet();
    for _ in 0..8 {
        match e {
            YamlError::AliasError { error, .. } => e = error.without_snippet(),
            _ => break,
        }
    }
    e
}

/// The message without serde-saphyr's own location prefix or suffix.
fn plain_message(err: &YamlError) -> String {
    let opts = serde_saphyr::render_options! { snippets: serde_saphyr::SnippetMode::Off };
    let text = err.render_with_options(opts);
    strip_location(&text)
}

fn strip_location(text: &str) -> String {
    let mut t = text.trim();
    // "line 3 column 5: msg" or "msg at line 3, column 5"
    if let Some(rest) = t.strip_prefix("line ")
        && let Some(i) = rest.find(": ")
        && rest[..i]
            .chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == ',' || c.is_alphabetic())
    {
        t = &rest[i + 2..];
    }
    if let Some(i) = t.rfind(" at line ") {
        t = &t[..i];
    }
    t.to_string()
}

/// serde-saphyr's rendered snippet (the part after its message line), with our file name.
fn saphyr_snippet(err: &YamlError, file: Option<&Path>) -> Option<String> {
    if !matches!(err, YamlError::WithSnippet { .. }) {
        return None;
    }
    let name = file.map(|f| f.display().to_string());
    let opts = serde_saphyr::render_options! { source_name: name.as_deref() };
    let text = err.render_with_options(opts);
    let start = text.find("\n")?;
    let snippet = text[start + 1..].trim_end();
    (!snippet.trim().is_empty()).then(|| snippet.to_string())
}

fn describe_root(src: &str) -> &'static str {
    let first = src
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && *l != "---")
        .unwrap_or("");
    if first.starts_with('-') || first.starts_with('[') {
        "a list"
    } else {
        "a single value"
    }
}

/// A reader's name for a Rust scalar type in an error.
fn describe_type(ty: &str) -> &'static str {
    match ty {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number (0 or more)",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" | "floating point" => "a number",
        "bool" | "boolean" => "true or false",
        "char" => "a single character",
        _ => "a different kind of value",
    }
}

/// The rest of line `line` (1-based) from `column` (1-based), if the source has it.
fn line_from(src: &str, line: u64, column: u64) -> Option<&str> {
    let text = src
        .lines()
        .nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let col = usize::try_from(column).ok()?.checked_sub(1)?;
    text.char_indices().nth(col).map(|(i, _)| &text[i..])
}

/// A fix for common value errors, from the message, the key, the value as written and the
/// document's hints.
fn fix_for(msg: &str, key: Option<&str>, written: Option<&str>, doc: DocKind) -> Option<String> {
    if let (Some(key), Some(written), Some(fix)) = (key, written, doc.value_fix)
        && let Some(f) = fix(key, written)
    {
        return Some(f);
    }
    let last = key.map(|k| k.rsplit('.').next().unwrap_or(k));
    let in_tagged_list = doc
        .tagged_list
        .zip(key)
        .is_some_and(|((list, _), k)| k.strip_prefix(list).is_some_and(|r| r.starts_with('.')));
    if in_tagged_list && msg.starts_with(LIST_FOR_ONE) {
        return Some(doc.mapping_fix.into());
    }
    if msg.contains("expected mapping start") {
        return Some(if in_tagged_list {
            doc.mapping_fix.into()
        } else {
            match (last, written) {
                (Some(last), Some(w)) => format!(
                    "`{last}` takes a mapping, not the single value `{w}`: write `{last}: {{ key: value, ... }}` (its keys: `authbench schema`)"
                ),
                _ => "write a mapping (key: value) here".into(),
            }
        });
    }
    if msg.contains("expected sequence start") {
        return Some(match (last, written) {
            (Some(last), Some(w)) if w.chars().any(char::is_alphanumeric) => {
                format!("write a list, even of one item: `{last}: [{w}]`")
            }
            _ => "write a list here, e.g. `[a, b]` or one `- item` per line".into(),
        });
    }
    if msg.contains("invalid duration") {
        return Some(super::units::duration_fix(msg));
    }
    if msg.contains("invalid rate") {
        return Some("write arrivals per unit of time: 2000/s, 120/m".into());
    }
    let key = key?;
    let hint = doc.what_key_takes(key)?;
    Some(match key.rsplit_once('.') {
        // A list's item: name the list.
        Some((list, item)) if item.parse::<usize>().is_ok() => {
            let list = list.rsplit('.').next().unwrap_or(list);
            format!("each item of `{list}` takes {hint}")
        }
        _ => format!("`{}` takes {hint}", last.unwrap_or(key)),
    })
}

/// The value written at `line`:`column` (1-based) of `src`, as written: a quoted string with its
/// quotes, else the plain scalar up to a comment, a `,` or closing bracket of a flow collection,
/// or the line's end. `None` for nothing there or a collection.
pub fn written_at(src: &str, line: u64, column: u64) -> Option<String> {
    let text = src
        .lines()
        .nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let col = usize::try_from(column).ok()?.checked_sub(1)?;
    let rest: String = text.chars().skip(col).collect();
    let rest = rest.trim_start();
    let first = rest.chars().next()?;
    let negative = first == '-' && rest[1..].starts_with(|c: char| c.is_ascii_digit() || c == '.');
    if matches!(first, '{' | '[') || (first == '-' && !negative) {
        return None;
    }
    let value = match first {
        q @ ('"' | '\'') => {
            let end = rest[1..].find(q)? + 2;
            &rest[..end]
        }
        _ => {
            let end = rest
                .find(" #")
                .into_iter()
                .chain(rest.find([',', '}', ']']))
                .min()
                .unwrap_or(rest.len());
            rest[..end].trim_end()
        }
    };
    (!value.is_empty()).then(|| super::error::shorten(value, 80))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_locations() {
        assert_eq!(
            strip_location("line 2 column 10: invalid u32"),
            "invalid u32"
        );
        assert_eq!(
            strip_location("invalid u32 at line 2, column 10"),
            "invalid u32"
        );
        assert_eq!(strip_location("plain"), "plain");
    }

    #[test]
    fn reads_the_value_as_written() {
        let src = "a: 25%  # share\nb: { c: 4.5, d: x }\ne: \"user{n}\"\nf: [1]\ng: -1\n";
        assert_eq!(written_at(src, 1, 4).as_deref(), Some("25%"));
        assert_eq!(written_at(src, 2, 9).as_deref(), Some("4.5"));
        assert_eq!(written_at(src, 2, 17).as_deref(), Some("x"));
        assert_eq!(written_at(src, 3, 4).as_deref(), Some("\"user{n}\""));
        assert_eq!(written_at(src, 4, 4), None);
        assert_eq!(written_at(src, 5, 4).as_deref(), Some("-1"));
        assert_eq!(written_at(src, 9, 1), None);
    }
}
