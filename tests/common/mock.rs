//! The in-process mock the test binaries start: 127.0.0.1 port 0, 100 000 users and a known admin
//! key. Each binary's `support` module includes this file with `#[path]`, so the set-up is written
//! once.

use authbench_mock::{MockConfig, MockServer};

/// Admin key of every test mock.
pub const ADMIN_KEY: &str = "test-admin-key";

/// Starts the mock on 127.0.0.1:0 after `tweak` adjusted the test defaults.
pub async fn mock(tweak: impl FnOnce(&mut MockConfig)) -> MockServer {
    let mut cfg = MockConfig {
        port: 0,
        users: 100_000,
        admin_key: Some(ADMIN_KEY.into()),
        ..MockConfig::default()
    };
    tweak(&mut cfg);
    authbench_mock::start(cfg).await.expect("mock starts")
}
