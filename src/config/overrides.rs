//! `--set key=value` overrides: a dotted key path (`client.strategy`, `mock.access_ttl`,
//! `plan.2.traffic.duration`) and a YAML scalar value (`naive`, `100`, `5s`, `true`; flow lists
//! and maps such as `[a, b]` work too). Applied to the file's JSON form, one at a time, so an error
//! names the override that caused it.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::{ConfigError, ErrorKind, did_you_mean};

/// One parsed `--set` argument.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The argument as given (`client.strategy=naive`).
    pub raw: String,
    /// The key path segments (`["client", "strategy"]`).
    pub path: Vec<String>,
    /// The value.
    pub value: Value,
    /// The value as typed, used as a string when the key wants one (`--set name=2024`).
    pub text: String,
}

impl Override {
    /// The dotted key.
    pub fn key(&self) -> String {
        self.path.join(".")
    }

    /// Whether this override set `path` or something inside or above it.
    pub fn touches(&self, path: &str) -> bool {
        let key = self.key();
        path == key || path.starts_with(&format!("{key}.")) || key.starts_with(&format!("{path}."))
    }
}

fn bad(raw: &str, message: impl Into<String>, fix: impl Into<String>) -> ConfigError {
    ConfigError::new(ErrorKind::Override, message)
        .with_set(raw)
        .with_fix(fix)
}

/// Parses `key=value`.
pub fn parse(raw: &str) -> Result<Override, ConfigError> {
    let Some((key, value)) = raw.split_once('=') else {
        return Err(bad(
            raw,
            "expected KEY=VALUE",
            "write e.g. --set client.strategy=naive or --set mock.access_ttl=5s",
        ));
    };
    let key = key.trim();
    let path: Vec<String> = key.split('.').map(|s| s.trim().to_string()).collect();
    if key.is_empty() || path.iter().any(String::is_empty) {
        return Err(bad(
            raw,
            format!("invalid key {key:?}"),
            "write a dotted path of keys, e.g. client.concurrency or plan.2.traffic.duration",
        ));
    }
    Ok(Override {
        raw: raw.to_string(),
        path,
        value: parse_value(value),
        text: value.trim().to_string(),
    })
}

/// A YAML scalar (or flow collection); anything that does not parse is taken as a string.
fn parse_value(text: &str) -> Value {
    let t = text.trim();
    if t.is_empty() {
        return Value::Null;
    }
    match serde_saphyr::from_str_with_options::<Value>(t, crate::config::yaml::options()) {
        Ok(v @ (Value::Array(_) | Value::Object(_)))
            if t.starts_with('[') || t.starts_with('{') =>
        {
            v
        }
        Ok(Value::Array(_) | Value::Object(_)) | Err(_) => Value::String(t.to_string()),
        Ok(v) => v,
    }
}

/// Sets `ov` in `doc`, creating missing sections.
pub fn apply(doc: &mut Value, ov: &Override) -> Result<(), ConfigError> {
    // The plan's phase names by index, for a path that names a phase at the wrong index.
    let phases: Vec<String> = doc
        .get("plan")
        .and_then(Value::as_array)
        .map(|plan| {
            plan.iter()
                .map(|p| {
                    p.as_object()
                        .and_then(|m| m.keys().next().cloned())
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    let mut cur = doc;
    let mut walked: Vec<&str> = Vec::new();
    for (i, seg) in ov.path.iter().enumerate() {
        let last = i + 1 == ov.path.len();
        if cur.is_null() {
            *cur = Value::Object(Default::default());
        }
        let here = if walked.is_empty() {
            "the top level".to_string()
        } else {
            format!("`{}`", walked.join("."))
        };
        cur = match cur {
            Value::Object(map) => {
                // A phase is a one-key map: `plan.2.duration` most likely meant `plan.2.traffic.duration`.
                if map.len() == 1
                    && walked.len() == 2
                    && walked[0] == "plan"
                    && !map.contains_key(seg.as_str())
                    && let Some(phase) = map.keys().next()
                {
                    // `plan.1.trafic.duration`: the phase named (or misspelt) is at another index.
                    let named = if phases.iter().any(|p| p == seg) {
                        Some(seg.clone())
                    } else {
                        did_you_mean(seg, phases.iter().map(String::as_str))
                    };
                    if let Some(name) = named
                        && let Some(j) = phases.iter().position(|p| *p == name)
                    {
                        let tail: String =
                            ov.path[i + 1..].iter().map(|p| format!(".{p}")).collect();
                        return Err(bad(
                            &ov.raw,
                            format!("{here} is a `{phase}` phase; the `{name}` phase is plan.{j}"),
                            format!("write --set plan.{j}.{name}{tail}=..."),
                        ));
                    }
                    let rest = ov.path[i..].join(".");
                    return Err(bad(
                        &ov.raw,
                        format!("{here} is a `{phase}` phase"),
                        format!("write --set {}.{phase}.{rest}=...", walked.join(".")),
                    ));
                }
                if last {
                    map.insert(seg.clone(), ov.value.clone());
                    return Ok(());
                }
                map.entry(seg.clone()).or_insert(Value::Null)
            }
            Value::Array(items) => {
                let n = items.len();
                let idx = seg.parse::<usize>().ok().filter(|&k| k < n).ok_or_else(|| {
                    bad(
                        &ov.raw,
                        format!("{here} is a list of {n} entries and `{seg}` is not an index into it"),
                        format!(
                            "use an index from 0 to {}, e.g. --set {}.0...",
                            n.saturating_sub(1),
                            walked.join(".")
                        ),
                    )
                })?;
                if last {
                    items[idx] = ov.value.clone();
                    return Ok(());
                }
                &mut items[idx]
            }
            _ => {
                return Err(bad(
                    &ov.raw,
                    format!("{here} is a single value, it has no key `{seg}`"),
                    format!("set {here} itself, e.g. --set {}=...", walked.join(".")),
                ));
            }
        };
        walked.push(seg);
    }
    Ok(())
}

/// Applies `ov` to `doc` and re-reads it as `T`; errors name the override and suggest keys. A
/// number or boolean value that the key does not accept is retried as the string typed.
/// Reads `src` (a `kind` file, `file` for messages) into `T`, then applies the `--set` overrides
/// `sets` in order, each re-read into `T` (see [`apply_and_reread`]); `on_error` may add to an
/// override's error (a fix from the value as typed). Returns the value and the parsed overrides.
pub fn parse_with_sets<T: DeserializeOwned + serde::Serialize>(
    src: &str,
    file: Option<&std::path::Path>,
    kind: super::DocKind,
    sets: &[String],
    on_error: impl Fn(&Override, ConfigError) -> ConfigError,
) -> Result<(T, Vec<Override>), ConfigError> {
    let ovs = sets
        .iter()
        .map(|raw| parse(raw))
        .collect::<Result<Vec<_>, _>>()?;
    let mut value: T = super::yaml::parse(src, file, kind)?;
    if !ovs.is_empty() {
        let mut doc = serde_json::to_value(&value).map_err(|e| {
            ConfigError::new(ErrorKind::Invalid, format!("cannot apply --set: {e}"))
        })?;
        for ov in &ovs {
            value = reread_after(&mut doc, ov, Some(kind)).map_err(|e| on_error(ov, e))?;
        }
    }
    Ok((value, ovs))
}

pub fn apply_and_reread<T: DeserializeOwned>(
    doc: &mut Value,
    ov: &Override,
) -> Result<T, ConfigError> {
    reread_after(doc, ov, None)
}

/// [`apply_and_reread`]; a value of the wrong kind is told what the key takes from `kind`'s
/// hints and schema.
fn reread_after<T: DeserializeOwned>(
    doc: &mut Value,
    ov: &Override,
    kind: Option<super::DocKind>,
) -> Result<T, ConfigError> {
    apply(doc, ov)?;
    let first = serde_json::from_value::<T>(doc.clone());
    if first.is_err()
        && !ov.value.is_string()
        && ov.value.as_array().is_none()
        && ov.value.as_object().is_none()
    {
        let mut as_text = doc.clone();
        let retry = Override {
            value: Value::String(ov.text.clone()),
            ..ov.clone()
        };
        apply(&mut as_text, &retry)?;
        if let Ok(v) = serde_json::from_value::<T>(as_text.clone()) {
            *doc = as_text;
            return Ok(v);
        }
    }
    first.map_err(|e| {
        let msg = e.to_string();
        let takes = kind.and_then(|k| k.what_key_takes(&ov.key()));
        let (message, fix) = explain(&msg, ov, takes.as_deref());
        bad(&ov.raw, message, fix).with_key(ov.key())
    })
}

/// A message and fix for a serde_json error caused by `ov`; `takes`: what its key takes, when
/// known.
fn explain(msg: &str, ov: &Override, takes: Option<&str>) -> (String, String) {
    let expected = backticked_after(msg, "expected");
    let found = msg.split('`').nth(1).unwrap_or_default().to_string();
    if msg.starts_with("unknown field") {
        return match did_you_mean(&found, expected.iter().map(String::as_str)) {
            Some(s) => (
                format!("unknown key `{found}`, did you mean `{s}`?"),
                format!("--set {}", ov.raw.replacen(&found, &s, 1)),
            ),
            None => (
                format!("unknown key `{found}`"),
                format!("keys allowed there: {}", expected.join(", ")),
            ),
        };
    }
    if msg.starts_with("unknown variant") {
        return match did_you_mean(&found, expected.iter().map(String::as_str)) {
            Some(s) => (
                format!("unknown value `{found}`, did you mean `{s}`?"),
                format!("allowed: {}", expected.join(", ")),
            ),
            None => (
                format!("unknown value `{found}`"),
                format!("allowed: {}", expected.join(", ")),
            ),
        };
    }
    let fix = if msg.contains("invalid duration") {
        crate::config::units::duration_fix(msg)
    } else if msg.contains("invalid rate") {
        "write arrivals per unit of time: 2000/s, 120/m".to_string()
    } else if let Some(takes) = takes {
        format!("`{}` takes {takes}", ov.key())
    } else if msg.contains("invalid type") {
        format!(
            "give `{}` a value of the right type (see `authbench schema`)",
            ov.key()
        )
    } else {
        format!("check the value of `{}`", ov.key())
    };
    // serde names Rust types (`expected u32`, `expected struct variant`); a reader gets the
    // kind of value.
    let mut msg = msg
        .replace("expected string or map", "expected a name")
        .replace("expected struct variant", "expected a mapping (key: value)");
    for ty in ["u8", "u16", "u32", "u64", "usize"] {
        if let Some(head) = msg.strip_suffix(&format!("expected {ty}")) {
            msg = format!("{head}expected a whole number");
        }
    }
    (msg, fix)
}

/// The backticked names after `word` in a serde message ("expected one of `a`, `b`").
fn backticked_after(msg: &str, word: &str) -> Vec<String> {
    let Some(i) = msg.find(word) else {
        return Vec::new();
    };
    msg[i..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(doc: &mut Value, raw: &str) -> Result<(), ConfigError> {
        apply(doc, &parse(raw)?)
    }

    #[test]
    fn values_are_yaml_scalars() {
        assert_eq!(parse("a=100").unwrap().value, json!(100));
        assert_eq!(parse("a=true").unwrap().value, json!(true));
        assert_eq!(parse("a=5s").unwrap().value, json!("5s"));
        assert_eq!(
            parse("a=single-flight").unwrap().value,
            json!("single-flight")
        );
        assert_eq!(parse("a=").unwrap().value, Value::Null);
        assert_eq!(parse("a=[x, y]").unwrap().value, json!(["x", "y"]));
        assert_eq!(parse("a=k: v").unwrap().value, json!("k: v"));
        assert_eq!(
            parse("a=p99(x) < 1ms").unwrap().value,
            json!("p99(x) < 1ms")
        );
        assert_eq!(parse("a=x=y").unwrap().value, json!("x=y"));
    }

    #[test]
    fn keys_are_checked() {
        for raw in ["novalue", "=5", "a..b=1", ".a=1"] {
            let e = parse(raw).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Override, "{raw}");
            assert!(e.to_string().contains("--set"), "{e}");
        }
    }

    #[test]
    fn applies_into_sections_and_lists() {
        let mut doc =
            json!({"clients": 1, "plan": [{"login": {}}, {"traffic": {"duration": "20s"}}]});
        set(&mut doc, "clients=100").unwrap();
        set(&mut doc, "client.strategy=naive").unwrap();
        set(&mut doc, "mock.access_ttl=5s").unwrap();
        set(&mut doc, "plan.1.traffic.duration=5s").unwrap();
        assert_eq!(doc["clients"], json!(100));
        assert_eq!(doc["client"]["strategy"], json!("naive"));
        assert_eq!(doc["mock"]["access_ttl"], json!("5s"));
        assert_eq!(doc["plan"][1]["traffic"]["duration"], json!("5s"));
    }

    #[test]
    fn bad_paths_explain_themselves() {
        let mut doc = json!({"clients": 1, "plan": [{"traffic": {"duration": "20s"}}]});
        let e = set(&mut doc, "plan.5.traffic.duration=5s")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("list of 1 entries") && e.contains("0 to 0"),
            "{e}"
        );
        let e = set(&mut doc, "plan.0.duration=5s").unwrap_err().to_string();
        assert!(
            e.contains("`traffic` phase") && e.contains("plan.0.traffic.duration"),
            "{e}"
        );
        // A phase named (or misspelt) at another phase's index: the fix points at its own.
        let mut storm = json!({"plan": [{"login": {}}, {"sync_expiry": {}}, {"traffic": {}}]});
        for raw in ["plan.1.trafic.duration=2s", "plan.1.traffic.duration=2s"] {
            let e = set(&mut storm, raw).unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains("`plan.1` is a `sync_expiry` phase; the `traffic` phase is plan.2"),
                "{text}"
            );
            assert_eq!(
                e.diagnostic().fix.as_deref(),
                Some("write --set plan.2.traffic.duration=...")
            );
        }
        let e = set(&mut doc, "clients.x=5").unwrap_err().to_string();
        assert!(e.contains("single value"), "{e}");
    }

    #[test]
    fn explains_serde_messages() {
        let ov = parse("clinets=5").unwrap();
        let (m, f) = explain(
            "unknown field `clinets`, expected one of `name`, `clients`, `plan`",
            &ov,
            None,
        );
        assert!(m.contains("did you mean `clients`"), "{m}");
        assert_eq!(f, "--set clients=5");
    }
}
