//! `authbench check --set KEY=VALUE`: the settings of a conformance run that a target profile
//! does not say, written with the same keys and `--set` grammar as a scenario. Today that is the
//! test accounts (`users.pattern`, `users.password`, `users.offset`, `users.csv`, as the
//! scenario's `users:` section).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, ErrorKind};
use crate::scenario::overrides;
use crate::scenario::{UserSource, UsersSpec};

/// What `check --set` can change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckSettings {
    /// The test accounts (the scenario's `users:` section).
    pub users: UsersSpec,
}

/// The test users of a check run after the `--set` overrides (in order); a CSV path is read
/// relative to `base_dir`.
pub fn users_from_overrides(
    overrides: &[String],
    base_dir: &Path,
) -> Result<UserSource, ConfigError> {
    let mut settings = CheckSettings::default();
    let mut doc = serde_json::to_value(&settings)
        .map_err(|e| ConfigError::new(ErrorKind::Invalid, format!("cannot apply --set: {e}")))?;
    let mut last = None;
    for raw in overrides {
        let ov = overrides::parse(raw)?;
        settings = overrides::apply_and_reread(&mut doc, &ov)?;
        last = Some(ov);
    }
    settings.users.resolve(base_dir).map_err(|e| {
        let mut err = ConfigError::new(ErrorKind::Invalid, e.message)
            .with_fix(e.fix)
            .with_key(format!("users.{}", e.key));
        if let Some(ov) = last {
            err = err.with_set(ov.raw);
        }
        err
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_and_offset() {
        let u = users_from_overrides(
            &[
                "users.pattern=tester{n}@example.com".into(),
                "users.password=secret-{n}".into(),
                "users.offset=10".into(),
            ],
            Path::new("."),
        )
        .unwrap();
        assert_eq!(
            u.credentials(2),
            ("tester12@example.com".to_string(), "secret-12".to_string())
        );
        let default = users_from_overrides(&[], Path::new(".")).unwrap();
        assert_eq!(default, UserSource::default());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = users_from_overrides(&["clients=3".into()], Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains("clients"), "{e}");
        let e = users_from_overrides(&["users.patern=u{n}".into()], Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean `pattern`"), "{e}");
        let e = users_from_overrides(&["users.pattern=fixed".into()], Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains("{n}"), "{e}");
    }
}
