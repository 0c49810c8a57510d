//! Request templates ([`RequestSpec`]): method, path (or absolute URL), query, headers, a `form:`
//! or `json:` body and optional HTTP basic auth, each with `{{var}}` templates, rendered into a plain
//! `http::Request<Bytes>` (method, absolute URI, headers, body) that `client::transport` sends.
//!
//! ```yaml
//! login:
//!   path: /oauth/token
//!   form: { grant_type: password, username: "{{user}}", password: "{{password}}" }
//! resource:
//!   method: GET
//!   path: /api/me
//!   headers: { Authorization: "Bearer {{access_token}}" }
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::template::{Template, Vars};

/// A rendered request: method, absolute URI, headers and the whole body.
pub type Rendered = http::Request<Bytes>;

/// A JSON body whose strings are templates.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonTemplate {
    /// `null`, booleans and numbers are sent as written.
    Value(serde_json::Value),
    /// A string template.
    Text(Template),
    /// A list.
    Array(Vec<JsonTemplate>),
    /// An object (keys in file order).
    Object(Vec<(String, JsonTemplate)>),
}

/// Deepest nesting of a JSON body template.
const MAX_JSON_DEPTH: usize = 16;

impl JsonTemplate {
    fn from_value(v: serde_json::Value, depth: usize) -> Result<JsonTemplate, String> {
        if depth > MAX_JSON_DEPTH {
            return Err(format!(
                "json body nested deeper than {MAX_JSON_DEPTH} levels"
            ));
        }
        Ok(match v {
            serde_json::Value::String(s) => JsonTemplate::Text(Template::parse(&s)?),
            serde_json::Value::Array(items) => JsonTemplate::Array(
                items
                    .into_iter()
                    .map(|i| JsonTemplate::from_value(i, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            serde_json::Value::Object(map) => JsonTemplate::Object(
                map.into_iter()
                    .map(|(k, v)| Ok((k, JsonTemplate::from_value(v, depth + 1)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => JsonTemplate::Value(other),
        })
    }

    fn to_value(&self) -> serde_json::Value {
        match self {
            JsonTemplate::Value(v) => v.clone(),
            JsonTemplate::Text(t) => serde_json::Value::String(t.as_str().to_string()),
            JsonTemplate::Array(a) => a.iter().map(JsonTemplate::to_value).collect(),
            JsonTemplate::Object(o) => o
                .iter()
                .map(|(k, v)| (k.clone(), v.to_value()))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }

    /// Renders; object members whose template renders empty (missing variable) are left out.
    pub fn render(&self, vars: &Vars<'_>) -> serde_json::Value {
        match self {
            JsonTemplate::Value(v) => v.clone(),
            JsonTemplate::Text(t) => serde_json::Value::String(t.render(vars)),
            JsonTemplate::Array(a) => a.iter().map(|i| i.render(vars)).collect(),
            JsonTemplate::Object(o) => o
                .iter()
                .filter_map(|(k, v)| match v {
                    JsonTemplate::Text(t) => t
                        .render_field(vars)
                        .map(|s| (k.clone(), serde_json::Value::String(s))),
                    other => Some((k.clone(), other.render(vars))),
                })
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }

    /// Every string template in the body, with its dotted key below `at` (`json.client.id`,
    /// `json.scopes.0`).
    fn templates<'a>(&'a self, at: String, out: &mut Vec<(String, &'a Template)>) {
        match self {
            JsonTemplate::Value(_) => {}
            JsonTemplate::Text(t) => out.push((at, t)),
            JsonTemplate::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, v)| v.templates(format!("{at}.{i}"), out)),
            JsonTemplate::Object(o) => o
                .iter()
                .for_each(|(k, v)| v.templates(format!("{at}.{k}"), out)),
        }
    }
}

impl Serialize for JsonTemplate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for JsonTemplate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        JsonTemplate::from_value(v, 0).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for JsonTemplate {
    fn schema_name() -> Cow<'static, str> {
        "JsonBody".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A JSON body; every string in it may use {{variables}}; object members that render empty are left out."
        })
    }
}

/// HTTP basic authentication (`client_secret_basic`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name (e.g. `"{{env.CLIENT_ID}}"`).
    pub user: Template,
    /// Password (e.g. `"{{env.CLIENT_SECRET}}"`); omitted when it renders empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Template>,
}

/// One request of a target profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// HTTP method (default: GET for `resource`, POST for the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "method_schema")]
    pub method: Option<String>,
    /// Path below the base URL (`/oauth/token`), or an absolute http(s) URL.
    pub path: Template,
    /// Query parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, Template>,
    /// Request headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Template>,
    /// `application/x-www-form-urlencoded` body fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<BTreeMap<String, Template>>,
    /// JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<JsonTemplate>,
    /// HTTP basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
}

fn method_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]
    })
}

impl RequestSpec {
    /// A request with `method` and `path` and nothing else.
    pub fn new(method: &str, path: &str) -> RequestSpec {
        RequestSpec {
            method: Some(method.to_string()),
            path: Template::parse(path).unwrap_or_else(|_| Template::parse("/").expect("static")),
            query: BTreeMap::new(),
            headers: BTreeMap::new(),
            form: None,
            json: None,
            basic_auth: None,
        }
    }

    /// Adds a form field (builder style, for presets).
    pub fn form_field(mut self, name: &str, value: &str) -> RequestSpec {
        if let Ok(t) = Template::parse(value) {
            self.form
                .get_or_insert_with(BTreeMap::new)
                .insert(name.to_string(), t);
        }
        self
    }

    /// Adds a query parameter (builder style, for presets).
    pub fn query_param(mut self, name: &str, value: &str) -> RequestSpec {
        if let Ok(t) = Template::parse(value) {
            self.query.insert(name.to_string(), t);
        }
        self
    }

    /// Adds a header (builder style, for presets).
    pub fn header(mut self, name: &str, value: &str) -> RequestSpec {
        if let Ok(t) = Template::parse(value) {
            self.headers.insert(name.to_string(), t);
        }
        self
    }

    /// Sets a JSON body from text (builder style, for presets).
    pub fn json_body(mut self, body: serde_json::Value) -> RequestSpec {
        self.json = JsonTemplate::from_value(body, 0).ok();
        self
    }

    /// Checks what serde cannot: method, header names, one body kind. Returns the sub-key and
    /// message of the first problem.
    pub fn check(&self) -> Result<(), (String, String)> {
        if let Some(m) = &self.method {
            let ok = matches!(
                m.to_ascii_uppercase().as_str(),
                "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS"
            );
            if !ok {
                return Err((
                    "method".into(),
                    format!("unknown HTTP method {m:?} (use GET, POST, PUT, PATCH or DELETE)"),
                ));
            }
        }
        for (name, value) in &self.headers {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err((
                    format!("headers.{name}"),
                    format!("{name:?} is not a valid HTTP header name"),
                ));
            }
            // Caught here, not at every request of the run (where it was counted as the
            // server's transport failure).
            if http::HeaderValue::from_str(value.as_str()).is_err() {
                return Err((
                    format!("headers.{name}"),
                    "the value holds a character an HTTP header cannot carry (a line break or another control character): write it on one line".into(),
                ));
            }
        }
        if self.form.is_some() && self.json.is_some() {
            return Err((
                "json".into(),
                "a request has either a `form:` or a `json:` body, not both".into(),
            ));
        }
        let p = self.path.as_str();
        if !(p.starts_with('/')
            || p.starts_with("http://")
            || p.starts_with("https://")
            || p.starts_with("{{"))
        {
            return Err((
                "path".into(),
                format!("path {p:?} must start with / or be an http(s) URL"),
            ));
        }
        Ok(())
    }

    /// Every template of the request.
    pub fn templates(&self) -> Vec<&Template> {
        self.keyed_templates().into_iter().map(|(_, t)| t).collect()
    }

    /// Every template of the request with its key below the request (`path`, `query.scope`,
    /// `headers.Authorization`, `form.client_id`, `json.a.0`, `basic_auth.user`), so a message
    /// can point at the value itself.
    pub fn keyed_templates(&self) -> Vec<(String, &Template)> {
        let mut out = vec![("path".to_string(), &self.path)];
        fn section<'a>(
            name: &str,
            map: &'a BTreeMap<String, Template>,
        ) -> Vec<(String, &'a Template)> {
            map.iter()
                .map(|(k, t)| (format!("{name}.{k}"), t))
                .collect()
        }
        out.extend(section("query", &self.query));
        out.extend(section("headers", &self.headers));
        if let Some(f) = &self.form {
            out.extend(section("form", f));
        }
        if let Some(j) = &self.json {
            j.templates("json".to_string(), &mut out);
        }
        if let Some(b) = &self.basic_auth {
            out.push(("basic_auth.user".to_string(), &b.user));
            if let Some(p) = &b.password {
                out.push(("basic_auth.password".to_string(), p));
            }
        }
        out
    }

    /// The URL of this request below `base` (a base path is kept: `http://h/auth` + `/token` →
    /// `http://h/auth/token`).
    pub fn url(&self, base: &url::Url, vars: &Vars<'_>) -> String {
        // Rendered straight after the base (one allocation per request), then checked.
        let base = base.as_str().trim_end_matches('/');
        let mut b = String::with_capacity(base.len() + 1 + self.path.known_len(vars));
        b.push_str(base);
        self.path.render_into(vars, &mut b);
        let path = &b[base.len()..];
        if path.starts_with("http://") || path.starts_with("https://") {
            return path.to_string();
        }
        if !path.starts_with('/') {
            b.insert(base.len(), '/');
        }
        b
    }

    /// Renders the request: the method (or `default_method`), the URL below `base` with the query
    /// appended, the headers, then the body (`form:` or `json:`, whose `Content-Type` is added
    /// unless a header set one) and basic auth. Repeated header names are appended, not replaced.
    pub fn render(
        &self,
        base: &url::Url,
        default_method: http::Method,
        vars: &Vars<'_>,
    ) -> Result<Rendered, RequestError> {
        let method = self
            .method
            .as_deref()
            .and_then(|m| match m.bytes().any(|b| b.is_ascii_lowercase()) {
                true => http::Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok(),
                false => http::Method::from_bytes(m.as_bytes()).ok(),
            })
            .unwrap_or(default_method);
        let bad_url = |reason: String| RequestError::Url {
            path: self.path.as_str().to_string(),
            reason,
        };
        let query: Vec<(&str, String)> = self
            .query
            .iter()
            .filter_map(|(k, t)| t.render_field(vars).map(|v| (k.as_str(), v)))
            .collect();
        let uri = if query.is_empty() {
            // The same few URLs every request: parsed once per thread.
            super::uri_memo::parse(&self.url(base, vars)).map_err(bad_url)?
        } else {
            let mut url =
                url::Url::parse(&self.url(base, vars)).map_err(|e| bad_url(e.to_string()))?;
            url.query_pairs_mut().extend_pairs(query);
            http::Uri::try_from(url.as_str()).map_err(|e| bad_url(e.to_string()))?
        };
        let mut req = http::Request::new(Bytes::new());
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        let headers = req.headers_mut();
        for (name, t) in &self.headers {
            if let Some(v) = t.render_field(vars) {
                let bad = || RequestError::Header { name: name.clone() };
                let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
                // Visible ASCII only, as `HeaderValue::from_str` checks; taking the rendered
                // string's buffer saves copying the token into a second one.
                if !v.is_ascii() {
                    return Err(bad());
                }
                headers.append(
                    name,
                    HeaderValue::from_maybe_shared(Bytes::from(v)).map_err(|_| bad())?,
                );
            }
        }
        let body = if let Some(form) = &self.form {
            let fields = form
                .iter()
                .filter_map(|(k, t)| t.render_field(vars).map(|v| (k.as_str(), v)));
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields)
                .finish();
            headers
                .entry(CONTENT_TYPE)
                .or_insert(HeaderValue::from_static(
                    "application/x-www-form-urlencoded",
                ));
            Bytes::from(body)
        } else if let Some(json) = &self.json {
            let body = serde_json::to_vec(&json.render(vars)).unwrap_or_default();
            headers
                .entry(CONTENT_TYPE)
                .or_insert(HeaderValue::from_static("application/json"));
            Bytes::from(body)
        } else {
            Bytes::new()
        };
        if let Some(b) = &self.basic_auth {
            let user = b.user.render(vars);
            let pw = b.password.as_ref().and_then(|p| p.render_field(vars));
            let pair = format!("{user}:{}", pw.unwrap_or_default());
            let value = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            );
            let mut value = HeaderValue::from_str(&value).map_err(|_| RequestError::Header {
                name: "authorization".into(),
            })?;
            value.set_sensitive(true);
            headers.append(AUTHORIZATION, value);
        }
        *req.body_mut() = body;
        Ok(req)
    }
}

/// A `GET` of `url` with no body (discovery documents, JWKS).
pub fn get(url: &url::Url) -> Result<Rendered, RequestError> {
    let uri = http::Uri::try_from(url.as_str()).map_err(|e| RequestError::Url {
        path: url.path().to_string(),
        reason: e.to_string(),
    })?;
    let mut req = http::Request::new(Bytes::new());
    *req.uri_mut() = uri;
    Ok(req)
}

/// A request template that rendered into something HTTP cannot carry. The messages name the
/// template, never the rendered value (it may hold a token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The rendered URL does not parse.
    #[error("the URL of request path {path:?} is invalid once rendered: {reason}")]
    Url {
        /// The path template.
        path: String,
        /// What the URL parser said.
        reason: String,
    },
    /// A rendered header value holds characters not allowed in HTTP headers (e.g. a newline).
    #[error("header {name} cannot carry its rendered value (control characters?)")]
    Header {
        /// The header name.
        name: String,
    },
    /// The profile has no refresh request (a cookie-session server).
    #[error(
        "the target profile has no refresh request (a cookie-session server renews its session in ordinary responses)"
    )]
    NoRefresh,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> RequestSpec {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn builds_form_request() {
        let s = spec(
            "path: /oauth/token\nform: { grant_type: password, username: \"{{user}}\", client_secret: \"{{env.AUTHBENCH_SURELY_UNSET_42}}\" }\n",
        );
        s.check().unwrap();
        let base = url::Url::parse("http://127.0.0.1:9/auth/").unwrap();
        let vars = Vars {
            user: Some("user1"),
            ..Vars::default()
        };
        let req = s.render(&base, http::Method::POST, &vars).unwrap();
        assert_eq!(req.method(), http::Method::POST);
        assert_eq!(req.uri(), "http://127.0.0.1:9/auth/oauth/token");
        assert_eq!(
            req.headers()[CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
        let body = std::str::from_utf8(req.body()).unwrap();
        assert_eq!(body, "grant_type=password&username=user1");
    }

    #[test]
    fn builds_json_request_with_headers_and_query() {
        let s = spec(
            "method: get\npath: \"/admin/users/{{user}}\"\nquery: { q: \"{{session_id}}\", fixed: \"1\" }\nheaders: { Authorization: \"Bearer {{access_token}}\" }\njson: { refresh_token: \"{{refresh_token}}\", n: 3, keep: [\"{{user}}\"] }\n",
        );
        let base = url::Url::parse("http://h").unwrap();
        let vars = Vars {
            user: Some("u"),
            access_token: Some("at"),
            ..Vars::default()
        };
        let req = s.render(&base, http::Method::POST, &vars).unwrap();
        assert_eq!(req.method(), http::Method::GET);
        assert_eq!(req.uri(), "http://h/admin/users/u?fixed=1");
        assert_eq!(req.headers()["authorization"], "Bearer at");
        assert_eq!(req.headers()[CONTENT_TYPE], "application/json");
        let body: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
        assert_eq!(body, serde_json::json!({"n": 3, "keep": ["u"]}));
    }

    #[test]
    fn checks() {
        assert!(
            spec("path: /x\nmethod: FETCH\n")
                .check()
                .unwrap_err()
                .1
                .contains("FETCH")
        );
        assert!(
            spec("path: /x\nheaders: { \"bad name\": x }\n")
                .check()
                .is_err()
        );
        assert_eq!(
            spec("path: /x\nheaders: { X-T: \"a\\r\\nb {{access_token}}\" }\n")
                .check()
                .unwrap_err()
                .0,
            "headers.X-T"
        );
        assert!(
            spec("path: /x\nheaders: { X-T: \"Bearer {{access_token}}\" }\n")
                .check()
                .is_ok()
        );
        assert!(
            spec("path: /x\nform: {a: b}\njson: {a: b}\n")
                .check()
                .is_err()
        );
        assert!(spec("path: x\n").check().unwrap_err().0 == "path");
        assert!(spec("path: https://idp.example/token\n").check().is_ok());
    }

    #[test]
    fn basic_auth_explicit_content_type_and_bad_values() {
        let s = spec(
            "path: /t\nheaders: { Content-Type: application/x-amz-json-1.1, X-Trace: \"{{access_token}}\" }\njson: { a: 1 }\nbasic_auth: { user: client, password: \"{{password}}\" }\n",
        );
        let base = url::Url::parse("http://h").unwrap();
        let vars = Vars {
            password: Some("s3cret"),
            access_token: Some("at"),
            ..Vars::default()
        };
        let req = s.render(&base, http::Method::POST, &vars).unwrap();
        assert_eq!(req.headers()[CONTENT_TYPE], "application/x-amz-json-1.1");
        // base64("client:s3cret")
        assert_eq!(req.headers()[AUTHORIZATION], "Basic Y2xpZW50OnMzY3JldA==");
        let newline = Vars {
            access_token: Some("a\nb"),
            ..Vars::default()
        };
        let e = s.render(&base, http::Method::POST, &newline).unwrap_err();
        assert_eq!(
            e,
            RequestError::Header {
                name: "X-Trace".into()
            }
        );
        assert!(!e.to_string().contains("a\nb"));
    }

    #[test]
    fn urls_join_under_the_base_methods_ignore_case_and_header_values_stay_ascii() {
        let base = url::Url::parse("http://h/base/").unwrap();
        let vars = Vars {
            access_token: Some("at"),
            ..Vars::default()
        };
        assert_eq!(spec("path: /me\n").url(&base, &vars), "http://h/base/me");
        assert_eq!(spec("path: me\n").url(&base, &vars), "http://h/base/me");
        assert_eq!(
            spec("path: \"{{access_token}}/x\"\n").url(&base, &vars),
            "http://h/base/at/x"
        );
        let put = spec("path: /x\nmethod: put\n").render(&base, http::Method::GET, &vars);
        assert_eq!(put.unwrap().method(), http::Method::PUT);
        let accented = Vars {
            access_token: Some("é"),
            ..Vars::default()
        };
        let e = spec("path: /x\nheaders: { X-T: \"{{access_token}}\" }\n")
            .render(&base, http::Method::GET, &accented)
            .unwrap_err();
        assert_eq!(e, RequestError::Header { name: "X-T".into() });
    }

    #[test]
    fn absolute_urls_win() {
        let s = spec("path: https://idp.example/token\n");
        let base = url::Url::parse("http://h/base").unwrap();
        assert_eq!(s.url(&base, &Vars::default()), "https://idp.example/token");
    }
}
