//! The target-profile format of issue 12 §1, loaded from text: per-operation extractors,
//! template functions, rejection matchers, accepted token types, grants and admin logout forms.

use authbench::profile::{self, Profile};

fn load(src: &str) -> Profile {
    profile::profile_from_str(src, None).unwrap_or_else(|e| panic!("{e}"))
}

fn load_err(src: &str) -> String {
    profile::profile_from_str(src, None)
        .unwrap_err()
        .to_string()
}

fn json_headers() -> http::HeaderMap {
    http::HeaderMap::new()
}

#[test]
fn login_and_refresh_have_their_own_extractors() {
    // Cognito's InitiateAuth and GetTokensFromRefreshToken answers: tokens under
    // AuthenticationResult, and the refresh answer carries no refresh token unless rotation is on.
    let p = load(
        "preset: oauth2\nbase_url: http://127.0.0.1:1\nextract:\n  expires_in: json:/AuthenticationResult/ExpiresIn\n  login:\n    access_token: json:/AuthenticationResult/AccessToken\n    refresh_token: json:/AuthenticationResult/RefreshToken\n  refresh:\n    access_token: json:/AuthenticationResult/AccessToken\n    refresh_token: json:/AuthenticationResult/NewRefreshToken\n",
    );
    let login = br#"{"AuthenticationResult":{"AccessToken":"at-1","RefreshToken":"rt-1","ExpiresIn":3600}}"#;
    let t = p.parse_tokens(200, &json_headers(), login).unwrap();
    assert_eq!(t.access_token, "at-1");
    assert_eq!(t.refresh_token.as_deref(), Some("rt-1"));
    assert!(
        t.expires_at.is_some(),
        "the common expires_in applies to login"
    );
    let refresh = br#"{"AuthenticationResult":{"AccessToken":"at-2","ExpiresIn":3600}}"#;
    let r = p
        .parse_refresh_tokens(200, &json_headers(), refresh)
        .unwrap();
    assert_eq!(r.access_token, "at-2");
    assert_eq!(r.refresh_token, None, "absent: the session keeps rt-1");
    assert!(r.expires_at.is_some());
    let rotated = br#"{"AuthenticationResult":{"AccessToken":"at-3","NewRefreshToken":"rt-2"}}"#;
    let r = p
        .parse_refresh_tokens(200, &json_headers(), rotated)
        .unwrap();
    assert_eq!(r.refresh_token.as_deref(), Some("rt-2"));
    // The login extractor does not read refresh answers.
    assert!(
        p.parse_tokens(200, &json_headers(), b"{\"access_token\":\"x\"}")
            .is_err()
    );
    assert!(
        p.parse_refresh_tokens(200, &json_headers(), b"{\"access_token\":\"x\"}")
            .is_err()
    );
}

#[test]
fn nested_operation_extractors_are_refused() {
    let e = load_err(
        "preset: oauth2\nbase_url: http://127.0.0.1:1\nextract:\n  login:\n    refresh:\n      access_token: json:/a\n",
    );
    assert!(e.contains("extract.login.refresh"), "{e}");
}

mod authorization_code {
    use std::time::Duration;

    use authbench::client::authorize::{AuthorizeError, obtain_code};
    use authbench::client::transport::{BodyMode, Connections, Connector, Http};
    use authbench::profile::{self, Profile};
    use authbench_mock::{MockConfig, MockServer};

    async fn mock() -> MockServer {
        authbench_mock::start(MockConfig {
            port: 0,
            users: 100,
            ..MockConfig::default()
        })
        .await
        .unwrap()
    }

    fn http() -> Http {
        Connector::new(Connections::PerClient, Duration::from_secs(5), false, 2)
            .unwrap()
            .client()
    }

    fn profile(base: &str, grant: &str) -> Profile {
        profile::profile_from_str(&format!("preset: mock\nbase_url: {base}\n{grant}"), None)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn grant(form: &str, max_redirects: u32) -> String {
        format!(
            "grant:\n  authorization_code:\n    authorize: {{ path: /authorize, query: {{ client_id: spa }} }}\n    redirect_uri: http://127.0.0.1:3000/cb\n    form: \"{form}\"\n    max_redirects: {max_redirects}\n"
        )
    }

    async fn code(p: &Profile, user: &str, password: &str) -> Result<String, AuthorizeError> {
        counted_code(p, user, password).await.0
    }

    /// The code (or the error), and how many exchanges the flow showed its observer.
    async fn counted_code(
        p: &Profile,
        user: &str,
        password: &str,
    ) -> (Result<String, AuthorizeError>, u32) {
        let spec = p.authorization_code().unwrap();
        let seen = std::sync::atomic::AtomicU32::new(0);
        let observe = |_: &Result<_, _>| {
            seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        };
        let got = obtain_code(&http(), p, spec, user, password, &observe)
            .await
            .map(|c| format!("{}|{}", c.code, c.verifier));
        (got, seen.into_inner())
    }

    #[tokio::test]
    async fn every_page_is_observed_and_an_error_page_is_the_servers_failure() {
        let server = mock().await;
        let p = profile(&server.base_url(), &grant("form#login", 10));
        let (got, seen) = counted_code(&p, "user2", "pw-2").await;
        assert!(got.is_ok(), "{got:?}");
        assert_eq!(
            seen, 3,
            "the authorize URL, the form, the redirect to the callback"
        );
        server.shutdown().await;

        let server = authbench_mock::start(MockConfig {
            port: 0,
            users: 100,
            faults: vec!["error:authorize=100%".parse().unwrap()],
            ..MockConfig::default()
        })
        .await
        .unwrap();
        let p = profile(&server.base_url(), &grant("form#login", 10));
        let (got, seen) = counted_code(&p, "user2", "pw-2").await;
        let e = got.unwrap_err();
        assert_eq!(seen, 1);
        assert_eq!(e.status(), Some(500), "{e}");
        let e = e.to_string();
        assert!(
            e.contains("answered 500 where the login flow expected its page or a redirect"),
            "not a selector to fix: {e}"
        );
        assert!(!e.contains("form selector"), "{e}");
        server.shutdown().await;
    }

    #[tokio::test]
    async fn code_exchange_with_the_verifier_gives_a_token_pair_once() {
        let server = mock().await;
        let p = profile(&server.base_url(), &grant("form#login", 10));
        let got = code(&p, "user3", "pw-3").await.unwrap();
        let (c, verifier) = got.split_once('|').unwrap();
        let send = |req| async { http().exchange(req, BodyMode::Keep).await.unwrap() };
        // A wrong verifier is refused (PKCE), and the code is spent with it.
        let r = send(
            p.code_exchange_request("user3", "pw-3", c, "not-the-verifier")
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, 400);
        let got = code(&p, "user3", "pw-3").await.unwrap();
        let (c, verifier2) = got.split_once('|').unwrap();
        assert_ne!(verifier, verifier2, "a fresh verifier per login");
        let r = send(
            p.code_exchange_request("user3", "pw-3", c, verifier2)
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let t = p.parse_tokens(r.status, &r.headers, &r.body).unwrap();
        assert!(t.refresh_token.is_some());
        let again = send(
            p.code_exchange_request("user3", "pw-3", c, verifier2)
                .unwrap(),
        )
        .await;
        assert_eq!(again.status, 400, "a code works once");
        server.shutdown().await;
    }

    #[tokio::test]
    async fn bad_input_names_what_is_missing() {
        let server = mock().await;
        let base = server.base_url();
        let e = code(
            &profile(&base, &grant("form#kc-form-login", 10)),
            "user1",
            "pw-1",
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("no element matching the form selector `form#kc-form-login`"),
            "{e}"
        );
        assert!(e.contains("2 <form> element(s)"), "{e}");
        assert!(e.contains("/authorize?"), "names the page: {e}");
        let e = code(&profile(&base, &grant("form", 10)), "user1", "pw-1")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("has no input named `username` (inputs: q)"),
            "{e}"
        );
        let e = code(&profile(&base, &grant("form#login", 10)), "user1", "wrong")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("did not redirect to http://127.0.0.1:3000/cb"),
            "{e}"
        );
        assert!(!e.contains("wrong\""), "no credential in the message: {e}");
        // The mock's sign-in takes one redirect before the callback.
        assert!(
            code(&profile(&base, &grant("form#login", 1)), "user1", "pw-1")
                .await
                .is_ok()
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn a_redirect_loop_is_bounded_and_names_the_last_url() {
        use axum::response::Redirect;
        let app = axum::Router::new()
            .route(
                "/authorize",
                axum::routing::get(|| async { Redirect::to("/hop/1") }),
            )
            .route(
                "/hop/{n}",
                axum::routing::get(
                    |axum::extract::Path(n): axum::extract::Path<u32>| async move {
                        Redirect::to(&format!("/hop/{}", n + 1))
                    },
                ),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move { axum::serve(listener, app).await });
        let p = profile(&format!("http://{addr}"), &grant("form#login", 3));
        let e = code(&p, "user1", "pw-1").await.unwrap_err().to_string();
        assert!(
            e.contains("no redirect to http://127.0.0.1:3000/cb within 3 redirects"),
            "{e}"
        );
        assert!(
            e.contains(&format!("the last URL was http://{addr}/hop/4")),
            "{e}"
        );
        task.abort();
    }

    #[test]
    fn a_bad_selector_or_redirect_uri_is_refused_at_load() {
        let e = profile::profile_from_str(
            &format!(
                "preset: mock\nbase_url: http://127.0.0.1:1\n{}",
                grant("form[", 10)
            ),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("is not a CSS selector"), "{e}");
        assert!(e.contains("grant.authorization_code.form"), "{e}");
        let e = profile::profile_from_str(
            "preset: mock\nbase_url: http://127.0.0.1:1\ngrant: { authorization_code: { authorize: { path: /authorize }, redirect_uri: /cb } }\n",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not an absolute http(s) URL"), "{e}");
    }
}
