//! The engine over TLS: the mock serving `https://` and `wss://` with a certificate it made
//! (`--tls-self-signed`, its CA written to a file) or from files (`--tls-cert/--tls-key`), clients
//! trusting it through a profile's `tls:` section; every new connection's set-up in
//! `tls_handshake`; a server the profile does not trust fails as `errors.tls` /
//! `failures.<op>.tls`, and preflight says which `tls:` key fixes it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::support::{mock, plan, run, settings};
use authbench::client::Strategy;
use authbench::engine::preflight;
use authbench::profile::{Profile, profile_from_str};
use authbench::scenario::Phase;
use authbench_mock::{MockServer, MockTls};

/// A profile file `target.yaml` in `dir` for `server` (preset mock) with `tls` lines appended.
fn profile_in(dir: &Path, server: &MockServer, tls: &str) -> Arc<Profile> {
    let src = format!(
        "preset: mock\nbase_url: {}\nws: {{ path: /ws }}\n{tls}",
        server.base_url()
    );
    let file = dir.join("target.yaml");
    let p = profile_from_str(&src, Some(&file)).unwrap_or_else(|e| panic!("{e}\n{src}"));
    Arc::new(p.with_admin_key(server.admin_key()))
}

/// The mock serving TLS with a generated certificate, its CA written to `dir/ca.pem`.
async fn tls_mock(dir: &Path) -> MockServer {
    let ca = dir.join("ca.pem");
    let server = mock(|c| {
        c.tls = Some(MockTls::SelfSigned {
            ca_out: Some(ca.clone()),
        })
    })
    .await;
    assert!(
        server.base_url().starts_with("https://"),
        "{}",
        server.base_url()
    );
    assert!(
        std::fs::read_to_string(&ca)
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    server
}

fn login_sockets_traffic() -> Vec<Phase> {
    vec![
        Phase::Login {
            ramp: Duration::ZERO,
        },
        Phase::WsConnect {
            ramp: Duration::ZERO,
        },
        Phase::Traffic {
            duration: Duration::from_millis(600),
            rate: None,
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_wss_with_a_private_ca_record_every_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let server = tls_mock(dir.path()).await;
    let profile = profile_in(dir.path(), &server, "tls: { ca_file: ca.pem }\n");
    assert_eq!(profile.ws().unwrap().url.scheme(), "wss");
    preflight(&profile, Duration::from_secs(5)).await.unwrap();

    let clients = 5;
    let r = run(
        plan(
            clients,
            settings(Strategy::SingleFlight, 1),
            login_sockets_traffic(),
        ),
        profile,
    )
    .await;
    let n = u64::from(clients);
    assert_eq!(r.counter("logins"), n, "{:?}", r.snap.counters);
    assert_eq!(r.counter("ws_connects"), n, "{:?}", r.snap.counters);
    assert_eq!(r.errors(), 0, "{:?}", r.snap.counters);
    // At least one HTTPS connection per client (its own connections) and one per socket; no
    // more handshakes than requests plus sockets (kept-alive connections are reused).
    let handshakes = r.samples("tls_handshake");
    assert!(handshakes >= 2 * n, "{handshakes} handshakes");
    assert!(
        handshakes <= r.counter("requests") + r.counter("ws_connects"),
        "{handshakes} handshakes, {:?}",
        r.snap.counters
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_a_tls_failure_that_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let server = tls_mock(dir.path()).await;

    // No `tls:` section: the platform's roots do not know the mock's CA.
    let untrusting = profile_in(dir.path(), &server, "");
    let e = preflight(&untrusting, Duration::from_secs(5))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("tls.ca_file"), "{e}");
    let clients = 3;
    let r = run(
        plan(
            clients,
            settings(Strategy::SingleFlight, 1),
            vec![Phase::Login {
                ramp: Duration::ZERO,
            }],
        ),
        untrusting,
    )
    .await;
    assert_eq!(r.counter("logins"), 0);
    assert!(
        r.counter("errors.tls") >= u64::from(clients),
        "{:?}",
        r.snap.counters
    );
    assert_eq!(
        r.counter("errors.tls"),
        r.counter("requests"),
        "{:?}",
        r.snap.counters
    );
    assert!(
        r.counter("failures.login.tls") >= u64::from(clients),
        "{:?}",
        r.snap.counters
    );
    assert_eq!(r.counter("failures.login.transport"), 0);
    assert_eq!(
        r.samples("tls_handshake"),
        0,
        "a refused handshake is no sample"
    );

    // The right CA but a name the certificate does not carry: `tls.server_name` is the fix.
    let wrong_name = profile_in(
        dir.path(),
        &server,
        "tls: { ca_file: ca.pem, server_name: auth.example.com }\n",
    );
    let e = preflight(&wrong_name, Duration::from_secs(5))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("tls.server_name"), "{e}");

    // A name it does carry, other than the URL's host (127.0.0.1): accepted.
    let by_name = profile_in(
        dir.path(),
        &server,
        "tls: { ca_file: ca.pem, server_name: localhost }\n",
    );
    preflight(&by_name, Duration::from_secs(5)).await.unwrap();

    // `insecure: true` accepts the unknown certificate (a self-signed staging server).
    let insecure = profile_in(dir.path(), &server, "tls: { insecure: true }\n");
    preflight(&insecure, Duration::from_secs(5)).await.unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mock_serves_certificate_files() {
    let dir = tempfile::tempdir().unwrap();
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let server = mock(|c| {
        c.tls = Some(MockTls::Files {
            cert: cert.clone(),
            key: key.clone(),
        })
    })
    .await;
    assert_eq!(server.tls_ca_pem(), None);
    // The self-signed certificate is its own trust anchor.
    let profile = profile_in(dir.path(), &server, "tls: { ca_file: cert.pem }\n");
    let r = run(
        plan(
            2,
            settings(Strategy::SingleFlight, 1),
            vec![Phase::Login {
                ramp: Duration::ZERO,
            }],
        ),
        profile,
    )
    .await;
    assert_eq!(r.counter("logins"), 2, "{:?}", r.snap.counters);
    assert!(r.samples("tls_handshake") >= 2);
    server.shutdown().await;

    // A key that is not the certificate's: the mock refuses to start and says so.
    let other = rcgen::KeyPair::generate().unwrap();
    std::fs::write(&key, other.serialize_pem()).unwrap();
    let err = authbench_mock::start(authbench_mock::MockConfig {
        port: 0,
        tls: Some(MockTls::Files { cert, key }),
        ..Default::default()
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("--tls-key does not fit --tls-cert"), "{err}");
}
