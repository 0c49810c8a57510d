//! A tiny per-session cookie store.
//!
//! A refresh token may live in an HttpOnly cookie set by the login/refresh response, and a
//! cookie-session server's whole credential is a cookie (`client.strategy: cookie-session`).
//! Connections are shared by many sessions in pool mode, so cookies cannot belong to a
//! connection: each session keeps its own few cookies here, filled from the `Set-Cookie` headers
//! of its responses (parsed by [`SetCookie`], the same parser the `cookie:` extractor uses) and
//! sent back as one `Cookie` header. Like a browser, the jar honours `Max-Age` and `Expires`: a
//! cookie past its expiry is never sent (and is dropped), `Max-Age=0` or an `Expires` in the
//! past deletes it, and a cookie set again replaces value and expiry (a sliding session). Other
//! attributes are ignored (a simulated client talks to one origin).

use std::time::SystemTime;

use http::HeaderMap;

use crate::profile::extract::SetCookie;

/// Upper bound on the number of cookies kept, so a hostile server cannot grow a session.
const MAX_COOKIES: usize = 16;
/// Upper bound on one cookie's `name=value` length.
const MAX_COOKIE_LEN: usize = 4096;

/// One stored cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stored {
    name: Box<str>,
    value: Box<str>,
    /// `None`: a session cookie (kept for the client's whole life).
    expires: Option<SystemTime>,
}

impl Stored {
    fn live(&self, now: SystemTime) -> bool {
        self.expires.is_none_or(|e| e > now)
    }
}

/// The cookies of one session, in the order they were first set.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CookieJar {
    cookies: Vec<Stored>,
}

impl CookieJar {
    /// An empty jar.
    pub const fn new() -> CookieJar {
        CookieJar {
            cookies: Vec::new(),
        }
    }

    /// Takes every `Set-Cookie` header of a response into the jar. A cookie with `Max-Age=0` (or a
    /// negative one), an `Expires` in the past or an empty value removes the stored cookie of that
    /// name.
    pub fn absorb(&mut self, headers: &HeaderMap) {
        let now = SystemTime::now();
        for c in SetCookie::all(headers) {
            self.absorb_one(c, now);
        }
    }

    fn absorb_one(&mut self, c: SetCookie, now: SystemTime) {
        if c.name.len() + c.value.len() > MAX_COOKIE_LEN {
            return;
        }
        self.cookies.retain(|k| k.live(now));
        let existing = self.cookies.iter().position(|k| *k.name == c.name);
        match (existing, c.deleted) {
            (Some(i), true) => {
                self.cookies.remove(i);
            }
            (Some(i), false) => {
                self.cookies[i].value = c.value.into();
                self.cookies[i].expires = c.expires;
            }
            (None, false) if self.cookies.len() < MAX_COOKIES => self.cookies.push(Stored {
                name: c.name.into(),
                value: c.value.into(),
                expires: c.expires,
            }),
            _ => {}
        }
    }

    /// The value of one cookie, unless it has expired.
    pub fn get(&self, name: &str) -> Option<&str> {
        let now = SystemTime::now();
        self.cookies
            .iter()
            .find(|k| &*k.name == name && k.live(now))
            .map(|k| &*k.value)
    }

    /// When cookie `name` expires (`None`: not held, or held without an expiry).
    pub fn expires(&self, name: &str) -> Option<SystemTime> {
        self.cookies
            .iter()
            .find(|k| &*k.name == name)
            .and_then(|k| k.expires)
    }

    /// The `Cookie` request header value, or `None` when the jar holds no live cookie.
    pub fn header_value(&self) -> Option<String> {
        self.header_value_except(None)
    }

    /// The `Cookie` request header value without the cookie named `skip` (sent separately, e.g.
    /// the refresh-token cookie the profile adds itself) and without expired cookies, or `None`
    /// when nothing is left.
    pub fn header_value_except(&self, skip: Option<&str>) -> Option<String> {
        let now = SystemTime::now();
        let mut out = String::new();
        for k in self
            .cookies
            .iter()
            .filter(|k| Some(&*k.name) != skip && k.live(now))
        {
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(&k.name);
            out.push('=');
            out.push_str(&k.value);
        }
        (!out.is_empty()).then_some(out)
    }

    /// Forgets every cookie (logout).
    pub fn clear(&mut self) {
        self.cookies = Vec::new();
    }

    /// Forgets one cookie.
    pub fn remove(&mut self, name: &str) {
        self.cookies.retain(|k| &*k.name != name);
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
    fn a_max_age_beyond_the_clock_is_a_cookie_that_never_expires() {
        // A server's Max-Age is its own input: one past what the clock can add must not panic.
        let mut jar = CookieJar::default();
        jar.absorb(&headers(&[
            "far=1; Max-Age=9223372036854775807",
            "farther=2; Max-Age=99999999999999999999999",
        ]));
        let sent = jar.header_value().unwrap_or_default();
        assert!(sent.contains("far=1"), "{sent}");
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

    #[test]
    fn honours_max_age_and_expires() {
        let mut jar = CookieJar::default();
        jar.absorb(&headers(&[
            "sessionid=s1; HttpOnly; Max-Age=3600; Path=/",
            "old=x; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
            "later=y; Expires=Fri, 01 Jan 2100 00:00:00 GMT",
            "forever=z",
        ]));
        assert_eq!(
            jar.get("old"),
            None,
            "an Expires in the past is never stored"
        );
        assert_eq!(
            jar.header_value().as_deref(),
            Some("sessionid=s1; later=y; forever=z")
        );
        let exp = jar.expires("sessionid").unwrap();
        let left = exp.duration_since(SystemTime::now()).unwrap().as_secs();
        assert!((3590..=3600).contains(&left), "{left}");
        assert_eq!(jar.expires("forever"), None);
        // Max-Age wins over Expires (RFC 6265 §5.3).
        jar.absorb(&headers(&[
            "later=y2; Max-Age=60; Expires=Fri, 01 Jan 2100 00:00:00 GMT",
        ]));
        let left = jar
            .expires("later")
            .unwrap()
            .duration_since(SystemTime::now())
            .unwrap();
        assert!(left.as_secs() <= 60);
        // A sliding renewal: the same value with a new Max-Age moves the expiry.
        jar.absorb(&headers(&["sessionid=s1; Max-Age=7200"]));
        assert!(jar.expires("sessionid").unwrap() > exp);
        // An expiry reached: the cookie is not sent any more.
        jar.cookies[0].expires = Some(SystemTime::now() - std::time::Duration::from_secs(1));
        assert_eq!(jar.get("sessionid"), None);
        assert_eq!(jar.header_value().as_deref(), Some("later=y2; forever=z"));
        // A deletion by Expires in the past.
        jar.absorb(&headers(&[
            "forever=; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        ]));
        assert_eq!(jar.header_value().as_deref(), Some("later=y2"));
    }
}
