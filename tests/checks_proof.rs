//! The proof matrix of the conformance catalog: every check passes against the correct reference
//! mock, and every deliberate flaw of the mock is caught by exactly the checks
//! `checks::proof::FLAW_CHECKS` names (FAIL for MUST rules, WARN for SHOULD rules) while every
//! other check gives the same result as against the correct mock. Both the OAuth API (`mock`
//! preset) and the seed-style JSON API (`mock-json` preset) must give the same verdicts.
//!
//! All runs (2 presets × (correct + every flaw)) go in parallel, each against its own in-process
//! mock on 127.0.0.1:0, started 150 ms apart; the matrix takes ~11 s.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use authbench::checks::proof::{FLAW_CHECKS, proof_for};
use authbench::checks::{self, CheckOptions, ConformanceRun, Status};
use authbench_mock::Flaw;

const PRESETS: [&str; 2] = ["mock", "mock-json"];

/// Checks that are measurements (INFO) against the correct mock; everything else must PASS.
const INFO_ON_CORRECT: &[&str] = &["AT-01"];

/// Runs start this far apart, so their logins (the CPU-heavy part) do not all land in the same
/// instant on a 2-core CI machine while the timing-based checks run on a 2 s access token.
const STAGGER: Duration = Duration::from_millis(150);

async fn run_against(flaw: Option<Flaw>, preset: &'static str) -> ConformanceRun {
    let mut cfg = checks::builtin_mock_config();
    cfg.flaws.extend(flaw);
    let server = authbench_mock::start(cfg).await.expect("mock starts");
    let profile = authbench::target::preset(preset, &server.base_url())
        .expect("preset exists")
        .with_admin_key(server.admin_key());
    let run = checks::run(Arc::new(profile), &CheckOptions::default()).await;
    server.shutdown().await;
    run
}

fn statuses(run: &ConformanceRun) -> BTreeMap<&'static str, Status> {
    run.results.iter().map(|r| (r.meta.id, r.status)).collect()
}

fn describe(run: &ConformanceRun, id: &str) -> String {
    match run.get(id) {
        Some(r) => {
            let ev: Vec<String> = r.evidence.iter().map(|e| e.one_line()).collect();
            format!("{} {}: {}\n    {}", r.meta.id, r.status, r.message, ev.join("\n    "))
        }
        None => format!("{id}: not run"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_check_passes_on_the_mock_and_every_flaw_is_caught() {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for preset in PRESETS {
        for flaw in std::iter::once(None).chain(Flaw::ALL.iter().copied().map(Some)) {
            let delay = STAGGER * tasks.len() as u32;
            let task = tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                run_against(flaw, preset).await
            });
            tasks.push((flaw, preset, task));
        }
    }
    let mut runs = Vec::new();
    for (flaw, preset, task) in tasks {
        runs.push((flaw, preset, task.await.expect("run task")));
    }
    let elapsed = started.elapsed();

    let mut problems = Vec::new();
    // 1. The correct mock: every check applicable and PASS (INFO for measurements).
    let baseline = &runs
        .iter()
        .find(|(f, p, _)| f.is_none() && *p == "mock")
        .expect("baseline run")
        .2;
    assert_eq!(baseline.results.len(), checks::catalog().len());
    for r in &baseline.results {
        let want = if INFO_ON_CORRECT.contains(&r.meta.id) {
            Status::Info
        } else {
            Status::Pass
        };
        if r.status != want {
            problems.push(format!(
                "correct mock: expected {want}, got {}",
                describe(baseline, r.meta.id)
            ));
        }
    }
    assert!(baseline.passed());
    assert!(
        baseline.elapsed < Duration::from_secs(10),
        "the catalog took {:?} against the mock",
        baseline.elapsed
    );
    let base = statuses(baseline);

    // 2. Every flaw, on both APIs: caught by its checks, nothing else changes.
    for (flaw, preset, run) in &runs {
        let got = statuses(run);
        let Some(flaw) = flaw else {
            if got != base {
                problems.push(format!(
                    "{preset} correct mock differs from the mock preset: {got:?}"
                ));
            }
            continue;
        };
        let proof = proof_for(*flaw).expect("every flaw is in FLAW_CHECKS");
        for (id, status) in &got {
            let meta = checks::catalog().iter().find(|m| m.id == *id).unwrap();
            let ok = if proof.catches.contains(id) {
                *status == meta.level.violation()
            } else if proof.skips.contains(id) {
                *status == Status::Skip
            } else if proof.side_effects.contains(id) {
                !status.is_finding()
            } else {
                Some(status) == base.get(id)
            };
            if !ok {
                let want = if proof.catches.contains(id) {
                    meta.level.violation().name().to_string()
                } else if proof.skips.contains(id) {
                    "SKIP".into()
                } else {
                    format!("unchanged ({})", base[id])
                };
                problems.push(format!(
                    "{preset} --flaw {}: expected {want}, got {}",
                    flaw.name(),
                    describe(run, id)
                ));
            }
        }
        // The run fails with --fail-on warn, as `authbench check` would exit 1.
        let mut strict_run = run.clone();
        strict_run.fail_on_warn = true;
        if strict_run.exit_code() != 1 {
            problems.push(format!("{preset} --flaw {}: exit code 0 with --fail-on warn", flaw.name()));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems in the proof matrix ({} runs in {elapsed:?}):\n{}",
        problems.len(),
        runs.len(),
        problems.join("\n")
    );
    eprintln!(
        "proof matrix: {} runs in {elapsed:?}; the catalog alone took {:?} against the mock",
        runs.len(),
        baseline.elapsed
    );
}

#[test]
fn every_flaw_has_a_proof_entry() {
    for f in Flaw::ALL {
        assert!(proof_for(*f).is_some(), "{} has no entry in FLAW_CHECKS", f.name());
    }
    assert_eq!(FLAW_CHECKS.len(), Flaw::ALL.len());
}
