//! Where a run's files go: `--out DIR`, or `reports/<name>-<YYYYmmdd-HHMMSS>/`.

use std::path::{Path, PathBuf};

use crate::exit::CliError;

/// The output folder for a run named `name`, created if missing.
pub fn prepare(out: Option<&Path>, name: &str) -> Result<PathBuf, CliError> {
    let dir = match out {
        Some(d) => d.to_path_buf(),
        None => {
            let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
            let safe: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            PathBuf::from("reports").join(format!("{safe}-{stamp}"))
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| {
        let fix = match out {
            Some(_) => "give --out a folder you can write to (it is created if missing)",
            None => "run from a folder you can write to, or give --out DIR",
        };
        CliError::cannot_proceed(format!(
            "cannot create the output folder {}: {e}\n  = fix: {fix}",
            dir.display()
        ))
    })?;
    Ok(dir)
}
