//! `authbench run --metrics-listen ADDR`: OpenMetrics served while the run goes on; and the
//! builtin mock's arrival figures after the storm's sync point in the report.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One `GET /metrics` over a fresh connection: (status line, body).
fn scrape(addr: SocketAddr) -> Option<(String, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    Some((head.to_string(), body.to_string()))
}

fn value(text: &str, metric: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(metric)?.strip_prefix(' ')?.parse().ok())
}

fn phase(text: &str) -> Option<&str> {
    text.lines().find_map(|l| {
        l.strip_prefix("authbench_phase_info{phase=\"")?
            .split('"')
            .next()
    })
}

#[test]
fn metrics_listen_serves_rising_counters_and_the_phase_during_a_run() {
    let out = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_authbench"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .args([
            "run",
            "scenarios/storm.yaml",
            "--clients",
            "20",
            "--duration",
            "3s",
        ])
        .args([
            "--set",
            "mock.access_ttl=2s",
            "--set",
            "plan.0.login.ramp=300ms",
        ])
        .args(["--metrics-listen", "127.0.0.1:0", "--quiet", "--out"])
        .arg(out.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let addr: SocketAddr = loop {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "no metrics line");
        if let Some(url) = line.trim().strip_prefix("metrics: http://") {
            break url.trim_end_matches("/metrics").parse().unwrap();
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut phases: Vec<String> = Vec::new();
    let mut requests: Vec<u64> = Vec::new();
    while Instant::now() < deadline {
        let Some((head, body)) = scrape(addr) else {
            break; // the run ended and the endpoint with it
        };
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("application/openmetrics-text"),
            "{head}"
        );
        assert!(body.ends_with("# EOF\n"), "{body}");
        let p = phase(&body).expect("a phase").to_string();
        if phases.last() != Some(&p) {
            phases.push(p);
        }
        requests.push(value(&body, "authbench_requests_total").unwrap_or(0));
        if phases.iter().any(|p| p == "traffic")
            && body.contains("authbench_latency_seconds_count{op=\"refresh\"}")
            && requests.last() > requests.first()
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(50)); // scrape interval
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(phases.len() >= 2, "the phase label changed: {phases:?}");
    assert!(phases.iter().any(|p| p == "traffic"), "{phases:?}");
    assert!(
        requests.last() > requests.first(),
        "requests_total rose during the run: {requests:?}"
    );
    assert!(scrape(addr).is_none(), "the endpoint ends with the run");

    // The builtin mock was told the storm's sync point: the server's view is in the report,
    // next to send_skew: each client's first request after the sync point, whatever it was.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    let a = &report["server_arrivals"];
    assert_eq!(a["op"], "all", "{a}");
    assert!(a["count"].as_u64().unwrap() >= 20, "{a}");
    assert!(
        a["p99_us"].as_u64().unwrap() >= a["first_us"].as_u64().unwrap(),
        "{a}"
    );
    assert!(report["histograms"]["send_skew"]["count"].as_u64().unwrap() >= 20);
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(
        html.contains("server arrival"),
        "report.html shows the server's view"
    );
    let summary = std::fs::read_to_string(out.path().join("summary.txt")).unwrap();
    assert!(
        summary.contains("server arrival (all)"),
        "the terminal summary too:\n{summary}"
    );
}

#[test]
fn a_metrics_address_in_use_cannot_proceed() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_authbench"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .args(["run", "scenarios/storm.yaml", "--clients", "2", "--quiet"])
        .args(["--metrics-listen", &addr.to_string(), "--out"])
        .arg(out.path().join("r"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!("--metrics-listen {addr}: cannot listen there")),
        "{err}"
    );
    assert!(err.contains("port 0 picks a free one"), "{err}");
    // Refused before the report folder is made.
    assert!(!out.path().join("r").exists());
}

/// A short storm run with `--metrics-listen 127.0.0.1:0` and `extra` flags, its stderr piped;
/// returns the child, its stderr and the endpoint's address.
fn short_run_with_metrics(
    out: &std::path::Path,
    clients: &str,
    extra: &[&str],
) -> (
    std::process::Child,
    BufReader<std::process::ChildStderr>,
    SocketAddr,
) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_authbench"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .args(["run", "scenarios/storm.yaml", "--clients", clients])
        .args(["--duration", "1s", "--set", "mock.access_ttl=2s"])
        .args(["--set", "plan.0.login.ramp=200ms"])
        .args(["--metrics-listen", "127.0.0.1:0", "--out"])
        .arg(out)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let addr = wait_for_line(&mut err, "metrics: http://")
        .trim_end_matches("/metrics")
        .parse()
        .unwrap();
    (child, err, addr)
}

/// Reads `err` until a line starting with `prefix`; returns the rest of that line.
fn wait_for_line(err: &mut impl BufRead, prefix: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "no line {prefix:?}");
        if let Some(rest) = line.trim().strip_prefix(prefix) {
            return rest.to_string();
        }
    }
}

#[test]
fn metrics_linger_serves_the_final_values_until_scraped_once_more() {
    let out = tempfile::tempdir().unwrap();
    let (mut child, mut err, addr) =
        short_run_with_metrics(out.path(), "20", &["--metrics-linger", "60s"]);
    let said = wait_for_line(&mut err, "metrics: the run is over;");
    assert!(
        said.contains("until scraped once more (at most 1m)"),
        "{said}"
    );
    // The report is written before the endpoint lingers: the scrape shows the same counts.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    let (_, body) = scrape(addr).expect("the endpoint still serves after the run");
    assert_eq!(phase(&body), Some("done"), "{body}");
    assert_eq!(
        value(&body, "authbench_requests_total"),
        report["counters"]["requests"].as_u64(),
        "{body}"
    );
    // Counted when the run ends: never seen by a scraper without the linger.
    assert_eq!(
        value(&body, "authbench_clients_logged_in_total"),
        Some(20),
        "{body}"
    );
    // Read once after the run: the process ends, well before its 60 s.
    let read = Instant::now();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(
        read.elapsed() < Duration::from_secs(20),
        "{:?}",
        read.elapsed()
    );
    assert!(
        scrape(addr).is_none(),
        "the endpoint ended with the process"
    );
}

#[test]
fn metrics_linger_ends_when_its_time_is_up_without_a_scrape() {
    let out = tempfile::tempdir().unwrap();
    let (mut child, mut err, _addr) =
        short_run_with_metrics(out.path(), "5", &["--metrics-linger", "1s"]);
    wait_for_line(&mut err, "metrics: the run is over;");
    let lingering = Instant::now();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let waited = lingering.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(15),
        "lingered {waited:?} for a 1 s linger"
    );
}

#[test]
fn metrics_linger_needs_the_endpoint_and_at_most_an_hour() {
    for (args, expect) in [
        (vec!["--metrics-linger", "30s"], "--metrics-listen"),
        (
            vec!["--metrics-listen", "127.0.0.1:0", "--metrics-linger", "2h"],
            "longer than an hour",
        ),
    ] {
        let run = Command::new(env!("CARGO_BIN_EXE_authbench"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["run", "scenarios/storm.yaml"])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
    }
}

#[test]
#[cfg(target_os = "linux")]
fn ctrl_c_ends_the_linger_and_the_run_keeps_its_verdict() {
    let out = tempfile::tempdir().unwrap();
    let (mut child, mut err, _addr) =
        short_run_with_metrics(out.path(), "5", &["--metrics-linger", "60s"]);
    wait_for_line(&mut err, "metrics: the run is over;");
    crate::interrupt::ctrl_c(child.id());
    let stopped = Instant::now();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    assert!(stopped.elapsed() < Duration::from_secs(15), "{rest}");
    // The run had ended and passed: Ctrl-C stops the endpoint, not the run (no 130).
    assert!(status.success(), "{status}: {rest}");
    assert!(
        rest.contains("stopping: the run is over, its report is written either way"),
        "{rest}"
    );
    assert!(!rest.contains("partial report"), "{rest}");
}
