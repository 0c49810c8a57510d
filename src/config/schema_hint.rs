//! What a key of a configuration file takes, read from the file's JSON Schema — the same schema
//! `authbench schema` prints, generated from the types the loader deserializes into — so that a
//! value of the wrong kind is answered with the key's allowed names, kind and range, for every
//! key, instead of serde's words (`externally tagged enum expected scalar or mapping`,
//! `expected u32`).
//!
//! Key paths are the dotted ones of [`super::ConfigError`] (`client.strategy`,
//! `plan.2.traffic.duration`); a numeric segment is a list's item. `#/definitions/...` references,
//! single-entry `allOf`s, `Option`'s `null` alternative and a tagged list's one-key variants are
//! followed.

use serde_json::Value;

/// How deep references may nest before the walk gives up (the schemas are shallow; a cycle ends here).
const MAX_DEPTH: usize = 32;

/// What `key` takes in a document described by `schema`, as a phrase for a fix
/// (`one of: naive, single-flight, proactive`, `a whole number from 1 to 64`, `true or false`);
/// `None` when the schema does not know the key or says nothing useful about it.
pub fn what_key_takes(schema: &Value, key: &str) -> Option<String> {
    let node = find(schema, schema, key)?;
    describe(schema, node, 0)
}

/// The schema of `key` under `node`.
fn find<'a>(root: &'a Value, node: &'a Value, key: &str) -> Option<&'a Value> {
    let mut node = node;
    for seg in key.split('.').filter(|s| !s.is_empty()) {
        node = child(root, node, seg, 0)?;
    }
    Some(node)
}

/// The schema of `seg` (a property, or a list's item when numeric) under `node`.
fn child<'a>(root: &'a Value, node: &'a Value, seg: &str, depth: usize) -> Option<&'a Value> {
    if depth > MAX_DEPTH {
        return None;
    }
    let node = resolve(root, node, depth)?;
    if let Some(p) = node.get("properties").and_then(|p| p.get(seg)) {
        return Some(p);
    }
    if seg.parse::<usize>().is_ok()
        && let Some(items) = node.get("items")
    {
        return Some(items);
    }
    // Alternatives (a tagged variant, a scenario or a profile at the root): the first that has it.
    for alt in alternatives(node) {
        if let Some(found) = child(root, alt, seg, depth + 1) {
            return Some(found);
        }
    }
    node.get("additionalProperties").filter(|a| a.is_object())
}

/// `node` with its `$ref` (to `#/definitions/...` or `#/$defs/...`) and single-entry `allOf`
/// followed.
fn resolve<'a>(root: &'a Value, node: &'a Value, depth: usize) -> Option<&'a Value> {
    let mut node = node;
    for _ in depth..MAX_DEPTH {
        if let Some(r) = node.get("$ref").and_then(Value::as_str) {
            let name = r
                .strip_prefix("#/definitions/")
                .or_else(|| r.strip_prefix("#/$defs/"))?;
            node = root
                .get("definitions")
                .or_else(|| root.get("$defs"))?
                .get(name)?;
        } else if let Some([only]) = node
            .get("allOf")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            node = only;
        } else {
            return Some(node);
        }
    }
    None
}

fn alternatives(node: &Value) -> impl Iterator<Item = &Value> {
    ["oneOf", "anyOf"]
        .into_iter()
        .filter_map(|k| node.get(k).and_then(Value::as_array))
        .flatten()
}

/// A phrase for what `node` accepts.
fn describe(root: &Value, node: &Value, depth: usize) -> Option<String> {
    let node = resolve(root, node, depth)?;
    if let Some(names) = names(root, node, depth) {
        return Some(match names.as_slice() {
            [one] => format!("`{one}`"),
            _ => format!("one of: {}", names.join(", ")),
        });
    }
    let parts = parts(root, node, depth)?;
    Some(match parts.as_slice() {
        [init @ .., last] if !init.is_empty() => format!("{} or {last}", init.join(", ")),
        _ => parts.concat(),
    })
}

/// What `node` accepts as a list of alternatives: names backticked, kinds as phrases
/// (`` `per-client` ``, `a whole number of at least 1`).
fn parts(root: &Value, node: &Value, depth: usize) -> Option<Vec<String>> {
    if depth > MAX_DEPTH {
        return None;
    }
    let node = resolve(root, node, depth)?;
    if let Some(names) = names(root, node, depth) {
        return Some(names.iter().map(|n| format!("`{n}`")).collect());
    }
    let alts: Vec<&Value> = alternatives(node).filter(|a| !is_null(a)).collect();
    let mut out: Vec<String> = Vec::new();
    if alts.is_empty() {
        let kinds: Vec<&str> = match node.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .collect(),
            _ => Vec::new(),
        };
        out.extend(kinds.iter().map(|k| kind_phrase(node, k)));
        if kinds.is_empty() && node.get("properties").is_some() {
            out.push(kind_phrase(node, "object"));
        }
        if out.is_empty() && node.is_object() {
            // A schema that constrains nothing (`{}` or only a description).
            out.push("any value".into());
        }
    } else {
        for alt in alts {
            for p in parts(root, alt, depth + 1)? {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The allowed names when `node` is a choice of fixed strings (`enum`, `const`, or alternatives
/// of those).
fn names(root: &Value, node: &Value, depth: usize) -> Option<Vec<String>> {
    if let Some(c) = node.get("const") {
        return Some(vec![scalar_text(c)?]);
    }
    if let Some(e) = node.get("enum").and_then(Value::as_array) {
        return e.iter().filter(|v| !v.is_null()).map(scalar_text).collect();
    }
    let alts: Vec<&Value> = alternatives(node).filter(|a| !is_null(a)).collect();
    if alts.is_empty() || depth > MAX_DEPTH {
        return None;
    }
    let mut all = Vec::new();
    for alt in alts {
        all.extend(names(root, resolve(root, alt, depth + 1)?, depth + 1)?);
    }
    Some(all)
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn is_null(node: &Value) -> bool {
    node.get("type").and_then(Value::as_str) == Some("null")
        || node.get("const").is_some_and(Value::is_null)
}

/// A phrase for one JSON type of `node`, with its range or examples.
fn kind_phrase(node: &Value, kind: &str) -> String {
    match kind {
        "integer" => format!("a whole number{}", range(node, true)),
        "number" => format!("a number{}", range(node, false)),
        "boolean" => "true or false".into(),
        "array" => "a list".into(),
        "object" => "a mapping (key: value)".into(),
        "string" => match examples(node) {
            Some(e) => format!("a value such as {e}"),
            None => "a text".into(),
        },
        other => format!("a value of type {other}"),
    }
}

/// ` from 1 to 64`, ` of at least 1`, ` of at most 1`, or nothing; bounds that only restate the
/// storage type (0 for an unsigned number, 2^32 − 1) are left out.
fn range(node: &Value, whole: bool) -> String {
    let bound = |k: &str| node.get(k).and_then(Value::as_f64);
    let shown = |v: f64| -> String {
        if whole || v.fract() == 0.0 {
            format!("{}", v as i64)
        } else {
            v.to_string()
        }
    };
    let min = bound("minimum").filter(|m| !(whole && *m == 0.0));
    let max = bound("maximum").filter(|m| !(whole && *m >= f64::from(u32::MAX)));
    match (min, max) {
        (Some(lo), Some(hi)) => format!(" from {} to {}", shown(lo), shown(hi)),
        (Some(lo), None) => format!(" of at least {}", shown(lo)),
        (None, Some(hi)) => format!(" of at most {}", shown(hi)),
        (None, None) => String::new(),
    }
}

/// `30s, 250ms or 1h30m` from the schema's examples.
fn examples(node: &Value) -> Option<String> {
    let ex: Vec<String> = node
        .get("examples")?
        .as_array()?
        .iter()
        .filter_map(scalar_text)
        .map(|e| format!("`{e}`"))
        .collect();
    match ex.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        [init @ .., last] => Some(format!("{} or {last}", init.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "anyOf": [{ "$ref": "#/definitions/Doc" }, { "$ref": "#/definitions/Other" }],
            "definitions": {
                "Doc": {
                    "type": "object",
                    "properties": {
                        "client": { "allOf": [{ "$ref": "#/definitions/Client" }] },
                        "plan": { "type": "array", "items": { "$ref": "#/definitions/Phase" } },
                        "name": { "type": ["string", "null"] }
                    }
                },
                "Other": { "type": "object", "properties": { "base_url": { "type": "string" } } },
                "Client": {
                    "type": "object",
                    "properties": {
                        "strategy": { "$ref": "#/definitions/Strategy" },
                        "tabs": { "type": "integer", "minimum": 1, "maximum": 64 },
                        "count": { "type": "integer", "minimum": 0, "maximum": 4294967295u64 },
                        "share": { "type": "number", "minimum": 0.0, "maximum": 1.0 },
                        "ws": { "type": "boolean" },
                        "think": { "type": "string", "examples": ["30s", "250ms", "1h30m"] },
                        "pool": { "oneOf": [
                            { "enum": ["per-client"], "type": "string" },
                            { "type": "integer", "minimum": 1, "maximum": 4294967295u64 }
                        ] },
                        "mode": { "anyOf": [{ "$ref": "#/definitions/Strategy" }, { "type": "null" }] }
                    }
                },
                "Strategy": { "oneOf": [
                    { "const": "naive", "type": "string" },
                    { "const": "single-flight", "type": "string" }
                ] },
                "Phase": { "oneOf": [
                    { "type": "object", "properties": { "login": { "type": "object", "properties": {
                        "ramp": { "type": "string", "examples": ["2s"] } } } } },
                    { "type": "object", "properties": { "traffic": { "type": "object", "properties": {
                        "concurrency": { "type": "integer", "minimum": 1 } } } } }
                ] }
            }
        })
    }

    #[test]
    fn names_kinds_and_ranges_come_from_the_schema() {
        let s = schema();
        let takes = |k: &str| what_key_takes(&s, k);
        assert_eq!(
            takes("client.strategy").as_deref(),
            Some("one of: naive, single-flight")
        );
        assert_eq!(
            takes("client.mode").as_deref(),
            Some("one of: naive, single-flight")
        );
        assert_eq!(
            takes("client.tabs").as_deref(),
            Some("a whole number from 1 to 64")
        );
        assert_eq!(takes("client.count").as_deref(), Some("a whole number"));
        assert_eq!(
            takes("client.share").as_deref(),
            Some("a number from 0 to 1")
        );
        assert_eq!(takes("client.ws").as_deref(), Some("true or false"));
        assert_eq!(
            takes("client.think").as_deref(),
            Some("a value such as `30s`, `250ms` or `1h30m`")
        );
        assert_eq!(
            takes("client.pool").as_deref(),
            Some("`per-client` or a whole number of at least 1")
        );
        assert_eq!(takes("name").as_deref(), Some("a text"));
        assert_eq!(takes("client").as_deref(), Some("a mapping (key: value)"));
    }

    #[test]
    fn lists_tagged_variants_and_the_other_root_are_followed() {
        let s = schema();
        assert_eq!(
            what_key_takes(&s, "plan.1.traffic.concurrency").as_deref(),
            Some("a whole number of at least 1")
        );
        assert_eq!(
            what_key_takes(&s, "plan.0.login.ramp").as_deref(),
            Some("a value such as `2s`")
        );
        assert_eq!(what_key_takes(&s, "plan").as_deref(), Some("a list"));
        assert_eq!(what_key_takes(&s, "base_url").as_deref(), Some("a text"));
    }

    #[test]
    fn unknown_keys_and_cycles_give_nothing() {
        let s = schema();
        assert_eq!(what_key_takes(&s, "client.nope"), None);
        assert_eq!(what_key_takes(&s, "nope.deeper"), None);
        let cycle = json!({
            "$ref": "#/definitions/A",
            "definitions": { "A": { "$ref": "#/definitions/A" } }
        });
        assert_eq!(what_key_takes(&cycle, "x"), None);
    }
}
