//! The browser part of the authorization-code grant with PKCE (RFC 6749 §4.1, RFC 7636 S256),
//! driven headlessly for one simulated user: GET the authorize URL, find the login form by the
//! profile's CSS selector (a real HTML parser, `scraper`), submit it with its hidden inputs and
//! the user's credentials, keep the server's cookies throughout, follow redirects (at most the
//! profile's `max_redirects`) until one points at the redirect URI, and take the `code` from it.
//! The caller exchanges the code with the verifier ([`crate::profile::Profile::code_exchange_request`]).
//!
//! Every way this can go wrong is an [`AuthorizeError`] that names the URL and what was missing;
//! none quotes a credential or token. Every request of the flow is shown to the caller's
//! [`Observe`] as it is answered (a session counts them as `requests.authorize`).

use base64::Engine as _;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, COOKIE, LOCATION};

use super::cookies::CookieJar;
use super::transport::{BodyMode, Http, HttpError, Reply};
use crate::profile::{AuthCodeSpec, Profile, RequestError, Vars};

/// A code and the verifier its request was made with.
pub struct Code {
    /// The authorization code.
    pub code: String,
    /// The PKCE code verifier.
    pub verifier: String,
}

/// Sees each exchange of the flow as it ends (the answer, or the transport's error).
pub type Observe<'a> = &'a (dyn Fn(&Result<Reply, HttpError>) + Send + Sync);

/// An [`Observe`] that looks at nothing (a probe's or `init`'s login).
pub const UNOBSERVED: Observe<'static> = &|_| {};

/// Why no authorization code was obtained.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    /// The authorize request cannot be rendered.
    #[error("the authorize request cannot be built: {0}")]
    Request(#[from] RequestError),
    /// A request of the flow failed on the wire.
    #[error("{url}: {source}")]
    Transport {
        /// The URL requested.
        url: String,
        /// What the transport said.
        source: HttpError,
    },
    /// The server answered an error status where the login page (or the redirect after it)
    /// should have been: the server failed, not the profile.
    #[error("{url} answered {status} where the login flow expected its page or a redirect")]
    ErrorPage {
        /// The URL.
        url: String,
        /// The status (400 or above).
        status: u16,
    },
    /// The page has no element matching the form selector.
    #[error(
        "the login page {url} (status {status}) has no element matching the form selector `{selector}` ({forms} <form> element(s) on the page); set grant.authorization_code.form to the login form's selector"
    )]
    NoForm {
        /// The page.
        url: String,
        /// Its status.
        status: u16,
        /// The selector.
        selector: String,
        /// How many forms the page has.
        forms: usize,
    },
    /// The form lacks the username or password input.
    #[error(
        "the form `{selector}` on {url} has no input named `{field}` (inputs: {inputs}); set grant.authorization_code.{key}"
    )]
    NoField {
        /// The page.
        url: String,
        /// The selector.
        selector: String,
        /// The missing input.
        field: String,
        /// `username_field` or `password_field`.
        key: &'static str,
        /// The input names the form has.
        inputs: String,
    },
    /// After the form, the server answered a page instead of redirecting to the redirect URI.
    #[error(
        "the login did not redirect to {redirect_uri}: {url} answered {status} (wrong credentials, or a further step such as consent the profile does not fill)"
    )]
    NoRedirect {
        /// The last URL.
        url: String,
        /// Its status.
        status: u16,
        /// The redirect URI expected.
        redirect_uri: String,
    },
    /// The redirects never reached the redirect URI.
    #[error(
        "no redirect to {redirect_uri} within {max} redirects; the last URL was {last} (raise grant.authorization_code.max_redirects, or check redirect_uri)"
    )]
    TooManyRedirects {
        /// The bound.
        max: u32,
        /// The last URL followed.
        last: String,
        /// The redirect URI expected.
        redirect_uri: String,
    },
    /// A redirect without a usable `Location`.
    #[error("{url} answered {status} without a usable Location header")]
    BadLocation {
        /// The URL.
        url: String,
        /// The redirect status.
        status: u16,
    },
    /// The server redirected back with an OAuth error.
    #[error("the authorization server answered error={error}{}", description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Denied {
        /// The `error` parameter.
        error: String,
        /// The `error_description` parameter.
        description: Option<String>,
    },
    /// The redirect carried no code, or a `state` other than the one sent.
    #[error("the redirect to {redirect_uri} {problem}")]
    BadCallback {
        /// The redirect URI.
        redirect_uri: String,
        /// What was wrong.
        problem: &'static str,
    },
}

impl AuthorizeError {
    /// Whether the failure is the network's (a passing reason, tried again) rather than the
    /// server's answer.
    pub fn is_transport(&self) -> bool {
        matches!(self, AuthorizeError::Transport { .. })
    }

    /// The error status the flow ended on, if it ended on one (the class of the failure: a 5xx
    /// or 429 is a passing reason, tried again; a 4xx, e.g. wrong credentials, is not).
    pub fn status(&self) -> Option<u16> {
        match self {
            AuthorizeError::ErrorPage { status, .. } => Some(*status),
            AuthorizeError::NoRedirect { status, .. } if *status >= 400 => Some(*status),
            _ => None,
        }
    }
}

/// A PKCE verifier (43 characters of base64url) and its S256 challenge.
pub fn pkce_pair() -> (String, String) {
    let verifier =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    (verifier, challenge)
}

/// One authorization-code login of `user`: returns the code and its verifier. `observe` sees
/// every request of the flow as it ends.
pub async fn obtain_code(
    http: &Http,
    profile: &Profile,
    spec: &AuthCodeSpec,
    user: &str,
    password: &str,
    observe: Observe<'_>,
) -> Result<Code, AuthorizeError> {
    let (verifier, challenge) = pkce_pair();
    let state = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
    let vars = Vars {
        user: Some(user),
        password: Some(password),
        ..Vars::default()
    };
    let first = spec
        .authorize
        .render(profile.base_url(), http::Method::GET, &vars)?;
    let mut url = url::Url::parse(&first.uri().to_string()).map_err(|e| RequestError::Url {
        path: spec.authorize.path.as_str().to_string(),
        reason: e.to_string(),
    })?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", &spec.redirect_uri)
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let mut flow = Flow {
        http,
        spec,
        jar: CookieJar::default(),
        hops: 0,
        headers: first.headers().clone(),
        observe,
    };
    let landed = flow.follow(http::Method::GET, url, None).await?;
    let page = match landed {
        Landed::Callback(cb) => return callback(&cb, &state, spec, verifier),
        Landed::Page(url, reply) => (url, reply),
    };
    // A login page may come with an error status (a 401 with the form); an error status without
    // the form is the server failing, not a selector to fix.
    let form = find_form(&page.0, &page.1, spec).map_err(|e| match page.1.status {
        400.. => AuthorizeError::ErrorPage {
            url: page.0.to_string(),
            status: page.1.status,
        },
        _ => e,
    })?;
    let mut fields = form.fields;
    for (key, name, value) in [
        ("username_field", spec.username_field(), user),
        ("password_field", spec.password_field(), password),
    ] {
        match fields.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value.to_string(),
            None => {
                return Err(AuthorizeError::NoField {
                    url: page.0.to_string(),
                    selector: spec.form_selector().to_string(),
                    field: name.to_string(),
                    key,
                    inputs: fields
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
    }
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&fields)
        .finish();
    let landed = if form.method == http::Method::GET {
        let mut action = form.action;
        action.set_query(Some(&encoded));
        flow.follow(http::Method::GET, action, None).await?
    } else {
        flow.follow(form.method, form.action, Some(Bytes::from(encoded)))
            .await?
    };
    match landed {
        Landed::Callback(cb) => callback(&cb, &state, spec, verifier),
        Landed::Page(url, reply) if reply.status >= 500 || reply.status == 429 => {
            Err(AuthorizeError::ErrorPage {
                url: url.to_string(),
                status: reply.status,
            })
        }
        Landed::Page(url, reply) => Err(AuthorizeError::NoRedirect {
            url: url.to_string(),
            status: reply.status,
            redirect_uri: spec.redirect_uri.clone(),
        }),
    }
}

/// Where a chain of redirects ended.
enum Landed {
    /// A redirect to the redirect URI.
    Callback(url::Url),
    /// A page that is not a redirect.
    Page(url::Url, Reply),
}

/// The browser state of one flow: cookies and the redirect budget.
struct Flow<'a> {
    http: &'a Http,
    spec: &'a AuthCodeSpec,
    jar: CookieJar,
    hops: u32,
    /// Headers of the rendered authorize request (sent on its first GET only).
    headers: http::HeaderMap,
    observe: Observe<'a>,
}

impl Flow<'_> {
    /// Sends `method url [body]` and follows redirects (as GETs) until a page, or a redirect to
    /// the redirect URI.
    async fn follow(
        &mut self,
        method: http::Method,
        mut url: url::Url,
        mut body: Option<Bytes>,
    ) -> Result<Landed, AuthorizeError> {
        let mut method = method;
        loop {
            let reply = self.send(method.clone(), &url, body.take()).await?;
            if !(300..400).contains(&reply.status) {
                return Ok(Landed::Page(url, reply));
            }
            let next = reply
                .headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| url.join(l.trim()).ok())
                .ok_or_else(|| AuthorizeError::BadLocation {
                    url: url.to_string(),
                    status: reply.status,
                })?;
            if is_redirect_uri(&next, &self.spec.redirect_uri) {
                return Ok(Landed::Callback(next));
            }
            self.hops += 1;
            if self.hops > self.spec.max_redirects() {
                return Err(AuthorizeError::TooManyRedirects {
                    max: self.spec.max_redirects(),
                    last: next.to_string(),
                    redirect_uri: self.spec.redirect_uri.clone(),
                });
            }
            url = next;
            method = http::Method::GET;
        }
    }

    async fn send(
        &mut self,
        method: http::Method,
        url: &url::Url,
        body: Option<Bytes>,
    ) -> Result<Reply, AuthorizeError> {
        let transport = |e: HttpError| AuthorizeError::Transport {
            url: url.to_string(),
            source: e,
        };
        let uri = http::Uri::try_from(url.as_str()).map_err(|e| {
            transport(HttpError::new(
                super::transport::ErrorKind::Protocol,
                e.to_string(),
            ))
        })?;
        let mut req = http::Request::new(Bytes::new());
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        if self.hops == 0 && body.is_none() {
            *req.headers_mut() = std::mem::take(&mut self.headers);
        }
        if let Some(body) = body {
            req.headers_mut().insert(
                CONTENT_TYPE,
                http::HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
            *req.body_mut() = body;
        }
        if let Some(c) = self
            .jar
            .header_value()
            .and_then(|c| http::HeaderValue::from_str(&c).ok())
        {
            req.headers_mut().insert(COOKIE, c);
        }
        let res = self.http.exchange(req, BodyMode::Keep).await;
        (self.observe)(&res);
        let reply = res.map_err(transport)?;
        self.jar.absorb(&reply.headers);
        Ok(reply)
    }
}

/// Whether `url` is the redirect URI (same origin and path; the query carries the code).
fn is_redirect_uri(url: &url::Url, redirect_uri: &str) -> bool {
    url::Url::parse(redirect_uri)
        .is_ok_and(|r| r.origin() == url.origin() && r.path() == url.path())
}

/// The code of the callback URL, checked against `state`.
fn callback(
    cb: &url::Url,
    state: &str,
    spec: &AuthCodeSpec,
    verifier: String,
) -> Result<Code, AuthorizeError> {
    let get = |name: &str| {
        cb.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if let Some(error) = get("error") {
        return Err(AuthorizeError::Denied {
            error,
            description: get("error_description"),
        });
    }
    if get("state").as_deref() != Some(state) {
        return Err(AuthorizeError::BadCallback {
            redirect_uri: spec.redirect_uri.clone(),
            problem: "carries a state other than the one sent (RFC 6749 §10.12)",
        });
    }
    match get("code").filter(|c| !c.is_empty()) {
        Some(code) => Ok(Code { code, verifier }),
        None => Err(AuthorizeError::BadCallback {
            redirect_uri: spec.redirect_uri.clone(),
            problem: "carries no code",
        }),
    }
}

/// The login form of a page: where it goes, how, and its named inputs with their values.
struct Form {
    action: url::Url,
    method: http::Method,
    fields: Vec<(String, String)>,
}

/// Finds the form `spec.form` on the page (parsed with `scraper`; kept out of async code, the
/// parsed document is not `Send`).
fn find_form(url: &url::Url, reply: &Reply, spec: &AuthCodeSpec) -> Result<Form, AuthorizeError> {
    let text = String::from_utf8_lossy(&reply.body);
    let doc = scraper::Html::parse_document(&text);
    let no_form = |forms| AuthorizeError::NoForm {
        url: url.to_string(),
        status: reply.status,
        selector: spec.form_selector().to_string(),
        forms,
    };
    let (Ok(selector), Ok(any_form), Ok(inputs)) = (
        scraper::Selector::parse(spec.form_selector()),
        scraper::Selector::parse("form"),
        scraper::Selector::parse("input[name], select[name], textarea[name]"),
    ) else {
        return Err(no_form(0));
    };
    let Some(form) = doc.select(&selector).next() else {
        return Err(no_form(doc.select(&any_form).count()));
    };
    let action = match form.value().attr("action").map(str::trim) {
        None | Some("") => url.clone(),
        Some(a) => url.join(a).map_err(|_| AuthorizeError::BadLocation {
            url: url.to_string(),
            status: reply.status,
        })?,
    };
    let method = match form.value().attr("method") {
        Some(m) if m.eq_ignore_ascii_case("post") => http::Method::POST,
        _ => http::Method::GET,
    };
    let mut fields = Vec::new();
    for input in form.select(&inputs) {
        let v = input.value();
        let Some(name) = v.attr("name") else { continue };
        let kind = v.attr("type").unwrap_or("text").to_ascii_lowercase();
        let skip = matches!(
            kind.as_str(),
            "submit" | "button" | "image" | "reset" | "file"
        ) || (matches!(kind.as_str(), "checkbox" | "radio")
            && v.attr("checked").is_none());
        if skip {
            continue;
        }
        fields.push((name.to_string(), v.attr("value").unwrap_or("").to_string()));
    }
    Ok(Form {
        action,
        method,
        fields,
    })
}
