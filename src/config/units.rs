//! Textual units of authbench files: durations (`30s`, `250ms`, `1h30m`) and rates
//! (`2000/s`, `120/m`), with their serde forms and JSON Schema fragments.
//!
//! Parse errors name the offending value and give examples, and are raised through serde's
//! `custom` error so serde-saphyr attaches the line and column of the value itself.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Examples shown with every duration error.
pub const DURATION_EXAMPLES: &str = "examples: 30s, 250ms, 2m, 1h30m, 0s";

/// Examples shown with every rate error.
pub const RATE_EXAMPLES: &str = "examples: 2000/s, 120/m, 36000/h";

/// Every unit a duration may be written in, grouped by what it means: the short form first, then
/// its other spellings. This is the whole set [`parse_duration`] accepts (a unit outside it is
/// refused before the number is read), what its errors list, and what the schema's
/// [`DURATION_PATTERN`] allows. Units are case-sensitive: `m` is minutes, `M` months.
pub const DURATION_UNITS: &[&[&str]] = &[
    &["ns", "nsec", "nanos"],
    &["us", "µs", "usec"],
    &["ms", "msec", "millis"],
    &["s", "sec", "secs", "second", "seconds"],
    &["m", "min", "mins", "minute", "minutes"],
    &["h", "hr", "hrs", "hour", "hours"],
    &["d", "day", "days"],
    &["w", "wk", "wks", "week", "weeks"],
    &["M", "month", "months"],
    &["y", "yr", "yrs", "year", "years"],
];

/// The regular expression a duration string matches (used in the JSON Schema); its units are
/// [`DURATION_UNITS`] (a test keeps the two the same).
pub const DURATION_PATTERN: &str = r"^\s*0\s*$|^\s*([0-9]+(\.[0-9]+)?\s*(ns|nsec|nanos|us|µs|usec|ms|msec|millis|s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days|w|wk|wks|week|weeks|M|month|months|y|yr|yrs|year|years)\s*)+$";

/// The units as a duration error lists them: `ns|nsec|nanos, us|µs|usec, ...`.
pub fn duration_units() -> String {
    DURATION_UNITS
        .iter()
        .map(|group| group.join("|"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `unit` is one of [`DURATION_UNITS`] (case-sensitive).
fn is_duration_unit(unit: &str) -> bool {
    DURATION_UNITS.iter().any(|g| g.contains(&unit))
}

/// The first unit written in `t` (a run of letters, as humantime reads them) that is not one of
/// [`DURATION_UNITS`].
fn unknown_unit(t: &str) -> Option<&str> {
    let is_letter = |c: char| c.is_ascii_alphabetic() || c == 'µ';
    let mut rest = t;
    while let Some(start) = rest.find(is_letter) {
        let tail = &rest[start..];
        let end = tail.find(|c: char| !is_letter(c)).unwrap_or(tail.len());
        let unit = &tail[..end];
        if !is_duration_unit(unit) {
            return Some(unit);
        }
        rest = &tail[end..];
    }
    None
}

/// The fix for a duration error `msg` (from [`parse_duration`]): the lowercase form it suggests
/// (`2S` → `2s`: units are case-sensitive), or how a duration is written.
pub fn duration_fix(msg: &str) -> String {
    match msg
        .split_once(DID_YOU_MEAN)
        .and_then(|(_, rest)| rest.split_once('`'))
    {
        Some((form, _)) => {
            format!("write `{form}`: units are case-sensitive and lower case (M is months)")
        }
        None => "write a number with a unit: 30s, 250ms, 2m, 1h30m".to_string(),
    }
}

/// How a duration error names the lowercase form of a value with an upper-case unit.
const DID_YOU_MEAN: &str = "did you mean `";

/// The regular expression a rate string matches (used in the JSON Schema).
pub const RATE_PATTERN: &str =
    r"^\s*[0-9]+(\.[0-9]+)?\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$";

/// Parses a duration such as `30s`, `250ms`, `1h30m` or `0`. The error names the value and
/// gives examples.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let s = &super::error::shorten(s, 40);
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() {
        return Err(format!("empty duration ({DURATION_EXAMPLES})"));
    }
    if t.starts_with('-') {
        return Err(format!(
            "invalid duration {s:?}: durations cannot be negative ({DURATION_EXAMPLES})"
        ));
    }
    if t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!(
            "invalid duration {s:?}: a number needs a unit, e.g. {t}s or {t}ms ({DURATION_EXAMPLES})"
        ));
    }
    if let Some(unit) = unknown_unit(t) {
        let unit = super::error::shorten(unit, 20);
        let lower = t.to_lowercase();
        let hint = if lower != t && parse_duration(&lower).is_ok() {
            format!(", {DID_YOU_MEAN}{lower}`? (units are case-sensitive)")
        } else {
            String::new()
        };
        return Err(format!(
            "invalid duration {s:?}: unknown unit {unit:?}{hint}; units: {} ({DURATION_EXAMPLES})",
            duration_units()
        ));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("invalid duration {s:?}: {e} ({DURATION_EXAMPLES})"))
}

/// Formats a duration the way [`parse_duration`] reads it back (`1h 30m`, `250ms`, `0s`).
pub fn format_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".to_string();
    }
    humantime::format_duration(d).to_string()
}

/// serde for `Duration` as a human string (`with = "crate::config::units::human_duration"`).
pub mod human_duration {
    use super::*;

    /// Writes `30s`, `1h 30m`, ...
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }

    /// Reads a duration string (a bare `0` is accepted, other bare numbers need a unit).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(DurationVisitor)
    }

    struct DurationVisitor;

    impl serde::de::Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a duration ({DURATION_EXAMPLES})")
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
            parse_duration(v).map_err(E::custom)
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
            if v == 0 {
                Ok(Duration::ZERO)
            } else {
                Err(E::custom(format!(
                    "invalid duration {v}: a number needs a unit, e.g. {v}s or {v}ms ({DURATION_EXAMPLES})"
                )))
            }
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
            if v == 0 {
                return Ok(Duration::ZERO);
            }
            Err(E::custom(format!(
                "invalid duration {v}: a number needs a unit and cannot be negative ({DURATION_EXAMPLES})"
            )))
        }

        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Duration, E> {
            Err(E::custom(format!(
                "invalid duration {v}: a number needs a unit, e.g. {v}s ({DURATION_EXAMPLES})"
            )))
        }
    }
}

/// serde for `Option<Duration>` as an optional human string.
pub mod human_duration_opt {
    use super::*;

    /// Writes `null` or the duration string.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&format_duration(*d)),
            None => s.serialize_none(),
        }
    }

    /// Reads `null` or a duration string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super::human_duration")] Duration);
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}

/// The JSON Schema of a duration string (for `#[schemars(schema_with = ...)]`).
pub fn duration_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "pattern": DURATION_PATTERN,
        "description": "A duration: a number with a unit (ns, us, ms, s, m, h, d, w, M for months, y, or their long forms such as sec, min, hours), e.g. 30s, 250ms, 1h30m. Units are case-sensitive.",
        "examples": ["30s", "250ms", "1h30m"]
    })
}

/// The JSON Schema of an optional duration string.
pub fn duration_opt_schema(g: &mut SchemaGenerator) -> Schema {
    let mut s = duration_schema(g);
    s.insert("type".into(), serde_json::json!(["string", "null"]));
    s
}

/// An optional byte size in a file: a number of bytes (`65536`) or a size with a unit (`64KiB`,
/// `64k`, `1MiB`), read as the mock's `--max-body` flag reads it; written as a number.
pub mod size_opt {
    use super::*;

    /// Writes `null` or the number of bytes.
    pub fn serialize<S: Serializer>(v: &Option<usize>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(n) => s.serialize_some(n),
            None => s.serialize_none(),
        }
    }

    /// Reads `null`, a number of bytes, or a size string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(usize),
            Text(String),
        }
        match Option::<Raw>::deserialize(d)? {
            None => Ok(None),
            Some(Raw::Bytes(n)) => Ok(Some(n)),
            Some(Raw::Text(t)) => authbench_mock::config::parse_size(&t)
                .map(Some)
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "invalid size {:?}: write a number of bytes or a size with a unit, e.g. 65536, 64KiB, 1MiB",
                        super::super::error::shorten(&t, 40)
                    ))
                }),
        }
    }
}

/// The JSON Schema of an optional byte size (for `#[schemars(schema_with = ...)]`).
pub fn size_opt_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["integer", "string", "null"],
        "minimum": 256,
        "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*([kKmMgG]i?[bB]?|[bB])?\\s*$",
        "description": "A size in bytes: a number (65536) or a number with a unit (64KiB, 64k, 1MiB; binary multiples)",
        "examples": [65536, "64KiB", "1MiB"]
    })
}

/// A request rate for open-model traffic: `2000/s`, `120/m`, `36000/h`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Arrivals per second (finite, above zero).
    pub per_second: f64,
}

impl Rate {
    /// The time between two arrivals.
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.per_second)
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let quoted = super::error::shorten(s, 40);
        let bad = |why: &str| format!("invalid rate {quoted:?}: {why} ({RATE_EXAMPLES})");
        let (n, unit) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| bad("expected NUMBER/UNIT"))?;
        let n: f64 = n
            .trim()
            .parse()
            .map_err(|_| bad(&format!("{:?} is not a number", n.trim())))?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => 1.0,
            "m" | "min" | "minute" => 60.0,
            "h" | "hour" => 3600.0,
            other => return Err(bad(&format!("unknown unit {other:?}; use /s, /m or /h"))),
        };
        let per_second = n / per;
        if !(per_second.is_finite() && per_second > 0.0) {
            return Err(bad("the rate must be above zero"));
        }
        if per_second > 10_000_000.0 {
            return Err(bad("the rate must be at most 10000000/s"));
        }
        Ok(Rate { per_second })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", self.per_second)
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Rate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a rate ({RATE_EXAMPLES})")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Rate, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Rate, E> {
                Err(E::custom(format!(
                    "invalid rate {v}: a rate needs a unit, e.g. {v}/s ({RATE_EXAMPLES})"
                )))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Rate, E> {
                self.visit_u64(v.unsigned_abs())
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Rate, E> {
                Err(E::custom(format!(
                    "invalid rate {v}: a rate needs a unit, e.g. {v}/s ({RATE_EXAMPLES})"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Rate {
    fn schema_name() -> Cow<'static, str> {
        "Rate".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": RATE_PATTERN,
            "description": "Arrivals per second, minute or hour, e.g. 2000/s, 120/m.",
            "examples": ["2000/s", "120/m"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_the_mock_reads_them() {
        #[derive(serde::Deserialize)]
        struct M {
            #[serde(default, with = "size_opt")]
            max_body: Option<usize>,
        }
        let read = |json: &str| serde_json::from_str::<M>(json).map(|m| m.max_body);
        assert_eq!(read(r#"{"max_body": 4096}"#).unwrap(), Some(4096));
        assert_eq!(read(r#"{"max_body": "64KiB"}"#).unwrap(), Some(65_536));
        assert_eq!(read(r#"{"max_body": "64k"}"#).unwrap(), Some(65_536));
        assert_eq!(read(r#"{"max_body": "1MiB"}"#).unwrap(), Some(1 << 20));
        assert_eq!(read("{}").unwrap(), None);
        let e = read(r#"{"max_body": "lots"}"#).unwrap_err().to_string();
        assert!(
            e.contains("invalid size \"lots\"") && e.contains("64KiB"),
            "{e}"
        );
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration(" 0 ").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
    }

    #[test]
    fn duration_errors_name_value_and_examples() {
        let e = parse_duration("30 parsecs").unwrap_err();
        assert!(
            e.contains("\"30 parsecs\"") && e.contains("examples: 30s"),
            "{e}"
        );
        let e = parse_duration("30").unwrap_err();
        assert!(e.contains("needs a unit") && e.contains("30s"), "{e}");
        assert!(parse_duration("-1s").unwrap_err().contains("negative"));
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn durations_round_trip_through_format() {
        for d in ["0s", "250ms", "30s", "1h 30m", "2d"] {
            let parsed = parse_duration(d).unwrap();
            assert_eq!(
                parse_duration(&format_duration(parsed)).unwrap(),
                parsed,
                "{d}"
            );
        }
    }

    #[test]
    fn duration_pattern_matches_what_parses() {
        // The schema pattern is a plain regex; check a few strings by hand against the parser.
        for ok in ["30s", "250ms", "1h30m", "1h 30m", "0", "2d"] {
            assert!(parse_duration(ok).is_ok(), "{ok}");
        }
        for bad in ["30", "fast", "1x"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_unit_list_is_exactly_what_parses() {
        // Every listed unit parses (humantime knows it) ...
        for unit in DURATION_UNITS.iter().flat_map(|g| g.iter()) {
            assert!(parse_duration(&format!("2{unit}")).is_ok(), "{unit}");
            assert!(parse_duration(&format!("1{unit} 3s")).is_ok(), "{unit}");
        }
        // ... and a unit outside the list does not, even where humantime would take it.
        for bad in ["2S", "2H", "2Ms", "2sek", "2parsecs", "2MIN", "2Y"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("unknown unit"), "{bad}: {e}");
            assert!(e.contains(&duration_units()), "{bad}: {e}");
        }
        // The schema's pattern lists the same units, in the same order.
        let listed: Vec<&str> = DURATION_UNITS
            .iter()
            .flat_map(|g| g.iter().copied())
            .collect();
        let inner = DURATION_PATTERN
            .rsplit("\\s*(")
            .next()
            .and_then(|r| r.split(")\\s*)").next())
            .unwrap();
        assert_eq!(inner.split('|').collect::<Vec<_>>(), listed);
    }

    #[test]
    fn an_upper_case_unit_gets_its_lower_case_form() {
        let e = parse_duration("2S").unwrap_err();
        assert!(e.contains("unknown unit \"S\", did you mean `2s`?"), "{e}");
        assert_eq!(
            duration_fix(&e),
            "write `2s`: units are case-sensitive and lower case (M is months)"
        );
        let e = parse_duration("1H30M").unwrap_err();
        assert!(e.contains("did you mean `1h30m`?"), "{e}");
        // No lowercase form parses: the plain fix.
        let e = parse_duration("30 parsecs").unwrap_err();
        assert!(!e.contains("did you mean"), "{e}");
        assert_eq!(
            duration_fix(&e),
            "write a number with a unit: 30s, 250ms, 2m, 1h30m"
        );
    }

    #[test]
    fn rates_parse() {
        assert_eq!("2000/s".parse::<Rate>().unwrap().per_second, 2000.0);
        assert_eq!("120/m".parse::<Rate>().unwrap().per_second, 2.0);
        assert_eq!("3600 / h".parse::<Rate>().unwrap().per_second, 1.0);
        assert_eq!(
            "4/s".parse::<Rate>().unwrap().interval(),
            Duration::from_millis(250)
        );
        for bad in [
            "2000", "0/s", "-5/s", "x/s", "5/d", "nan/s", "inf/s", "1e30/s",
        ] {
            let e = bad.parse::<Rate>().unwrap_err();
            assert!(
                e.contains("invalid rate") && e.contains("2000/s"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn rate_round_trips_as_string() {
        let r: Rate = "120/m".parse().unwrap();
        let json = serde_json::to_value(r).unwrap();
        assert_eq!(json, serde_json::json!("2/s"));
        let back: Rate = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
    }
}
