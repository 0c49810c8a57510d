//! The cookie-session side of a [`Session`] (`client.strategy: cookie-session`, the profile's
//! `cookie_session:`): what a browser does with a Django/Rails/express-session/Spring Session app.
//!
//! - The credential is the session cookie the login sets; the session's "access token" is its
//!   value and its expiry is the cookie's (`Max-Age`/`Expires`), which is also the end the server
//!   announced ([`super::Lifetime`]): `sync_expiry` waits for it like for a token's `exp`.
//! - Every request carries the jar (expired cookies are not sent, like a browser); unsafe methods
//!   (POST, PUT, PATCH, DELETE) also carry `Origin` and the CSRF token (from its cookie or from
//!   a page read with a CSS selector, fetched before — and for a selector after — every login).
//! - A `Set-Cookie` of the session cookie in any response renews the session: counted `renewals`
//!   (as the `sliding` strategy counts its adopted tokens), the new expiry adopted.
//! - A session-gone answer (the profile's `access_rejected`, default 401, or a redirect to
//!   `login_redirect`) leads to one new login per client, counted as every strategy counts a
//!   session end: `relogins`, `sessions_expired` when it came at or after the cookie's expiry,
//!   `spurious_logouts` when it came before with nothing ending the session on purpose.

use std::time::SystemTime;

use http::HeaderValue;
use http::header::{COOKIE, LOCATION, ORIGIN};

use super::{FailClass, Op, Session, monotonic};
use crate::client::notice::{NoticePath, Reason};
use crate::client::stamp::WallStamp;
use crate::client::token_set::TokenSet;
use crate::client::transport::{BodyMode, HttpError, Reply};
use crate::metrics::names;
use crate::profile::cookie_session::{CsrfSource, token_in_page, unsafe_method};
use crate::profile::{CookieSession, Rendered, RequestError, Tokens};

impl Session {
    /// The profile's cookie-session settings when the client runs the `cookie-session` strategy.
    pub(super) fn cookie_mode(&self) -> Option<&CookieSession> {
        (self.env.settings.strategy == crate::client::Strategy::CookieSession)
            .then(|| self.profile().cookie_session())
            .flatten()
    }

    /// `req` with what a browser adds: the jar's live cookies, and on an unsafe method `Origin`
    /// and the CSRF token. Unchanged outside the cookie-session strategy.
    pub(super) fn browser_request(
        &self,
        req: Result<Rendered, RequestError>,
    ) -> Result<Rendered, RequestError> {
        let mut req = req?;
        let Some(cs) = self.cookie_mode() else {
            return Ok(req);
        };
        let (cookie, token) = {
            let s = self.state.lock();
            let token = match cs.csrf.as_ref().map(|c| &c.source) {
                Some(CsrfSource::Cookie(name)) => s.cookies().get(name).map(str::to_string),
                Some(CsrfSource::Page { .. }) => s.csrf_token().map(str::to_string),
                None => None,
            };
            (s.cookies().header_value(), token)
        };
        let header_err = |name: &str| RequestError::Header { name: name.into() };
        if let Some(c) = cookie {
            let v = HeaderValue::from_str(&c).map_err(|_| header_err("cookie"))?;
            req.headers_mut().append(COOKIE, v);
        }
        if unsafe_method(req.method()) {
            if let Some(origin) = &cs.origin {
                req.headers_mut().insert(ORIGIN, origin.clone());
            }
            if let (Some(csrf), Some(t)) = (&cs.csrf, token) {
                let v = HeaderValue::from_str(&t).map_err(|_| header_err(csrf.header.as_str()))?;
                req.headers_mut().insert(csrf.header.clone(), v);
            }
        }
        Ok(req)
    }

    /// Whether a resource answer says the cookie session is gone: the profile's `access_rejected`
    /// (default 401), or a redirect whose `Location` contains `login_redirect`.
    pub(super) fn session_gone(&self, reply: &Reply) -> bool {
        if self.profile().access_rejected(reply.status, &reply.body) {
            return true;
        }
        let Some(to) = self.cookie_mode().and_then(|c| c.login_redirect.as_deref()) else {
            return false;
        };
        (300..400).contains(&reply.status)
            && reply
                .headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|l| l.contains(to))
    }

    /// After a resource answer's cookies went into the jar: adopts a renewed session cookie
    /// (`renewals`; its expiry becomes the session's announced end).
    pub(super) fn adopt_cookie_renewal(&self) {
        let Some(cs) = self.cookie_mode() else { return };
        let renewed = {
            let mut s = self.state.lock();
            let (Some(held), Some(value)) = (&s.tokens, s.cookies().get(&cs.cookie)) else {
                return;
            };
            let renewed = (value != held.access()).then(|| held.with_access(value));
            let expires = s.cookies().expires(&cs.cookie);
            if renewed.is_none() && (expires.is_none() || expires == s.expires_at()) {
                return;
            }
            if let Some(tokens) = renewed {
                s.tokens = Some(tokens);
                s.generation += 1;
            }
            s.expires_at = expires.map(WallStamp::new);
            s.lifetime.renewed(SystemTime::now(), expires);
            s.announced_end = s
                .lifetime
                .end(self.profile().session_limits())
                .map(|t| monotonic(t).into());
            true
        };
        if renewed {
            self.rec().count(self.shard(), names::RENEWALS, 1);
            self.update_ghost_watch();
        }
    }

    /// The tokens of a cookie-session login answer: the session cookie the jar just took in.
    pub(super) fn cookie_login_tokens(&self, cs: &CookieSession) -> Option<Tokens> {
        let s = self.state.lock();
        let value = s.cookies().get(&cs.cookie)?;
        let expires = s.cookies().expires(&cs.cookie);
        Some(Tokens {
            access_token: value.to_string(),
            refresh_token: None,
            expires_at: expires,
            session_id: None,
            refresh_expires_at: expires,
        })
    }

    /// The CSRF page (`csrf.page`), fetched before and (with a selector) after a login: its
    /// cookies go into the jar, its token (with a selector) becomes the session's CSRF token.
    /// `false` when it failed: a failure of the page (`failures.csrf_page.<class>`, beside its
    /// `requests.csrf_page`, so that `failure_rate(csrf_page)` is a share of its own requests), and
    /// of the login attempt it belongs to (tried again as a failed login is).
    pub(super) async fn fetch_csrf_page(&self, cs: &CookieSession) -> bool {
        let Some(csrf) = &cs.csrf else { return true };
        let Some(page) = &csrf.page else { return true };
        self.respect_retry_after().await;
        let vars = crate::profile::Vars::default();
        let base = self.profile().base_url().clone();
        let res = self
            .http
            .exchange_with(
                || self.browser_request(page.render(&base, http::Method::GET, &vars)),
                BodyMode::Keep,
            )
            .await;
        self.count_exchange(Op::CsrfPage, &res);
        let reply = match &res {
            Ok(r) => r,
            Err(_) => {
                self.count_failure(Op::CsrfPage, FailClass::Transport, &res);
                return false;
            }
        };
        self.absorb_cookies(&reply.headers);
        if !(200..300).contains(&reply.status) {
            self.count_failure(Op::CsrfPage, FailClass::of_status(reply.status), &res);
            return false;
        }
        let CsrfSource::Page { selector } = &csrf.source else {
            return true;
        };
        let html = String::from_utf8_lossy(&reply.body);
        match token_in_page(&html, selector) {
            Some(t) => {
                self.state.lock().extra().csrf_token = Some(t.into());
                true
            }
            None => {
                let err: Result<Reply, HttpError> = Err(HttpError::new(
                    crate::client::transport::ErrorKind::Protocol,
                    format!("no CSRF token at {selector:?} in the page"),
                ));
                self.count_failure(Op::CsrfPage, FailClass::Body, &err);
                false
            }
        }
    }

    /// The cookie session is gone (a session-gone answer): log in again — once per client, the concurrent calls wait for it.
    pub(super) async fn cookie_relogin(&self, path: NoticePath, hint: Reason) -> Option<TokenSet> {
        let ended = self
            .state
            .lock()
            .lifetime
            .ended_at(self.profile().session_limits(), SystemTime::now());
        // The cookie is useless now: a browser would not send it again either.
        if let Some(cs) = self.cookie_mode()
            && let Some(e) = &mut self.state.lock().extra
        {
            e.cookies.remove(&cs.cookie);
        }
        // Past the cookie's own expiry the client knows why, whatever the answer said.
        let reason = if ended {
            hint.or(Reason::Expired)
        } else {
            hint
        };
        self.relogin(ended, path, reason).await
    }
}
