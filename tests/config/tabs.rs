//! `client.tabs`, `client.tab_sync`, `client.tab_sync_delay`: they parse into the plan, and what
//! cannot mean anything is refused with file, line, column, key and fix.

use std::time::Duration;

use authbench::client::TabSync;
use authbench::engine::Plan;
use authbench::scenario::{load, load_str};

#[test]
fn tab_keys_reach_the_plan() {
    let s = load_str(
        "client: { tabs: 4, tab_sync: storage-event, tab_sync_delay: 20ms }\nplan: [ { login: {} }, { logout: {} } ]\n",
        &["client.tabs=8".to_string()],
    )
    .unwrap();
    let p = Plan::from_scenario(&s);
    assert_eq!(p.client.tabs.tabs, 8);
    assert_eq!(p.client.tabs.sync, TabSync::StorageEvent);
    assert_eq!(p.client.tabs.delay, Duration::from_millis(20));
    // Without the keys: one tab, nothing to coordinate.
    let s = load_str("plan: [ { login: {} } ]\n", &[]).unwrap();
    assert!(!Plan::from_scenario(&s).client.tabs.enabled());
    for name in ["none", "storage-event", "lock", "leader"] {
        let s = load_str(
            &format!("client: {{ tabs: 2, tab_sync: {name} }}\nplan: [ {{ login: {{}} }} ]\n"),
            &[],
        )
        .unwrap();
        assert_eq!(s.client.tab_sync.name(), name);
    }
}

#[test]
fn nonsense_tab_settings_point_at_the_key() {
    let cases = [
        ("client:\n  tabs: 0\n", "client.tabs", 2, "between 1 and 64"),
        (
            "client:\n  tabs: 65\n",
            "client.tabs",
            2,
            "between 1 and 64",
        ),
        (
            "client:\n  tab_sync: lock\n",
            "client.tab_sync",
            2,
            "client.tabs is 1",
        ),
        (
            "client:\n  tabs: 4\n  tab_sync: lock\n  tab_sync_delay: 50ms\n",
            "client.tab_sync_delay",
            4,
            "only used by tab_sync storage-event and leader",
        ),
        (
            "client:\n  tabs: 4\n  tab_sync: leader\n  tab_sync_delay: 2m\n",
            "client.tab_sync_delay",
            4,
            "longer than",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (client, key, line, says) in cases {
        let path = dir.path().join("tabs.yaml");
        std::fs::write(&path, format!("{client}plan: [ {{ login: {{}} }} ]\n")).unwrap();
        let e = load(&path, &[]).unwrap_err();
        let msg = e.to_string();
        assert_eq!(e.key(), Some(key), "{msg}");
        assert_eq!(e.position().map(|p| p.0), Some(line), "{msg}");
        assert!(msg.contains("tabs.yaml:"), "{msg}");
        assert!(msg.contains(says), "{msg}");
        assert!(e.diagnostic().fix.is_some(), "{msg}");
    }
    let e = load_str(
        "client: { tab_sync: locked }\nplan: [ { login: {} } ]\n",
        &[],
    )
    .unwrap_err();
    assert!(e.to_string().contains("did you mean `lock`?"), "{e}");
}

#[test]
fn phases_a_fleet_of_tabs_cannot_run_are_refused() {
    for phase in ["relogin: {}", "refresh_race: {}", "force_logout: {}"] {
        let e = load_str(
            &format!("client: {{ tabs: 2 }}\nplan:\n  - login: {{}}\n  - {phase}\n"),
            &[],
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(e.key().is_some_and(|k| k.starts_with("plan.1.")), "{msg}");
        assert!(msg.contains("not supported with client.tabs 2"), "{msg}");
        assert!(msg.contains("client.tabs: 1"), "{msg}");
    }
}
