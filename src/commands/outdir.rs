//! Where a run's files go: `--out DIR`, or a new folder `reports/<name>-<YYYYmmdd-HHMMSS>/`.

use std::io;
use std::path::{Path, PathBuf};

use crate::exit::CliError;

/// Most `-N` suffixes tried for a default folder taken by runs started in the same second.
const MAX_SUFFIX: u32 = 10_000;

/// The output folder for a run named `name`. `--out DIR` is created if missing and may hold an
/// earlier report, which the run's report replaces ([`authbench::report::write_all`]). The
/// default folder is always a new one: created atomically, with `-2`, `-3`, … appended when a run
/// started in the same second (another process or the previous command) has taken the name.
pub fn prepare(out: Option<&Path>, name: &str) -> Result<PathBuf, CliError> {
    let made = match out {
        Some(d) => std::fs::create_dir_all(d).map(|()| d.to_path_buf()),
        None => {
            let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
            create_new(
                Path::new("reports"),
                &format!("{}-{stamp}", safe_name(name)),
            )
        }
    };
    made.map_err(|e| {
        let (dir, fix) = match out {
            Some(d) => (
                d.display().to_string(),
                "give --out a folder you can write to (it is created if missing)",
            ),
            None => (
                format!("reports/{}-…", safe_name(name)),
                "run from a folder you can write to, or give --out DIR",
            ),
        };
        CliError::cannot_proceed(format!(
            "cannot create the output folder {dir}: {e}\n  = fix: {fix}"
        ))
    })
}

/// `name` with every character other than ASCII letters, digits, `-` and `_` replaced by `-`.
fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Creates `parent/base`, else `parent/base-2`, `parent/base-3`, …: the first that did not exist.
/// `create_dir` fails on an existing folder, so two processes never get the same one.
fn create_new(parent: &Path, base: &str) -> io::Result<PathBuf> {
    std::fs::create_dir_all(parent)?;
    for n in 1..=MAX_SUFFIX {
        let dir = match n {
            1 => parent.join(base),
            n => parent.join(format!("{base}-{n}")),
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{base} and {MAX_SUFFIX} numbered variants of it already exist"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_default_folder_gets_a_numbered_one() {
        let tmp = tempfile::tempdir().unwrap();
        let a = create_new(tmp.path(), "check-20260101-000000").unwrap();
        let b = create_new(tmp.path(), "check-20260101-000000").unwrap();
        let c = create_new(tmp.path(), "check-20260101-000000").unwrap();
        assert_eq!(a, tmp.path().join("check-20260101-000000"));
        assert_eq!(b, tmp.path().join("check-20260101-000000-2"));
        assert_eq!(c, tmp.path().join("check-20260101-000000-3"));
    }

    #[test]
    fn names_are_made_safe() {
        assert_eq!(safe_name("a b/../c"), "a-b----c");
    }
}
