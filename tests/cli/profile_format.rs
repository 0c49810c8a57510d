//! The target-profile format from the command line (issue 12 §1): `{{env.NAME | default}}` in
//! `base_url`, `--base-url` on `run` and `check`, `check --set users.*`, and `validate` naming
//! unset environment variables the same way for a profile and for a scenario that names it.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn authbench() -> Command {
    let mut cmd = Command::cargo_bin("authbench").expect("authbench binary");
    cmd.env("NO_COLOR", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const PROFILE: &str = "preset: mock\nbase_url: \"{{ env.AB_PF_BASE | default(\\\"http://127.0.0.1:1\\\") }}\"\nlogin:\n  path: /oauth/token\n  form: { grant_type: password, username: \"{{user}}\", password: \"{{password}}\", client_secret: \"{{env.AB_PF_SECRET}}\" }\n";

#[test]
fn validate_names_unset_variables_the_same_way_for_a_profile_and_its_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let profile = write(dir.path(), "idp.yaml", PROFILE);
    let scenario = write(
        dir.path(),
        "s.yaml",
        "name: s\nclients: 1\ntarget: idp.yaml\nplan:\n  - login: {}\n",
    );
    let note = "environment variable AB_PF_SECRET is not set (used by `login`)";
    let alone = authbench()
        .env_remove("AB_PF_SECRET")
        .env_remove("AB_PF_BASE")
        .arg("validate")
        .arg(&profile)
        .assert()
        .success()
        .stdout(predicate::str::contains(note))
        .stdout(predicate::str::contains("http://127.0.0.1:1/"));
    let via = authbench()
        .env_remove("AB_PF_SECRET")
        .arg("validate")
        .arg(&scenario)
        .assert()
        .success()
        .stdout(predicate::str::contains(note));
    let line = |out: &[u8]| {
        String::from_utf8_lossy(out)
            .lines()
            .find(|l| l.contains("note:"))
            .unwrap()
            .to_string()
    };
    assert_eq!(
        line(&alone.get_output().stdout),
        line(&via.get_output().stdout)
    );
    // Set: no note.
    authbench()
        .env("AB_PF_SECRET", "s")
        .arg("validate")
        .arg(&scenario)
        .assert()
        .success()
        .stdout(predicate::str::contains("note:").not());
}

#[test]
fn validate_names_an_unset_variable_of_the_authorize_request() {
    // `run` and `check` refuse it (`grant.authorization_code.authorize`); `validate` used to say
    // "every environment variable it uses is set".
    let dir = tempfile::tempdir().unwrap();
    let profile = write(
        dir.path(),
        "idp.yaml",
        "preset: oauth2\nbase_url: http://127.0.0.1:1\ngrant:\n  authorization_code:\n    authorize: { path: /auth, query: { client_id: \"{{env.AB_PF_AUTHZ_CLIENT}}\" } }\n    redirect_uri: http://127.0.0.1:3000/cb\n",
    );
    authbench()
        .env_remove("AB_PF_AUTHZ_CLIENT")
        .arg("validate")
        .arg(&profile)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "environment variable AB_PF_AUTHZ_CLIENT is not set (used by `grant.authorization_code.authorize`)",
        ))
        .stdout(predicate::str::contains("every environment variable it uses is set").not());
    authbench()
        .env_remove("AB_PF_AUTHZ_CLIENT")
        .args(["check", "--only", "RT-01"])
        .arg(&profile)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("AB_PF_AUTHZ_CLIENT is not set"));
}

#[test]
fn run_refuses_an_unset_variable_with_its_position_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let profile = write(
        dir.path(),
        "idp.yaml",
        "preset: mock\nbase_url: \"{{env.AB_PF_UNSET_URL}}\"\n",
    );
    authbench()
        .env_remove("AB_PF_UNSET_URL")
        .args(["run", "scenarios/storm.yaml", "--quiet", "--target"])
        .arg(&profile)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("idp.yaml:2:"))
        .stderr(predicate::str::contains(
            "environment variable AB_PF_UNSET_URL is not set",
        ))
        .stderr(predicate::str::contains("--base-url"));
}

#[test]
fn a_template_function_with_wrong_arguments_is_refused_at_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let profile = write(
        dir.path(),
        "idp.yaml",
        "preset: mock\nbase_url: http://127.0.0.1:1\nlogin:\n  path: /t\n  json: { SECRET_HASH: \"{{ hmac_sha256_b64(user) }}\" }\n",
    );
    authbench()
        .arg("validate")
        .arg(&profile)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("idp.yaml:5:"))
        .stderr(predicate::str::contains(
            "hmac_sha256_b64(key, part, ...) takes a key and at least one part to sign, got 1",
        ));
}

#[test]
fn base_url_flag_is_refused_for_the_builtin_mock() {
    authbench()
        .args([
            "check",
            "--only",
            "RT-01",
            "--base-url",
            "http://127.0.0.1:1",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("builtin mock"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_url_and_users_flags_point_check_at_another_server() {
    let mock = authbench_mock::start(authbench_mock::MockConfig {
        port: 0,
        users: 1000,
        ..authbench_mock::MockConfig::default()
    })
    .await
    .unwrap();
    let base = mock.base_url();
    let dir = tempfile::tempdir().unwrap();
    // The file points at a dead port; --base-url wins.
    let profile = write(
        dir.path(),
        "idp.yaml",
        "preset: mock\nbase_url: http://127.0.0.1:1\n",
    );
    let out = dir.path().join("out");
    let (profile2, out2, base2) = (profile.clone(), out.clone(), base.clone());
    let checked = tokio::task::spawn_blocking(move || {
        authbench()
            .args(["check", "--only", "RT-01", "--json", "--base-url", &base2])
            .args([
                "--set",
                "users.pattern=user{n}",
                "--set",
                "users.offset=500",
            ])
            .arg("--target")
            .arg(&profile2)
            .arg("--out")
            .arg(&out2)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
    assert_eq!(json["results"][0]["status"], "PASS", "{json}");
    // The accounts come from --set: the mock saw logins of users at offset 500 and up.
    let evidence = json.to_string();
    assert!(evidence.contains("user50"), "{evidence}");
    // A bad --set key is named.
    let bad = tokio::task::spawn_blocking(move || {
        authbench()
            .args(["check", "--set", "users.patern=u{n}", "--target"])
            .arg(&profile)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("did you mean `pattern`"));
    mock.shutdown().await;
}
