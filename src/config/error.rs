//! [`ConfigError`]: every problem with a scenario, target profile or expected-failures file, or a
//! `--set` override, as one typed error whose `Display` names the file, line and column, the key,
//! what is wrong and how to fix it, followed by a snippet of the file with a caret under the
//! offending spot.
//!
//! Errors found after parsing (semantic validation) know a key path but no position;
//! [`ConfigError::at_key`] finds the position in the source with [`super::locate`].

use std::fmt;
use std::path::{Path, PathBuf};

use super::locate::Index;

/// What kind of problem a [`ConfigError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file could not be read.
    Io,
    /// The file is not valid YAML (or exceeds a parser budget, e.g. an alias bomb).
    Syntax,
    /// A key that does not exist at this place.
    UnknownKey,
    /// A required key is missing.
    MissingKey,
    /// A value has the wrong type or form (bad duration, unknown strategy, ...).
    InvalidValue,
    /// The file parses but does not make sense (semantic validation).
    Invalid,
    /// A `--set key=value` override is malformed or names an unknown key.
    Override,
}

/// The details of a [`ConfigError`]; every field is optional except the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What kind of problem this is.
    pub kind: ErrorKind,
    /// The file the problem is in, if any.
    pub file: Option<PathBuf>,
    /// 1-based line.
    pub line: Option<u64>,
    /// 1-based column.
    pub column: Option<u64>,
    /// The dotted key path (`client.concurrency`, `plan.1.sync_expiry`), if known.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub fix: Option<String>,
    /// A few lines of the file with a caret under the problem.
    pub snippet: Option<String>,
    /// The command-line option this came from, as the user wrote it (`--set key=value`,
    /// `--clients 0`), if it came from one.
    pub option: Option<String>,
}

/// A configuration error (exit code 2). `Display` renders the full report:
///
/// ```text
/// scenarios/storm.yaml:5:1: unknown field `clinets`, did you mean `clients`?
///    |
///  4 | name: storm
///  5 | clinets: 100
///    | ^^^^^^^
///   = key: clinets
///   = fix: rename `clinets` to `clients` (keys allowed here: name, description, ...)
/// ```
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.0))]
pub struct ConfigError(pub Box<Diagnostic>);

impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Debug is what `unwrap()` and test failures print: make it the readable report.
        write!(f, "{self}")
    }
}

impl ConfigError {
    /// A new error of `kind` with `message` and nothing else yet (messages are capped at
    /// [`MAX_MESSAGE`] characters: they may quote input).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ConfigError(Box::new(Diagnostic {
            kind,
            file: None,
            line: None,
            column: None,
            key: None,
            message: shorten(&message.into(), MAX_MESSAGE),
            fix: None,
            snippet: None,
            option: None,
        }))
    }

    /// The details.
    pub fn diagnostic(&self) -> &Diagnostic {
        &self.0
    }

    /// What kind of problem this is.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The dotted key path, if known.
    pub fn key(&self) -> Option<&str> {
        self.0.key.as_deref()
    }

    /// `(line, column)`, 1-based, if known.
    pub fn position(&self) -> Option<(u64, u64)> {
        Some((self.0.line?, self.0.column.unwrap_or(1)))
    }

    /// Sets the key path.
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.0.key = Some(shorten(&key.into(), 200));
        self
    }

    /// Sets the fix.
    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.0.fix = Some(shorten(&fix.into(), MAX_MESSAGE));
        self
    }

    /// Sets the file.
    pub fn with_file(mut self, file: &Path) -> Self {
        self.0.file = Some(file.to_path_buf());
        self
    }

    /// Sets the `--set` override this came from (`key=value`).
    pub fn with_set(mut self, set: impl Into<String>) -> Self {
        self.0.option = Some(shorten(&format!("--set {}", set.into()), 200));
        self
    }

    /// Names the command-line option this came from as the user wrote it, when it was applied
    /// as an override (`--clients 0` is applied as `--set clients=0`).
    pub fn from_option(mut self, option: impl Into<String>) -> Self {
        self.0.option = Some(shorten(&option.into(), 200));
        self
    }

    /// Sets line and column (1-based) and renders a snippet of `source` around them.
    pub fn at(mut self, source: &str, line: u64, column: u64, width: usize) -> Self {
        self.0.line = Some(line);
        self.0.column = Some(column);
        self.0.snippet = render_snippet(source, line, column, width);
        self
    }

    /// Sets line and column without a snippet.
    pub fn at_position(mut self, line: u64, column: u64) -> Self {
        self.0.line = Some(line);
        self.0.column = Some(column);
        self
    }

    /// Sets a snippet rendered elsewhere (e.g. by serde-saphyr).
    pub fn with_snippet(mut self, snippet: String) -> Self {
        self.0.snippet = Some(snippet);
        self
    }

    /// Points at `key` (a dotted path) in `source`: its line, column and a snippet (the nearest
    /// ancestor's when the key itself is not written, e.g. a default), and the file if known.
    pub fn at_key(self, source: &str, file: Option<&Path>, key: impl Into<String>) -> Self {
        let key = key.into();
        let e = match Index::build(source).position(&key) {
            Some((line, col, width)) => self.at(source, line, col, width),
            None => self,
        };
        let e = e.with_key(key);
        match file {
            Some(f) => e.with_file(f),
            None => e,
        }
    }

    /// Sets the file when there is one.
    pub fn in_file(self, file: Option<&Path>) -> Self {
        match file {
            Some(f) => self.with_file(f),
            None => self,
        }
    }

    /// An I/O error reading `path`.
    pub fn io(path: &Path, err: &std::io::Error) -> Self {
        ConfigError::new(ErrorKind::Io, format!("cannot read the file: {err}"))
            .with_file(path)
            .with_fix("check the path (relative paths are resolved from the current directory or, inside a scenario, from the scenario file's folder)")
    }
}

fn render(d: &Diagnostic) -> String {
    let mut out = String::new();
    let mut loc = String::new();
    if let Some(file) = &d.file {
        loc.push_str(&file.display().to_string());
        if let Some(line) = d.line {
            loc.push_str(&format!(":{line}:{}", d.column.unwrap_or(1)));
        }
    } else if let Some(line) = d.line {
        loc.push_str(&format!("line {line}, column {}", d.column.unwrap_or(1)));
    }
    if let Some(option) = &d.option {
        if loc.is_empty() {
            loc = option.clone();
        } else {
            loc.push_str(&format!(" ({option})"));
        }
    }
    if !loc.is_empty() {
        out.push_str(&loc);
        out.push_str(": ");
    }
    out.push_str(&d.message);
    if let Some(snippet) = &d.snippet {
        out.push('\n');
        out.push_str(snippet.trim_end());
    }
    if let Some(key) = &d.key {
        out.push_str(&format!("\n  = key: {key}"));
    }
    if let Some(fix) = &d.fix {
        out.push_str(&format!("\n  = fix: {fix}"));
    }
    out
}

/// Renders the line `line` (1-based) of `source` and the one before it, with `^` under
/// `column` (1-based) spanning `width` characters (at least one).
pub fn render_snippet(source: &str, line: u64, column: u64, width: usize) -> Option<String> {
    let idx = usize::try_from(line).ok()?.checked_sub(1)?;
    let lines: Vec<&str> = source.lines().collect();
    let text = lines.get(idx)?;
    let first = idx.saturating_sub(1);
    let gutter = (idx + 1).to_string().len();
    let mut out = format!("{:gutter$} |\n", "");
    for (i, l) in lines.iter().enumerate().take(idx + 1).skip(first) {
        out.push_str(&format!("{:>gutter$} | {}\n", i + 1, clip(l)));
    }
    let col = usize::try_from(column).unwrap_or(1).max(1) - 1;
    let line_len = text.chars().count();
    let col = col.min(line_len);
    let width = width.clamp(1, line_len.saturating_sub(col).max(1)).min(60);
    out.push_str(&format!(
        "{:gutter$} | {}{}",
        "",
        " ".repeat(col.min(120)),
        "^".repeat(width)
    ));
    Some(out)
}

/// Longest message or fix kept (they may quote user input).
pub const MAX_MESSAGE: usize = 1000;

/// `text` cut to `max` characters with an ellipsis, for quoting input in messages.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max).collect();
        s.push('…');
        s
    }
}

/// Long lines are cut so a snippet stays readable (and bounded).
fn clip(line: &str) -> String {
    const MAX: usize = 160;
    if line.chars().count() <= MAX {
        line.to_string()
    } else {
        let mut s: String = line.chars().take(MAX).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_everything() {
        let src = "name: x\nclinets: 100\n";
        let e = ConfigError::new(
            ErrorKind::UnknownKey,
            "unknown field `clinets`, did you mean `clients`?",
        )
        .with_file(Path::new("s.yaml"))
        .at(src, 2, 1, 7)
        .with_key("clinets")
        .with_fix("rename `clinets` to `clients`");
        let s = e.to_string();
        assert!(s.starts_with("s.yaml:2:1: unknown field `clinets`"), "{s}");
        assert!(s.contains("2 | clinets: 100"), "{s}");
        assert!(s.contains("  | ^^^^^^^"), "{s}");
        assert!(
            s.contains("= key: clinets") && s.contains("= fix: rename"),
            "{s}"
        );
    }

    #[test]
    fn snippet_out_of_range_is_none() {
        assert!(render_snippet("a: 1", 5, 1, 1).is_none());
        assert!(render_snippet("a: 1", 0, 1, 1).is_none());
        assert!(render_snippet("", 1, 1, 1).is_none());
        assert!(render_snippet("a: 1", 1, 999, 5).is_some());
    }
}
