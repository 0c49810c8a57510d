//! `cookie_session:` — a server whose credential is a session cookie (Django, Rails,
//! express-session, Spring Session): no refresh endpoint, renewal by `Set-Cookie` in ordinary
//! responses, and the headers such servers demand on cookie-carrying unsafe requests — `Origin`
//! and a CSRF token read from a cookie or from a page.
//!
//! ```yaml
//! cookie_session:
//!   cookie: sessionid                   # the session cookie set by `login`
//!   csrf: { cookie: csrftoken, header: X-CSRFToken, page: /accounts/login/ }
//!   # or from a page: { page: /app/, selector: "meta[name=csrf-token]", header: X-CSRF-Token }
//!   origin: https://app.example.com     # default: the base URL's origin; "" sends none
//!   login_redirect: /accounts/login/    # a redirect there means the session is gone
//! ```
//!
//! The client side (the jar, sliding renewal, CSRF and `Origin` headers, re-login) is
//! `client::session` with strategy `cookie-session`; the page is read with `scraper`
//! ([`token_in_page`]).

use http::HeaderName;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::request::RequestSpec;
use super::template::Template;

/// `cookie_session:` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CookieSessionSpec {
    /// Name of the session cookie the login response sets (Django `sessionid`, Rails
    /// `_<app>_session`, express-session `connect.sid`, Spring Session `SESSION`). Every request
    /// carries the client's cookie jar; a `Set-Cookie` of it in any response renews the session.
    pub cookie: String,
    /// The CSRF token sent on unsafe methods (POST, PUT, PATCH, DELETE): from a cookie
    /// (`cookie:`) or from an element of a page (`page:` + `selector:`), in header `header:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csrf: Option<CsrfSpec>,
    /// `Origin` sent on unsafe methods (default: the base URL's origin; `""`: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// A redirect (3xx) whose `Location` contains this text means "the session is gone, log in"
    /// (Django's `LOGIN_URL`, e.g. `/accounts/login/`), like a 401 (`access_rejected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_redirect: Option<String>,
}

/// `cookie_session.csrf:` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CsrfSpec {
    /// The request header the token goes in (Django `X-CSRFToken`, Rails `X-CSRF-Token`,
    /// Angular/Spring `X-XSRF-TOKEN`).
    pub header: String,
    /// Read the token from this cookie (Django `csrftoken`, Spring `XSRF-TOKEN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
    /// A page fetched with GET before every login (it sets the CSRF cookie, or holds the token);
    /// with `selector`, fetched again after the login (the token is rotated there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<Template>,
    /// CSS selector of the element of `page` holding the token: its `value` (a hidden input,
    /// `input[name=csrfmiddlewaretoken]`) or `content` (`meta[name=csrf-token]`, Rails).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
}

/// Where the CSRF token comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum CsrfSource {
    /// A cookie of the jar.
    Cookie(String),
    /// An element of the page (`Csrf::page`).
    Page {
        /// The CSS selector (checked to parse).
        selector: String,
    },
}

/// The CSRF settings, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Csrf {
    /// The header the token goes in.
    pub header: HeaderName,
    /// Where it comes from.
    pub source: CsrfSource,
    /// The page fetched before (and with a selector, after) every login.
    pub page: Option<RequestSpec>,
}

/// A cookie-session server, checked ([`CookieSessionSpec::resolve`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CookieSession {
    /// The session cookie's name.
    pub cookie: String,
    /// The CSRF token, if the server wants one.
    pub csrf: Option<Csrf>,
    /// The `Origin` value of unsafe requests, if any.
    pub origin: Option<http::HeaderValue>,
    /// The `Location` fragment of a redirect to the login page.
    pub login_redirect: Option<String>,
}

/// A problem: the key below `cookie_session`, the message, the fix.
pub type Problem = (String, String, String);

fn cookie_name_ok(n: &str) -> bool {
    !n.is_empty()
        && n.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

impl CookieSessionSpec {
    /// Checks the section against the profile's `base_url`.
    pub fn resolve(&self, base_url: &url::Url) -> Result<CookieSession, Problem> {
        let cookie = self.cookie.trim();
        if !cookie_name_ok(cookie) {
            return Err((
                "cookie".into(),
                format!("{:?} is not a cookie name", self.cookie),
                "name the session cookie the login sets, e.g. cookie: sessionid".into(),
            ));
        }
        let origin = match self.origin.as_deref().map(str::trim) {
            Some("") => None,
            Some(o) => {
                let parsed = url::Url::parse(o).ok().filter(|u| {
                    matches!(u.scheme(), "http" | "https") && u.path() == "/" && u.query().is_none()
                });
                let Some(u) = parsed else {
                    return Err((
                        "origin".into(),
                        format!("{o:?} is not an origin (scheme://host[:port])"),
                        "write e.g. origin: https://app.example.com, or \"\" to send none".into(),
                    ));
                };
                http::HeaderValue::from_str(&u.origin().ascii_serialization()).ok()
            }
            None => http::HeaderValue::from_str(&base_url.origin().ascii_serialization()).ok(),
        };
        let csrf = match &self.csrf {
            Some(c) => Some(c.resolve()?),
            None => None,
        };
        let login_redirect = self
            .login_redirect
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        Ok(CookieSession {
            cookie: cookie.to_string(),
            csrf,
            origin,
            login_redirect,
        })
    }
}

impl CsrfSpec {
    fn resolve(&self) -> Result<Csrf, Problem> {
        let header = HeaderName::from_bytes(self.header.trim().as_bytes()).map_err(|_| {
            (
                "csrf.header".to_string(),
                format!("{:?} is not a header name", self.header),
                "write the header the server reads the token from, e.g. header: X-CSRFToken"
                    .to_string(),
            )
        })?;
        let source = match (&self.cookie, &self.selector) {
            (Some(_), Some(_)) => {
                return Err((
                    "csrf".into(),
                    "`csrf` names both a `cookie` and a `selector`".into(),
                    "keep one: `cookie: csrftoken` (the token is in a cookie) or `page:` + `selector:` (it is in a page)".into(),
                ));
            }
            (None, None) => {
                return Err((
                    "csrf".into(),
                    "`csrf` says where the token goes (`header`) but not where it comes from".into(),
                    "add `cookie: csrftoken` (Django) or `page: /path` + `selector: \"meta[name=csrf-token]\"` (Rails)".into(),
                ));
            }
            (Some(c), None) => {
                if !cookie_name_ok(c.trim()) {
                    return Err((
                        "csrf.cookie".into(),
                        format!("{c:?} is not a cookie name"),
                        "name the cookie holding the token, e.g. cookie: csrftoken".into(),
                    ));
                }
                CsrfSource::Cookie(c.trim().to_string())
            }
            (None, Some(sel)) => {
                if self.page.is_none() {
                    return Err((
                        "csrf.selector".into(),
                        "a `selector` needs the `page` it applies to".into(),
                        "add `page: /path/of/a/page/holding/the/token`".into(),
                    ));
                }
                if scraper::Selector::parse(sel).is_err() {
                    return Err((
                        "csrf.selector".into(),
                        format!("{sel:?} is not a CSS selector"),
                        "write e.g. selector: \"input[name=csrfmiddlewaretoken]\" or \"meta[name=csrf-token]\"".into(),
                    ));
                }
                CsrfSource::Page {
                    selector: sel.clone(),
                }
            }
        };
        let page = self.page.as_ref().map(|p| RequestSpec {
            path: p.clone(),
            ..RequestSpec::new("GET", "/")
        });
        Ok(Csrf {
            header,
            source,
            page,
        })
    }
}

/// The token in `html`: the `value` (else `content`) attribute of the first element `selector`
/// matches. `None` when nothing matches or the selector does not parse.
pub fn token_in_page(html: &str, selector: &str) -> Option<String> {
    let sel = scraper::Selector::parse(selector).ok()?;
    let doc = scraper::Html::parse_document(html);
    let el = doc.select(&sel).next()?;
    let v = el.value();
    v.attr("value")
        .or_else(|| v.attr("content"))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// Whether `method` is unsafe (RFC 9110 §9.2.1): the CSRF token and `Origin` go with it.
pub fn unsafe_method(method: &http::Method) -> bool {
    !matches!(
        *method,
        http::Method::GET | http::Method::HEAD | http::Method::OPTIONS | http::Method::TRACE
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> url::Url {
        url::Url::parse("http://127.0.0.1:8000/app/").unwrap()
    }

    fn spec(yaml: &str) -> CookieSessionSpec {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn origin_defaults_to_the_base_url_and_can_be_off() {
        let c = spec("cookie: sessionid\n").resolve(&base()).unwrap();
        assert_eq!(c.origin.unwrap(), "http://127.0.0.1:8000");
        let c = spec("cookie: sessionid\norigin: \"\"\n")
            .resolve(&base())
            .unwrap();
        assert!(c.origin.is_none());
        let e = spec("cookie: sessionid\norigin: https://a.example/x\n")
            .resolve(&base())
            .unwrap_err();
        assert_eq!(e.0, "origin");
    }

    #[test]
    fn csrf_needs_exactly_one_source() {
        let ok = spec("cookie: s\ncsrf: { cookie: csrftoken, header: X-CSRFToken }\n")
            .resolve(&base())
            .unwrap();
        let csrf = ok.csrf.unwrap();
        assert_eq!(csrf.source, CsrfSource::Cookie("csrftoken".into()));
        assert_eq!(csrf.header.as_str(), "x-csrftoken");
        for (yaml, key) in [
            ("cookie: s\ncsrf: { header: X-CSRFToken }\n", "csrf"),
            (
                "cookie: s\ncsrf: { header: X, cookie: c, selector: meta, page: / }\n",
                "csrf",
            ),
            (
                "cookie: s\ncsrf: { header: X, selector: meta }\n",
                "csrf.selector",
            ),
            (
                "cookie: s\ncsrf: { header: X, selector: \"[[\", page: / }\n",
                "csrf.selector",
            ),
            (
                "cookie: s\ncsrf: { header: \"bad header\", cookie: c }\n",
                "csrf.header",
            ),
            ("cookie: \"a b\"\n", "cookie"),
        ] {
            let e = spec(yaml).resolve(&base()).unwrap_err();
            assert_eq!(e.0, key, "{yaml}: {e:?}");
        }
    }

    #[test]
    fn reads_the_token_of_an_input_or_a_meta_tag() {
        let page = r#"<html><head><meta name="csrf-token" content="meta-tok"></head>
            <body><form><input type="hidden" name="csrfmiddlewaretoken" value="input-tok"></form></body></html>"#;
        assert_eq!(
            token_in_page(page, "meta[name=csrf-token]").as_deref(),
            Some("meta-tok")
        );
        assert_eq!(
            token_in_page(page, "input[name=csrfmiddlewaretoken]").as_deref(),
            Some("input-tok")
        );
        assert_eq!(token_in_page(page, "input[name=other]"), None);
        assert!(unsafe_method(&http::Method::POST));
        assert!(!unsafe_method(&http::Method::GET));
    }
}
