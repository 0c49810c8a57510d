//! Temporary smoke run (development only).
use std::sync::Arc;

use authbench::checks::{self, CheckOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn smoke() {
    let flaw = std::env::var("FLAW").ok();
    let preset = std::env::var("PRESET").unwrap_or_else(|_| "mock".into());
    let mut cfg = checks::builtin_mock_config();
    if let Ok(sig) = std::env::var("SIGNING") {
        cfg.signing = sig.parse().unwrap();
    }
    if let Some(f) = flaw {
        cfg.flaws.push(f.parse().unwrap());
    }
    let server = authbench_mock::start(cfg).await.unwrap();
    let profile = authbench::target::preset(&preset, &server.base_url())
        .unwrap()
        .with_admin_key(server.admin_key());
    let opts = CheckOptions {
        only: std::env::var("ONLY")
            .map(|s| s.split(',').map(String::from).collect())
            .unwrap_or_default(),
        ..CheckOptions::default()
    };
    let run = checks::run(Arc::new(profile), &opts).await;
    println!("{}", checks::render_terminal(&run, false));
    if std::env::var("JSON").is_ok() {
        println!("{}", serde_json::to_string_pretty(&run).unwrap());
    }
    server.shutdown().await;
}
