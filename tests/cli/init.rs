//! `authbench init`: a profile from the reference mock's discovery (probed) that `authbench check`
//! runs as written, with the password grant and with the authorization-code flow; a server without discovery (the token path from the command line); and the
//! errors for an unreachable URL, metadata that is not JSON or has no token endpoint, and a file
//! that exists.

use std::process::Command;

use assert_cmd::prelude::*;

fn authbench() -> Command {
    let mut cmd = Command::cargo_bin("authbench").unwrap();
    cmd.env("NO_COLOR", "1")
        .env_remove("AUTHBENCH_CLIENT_ID")
        .env_remove("AUTHBENCH_CLIENT_SECRET")
        .env_remove("AUTHBENCH_ADMIN_KEY")
        .env_remove("AUTHBENCH_BASE_URL");
    cmd
}

/// `authbench init URL --out FILE`, run to its end.
fn init_into(url: &str, file: &std::path::Path) -> std::process::Output {
    authbench()
        .args(["init", url])
        .arg("--out")
        .arg(file)
        .output()
        .unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The reference mock in-process on a free port.
async fn mock() -> authbench_mock::MockServer {
    authbench_mock::start(authbench_mock::MockConfig {
        port: 0,
        ..Default::default()
    })
    .await
    .unwrap()
}

/// `authbench check FILE [args]` as written (only the mock's admin key from the environment),
/// reports under `dir`; panics with the output unless it succeeds.
fn check_as_written(
    file: &std::path::Path,
    dir: &std::path::Path,
    mock: &authbench_mock::MockServer,
    args: &[&str],
) -> String {
    let check = authbench()
        .arg("check")
        .arg(file)
        .args(args)
        .arg("--out")
        .arg(dir.join("check"))
        .env("AUTHBENCH_ADMIN_KEY", mock.admin_key())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(check.status.success(), "{stdout}\n{}", stderr(&check));
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probed_profile_of_the_mock_passes_check_without_edits() {
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mock.yaml");
    let out = authbench()
        .args([
            "init",
            &mock.base_url(),
            "--probe",
            "--user",
            "user0",
            "--password",
            "pw-0",
        ])
        .arg("--out")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&file).unwrap();
    for needle in [
        "refresh_rejected: strict",
        "a new refresh token on every use (rotation)",
        "the access token is a JWT",
        "path: \"/api/me\"",
        "admin_key: \"{{env.AUTHBENCH_ADMIN_KEY}}\"",
        // The URL init was given, overridable per environment.
        "base_url: \"{{ env.AUTHBENCH_BASE_URL | default(",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    // The same file for another deployment: only the variable changes.
    let staging = authbench()
        .arg("validate")
        .arg(&file)
        .env("AUTHBENCH_BASE_URL", "http://127.0.0.1:9/staging/")
        .env("AUTHBENCH_ADMIN_KEY", "k")
        .output()
        .unwrap();
    assert!(staging.status.success(), "{}", stderr(&staging));
    let shown = String::from_utf8_lossy(&staging.stdout);
    assert!(shown.contains("http://127.0.0.1:9/staging/"), "{shown}");
    // Only the secret comes from outside; the file runs the whole catalog as written.
    check_as_written(&file, dir.path(), &mock, &[]);
    // Without --force, an existing file is kept.
    let again = init_into(&mock.base_url(), &file);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_code_flow_is_drafted_probed_and_checked_as_written() {
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("code.yaml");
    let init = |extra: &[&str]| {
        authbench()
            .args(["init", &mock.base_url(), "--grant", "authorization-code"])
            .args(extra)
            .arg("--out")
            .arg(&file)
            .output()
            .unwrap()
    };
    // The redirect URI is nobody's to guess.
    let refused = init(&[]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("--redirect-uri"),
        "{}",
        stderr(&refused)
    );
    assert!(!file.exists());

    let out = init(&[
        "--redirect-uri",
        "http://127.0.0.1:3000/cb",
        "--form",
        "form#login",
        "--client-id",
        "spa",
        "--probe",
        "--user",
        "user0",
        "--password",
        "pw-0",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&file).unwrap();
    for needle in [
        "  authorization_code:",
        "      path: \"/authorize\"",
        "    redirect_uri: \"http://127.0.0.1:3000/cb\"",
        "    form: \"form#login\"",
        "grant_type: \"authorization_code\"",
        "code_verifier: \"{{code_verifier}}\"",
        "a new refresh token on every use (rotation)",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    assert!(!text.contains("password grant is not announced"), "{text}");
    // Every client of a check signs in through the form, as written.
    let stdout = check_as_written(&file, dir.path(), &mock, &["--only", "RT-01,RT-06,RS-02"]);
    assert!(stdout.contains("3 PASS"), "{stdout}");
    mock.shutdown().await;
}

#[test]
fn without_discovery_the_token_path_comes_from_the_command_line() {
    let addr = crate::canned::serve("404 Not Found", "text/plain", "not found");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain.yaml");
    let url = format!("http://{addr}");
    let missing = init_into(&url, &file);
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    assert!(
        stderr(&missing).contains("--token-path"),
        "{}",
        stderr(&missing)
    );
    assert!(!file.exists());
    let ok = authbench()
        .args([
            "init",
            &url,
            "--token-path",
            "/o/token/",
            "--resource",
            "/api/me",
        ])
        .arg("--out")
        .arg(&file)
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", stderr(&ok));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("path: \"/o/token/\""), "{text}");
    assert!(text.contains("{{env.AUTHBENCH_CLIENT_SECRET}}"), "{text}");
    assert!(stderr(&ok).contains("export AUTHBENCH_CLIENT_ID=... AUTHBENCH_CLIENT_SECRET=..."));
}

#[test]
fn unusable_metadata_and_unreachable_servers_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.yaml");
    let html = crate::canned::serve("200 OK", "text/html", "<html>login</html>");
    let out = init_into(&format!("http://{html}"), &file);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("is not JSON"), "{}", stderr(&out));

    let no_token = crate::canned::serve("200 OK", "application/json", "{\"issuer\": \"x\"}");
    let out = init_into(&format!("http://{no_token}"), &file);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("no token_endpoint"),
        "{}",
        stderr(&out)
    );

    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = gone.local_addr().unwrap();
    drop(gone);
    let out = init_into(&format!("http://{addr}"), &file);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("cannot reach"), "{}", stderr(&out));
    assert!(!file.exists());

    let out = authbench().args(["init", "ftp://x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Serves the JSON `body(address)` at `path` only, 404 everywhere else, one request per connection.
fn serve_at(
    path: &'static str,
    body: impl Fn(std::net::SocketAddr) -> String,
) -> std::net::SocketAddr {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let body = body(addr);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                line.clear();
            }
            let (status, body) = if request_line.split(' ').nth(1) == Some(path) {
                ("200 OK", body.as_str())
            } else {
                ("404 Not Found", "not found")
            };
            let mut conn = conn;
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

#[test]
fn rfc_8414_metadata_of_an_issuer_with_a_path_is_found_where_the_rfc_puts_it() {
    // RFC 8414 §3.1: for the issuer http://h/tenant/a the metadata is at
    // http://h/.well-known/oauth-authorization-server/tenant/a. It used to be looked for only at
    // http://h/tenant/a/.well-known/..., and init said the server published none.
    let addr = serve_at("/.well-known/oauth-authorization-server/tenant/a", |a| {
        serde_json::json!({
            "issuer": format!("http://{a}/tenant/a"),
            "token_endpoint": format!("http://{a}/tenant/a/oauth/token"),
            "grant_types_supported": ["password", "refresh_token"],
        })
        .to_string()
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tenant.yaml");
    let out = init_into(&format!("http://{addr}/tenant/a"), &file);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("/.well-known/oauth-authorization-server/tenant/a"),
        "{text}"
    );
    assert!(text.contains("path: \"/oauth/token\""), "{text}");
}
