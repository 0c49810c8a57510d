//! A tiny per-session cookie store.
//!
//! A refresh token may live in an HttpOnly cookie set by the login/refresh response. Connections
//! are shared by many sessions in pool mode, so cookies cannot belong to a connection: each session
//! keeps its own few cookies here, filled from the `Set-Cookie` headers of token responses (parsed
//! by [`SetCookie`], the same parser the `cookie:` extractor uses) and sent back as one `Cookie`
//! header on refresh and logout. Attributes other than an expiry that deletes the cookie are
//! ignored (a simulated client talks to one origin).

use http::HeaderMap;

use crate::profile::extract::SetCookie;

/// Upper bound on the number of cookies kept, so a hostile server cannot grow a session.
const MAX_COOKIES: usize = 16;
/// Upper bound on one cookie's `name=value` length.
const MAX_COOKIE_LEN: usize = 4096;

/// The cookies of one session, in the order they were first set.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CookieJar {
    cookies: Vec<(Box<str>, Box<str>)>,
}

impl CookieJar {
    /// Takes every `Set-Cookie` header of a response into the jar. A cookie with `Max-Age=0` (or a
    /// negative one) or an empty value removes the stored cookie of that name.
    pub fn absorb(&mut self, headers: &HeaderMap) {
        for c in SetCookie::all(headers) {
            self.absorb_one(c);
        }
    }

    fn absorb_one(&mut self, c: SetCookie) {
        if c.name.len() + c.value.len() > MAX_COOKIE_LEN {
            return;
        }
        let existing = self.cookies.iter().position(|(n, _)| **n == c.name);
        match (existing, c.deleted) {
            (Some(i), true) => {
                self.cookies.remove(i);
            }
            (Some(i), false) => self.cookies[i].1 = c.value.into(),
            (None, false) if self.cookies.len() < MAX_COOKIES => {
                self.cookies.push((c.name.into(), c.value.into()))
            }
            _ => {}
        }
    }

    /// The value of one cookie.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| &**v)
    }

    /// The `Cookie` request header value, or `None` when the jar is empty.
    pub fn header_value(&self) -> Option<String> {
        self.header_value_except(None)
    }

    /// The `Cookie` request header value without the cookie named `skip` (sent separately, e.g.
    /// the refresh-token cookie the profile adds itself), or `None` when nothing is left.
    pub fn header_value_except(&self, skip: Option<&str>) -> Option<String> {
        let mut out = String::new();
        for (n, v) in self.cookies.iter().filter(|(n, _)| Some(&**n) != skip) {
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(n);
            out.push('=');
            out.push_str(v);
        }
        (!out.is_empty()).then_some(out)
    }

    /// Forgets every cookie (logout).
    pub fn clear(&mut self) {
        self.cookies = Vec::new();
    }

    /// Whether the jar holds no cookie.
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use http::header::SET_COOKIE;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(SET_COOKIE, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn stores_replaces_and_sends_back() {
        let mut jar = CookieJar::default();
        assert_eq!(jar.header_value(), None);
        jar.absorb(&headers(&[
            "refresh_token=rt-1; HttpOnly; Path=/; SameSite=Strict",
            "other=x",
        ]));
        assert_eq!(jar.get("refresh_token"), Some("rt-1"));
        jar.absorb(&headers(&["refresh_token=rt-2; HttpOnly"]));
        assert_eq!(
            jar.header_value().as_deref(),
            Some("refresh_token=rt-2; other=x")
        );
        assert_eq!(
            jar.header_value_except(Some("refresh_token")).as_deref(),
            Some("other=x")
        );
        assert_eq!(
            jar.header_value_except(Some("other")).as_deref(),
            Some("refresh_token=rt-2")
        );
    }

    #[test]
    fn max_age_zero_and_empty_value_delete() {
        let mut jar = CookieJar::default();
        jar.absorb(&headers(&["a=1", "b=2"]));
        jar.absorb(&headers(&["a=gone; Max-Age=0", "b=; Path=/"]));
        assert!(jar.is_empty());
        jar.absorb(&headers(&["c=\"quoted\"; Secure", "d=1; Max-Age=-5"]));
        assert_eq!(jar.header_value().as_deref(), Some("c=quoted"));
    }

    #[test]
    fn ignores_garbage_and_bounds_size() {
        let mut jar = CookieJar::default();
        jar.absorb(&headers(&["no-equals-sign", "=novalue"]));
        assert!(jar.is_empty());
        let many: Vec<String> = (0..100).map(|i| format!("c{i}=v")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        jar.absorb(&headers(&refs));
        assert_eq!(jar.cookies.len(), MAX_COOKIES);
    }
}
