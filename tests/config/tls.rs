//! The `tls:` section of a target profile: files read at load time, relative to the profile, and
//! every unusable setting refused with the key, the file and the fix.

use std::path::Path;

use authbench::profile::profile_from_str;

/// Loads a profile file `dir/target.yaml` with `tls` as its `tls:` section; the error text.
fn load(dir: &Path, tls: &str) -> Result<(), String> {
    let src = format!("preset: mock\nbase_url: https://127.0.0.1:9\ntls: {tls}\n");
    profile_from_str(&src, Some(&dir.join("target.yaml")))
        .map(|p| assert!(p.tls().is_some()))
        .map_err(|e| e.to_string())
}

#[test]
fn tls_files_are_read_and_checked_when_the_profile_loads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(d.join("ca.pem"), ca.cert.pem()).unwrap();
    let client = rcgen::generate_simple_self_signed(vec!["client".into()]).unwrap();
    std::fs::write(d.join("client.pem"), client.cert.pem()).unwrap();
    std::fs::write(d.join("client-key.pem"), client.signing_key.serialize_pem()).unwrap();
    std::fs::write(
        d.join("other-key.pem"),
        rcgen::KeyPair::generate().unwrap().serialize_pem(),
    )
    .unwrap();
    std::fs::write(d.join("junk.pem"), "not a certificate\n").unwrap();

    load(d, "{ ca_file: ca.pem }").unwrap();
    load(d, "{ insecure: true, server_name: auth.internal }").unwrap();
    load(
        d,
        "{ ca_file: ca.pem, client_cert: client.pem, client_key: client-key.pem }",
    )
    .unwrap();

    let cases = [
        (
            "{ ca_file: missing.pem }",
            &["tls.ca_file", "missing.pem"][..],
        ),
        (
            "{ ca_file: junk.pem }",
            &["tls.ca_file", "junk.pem", "no certificate"],
        ),
        (
            "{ client_cert: client.pem, client_key: other-key.pem }",
            &[
                "tls.client_key",
                "other-key.pem",
                "does not fit",
                "client.pem",
            ],
        ),
        ("{ client_cert: client.pem }", &["tls.client_key", "is not"]),
        ("{ client_key: client-key.pem }", &["tls.client_cert"]),
        (
            "{ client_cert: client.pem, client_key: junk.pem }",
            &["tls.client_key", "junk.pem", "private key"],
        ),
        (
            "{ ca_file: ca.pem, insecure: true }",
            &["tls.insecure", "ca_file"],
        ),
        ("{ server_name: \"not a name\" }", &["tls.server_name"]),
        ("{ ca_fil: ca.pem }", &["ca_fil", "ca_file"]),
    ];
    for (tls, wanted) in cases {
        let e = load(d, tls).expect_err(tls);
        for w in wanted {
            assert!(e.contains(w), "{tls}: {w:?} missing from:\n{e}");
        }
    }
}
