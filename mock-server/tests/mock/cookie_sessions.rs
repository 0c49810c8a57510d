//! `--session-mode cookie`: form/JSON login sets `sessionid` (HttpOnly, Max-Age = access_ttl,
//! Path=/) and `csrftoken`; a request slides the session and re-sets the cookie; unsafe methods
//! need `X-CSRFToken` equal to the CSRF cookie and no foreign `Origin` (403); a gone session is
//! 401; logout and the admin logout end sessions; token mode serves none of it.

use std::time::Duration;

use reqwest::StatusCode;

use crate::support::*;
use authbench_mock::{MockServer, SessionMode};

async fn cookie_mock(ttl: Duration) -> MockServer {
    start_with(|c| {
        c.session_mode = SessionMode::Cookie;
        c.access_ttl = ttl;
    })
    .await
}

/// `name=value` of the `Set-Cookie` headers of `r` named `name`, with its attributes.
fn set_cookie<'a>(r: &'a Reply, name: &str) -> Option<&'a str> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

fn value(set_cookie: &str) -> &str {
    let pair = set_cookie.split(';').next().unwrap();
    pair.split_once('=').unwrap().1
}

struct Browser {
    session: String,
    csrf: String,
}

async fn log_in(s: &MockServer, n: u32) -> Browser {
    let r = send(
        http()
            .post(format!("{}/session/login", s.base_url()))
            .form(&[
                ("username", format!("user{n}")),
                ("password", format!("pw-{n}")),
            ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let sid = set_cookie(&r, "sessionid").expect("session cookie");
    for attr in ["HttpOnly", "Path=/", "SameSite=Lax"] {
        assert!(sid.contains(attr), "{sid}");
    }
    let csrf = set_cookie(&r, "csrftoken").expect("csrf cookie");
    assert!(
        !csrf.contains("HttpOnly"),
        "a client must be able to read it: {csrf}"
    );
    Browser {
        session: value(sid).to_string(),
        csrf: value(csrf).to_string(),
    }
}

fn me(s: &MockServer, b: &Browser) -> reqwest::RequestBuilder {
    http().post(format!("{}/session/me", s.base_url())).header(
        "cookie",
        format!("sessionid={}; csrftoken={}", b.session, b.csrf),
    )
}

#[tokio::test]
async fn login_sets_the_cookies_and_every_request_slides_the_session() {
    let s = cookie_mock(Duration::from_secs(30)).await;
    let b = log_in(&s, 1).await;
    let r = send(
        me(&s, &b)
            .header("x-csrftoken", &b.csrf)
            .header("origin", s.base_url()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.str("sub"), "user1");
    let slid = set_cookie(&r, "sessionid").expect("the answer re-sets the cookie");
    assert_eq!(value(slid), b.session, "the same session, a new Max-Age");
    assert!(slid.contains("Max-Age=30"), "{slid}");
    // A safe method needs no CSRF token; JSON logins work too.
    let r = send(
        http()
            .get(format!("{}/session/me", s.base_url()))
            .header("cookie", format!("sessionid={}", b.session)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(
        http()
            .post(format!("{}/session/login", s.base_url()))
            .json(&serde_json::json!({ "username": "user2", "password": "pw-2" })),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let bad = send(
        http()
            .post(format!("{}/session/login", s.base_url()))
            .form(&[("username", "user2"), ("password", "wrong")]),
    )
    .await;
    assert_eq!(
        (bad.status, bad.error()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    assert!(set_cookie(&bad, "sessionid").is_none());
    let st = s.stats().cookie_sessions.expect("cookie stats");
    assert_eq!((st.logins, st.login_failures, st.live), (2, 1, 2));
}

#[tokio::test]
async fn unsafe_requests_need_the_csrf_token_and_a_matching_origin() {
    let s = cookie_mock(Duration::from_secs(30)).await;
    let b = log_in(&s, 1).await;
    let missing = send(me(&s, &b)).await;
    assert_eq!(
        (missing.status, missing.error()),
        (StatusCode::FORBIDDEN, "csrf_failed")
    );
    let wrong = send(me(&s, &b).header("x-csrftoken", "0123")).await;
    assert_eq!(
        (wrong.status, wrong.error()),
        (StatusCode::FORBIDDEN, "csrf_failed")
    );
    let foreign = send(
        me(&s, &b)
            .header("x-csrftoken", &b.csrf)
            .header("origin", "https://evil.example"),
    )
    .await;
    assert_eq!(
        (foreign.status, foreign.error()),
        (StatusCode::FORBIDDEN, "origin_not_allowed")
    );
    // Refused before the session is looked at: no slide, no cookie.
    assert!(set_cookie(&foreign, "sessionid").is_none());
    let ok = send(me(&s, &b).header("x-csrftoken", &b.csrf)).await;
    assert_eq!(
        ok.status,
        StatusCode::OK,
        "no Origin at all is allowed, as in Django"
    );
    let st = s.stats().cookie_sessions.unwrap();
    assert_eq!((st.csrf_rejected, st.origin_rejected), (2, 1));
}

#[tokio::test]
async fn a_gone_session_is_401_expired_logged_out_or_revoked() {
    let s = cookie_mock(Duration::from_secs(1)).await;
    let b = log_in(&s, 1).await;
    let c = log_in(&s, 2).await;
    let none = send(http().get(format!("{}/session/me", s.base_url()))).await;
    assert_eq!(
        (none.status, none.error()),
        (StatusCode::UNAUTHORIZED, "not_authenticated")
    );
    // Logout (CSRF-protected) ends the session and clears the cookie.
    let out = send(
        http()
            .post(format!("{}/session/logout", s.base_url()))
            .header(
                "cookie",
                format!("sessionid={}; csrftoken={}", b.session, b.csrf),
            )
            .header("x-csrftoken", &b.csrf),
    )
    .await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(set_cookie(&out, "sessionid").unwrap().contains("Max-Age=0"));
    let after = send(me(&s, &b).header("x-csrftoken", &b.csrf)).await;
    assert_eq!(
        (after.status, after.error()),
        (StatusCode::UNAUTHORIZED, "session_invalid")
    );
    // The admin logout ends every session of the user.
    let d = log_in(&s, 2).await;
    let admin = send(
        http()
            .post(format!("{}/admin/users/user2/logout", s.base_url()))
            .bearer_auth("admin-secret"),
    )
    .await;
    assert_eq!(admin.status, StatusCode::OK);
    assert_eq!(admin.body["sessions_revoked"], 2);
    for x in [&c, &d] {
        let r = send(me(&s, x).header("x-csrftoken", &x.csrf)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Idle past its Max-Age: expired.
    let e = log_in(&s, 3).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = send(me(&s, &e).header("x-csrftoken", &e.csrf)).await;
    assert_eq!(
        (r.status, r.error()),
        (StatusCode::UNAUTHORIZED, "session_expired")
    );
}

#[tokio::test]
async fn the_csrf_page_and_the_django_paths() {
    let s = cookie_mock(Duration::from_secs(30)).await;
    let page = http()
        .get(format!("{}/accounts/login/", s.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let cookie = page
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap()
        .to_string();
    let token = value(&cookie).to_string();
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("name=\"csrf-token\" content=\"{token}\"")),
        "{html}"
    );
    assert!(html.contains(&format!("value=\"{token}\"")), "{html}");
    let r = send(
        http()
            .post(format!("{}/accounts/login/", s.base_url()))
            .form(&[("username", "user4"), ("password", "pw-4")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let sid = value(set_cookie(&r, "sessionid").unwrap()).to_string();
    let me = send(
        http()
            .get(format!("{}/api/me/", s.base_url()))
            .header("cookie", format!("sessionid={sid}")),
    )
    .await;
    assert_eq!(me.str("sub"), "user4");
    // A page behind @login_required: the user, or a redirect to the login page once gone.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = no_redirects
        .get(format!("{}/accounts/profile/", s.base_url()))
        .header("cookie", format!("sessionid={sid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers().get("set-cookie").is_some(),
        "the page slides the session too"
    );
    let gone = no_redirects
        .get(format!("{}/accounts/profile/", s.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::FOUND);
    assert_eq!(
        gone.headers().get("location").unwrap(),
        "/accounts/login/?next=/accounts/profile/"
    );
}

#[tokio::test]
async fn token_mode_serves_no_cookie_sessions() {
    let s = start(cfg()).await;
    let r = send(
        http()
            .post(format!("{}/session/login", s.base_url()))
            .form(&[("username", "user1"), ("password", "pw-1")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(s.stats().cookie_sessions.is_none());
    assert_eq!(
        "cookie".parse::<SessionMode>().unwrap().to_string(),
        "cookie"
    );
    assert!("cookies".parse::<SessionMode>().is_err());
}
