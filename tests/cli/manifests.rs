//! The Kubernetes manifests in deploy/kubernetes stay in step with the product: the scenario and
//! target embedded in the ConfigMap load, and the shard count agrees everywhere in the Job.

use std::path::Path;

fn manifest(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy/kubernetes")
            .join(name),
    )
    .unwrap()
}

fn yaml(src: &str) -> serde_json::Value {
    serde_saphyr::from_str(src).expect("manifest is valid YAML")
}

#[test]
fn configmap_scenario_and_target_load() {
    let cm = yaml(&manifest("scenario-configmap.yaml"));
    let scenario = cm["data"]["scenario.yaml"].as_str().unwrap();
    let s = authbench::scenario::load_str(scenario, &[]).expect("embedded scenario validates");
    assert!(
        s.clients >= 3,
        "a sharded scenario needs clients for every shard"
    );
    let target = cm["data"]["target.yaml"].as_str().unwrap();
    let p =
        authbench::profile::profile_from_str_with(target, None, authbench::profile::EnvCheck::Skip)
            .expect("embedded target profile loads");
    assert_eq!(
        p.base_url().host_str(),
        Some("authbench-mock.authbench.svc")
    );
}

#[test]
fn shard_count_agrees_across_the_indexed_job() {
    let src = manifest("shards-job.yaml");
    let job = yaml(&src.replace("__START_AT__", "2030-01-01T00:00:00Z"));
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let n = spec["completions"].as_u64().unwrap();
    assert_eq!(spec["parallelism"].as_u64(), Some(n));
    let args = spec["template"]["spec"]["containers"][0]["args"][0]
        .as_str()
        .unwrap();
    assert!(
        args.contains(&format!("${{JOB_COMPLETION_INDEX}}/{n}")),
        "{args}"
    );
    assert!(args.contains("--start-at"), "{args}");
    let merge = manifest("merge-job.yaml");
    assert!(merge.contains("authbench merge /reports/shard-*"));
}

#[test]
fn job_is_scraped_and_the_dashboard_charts_what_the_run_exports() {
    let job = yaml(&manifest("shards-job.yaml").replace("__START_AT__", "2030-01-01T00:00:00Z"));
    let template = &job["spec"]["template"];
    let ann = &template["metadata"]["annotations"];
    assert_eq!(ann["prometheus.io/scrape"], "true");
    let port = ann["prometheus.io/port"].as_str().unwrap();
    let args = template["spec"]["containers"][0]["args"][0]
        .as_str()
        .unwrap();
    assert!(
        args.contains(&format!("--metrics-listen 0.0.0.0:{port}")),
        "{args}"
    );
    // The pod stays until Prometheus has read the run's final values (default interval 1 min).
    assert!(args.contains("--metrics-linger 90s"), "{args}");
    let mock = manifest("mock.yaml");
    assert!(mock.contains("prometheus.io/path: /metrics"), "{mock}");

    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/authbench.json"),
    )
    .unwrap();
    let dash: serde_json::Value = serde_json::from_str(&src).expect("dashboard is valid JSON");
    let exprs: Vec<&str> = dash["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap())
        .map(|t| t["expr"].as_str().unwrap())
        .collect();
    // Every series the dashboard queries is one the run (metrics::openmetrics) or the mock
    // (GET /metrics) exports.
    for needed in [
        "authbench_responses_total",
        "authbench_failures_total",
        "authbench_operation_requests_total",
        "authbench_latency_seconds_bucket",
        "authbench_active_clients",
        "authbench_phase_info",
        "authbench_mock_arrival_offset_seconds",
        "authbench_spurious_logouts_total",
        "authbench_session_ends_total",
        "authbench_ws_close_total",
        "authbench_ended_total",
    ] {
        assert!(
            exprs.iter().any(|e| e.contains(needed)),
            "{needed}: {exprs:?}"
        );
    }
}
