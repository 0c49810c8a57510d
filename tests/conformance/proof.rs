//! The proof matrix of the conformance catalog: every check passes against the correct reference
//! mock, and every deliberate flaw of the mock is caught by exactly the checks
//! `checks::proof::FLAW_CHECKS` names (FAIL for MUST rules, WARN for SHOULD rules) while every
//! other check gives the same result as against the correct mock. The seed-style JSON API
//! (`mock-json` preset) must give the same verdicts as the OAuth API (`mock` preset).
//!
//! Both directions are asserted: every flaw moves at least one check, and every check of the
//! catalog is moved by at least one flaw.
//!
//! Every case runs against its own in-process mock on 127.0.0.1:0; up to `PARALLEL_CASES` cases
//! run at once (the first ones started 200 ms apart, the others as soon as a case ends). A case
//! that disagrees with `FLAW_CHECKS` by a wrong verdict (PASS, FAIL, WARN or INFO) fails the test
//! without a re-run, so a check whose verdict depends on timing is a defect of that check. A case
//! whose only disagreements are checks that reached no verdict (ERROR, or SKIP where a verdict is
//! due: e.g. RT-13 when a stall of the machine left it no window to time the idle timeout, which
//! it says) runs again, at most [`RERUNS`] times; still without a verdict, it fails the test.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use authbench::checks::proof::{FLAW_CHECKS, proof_for};
use authbench::checks::{self, CheckOptions, ConformanceRun, FailOn, Status};
use authbench_mock::Flaw;

/// Runs start this far apart, so their logins (the CPU-heavy part) do not all land in the same
/// instant on a 2-core CI machine.
const STAGGER: Duration = Duration::from_millis(200);

/// Runs a case gets after its first when its only disagreements are checks without a verdict.
const RERUNS: usize = 2;

/// Cases running at once. The verdicts rest on a 2 s access token: with every case at once, the
/// matrix's own logins queue for seconds on a 2-core machine and tokens expire before their
/// first use, so the cases run in bounded waves instead.
const PARALLEL_CASES: usize = 6;

/// Flaws whose code paths differ between the OAuth API and the JSON API (login, refresh, logout):
/// these run against both presets. The others live in `/api/me` and `/ws`, which both presets
/// share, so running them twice would prove nothing new. `refresh-cacheable` changes the JSON
/// API's refresh too, but RT-01 judges `Cache-Control` only on an OAuth token response (RFC 6749
/// §5.1), so against `mock-json` it would move nothing.
const JSON_API_FLAWS: &[Flaw] = &[
    Flaw::NoRotation,
    Flaw::ReuseAllowed,
    Flaw::NoFamilyRevocation,
    Flaw::RacyRotation,
    Flaw::AccessAsRefresh,
    Flaw::LogoutKeepsRefresh,
    Flaw::SessionExtends,
    Flaw::RejectAllRefresh,
    Flaw::OneShotRotation,
    Flaw::LogoutEndsAllSessions,
];

type Case = (Option<Flaw>, &'static str);

async fn run_case((flaw, preset): Case) -> ConformanceRun {
    let mut cfg = checks::builtin_mock_config();
    cfg.flaws.extend(flaw);
    let server = authbench_mock::start(cfg).await.expect("mock starts");
    let profile = authbench::profile::preset(preset, &server.base_url())
        .expect("preset exists")
        .with_admin_key(server.admin_key())
        .with_max_sessions(authbench::profile::MaxSessions::of_mock(server.config()));
    // RT-13's own mock (see `checks::builtin_idle_mock_config`), with the same flaw.
    let mut idle_cfg = checks::builtin_idle_mock_config();
    idle_cfg.flaws.extend(flaw);
    let idle = authbench_mock::start(idle_cfg)
        .await
        .expect("idle mock starts");
    let idle_profile = authbench::profile::preset(preset, &idle.base_url())
        .expect("preset exists")
        .with_admin_key(idle.admin_key());
    let opts = CheckOptions {
        idle_target: Some(Arc::new(idle_profile)),
        ..CheckOptions::default()
    };
    let run = checks::run(Arc::new(profile), &opts).await;
    server.shutdown().await;
    idle.shutdown().await;
    run
}

fn name((flaw, preset): Case) -> String {
    match flaw {
        Some(f) => format!("{preset} --flaw {}", f.name()),
        None => format!("{preset} (correct)"),
    }
}

fn describe(run: &ConformanceRun, id: &str) -> String {
    match run.get(id) {
        Some(r) => {
            let ev: Vec<String> = r.evidence.iter().map(|e| e.one_line()).collect();
            format!(
                "{} {}: {}\n    {}",
                r.meta.id,
                r.status,
                r.message,
                ev.join("\n    ")
            )
        }
        None => format!("{id}: not run"),
    }
}

/// One way a run disagrees with what it should show.
struct Problem {
    text: String,
    /// A check reached no verdict where one was due (ERROR, or SKIP): running again may give it.
    no_verdict: bool,
}

impl Problem {
    fn wrong(text: String) -> Problem {
        Problem {
            text,
            no_verdict: false,
        }
    }

    /// Check `id` of `run` came out as it should not: a problem without a verdict if its status
    /// is none.
    fn check(run: &ConformanceRun, id: &str, status: Status, want: &str) -> Problem {
        Problem {
            text: format!("expected {want}, got {}", describe(run, id)),
            no_verdict: matches!(status, Status::Error | Status::Skip),
        }
    }
}

/// Whether `problems` may go away when the case runs again: there are some, and every one is a
/// check without a verdict.
fn worth_a_rerun(problems: &[Problem]) -> bool {
    !problems.is_empty() && problems.iter().all(|p| p.no_verdict)
}

fn texts(problems: &[Problem]) -> Vec<String> {
    problems.iter().map(|p| p.text.clone()).collect()
}

/// ` (run 2 times)` after a case's name, nothing for a case run once.
fn times(runs: usize) -> String {
    if runs == 1 {
        String::new()
    } else {
        format!(" (run {runs} times)")
    }
}

/// What is wrong with the correct mock's run (every check PASS, < 10 s).
fn judge_baseline(run: &ConformanceRun) -> Vec<Problem> {
    let mut problems = Vec::new();
    if run.results.len() != checks::catalog().len() {
        problems.push(Problem::wrong(format!(
            "{} results for {} checks",
            run.results.len(),
            checks::catalog().len()
        )));
    }
    for r in &run.results {
        if r.status != Status::Pass {
            problems.push(Problem::check(run, r.meta.id, r.status, "PASS"));
        }
    }
    if !run.passed() || run.exit_code() != 0 {
        // A consequence of the statuses above: no verdict if none of them is one.
        problems.push(Problem {
            text: "the run does not pass".into(),
            no_verdict: run
                .results
                .iter()
                .all(|r| matches!(r.status, Status::Pass | Status::Error | Status::Skip)),
        });
    }
    if run.elapsed >= Duration::from_secs(10) {
        problems.push(Problem::wrong(format!(
            "the catalog took {:?}",
            run.elapsed
        )));
    }
    problems
}

/// What is wrong with a case's run, compared with the correct mock's statuses.
fn judge(case: Case, run: &ConformanceRun, base: &BTreeMap<&'static str, Status>) -> Vec<Problem> {
    let statuses: BTreeMap<_, _> = run.results.iter().map(|r| (r.meta.id, r.status)).collect();
    let Some(flaw) = case.0 else {
        let mut problems: Vec<Problem> = statuses
            .iter()
            .filter(|(id, status)| base.get(*id) != Some(*status))
            .map(|(id, status)| {
                let want = base.get(id).map_or("no result", |s| s.name());
                Problem::check(run, id, *status, &format!("{want} as with the mock preset"))
            })
            .collect();
        if statuses.len() != base.len() {
            problems.push(Problem::wrong(format!(
                "{} results, {} with the mock preset",
                statuses.len(),
                base.len()
            )));
        }
        return problems;
    };
    let proof = proof_for(flaw).expect("every flaw is in FLAW_CHECKS");
    let mut problems = Vec::new();
    for (id, status) in &statuses {
        let (ok, want) = if let Some(want) = proof.caught_as(id) {
            (*status == want, want.name().to_string())
        } else if proof.skips.contains(id) {
            (*status == Status::Skip, "SKIP".into())
        } else if proof.side_effects.contains(id) {
            (!status.is_finding(), "no finding".into())
        } else {
            (
                Some(status) == base.get(id),
                format!("unchanged ({})", base[id]),
            )
        };
        if !ok {
            problems.push(Problem::check(run, id, *status, &want));
        }
    }
    // `authbench check --fail-on warn` exits 1 against every flaw.
    let mut warn_fails = run.clone();
    warn_fails.fail_on = FailOn::Warn;
    if warn_fails.exit_code() != 1 {
        problems.push(Problem::wrong("exit code 0 with --fail-on warn".into()));
    }
    problems
}

/// Runs `cases` (up to [`PARALLEL_CASES`] at once, the first ones [`STAGGER`] apart).
async fn run_cases(cases: &[Case]) -> Vec<ConformanceRun> {
    let slots = Arc::new(tokio::sync::Semaphore::new(PARALLEL_CASES));
    let tasks: Vec<_> = cases
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let case = *case;
            let slots = slots.clone();
            tokio::spawn(async move {
                let _slot = slots.acquire_owned().await.expect("never closed");
                if i < PARALLEL_CASES {
                    tokio::time::sleep(STAGGER * i as u32).await;
                }
                run_case(case).await
            })
        })
        .collect();
    let mut runs = Vec::new();
    for t in tasks {
        runs.push(t.await.expect("case task"));
    }
    runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_check_passes_on_the_mock_and_every_flaw_is_caught() {
    let started = Instant::now();
    let mut cases: Vec<Case> = vec![(None, "mock"), (None, "mock-json")];
    cases.extend(Flaw::ALL.iter().map(|f| (Some(*f), "mock")));
    cases.extend(JSON_API_FLAWS.iter().map(|f| (Some(*f), "mock-json")));
    let mut runs = run_cases(&cases).await;
    let mut tries = vec![1usize; cases.len()];
    let again = |case: Case, problems: &[Problem]| {
        eprintln!(
            "proof matrix: {} runs again, no verdict from: {}",
            name(case),
            texts(problems).join("; ")
        );
    };

    // The correct mock first: the other cases are judged against its statuses.
    let mut problems = judge_baseline(&runs[0]);
    while worth_a_rerun(&problems) && tries[0] <= RERUNS {
        again(cases[0], &problems);
        runs[0] = run_case(cases[0]).await;
        tries[0] += 1;
        problems = judge_baseline(&runs[0]);
    }
    assert!(
        problems.is_empty(),
        "the correct mock{}:\n{}",
        times(tries[0]),
        texts(&problems).join("\n")
    );
    let baseline = &runs[0];
    let base: BTreeMap<_, _> = baseline
        .results
        .iter()
        .map(|r| (r.meta.id, r.status))
        .collect();

    // The cases whose checks reached no verdict run again, in bounded waves like the first run.
    for _ in 0..RERUNS {
        let rerun: Vec<usize> = (1..cases.len())
            .filter(|&i| {
                let problems = judge(cases[i], &runs[i], &base);
                let worth = worth_a_rerun(&problems);
                if worth {
                    again(cases[i], &problems);
                }
                worth
            })
            .collect();
        if rerun.is_empty() {
            break;
        }
        let rerun_cases: Vec<Case> = rerun.iter().map(|&i| cases[i]).collect();
        for (i, run) in rerun.into_iter().zip(run_cases(&rerun_cases).await) {
            runs[i] = run;
            tries[i] += 1;
        }
    }

    let failures: Vec<String> = (1..cases.len())
        .filter_map(|i| {
            let problems = judge(cases[i], &runs[i], &base);
            (!problems.is_empty()).then(|| {
                format!(
                    "{}{}:\n  {}",
                    name(cases[i]),
                    times(tries[i]),
                    texts(&problems).join("\n  ")
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases disagree with FLAW_CHECKS:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!(
        "proof matrix: {} cases in {:?} ({} runs again); the catalog took {:?} against the correct mock",
        cases.len(),
        started.elapsed(),
        tries.iter().map(|t| t - 1).sum::<usize>(),
        runs[0].elapsed
    );
}

#[test]
fn every_flaw_has_a_proof_entry() {
    for f in Flaw::ALL {
        assert!(
            proof_for(*f).is_some(),
            "{} has no entry in FLAW_CHECKS",
            f.name()
        );
    }
    assert_eq!(FLAW_CHECKS.len(), Flaw::ALL.len());
}

#[test]
fn every_check_is_caught_by_a_flaw() {
    let uncaught: Vec<&str> = checks::catalog()
        .iter()
        .map(|m| m.id)
        .filter(|id| !FLAW_CHECKS.iter().any(|p| p.catches.contains(id)))
        .collect();
    assert!(
        uncaught.is_empty(),
        "no mock flaw makes these checks FAIL or WARN: {uncaught:?}"
    );
    for p in FLAW_CHECKS {
        assert!(!p.catches.is_empty(), "{} moves no check", p.flaw.name());
    }
}
