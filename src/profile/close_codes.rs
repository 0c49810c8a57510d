//! WebSocket close-code profiles: how a client should react to each close code a server sends.
//!
//! Every server invents its own private codes (4000–4999) for "token expired", "logged out" and
//! "replaced by a login elsewhere". A [`CloseProfile`] sorts every code into a [`CloseClass`] — what a
//! well-behaved client does next — so the WebSocket channel (`client::ws`) can act and count the same
//! way against any server. A profile is a preset (the products surveyed in
//! `research/auth-conformance.md` §3) optionally overlaid with a custom map:
//!
//! ```yaml
//! close_codes: pusher                    # a preset name
//! close_codes:                           # or a preset plus overrides
//!   preset: pusher
//!   codes: { 4001: terminal, "4300-4399": backoff }
//!   default: protocol_error
//! ```
//!
//! Lookup order: custom exact codes, custom ranges, the preset's exact codes, the preset's ranges, the
//! RFC 6455 base rules (1000 normal, 1001/1011–1014 backoff, 1008 terminal, 1002/1003/1007/1009/1010
//! protocol error), then the default. [`is_legal_on_wire`] says whether RFC 6455 §7.4 allows a code
//! in a Close frame at all.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// What a client does after the server closed its socket with a given code.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CloseClass {
    /// The access token expired (e.g. 4401): refresh it, then reconnect with the new one.
    RefreshThenReconnect,
    /// Reconnect soon with the current token (first attempt at once, then exponential backoff):
    /// the server dropped the connection, not the session (Pusher 42xx, Centrifugo 3000–3499).
    Reconnect,
    /// The session is over (logout, password change, kicked by a login elsewhere): stop for good.
    Terminal,
    /// The server is overloaded or restarting (e.g. 1013): reconnect after exponential backoff with jitter.
    Backoff,
    /// The client or server broke the protocol, or the code is unknown: count it and stop.
    ProtocolError,
    /// A normal close (1000) with no meaning for the session: stop, do not reconnect.
    Normal,
}

impl CloseClass {
    /// Every class, in declaration order.
    pub const ALL: [CloseClass; 6] = [
        CloseClass::RefreshThenReconnect,
        CloseClass::Reconnect,
        CloseClass::Terminal,
        CloseClass::Backoff,
        CloseClass::ProtocolError,
        CloseClass::Normal,
    ];

    /// The snake_case name used in YAML and in counter names (`ws_close_class.<name>`).
    pub fn name(self) -> &'static str {
        match self {
            CloseClass::RefreshThenReconnect => "refresh_then_reconnect",
            CloseClass::Reconnect => "reconnect",
            CloseClass::Terminal => "terminal",
            CloseClass::Backoff => "backoff",
            CloseClass::ProtocolError => "protocol_error",
            CloseClass::Normal => "normal",
        }
    }

    /// Whether the client opens a new socket after a close of this class.
    pub fn reconnects(self) -> bool {
        matches!(
            self,
            CloseClass::RefreshThenReconnect | CloseClass::Reconnect | CloseClass::Backoff
        )
    }
}

impl fmt::Display for CloseClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether RFC 6455 §7.4 allows `code` in a Close frame on the wire.
///
/// Legal: 1000–1003, 1007–1011, the IANA-registered 1012–1014, 3000–3999 (registered) and
/// 4000–4999 (private use). Illegal: 0–999, 1004 (reserved), 1005/1006/1015 (local-only: "no
/// status", "abnormal closure", "TLS failure"), the unassigned 1016–2999, and 5000 and above.
pub fn is_legal_on_wire(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// One rule of a profile: an inclusive range of codes and its class.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RangeRule {
    codes: RangeInclusive<u16>,
    class: CloseClass,
}

/// Exact codes and range rules at one precedence level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Layer {
    codes: BTreeMap<u16, CloseClass>,
    ranges: Vec<RangeRule>,
}

impl Layer {
    fn lookup(&self, code: u16) -> Option<CloseClass> {
        self.codes.get(&code).copied().or_else(|| {
            self.ranges
                .iter()
                .find(|r| r.codes.contains(&code))
                .map(|r| r.class)
        })
    }

    fn code(mut self, code: u16, class: CloseClass) -> Self {
        self.codes.insert(code, class);
        self
    }

    fn codes(mut self, codes: &[u16], class: CloseClass) -> Self {
        for &c in codes {
            self.codes.insert(c, class);
        }
        self
    }

    fn range(mut self, codes: RangeInclusive<u16>, class: CloseClass) -> Self {
        self.ranges.push(RangeRule { codes, class });
        self
    }
}

/// The names of every preset, for error messages and the JSON Schema.
pub const PRESETS: &[&str] = &[
    "authbench",
    "graphql-ws",
    "pusher",
    "centrifugo",
    "discord",
    "phoenix",
    "generic-1008",
];

/// A close-code profile: sorts every close code into a [`CloseClass`]. See the module docs.
///
/// Deserializes from a preset name (`pusher`) or a map `{ preset, codes, default }`; serializes back
/// to the same shape. The default profile is the `authbench` preset (the mock's codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseProfile {
    name: String,
    /// Highest precedence first; the RFC base layer is always last.
    layers: Vec<Layer>,
    default: CloseClass,
    /// What it was built from, for serialization.
    spec: CloseSpec,
}

impl Default for CloseProfile {
    fn default() -> Self {
        CloseProfile::preset("authbench").expect("the authbench preset exists")
    }
}

/// RFC 6455 §7.4.1 codes every preset shares unless it overrides them.
fn rfc_base() -> Layer {
    use CloseClass::*;
    Layer::default()
        .code(1000, Normal)
        .code(1001, Backoff) // going away: server restart or page navigation
        .codes(&[1002, 1003, 1007, 1009, 1010], ProtocolError)
        .code(1008, Terminal) // policy violation: generic "you may not"
        .codes(&[1011, 1012, 1013, 1014], Backoff) // internal error, restart, try again later, bad gateway
}

/// The preset layer for `name`, its default class, or None for an unknown name.
fn preset_layer(name: &str) -> Option<(Layer, CloseClass)> {
    use CloseClass::*;
    let layer = match name {
        // authbench: the reference mock (DESIGN §5): 4401 session_expired, 4403 logout, 4409 kicked,
        // 1013 over capacity.
        "authbench" => (
            Layer::default()
                .code(4401, RefreshThenReconnect)
                .codes(&[4403, 4409], Terminal)
                .code(1013, Backoff),
            ProtocolError,
        ),
        // graphql-ws: PROTOCOL.md and `CloseCode` in src/common.ts (enisdenjo/graphql-ws). 4403
        // Forbidden is the recommended rejection; the client does not retry 4400/4401/4406/4409/4429
        // (protocol misuse); 4408/4504 are timeouts and 4500 an internal server error (retry).
        "graphql-ws" => (
            Layer::default()
                .code(4403, Terminal)
                .codes(&[4004, 4005, 4400, 4401, 4406, 4409, 4429], ProtocolError)
                .codes(&[4408, 4500, 4504], Backoff),
            ProtocolError,
        ),
        // Pusher Channels: `getCloseAction` in pusher-js src/core/connection/protocol/protocol.ts:
        // 4000–4099 refused (do not reconnect; 4009 = connection unauthorized), 4100–4199 back off,
        // 4200–4299 reconnect at once (4201 pong not received); anything else refused.
        "pusher" => (
            Layer::default()
                .range(4000..=4099, Terminal)
                .range(4100..=4199, Backoff)
                .range(4200..=4299, Reconnect),
            Terminal,
        ),
        // Centrifugo / centrifuge: disconnect.go. 3005 "connection expired" = refresh the token then
        // reconnect; 3000–3499 and 4000–4499 reconnect; 3500–3999 and 4500–4999 terminal (3500 invalid
        // token, 3503 force disconnect).
        "centrifugo" => (
            Layer::default()
                .code(3005, RefreshThenReconnect)
                .range(3000..=3499, Reconnect)
                .range(4000..=4499, Reconnect)
                .range(3500..=3999, Terminal)
                .range(4500..=4999, Terminal),
            ProtocolError,
        ),
        // Discord Gateway: developers/topics/opcodes-and-status-codes.mdx. 4004 authentication failed
        // and 4010–4014 (shard/version/intents) are reconnect=false; 4008 rate limited backs off; the
        // other 4000–4009 codes (4003 not authenticated, 4009 session timed out) reconnect.
        "discord" => (
            Layer::default()
                .codes(&[4000, 4001, 4002, 4003, 4005, 4007, 4009], Reconnect)
                .code(4008, Backoff)
                .codes(&[4004, 4010, 4011, 4012, 4013, 4014], Terminal),
            ProtocolError,
        ),
        // Phoenix: lib/phoenix/socket.ex, assets/js/phoenix/socket.js. A server-side
        // `broadcast(socket_id, "disconnect")` closes with 1001 and phoenix.js reconnects unless the
        // close was a clean 1000 — the handshake must then refuse the old token (HTTP 403).
        "phoenix" => (
            Layer::default().code(1001, Reconnect).code(1000, Normal),
            Reconnect,
        ),
        // Generic servers that close every auth problem with 1008 "policy violation" (RFC 6455 §7.4.1:
        // a generic code that hides details): the client refreshes and reconnects; a dead session
        // then shows as a rejected refresh or a refused handshake.
        "generic-1008" => (
            Layer::default().code(1008, RefreshThenReconnect),
            ProtocolError,
        ),
        _ => return None,
    };
    Some(layer)
}

impl CloseProfile {
    /// A preset by name (see [`PRESETS`]), or None.
    pub fn preset(name: &str) -> Option<CloseProfile> {
        let (layer, default) = preset_layer(name)?;
        Some(CloseProfile {
            name: name.to_string(),
            layers: vec![layer, rfc_base()],
            default,
            spec: CloseSpec {
                preset: Some(name.to_string()),
                codes: BTreeMap::new(),
                default: None,
            },
        })
    }

    /// The profile's name: the preset's, with `+custom` when overridden.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The class of a close with `code`. Codes that are illegal on the wire (see
    /// [`is_legal_on_wire`]) are [`CloseClass::ProtocolError`] whatever the map says.
    pub fn classify(&self, code: u16) -> CloseClass {
        if !is_legal_on_wire(code) {
            return CloseClass::ProtocolError;
        }
        self.layers
            .iter()
            .find_map(|l| l.lookup(code))
            .unwrap_or(self.default)
    }

    /// Build a profile from its serialized shape.
    fn from_spec(spec: CloseSpec) -> Result<CloseProfile, String> {
        let mut profile = match &spec.preset {
            Some(name) => CloseProfile::preset(name).ok_or_else(|| {
                format!(
                    "unknown close-code preset {name:?}; known presets: {}",
                    PRESETS.join(", ")
                )
            })?,
            None => CloseProfile {
                name: "custom".to_string(),
                layers: vec![rfc_base()],
                default: CloseClass::ProtocolError,
                spec: CloseSpec::default(),
            },
        };
        if !spec.codes.is_empty() {
            let mut layer = Layer::default();
            for (key, class) in &spec.codes {
                match key {
                    CodeKey::One(c) => {
                        layer.codes.insert(*c, *class);
                    }
                    CodeKey::Range(lo, hi) => layer.ranges.push(RangeRule {
                        codes: *lo..=*hi,
                        class: *class,
                    }),
                }
            }
            profile.layers.insert(0, layer);
            if spec.preset.is_some() {
                profile.name.push_str("+custom");
            }
        }
        if let Some(d) = spec.default {
            profile.default = d;
        }
        profile.spec = spec;
        Ok(profile)
    }
}

impl FromStr for CloseProfile {
    type Err = String;

    /// A preset name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CloseProfile::preset(s.trim()).ok_or_else(|| {
            format!(
                "unknown close-code preset {:?}; known presets: {}",
                s.trim(),
                PRESETS.join(", ")
            )
        })
    }
}

/// A key of the `codes:` map: one code (`4001`) or an inclusive range (`"4000-4099"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum CodeKey {
    One(u16),
    Range(u16, u16),
}

impl FromStr for CodeKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid close code {s:?}: expected a code such as 4001 or a range such as \"4000-4099\""
            )
        };
        let code = |t: &str| -> Result<u16, String> {
            let c: u16 = t.trim().parse().map_err(|_| bad())?;
            if c > 4999 {
                return Err(format!("close code {c} is out of range (0–4999)"));
            }
            Ok(c)
        };
        match s.split_once('-') {
            None => Ok(CodeKey::One(code(s)?)),
            Some((lo, hi)) => {
                let (lo, hi) = (code(lo)?, code(hi)?);
                if lo > hi {
                    return Err(format!("empty close-code range {s:?} (start after end)"));
                }
                Ok(CodeKey::Range(lo, hi))
            }
        }
    }
}

impl fmt::Display for CodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeKey::One(c) => write!(f, "{c}"),
            CodeKey::Range(lo, hi) => write!(f, "{lo}-{hi}"),
        }
    }
}

impl<'de> Deserialize<'de> for CodeKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = CodeKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a close code such as 4001 or a range such as \"4000-4099\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CodeKey, E> {
                CodeKey::from_str(&v.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<CodeKey, E> {
                CodeKey::from_str(&v.to_string()).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CodeKey, E> {
                CodeKey::from_str(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for CodeKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The map form of a profile, exactly as written in YAML.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseSpec {
    /// The preset to start from (default: none, only the RFC 6455 base rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    preset: Option<String>,
    /// Code or `"lo-hi"` range → class; overrides the preset.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    codes: BTreeMap<CodeKey, CloseClass>,
    /// Class of any code nothing else matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default: Option<CloseClass>,
}

impl<'de> Deserialize<'de> for CloseProfile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CloseProfile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(
                    f,
                    "a close-code preset name ({}) or a map {{ preset, codes, default }}",
                    PRESETS.join(", ")
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CloseProfile, E> {
                CloseProfile::from_str(v).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CloseProfile, A::Error> {
                let spec = CloseSpec::deserialize(de::value::MapAccessDeserializer::new(map))?;
                CloseProfile::from_spec(spec).map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for CloseProfile {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.spec {
            CloseSpec {
                preset: Some(name),
                codes,
                default: None,
            } if codes.is_empty() => s.serialize_str(name),
            spec => spec.serialize(s),
        }
    }
}

impl JsonSchema for CloseProfile {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("CloseProfile")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let class = generator.subschema_for::<CloseClass>();
        json_schema!({
            "description": "WebSocket close-code profile: a preset name, or a map { preset, codes, default } that overrides one. Classes: refresh_then_reconnect, reconnect, terminal, backoff, protocol_error, normal.",
            "oneOf": [
                { "type": "string", "enum": PRESETS },
                {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "preset": { "type": "string", "enum": PRESETS },
                        "codes": {
                            "description": "close code (4001) or inclusive range (\"4000-4099\") -> class",
                            "type": "object",
                            "propertyNames": { "pattern": "^[0-9]{1,4}(-[0-9]{1,4})?$" },
                            "additionalProperties": class
                        },
                        "default": class
                    }
                }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CloseClass::*;

    #[test]
    fn every_class_is_a_member_of_its_counter_family() {
        for class in CloseClass::ALL {
            assert!(
                crate::metrics::names::CLOSE_CLASSES.contains(&class.name()),
                "{class:?}"
            );
        }
    }

    #[test]
    fn legality_follows_rfc6455_section_7_4() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1011, 1012, 1013, 1014, 3000, 4401, 4999,
        ] {
            assert!(is_legal_on_wire(code), "{code} should be legal");
        }
        for code in [
            0,
            999,
            1004,
            1005,
            1006,
            1015,
            1016,
            2000,
            2999,
            5000,
            u16::MAX,
        ] {
            assert!(!is_legal_on_wire(code), "{code} should be illegal");
        }
    }

    #[test]
    fn authbench_preset_matches_the_mock() {
        let p = CloseProfile::preset("authbench").unwrap();
        assert_eq!(p.classify(4401), RefreshThenReconnect);
        assert_eq!(p.classify(4403), Terminal);
        assert_eq!(p.classify(4409), Terminal);
        assert_eq!(p.classify(1013), Backoff);
        assert_eq!(p.classify(1000), Normal);
        assert_eq!(p.classify(4000), ProtocolError);
        assert_eq!(
            p.classify(1006),
            ProtocolError,
            "illegal codes are protocol errors"
        );
        assert_eq!(CloseProfile::default(), p);
    }

    #[test]
    fn range_presets() {
        let p = CloseProfile::preset("pusher").unwrap();
        assert_eq!(p.classify(4009), Terminal);
        assert_eq!(p.classify(4100), Backoff);
        assert_eq!(p.classify(4201), Reconnect);
        assert_eq!(p.classify(4300), Terminal, "pusher refuses unknown codes");
        let c = CloseProfile::preset("centrifugo").unwrap();
        assert_eq!(c.classify(3005), RefreshThenReconnect);
        assert_eq!(c.classify(3001), Reconnect);
        assert_eq!(c.classify(4499), Reconnect);
        assert_eq!(c.classify(3500), Terminal);
        assert_eq!(c.classify(3503), Terminal);
        assert_eq!(c.classify(4500), Terminal);
        let d = CloseProfile::preset("discord").unwrap();
        assert_eq!(d.classify(4004), Terminal);
        assert_eq!(d.classify(4009), Reconnect);
        let g = CloseProfile::preset("generic-1008").unwrap();
        assert_eq!(g.classify(1008), RefreshThenReconnect);
        let x = CloseProfile::preset("phoenix").unwrap();
        assert_eq!(x.classify(1001), Reconnect);
        assert_eq!(x.classify(1000), Normal);
        let q = CloseProfile::preset("graphql-ws").unwrap();
        assert_eq!(q.classify(4403), Terminal);
        assert_eq!(q.classify(4408), Backoff);
        for name in PRESETS {
            assert!(CloseProfile::preset(name).is_some(), "{name}");
        }
    }

    #[test]
    fn custom_map_overrides_preset_and_round_trips() {
        let json = r#"{"preset":"pusher","codes":{"4001":"backoff","4300-4310":"reconnect"},"default":"protocol_error"}"#;
        let p: CloseProfile = serde_json::from_str(json).unwrap();
        assert_eq!(p.name(), "pusher+custom");
        assert_eq!(p.classify(4001), Backoff);
        assert_eq!(p.classify(4002), Terminal);
        assert_eq!(p.classify(4305), Reconnect);
        assert_eq!(p.classify(4400), ProtocolError);
        let back = serde_json::to_string(&p).unwrap();
        let again: CloseProfile = serde_json::from_str(&back).unwrap();
        assert_eq!(again, p);

        let named: CloseProfile = serde_json::from_str(r#""centrifugo""#).unwrap();
        assert_eq!(serde_json::to_string(&named).unwrap(), r#""centrifugo""#);
    }

    #[test]
    fn custom_map_from_yaml_with_integer_keys() {
        let yaml = "preset: authbench\ncodes:\n  4001: terminal\n  \"4100-4199\": backoff\n";
        let p: CloseProfile = serde_saphyr::from_str(yaml).unwrap();
        assert_eq!(p.classify(4001), Terminal);
        assert_eq!(p.classify(4150), Backoff);
        assert_eq!(p.classify(4409), Terminal);
        let p: CloseProfile = serde_saphyr::from_str("discord").unwrap();
        assert_eq!(p.name(), "discord");
    }

    #[test]
    fn bad_input_is_rejected_with_a_useful_message() {
        let e = serde_json::from_str::<CloseProfile>(r#""pushr""#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("known presets: authbench"), "{e}");
        let e = serde_json::from_str::<CloseProfile>(r#"{"codes":{"4x":"terminal"}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid close code"), "{e}");
        let e = serde_json::from_str::<CloseProfile>(r#"{"codes":{"4200-4100":"terminal"}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty close-code range"), "{e}");
        let e = serde_json::from_str::<CloseProfile>(r#"{"preset":"pusher","extra":1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field"), "{e}");
        let e = serde_json::from_str::<CloseProfile>(r#"{"codes":{"4001":"sometimes"}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown variant"), "{e}");
    }

    #[test]
    fn schema_lists_presets() {
        let schema = schemars::schema_for!(CloseProfile);
        let text = serde_json::to_string(&schema).unwrap();
        assert!(
            text.contains("centrifugo") && text.contains("refresh_then_reconnect"),
            "{text}"
        );
    }
}
