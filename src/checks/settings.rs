//! `authbench check --set KEY=VALUE`: the settings of a conformance run that a target profile
//! does not say, written with the same keys and `--set` grammar as a scenario:
//!
//! - the test accounts (`users.pattern`, `users.password`, `users.offset`, `users.csv`, as the
//!   scenario's `users:` section);
//! - the builtin mock's knobs (`mock.faults`, `mock.flaws`, `mock.rotation`, `mock.access_ttl`...,
//!   as the scenario's `mock:` section), laid over the knobs `check` gives its mocks
//!   ([`super::builtin_mock_config`], [`super::builtin_idle_mock_config`]) — only without a
//!   target: against another server they would change nothing, so they are refused.
//!
//! The scenario's other keys (`clients`, `client.*`, `plan`, `expect`, `name`, `description`,
//! `target`) describe a load run; each is refused with what to use instead.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, ErrorKind};
use crate::scenario::overrides::{self, Override};
use crate::scenario::{MockSection, UserSource, UsersSpec};

/// What `check --set` can change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckSettings {
    /// The test accounts (the scenario's `users:` section).
    pub users: UsersSpec,
    /// The builtin mock's knobs (the scenario's `mock:` section).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mock: Option<MockSection>,
}

/// The `--set` overrides of a check run, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRunSettings {
    /// The test users.
    pub users: UserSource,
    /// The `mock.*` overrides, if any, and the last `--set` that gave one (for messages).
    mock: Option<(MockSection, String)>,
}

impl CheckRunSettings {
    /// Reads `overrides` in order; a CSV path is read relative to `base_dir`.
    pub fn from_overrides(overrides: &[String], base_dir: &Path) -> Result<Self, ConfigError> {
        let mut settings = CheckSettings::default();
        let mut doc = serde_json::to_value(&settings).map_err(|e| {
            ConfigError::new(ErrorKind::Invalid, format!("cannot apply --set: {e}"))
        })?;
        let mut last_users = None;
        let mut last_mock = None;
        for raw in overrides {
            let ov = overrides::parse(raw)?;
            refuse_run_only(&ov)?;
            settings = overrides::apply_and_reread(&mut doc, &ov)?;
            match ov.path[0].as_str() {
                "mock" => last_mock = Some(ov.raw.clone()),
                _ => last_users = Some(ov.raw.clone()),
            }
        }
        let users = settings.users.resolve(base_dir).map_err(|e| {
            let mut err = ConfigError::new(ErrorKind::Invalid, e.message)
                .with_fix(e.fix)
                .with_key(format!("users.{}", e.key));
            if let Some(raw) = &last_users {
                err = err.with_set(raw);
            }
            err
        })?;
        let mock = match (settings.mock, last_mock) {
            (Some(section), Some(raw)) => Some((section, raw)),
            _ => None,
        };
        let resolved = CheckRunSettings { users, mock };
        // A bad knob is named now, before any server starts.
        resolved.mock_config(super::builtin_mock_config())?;
        Ok(resolved)
    }

    /// The `--set` that configured the builtin mock, if one did (`mock.faults=[...]`).
    pub fn mock_override(&self) -> Option<&str> {
        self.mock.as_ref().map(|(_, raw)| raw.as_str())
    }

    /// `base` (one of the check run's mock configurations) with the `mock.*` overrides laid
    /// over it.
    pub fn mock_config(
        &self,
        base: authbench_mock::MockConfig,
    ) -> Result<authbench_mock::MockConfig, ConfigError> {
        let Some((section, raw)) = &self.mock else {
            return Ok(base);
        };
        section.apply_to(base).map_err(|p| {
            ConfigError::new(ErrorKind::Override, p.message)
                .with_key(format!("mock.{}", p.key).trim_end_matches('.').to_string())
                .with_fix(p.fix)
                .with_set(raw)
        })
    }
}

/// The scenario keys that describe a load run, refused with what to use instead.
fn refuse_run_only(ov: &Override) -> Result<(), ConfigError> {
    let key = ov.key();
    let run_only = |fix: &str| {
        (
            format!(
                "`{key}` is a setting of a load run (`authbench run`), not of a check run; `check --set` takes users.* and mock.*"
            ),
            fix.to_string(),
        )
    };
    let (message, fix) = match ov.path[0].as_str() {
        "users" | "mock" => return Ok(()),
        "target" => (
            format!("`check` takes its target on the command line, not as `--set {key}`"),
            "give it as the argument: `authbench check FILE|URL` (or --target FILE|URL)"
                .to_string(),
        ),
        "clients" | "client" | "plan" | "expect" => run_only(
            "`check` runs each check with its own clients and steps; to load the server use `authbench run SCENARIO --set ...`; to run fewer checks at once use --jobs N",
        ),
        "name" | "description" => run_only("name the report folder with --out DIR"),
        // Unknown keys: serde names them, with the closest known one.
        _ => return Ok(()),
    };
    Err(ConfigError::new(ErrorKind::Override, message)
        .with_key(key)
        .with_set(&ov.raw)
        .with_fix(fix))
}

/// The test users of a check run after the `--set` overrides (in order); a CSV path is read
/// relative to `base_dir`.
pub fn users_from_overrides(
    overrides: &[String],
    base_dir: &Path,
) -> Result<UserSource, ConfigError> {
    CheckRunSettings::from_overrides(overrides, base_dir).map(|s| s.users)
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

    #[test]
    fn mock_knobs_lay_over_both_check_mocks() {
        let s = CheckRunSettings::from_overrides(
            &[
                "mock.flaws=[idle-never]".into(),
                "mock.faults=[\"latency:refresh=1ms\"]".into(),
                "mock.rotation=false".into(),
            ],
            Path::new("."),
        )
        .unwrap();
        assert_eq!(s.mock_override(), Some("mock.rotation=false"));
        let main = s.mock_config(crate::checks::builtin_mock_config()).unwrap();
        let idle = s
            .mock_config(crate::checks::builtin_idle_mock_config())
            .unwrap();
        for c in [&main, &idle] {
            assert_eq!(c.flaws, vec![authbench_mock::Flaw::IdleNever]);
            assert_eq!(c.faults.len(), 1);
            assert!(!c.rotation);
        }
        // The check run's own knobs stay where the overrides say nothing.
        assert_eq!(main.access_ttl, std::time::Duration::from_secs(2));
        assert_eq!(idle.idle_timeout, std::time::Duration::from_secs(2));
        assert_eq!(
            CheckRunSettings::from_overrides(&[], Path::new("."))
                .unwrap()
                .mock_override(),
            None
        );
    }

    #[test]
    fn run_only_keys_and_bad_knobs_are_refused_with_the_fix() {
        let e = |set: &str| {
            CheckRunSettings::from_overrides(&[set.to_string()], Path::new("."))
                .unwrap_err()
                .to_string()
        };
        let clients = e("clients=3");
        assert!(clients.contains("load run"), "{clients}");
        assert!(clients.contains("--jobs"), "{clients}");
        assert!(e("client.strategy=naive").contains("`client.strategy`"));
        assert!(e("target=http://x").contains("authbench check FILE|URL"));
        assert!(e("name=x").contains("--out"));
        let typo = e("mock.acess_ttl=1s");
        assert!(typo.contains("did you mean `access_ttl`"), "{typo}");
        let flaw = e("mock.flaws=[no-rotaton]");
        assert!(flaw.contains("mock.flaws.0"), "{flaw}");
        assert!(flaw.contains("did you mean `no-rotation`"), "{flaw}");
        let zero = e("mock.access_ttl=0s");
        assert!(zero.contains("access_ttl"), "{zero}");
    }
}
