//! The target-profile format of issue 12 §1, loaded from text: per-operation extractors,
//! template functions, rejection matchers, accepted token types, grants and admin logout forms.

use authbench::profile::{self, Profile};

fn load(src: &str) -> Profile {
    profile::profile_from_str(src, None).unwrap_or_else(|e| panic!("{e}"))
}

fn load_err(src: &str) -> String {
    profile::profile_from_str(src, None).unwrap_err().to_string()
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
    assert!(t.expires_at.is_some(), "the common expires_in applies to login");
    let refresh = br#"{"AuthenticationResult":{"AccessToken":"at-2","ExpiresIn":3600}}"#;
    let r = p.parse_refresh_tokens(200, &json_headers(), refresh).unwrap();
    assert_eq!(r.access_token, "at-2");
    assert_eq!(r.refresh_token, None, "absent: the session keeps rt-1");
    assert!(r.expires_at.is_some());
    let rotated = br#"{"AuthenticationResult":{"AccessToken":"at-3","NewRefreshToken":"rt-2"}}"#;
    let r = p.parse_refresh_tokens(200, &json_headers(), rotated).unwrap();
    assert_eq!(r.refresh_token.as_deref(), Some("rt-2"));
    // The login extractor does not read refresh answers.
    assert!(p.parse_tokens(200, &json_headers(), b"{\"access_token\":\"x\"}").is_err());
    assert!(p.parse_refresh_tokens(200, &json_headers(), b"{\"access_token\":\"x\"}").is_err());
}

#[test]
fn nested_operation_extractors_are_refused() {
    let e = load_err(
        "preset: oauth2\nbase_url: http://127.0.0.1:1\nextract:\n  login:\n    refresh:\n      access_token: json:/a\n",
    );
    assert!(e.contains("extract.login.refresh"), "{e}");
}
