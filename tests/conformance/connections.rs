//! `authbench check` against a server that closes every connection after its response
//! (`--connection-close`, like gunicorn's sync workers) gives exactly the verdicts it gives
//! against the default, kept-alive mock, and no check is an ERROR: connection closes are the
//! transport's business, never a check's.

use std::collections::BTreeMap;
use std::sync::Arc;

use authbench::checks::{self, CheckOptions, ConformanceRun, Status};

async fn run(connection_close: bool) -> ConformanceRun {
    let mut cfg = checks::builtin_mock_config();
    cfg.connection_close = connection_close;
    let server = authbench_mock::start(cfg).await.expect("mock starts");
    let profile = authbench::profile::preset("mock", &server.base_url())
        .expect("preset exists")
        .with_admin_key(server.admin_key())
        .with_max_sessions(authbench::profile::MaxSessions::of_mock(server.config()));
    let run = checks::run(Arc::new(profile), &CheckOptions::default()).await;
    server.shutdown().await;
    run
}

fn verdicts(run: &ConformanceRun) -> BTreeMap<&'static str, Status> {
    run.results.iter().map(|r| (r.meta.id, r.status)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_close_gives_the_verdicts_of_the_kept_alive_mock() {
    let (mut kept, mut closed) = tokio::join!(run(false), run(true));
    // The verdicts rest on 2 s access tokens: on an overloaded machine a disagreement is run once
    // more, one server at a time, before it counts (a real defect disagrees both times).
    if verdicts(&kept) != verdicts(&closed) {
        kept = run(false).await;
        closed = run(true).await;
    }
    let errors: Vec<_> = closed
        .results
        .iter()
        .filter(|r| r.status == Status::Error)
        .map(|r| format!("{}: {}", r.meta.id, r.message))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(verdicts(&closed).len(), checks::catalog().len());
    assert_eq!(verdicts(&closed), verdicts(&kept));
    assert!(closed.passed(), "{:?}", verdicts(&closed));
}
