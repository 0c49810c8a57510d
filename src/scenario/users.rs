//! Where simulated clients get their credentials: a pattern (`user{n}` / `pw-{n}`) or a CSV file
//! of `username,password` rows ([`UserSource`]), and the `users:` file form ([`UsersSpec`]).
//!
//! Client `n` (0-based, across all shards) always gets the same credentials, so shards of one run
//! never share a user.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// The largest CSV file read (bounded memory).
pub const MAX_CSV_BYTES: u64 = 64 * 1024 * 1024;

/// Where credentials come from, resolved (CSV rows loaded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSource {
    /// `{n}` in both strings is replaced by `offset + n`.
    Pattern {
        /// Username template, e.g. `user{n}`.
        pattern: String,
        /// Password template, e.g. `pw-{n}`.
        password: String,
        /// Added to the client number.
        offset: u64,
    },
    /// Rows of a CSV file.
    Csv(CsvUsers),
}

impl Default for UserSource {
    fn default() -> Self {
        UserSource::Pattern {
            pattern: "user{n}".into(),
            password: "pw-{n}".into(),
            offset: 0,
        }
    }
}

/// The rows of a `username,password` CSV file. `Debug` shows the path and row count, never the
/// passwords.
#[derive(Clone, PartialEq, Eq)]
pub struct CsvUsers {
    /// The file they were read from.
    pub path: PathBuf,
    rows: Arc<[(String, String)]>,
}

impl std::fmt::Debug for CsvUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvUsers")
            .field("path", &self.path)
            .field("rows", &self.rows.len())
            .finish()
    }
}

impl CsvUsers {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows (never true for a loaded file).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

impl UserSource {
    /// The (username, password) of client `n`. CSV rows wrap around past the end (validation
    /// makes sure a scenario has at least as many rows as clients).
    pub fn credentials(&self, n: u64) -> (String, String) {
        match self {
            UserSource::Pattern {
                pattern,
                password,
                offset,
            } => {
                let k = offset.saturating_add(n).to_string();
                (pattern.replace("{n}", &k), password.replace("{n}", &k))
            }
            UserSource::Csv(csv) => {
                if csv.rows.is_empty() {
                    return (String::new(), String::new());
                }
                let i = (n % csv.rows.len() as u64) as usize;
                csv.rows[i].clone()
            }
        }
    }

    /// How many distinct users there are (`None`: unbounded pattern).
    pub fn distinct(&self) -> Option<u64> {
        match self {
            UserSource::Pattern { .. } => None,
            UserSource::Csv(c) => Some(c.len() as u64),
        }
    }
}

/// The `users:` section as written: `{ pattern, password, offset }` or `{ csv }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsersSpec {
    /// Username template with `{n}` (default `user{n}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Password template with `{n}` (default `pw-{n}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Added to each client's number (default 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// A `username,password` CSV file, relative to the scenario file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csv: Option<String>,
}

impl JsonSchema for UsersSpec {
    fn schema_name() -> Cow<'static, str> {
        "Users".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Where each client's credentials come from: a pattern where {n} is the client number, or a CSV file of username,password rows (relative to the scenario file).",
            "oneOf": [
                {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "pattern": { "type": "string", "default": "user{n}", "description": "Username template; {n} = offset + client number." },
                        "password": { "type": "string", "default": "pw-{n}", "description": "Password template; {n} as in pattern." },
                        "offset": { "type": "integer", "minimum": 0, "default": 0, "description": "Added to each client's number." }
                    }
                },
                {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["csv"],
                    "properties": {
                        "csv": { "type": "string", "description": "Path of a username,password CSV file, relative to the scenario file." }
                    }
                }
            ]
        })
    }
}

/// A problem with the `users:` section: the key it concerns and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsersError {
    /// Key below `users` (`csv`, `pattern`, ...).
    pub key: &'static str,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

impl UsersSpec {
    /// Resolves the section; a CSV path is read relative to `base_dir`.
    pub fn resolve(&self, base_dir: &Path) -> Result<UserSource, UsersError> {
        if let Some(csv) = &self.csv {
            if self.pattern.is_some() || self.password.is_some() || self.offset.is_some() {
                return Err(UsersError {
                    key: "csv",
                    message: "`csv` cannot be combined with `pattern`, `password` or `offset`"
                        .into(),
                    fix: "use either { csv: users.csv } or { pattern: \"user{n}\", password: \"pw-{n}\" }".into(),
                });
            }
            let path = base_dir.join(csv);
            let rows = read_csv(&path).map_err(|message| UsersError {
                key: "csv",
                message,
                fix: "give a readable file with one `username,password` row per user (an optional header row `username,password` is skipped)".into(),
            })?;
            return Ok(UserSource::Csv(CsvUsers {
                path,
                rows: rows.into(),
            }));
        }
        let pattern = self.pattern.clone().unwrap_or_else(|| "user{n}".into());
        let password = self.password.clone().unwrap_or_else(|| "pw-{n}".into());
        if !pattern.contains("{n}") {
            return Err(UsersError {
                key: "pattern",
                message: format!(
                    "the username pattern {pattern:?} has no {{n}}, so every client would be the same user"
                ),
                fix: "put {n} where the client number goes, e.g. \"user{n}\"".into(),
            });
        }
        Ok(UserSource::Pattern {
            pattern,
            password,
            offset: self.offset.unwrap_or(0),
        })
    }
}

fn read_csv(path: &Path) -> Result<Vec<(String, String)>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|e| format!("cannot read users file {}: {e}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_CSV_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read users file {}: {e}", path.display()))?;
    if text.len() as u64 > MAX_CSV_BYTES {
        return Err(format!(
            "users file {} is larger than {} MiB",
            path.display(),
            MAX_CSV_BYTES >> 20
        ));
    }
    parse_csv(&text).map_err(|e| format!("users file {}: {e}", path.display()))
}

/// Parses `username,password` rows with the `csv` crate: blank lines and `#` comments (a line
/// whose first field starts with `#`) are skipped, a first row `username,password` (or `user,password`) is a header, fields may be
/// double-quoted (`""` is a quote inside), further columns are ignored. A field cannot span lines
/// (a quote left open is an error, not a password that swallows the rest of the file).
pub fn parse_csv(text: &str) -> Result<Vec<(String, String)>, String> {
    // Every record ends with a line break, so an unclosed quote always shows as one inside a field.
    let text: std::borrow::Cow<'_, str> = if text.ends_with('\n') {
        text.into()
    } else {
        format!("{text}\n").into()
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        let line = record.position().map_or(0, |p| p.line());
        let indented_comment = record
            .get(0)
            .is_some_and(|f| f.trim_start().starts_with('#'));
        if indented_comment || record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if record.iter().any(|f| f.contains(['\n', '\r'])) {
            return Err(format!("line {line}: unclosed quote"));
        }
        let (Some(user), Some(pw)) = (record.get(0), record.get(1)) else {
            return Err(format!(
                "line {line}: expected `username,password`, found one field"
            ));
        };
        let user = user.trim();
        if rows.is_empty()
            && matches!(user.to_ascii_lowercase().as_str(), "username" | "user")
            && pw.trim().eq_ignore_ascii_case("password")
        {
            continue;
        }
        if user.is_empty() {
            return Err(format!("line {line}: empty username"));
        }
        rows.push((user.to_string(), pw.to_string()));
    }
    if rows.is_empty() {
        return Err("no `username,password` rows".into());
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_credentials() {
        let u = UsersSpec {
            offset: Some(10),
            ..UsersSpec::default()
        }
        .resolve(Path::new("."))
        .unwrap();
        assert_eq!(u.credentials(5), ("user15".into(), "pw-15".into()));
        assert_eq!(u.distinct(), None);
    }

    #[test]
    fn pattern_needs_n() {
        let e = UsersSpec {
            pattern: Some("alice".into()),
            ..UsersSpec::default()
        }
        .resolve(Path::new("."))
        .unwrap_err();
        assert_eq!(e.key, "pattern");
        assert!(e.message.contains("same user"));
    }

    #[test]
    fn csv_rows() {
        let rows = parse_csv("username,password\n# c\nalice,\"p,w\"\"x\"\n\nbob,secret,extra\r\n")
            .unwrap();
        assert_eq!(
            rows,
            vec![
                ("alice".into(), "p,w\"x".into()),
                ("bob".into(), "secret".into())
            ]
        );
        assert!(parse_csv("alice\n").unwrap_err().contains("line 1"));
        assert!(parse_csv("a,\"b\n").unwrap_err().contains("unclosed"));
        assert!(parse_csv("username,password\n").is_err());
        assert!(parse_csv(",pw\n").unwrap_err().contains("empty username"));
        assert!(parse_csv("a,\"b").unwrap_err().contains("unclosed"));
        let e = parse_csv("# header comment\n  # indented\nalice,1\nbob\n").unwrap_err();
        assert!(e.contains("line 4"), "{e}");
        assert_eq!(
            parse_csv("\"a\"\"b\",pw").unwrap(),
            vec![("a\"b".into(), "pw".into())]
        );
    }

    #[test]
    fn csv_file_resolves_relative_and_wraps() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("u.csv"), "a,1\nb,2\n").unwrap();
        let u = UsersSpec {
            csv: Some("u.csv".into()),
            ..UsersSpec::default()
        }
        .resolve(dir.path())
        .unwrap();
        assert_eq!(u.distinct(), Some(2));
        assert_eq!(u.credentials(1), ("b".into(), "2".into()));
        assert_eq!(u.credentials(2), ("a".into(), "1".into()));
        assert!(
            !format!("{u:?}").contains("\"2\""),
            "Debug must not show passwords"
        );
        let e = UsersSpec {
            csv: Some("missing.csv".into()),
            ..UsersSpec::default()
        }
        .resolve(dir.path())
        .unwrap_err();
        assert!(e.message.contains("missing.csv"), "{}", e.message);
    }
}
