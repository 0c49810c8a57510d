//! Thresholds evaluated against a report: the observed value of a parsed
//! [`Threshold`](crate::config::Threshold) (the grammar lives in [`crate::config::threshold`]),
//! formatted for people, and whether it holds.
//!
//! Missing data: a latency statistic of a histogram with no samples **fails** ("no samples") —
//! a threshold about something never measured cannot be called met. A counter never recorded is
//! 0. A derived value that is undefined (refresh amplification with no refresh needed, error rate
//! with no request) fails with a message saying why.
//!
//! Default thresholds ([`DEFAULTS`]): a run whose clients never got a session, whose operations
//! failed, whose sessions the server ended before their time (a refresh of a valid token
//! refused: `spurious_logouts`), or that did not send the load it was asked for (open-model
//! arrivals `dropped`), must not pass because its scenario forgot to ask. Every load run is held to
//! them unless the scenario has a threshold on the same metric, which replaces the default
//! (`failure_rate < 5%` loosens it, `failure_rate <= 100%` switches it off). They are listed with
//! the scenario's thresholds, marked `origin: default`. A run that opens channels is also held to
//! [`CHANNEL_DEFAULTS`]: sockets the server refused are not "operations" of `failure_rate`.

use super::format;
use super::model::{Origin, Report, ThresholdResult, per_second};
use crate::config::threshold::{Kind, Metric, OpSelection, Stat, Threshold, ThresholdError};
use crate::metrics::names;

/// The default thresholds of every load run (see the module docs).
pub const DEFAULTS: &[&str] = &[
    "never_logged_in == 0",
    "never_recovered == 0",
    "failure_rate < 1%",
    FAILURE_RATE_EACH,
    "spurious_logouts == 0",
    "refresh_forks == 0",
    "refused_before_expiry == 0",
    "dropped == 0",
];

/// The default that holds each operation to the run's failure limit on its own, so that a
/// failing operation is not diluted by the requests of the others (20 % of the logins failing
/// is 0.8 % of a storm's requests). It takes the operator and limit of the scenario's own
/// `failure_rate` threshold when there is one (`failure_rate < 5%` makes it
/// `failure_rate(*) < 5%`); a `failure_rate(*)` threshold replaces it, and an operation with a
/// `failure_rate(<op>)` threshold of its own is left to that one.
pub const FAILURE_RATE_EACH: &str = "failure_rate(*) < 1%";

/// The default thresholds of a load run that opens channels (WebSockets, SSE streams, push
/// registrations): a run whose every socket the server refused must not pass because the HTTP
/// side worked. Applied when the report holds [`names::CHANNELS_NEVER_OPENED`], which such a run
/// records even at 0.
/// `channel_failure_rate` sees a server that refuses some of them (a handshake answered 500 is
/// not an operation of `failure_rate`). The kick counters see a server that ended a session (a
/// logout, a force logout, a logout everywhere, a login elsewhere) and left its channel open
/// and untold (`missed_kicks`, `sse_missed_kicks`, `missed_pushes`), or told it and never closed
/// it (`kick_without_close`): each is 0 unless a kick phase armed a clock and the kick did not
/// come.
pub const CHANNEL_DEFAULTS: &[&str] = &[
    "channels_never_opened == 0",
    "channel_failure_rate < 1%",
    "missed_kicks == 0",
    "sse_missed_kicks == 0",
    "missed_pushes == 0",
    "kick_without_close == 0",
];

/// Parses an expression with authbench's metric names (for expressions read back from a
/// `report.json`; a scenario's thresholds arrive parsed).
pub fn parse(expr: &str) -> Result<Threshold, ThresholdError> {
    Threshold::parse(expr, &names::VOCABULARY)
}

impl Report {
    /// Evaluates `thresholds` against this report: `expect` becomes their expressions and
    /// `thresholds` their results, in order.
    /// A load run (one with clients) is also held to the [`DEFAULTS`] the scenario does not
    /// override, listed after the scenario's own.
    pub fn evaluate_thresholds(&mut self, thresholds: &[Threshold]) {
        self.expect = thresholds.iter().map(|t| t.expr.clone()).collect();
        let own_ops: Vec<String> = thresholds
            .iter()
            .filter_map(|t| match &t.metric {
                Metric::OpFailureRate {
                    ops: OpSelection::One(op),
                } => Some(op.clone()),
                _ => None,
            })
            .collect();
        let leave_out_own = |t: &Threshold| match &t.metric {
            Metric::OpFailureRate {
                ops: OpSelection::Every { .. },
            } => Threshold {
                metric: Metric::OpFailureRate {
                    ops: OpSelection::Every {
                        except: own_ops.clone(),
                    },
                },
                ..t.clone()
            },
            _ => t.clone(),
        };
        let mut results: Vec<ThresholdResult> = thresholds
            .iter()
            .map(|t| evaluate(&leave_out_own(t), self))
            .collect();
        if self.run.clients > 0 {
            let channels = self.counters.contains_key(names::CHANNELS_NEVER_OPENED);
            let defaults = DEFAULTS
                .iter()
                .chain(CHANNEL_DEFAULTS.iter().filter(|_| channels));
            for d in defaults.filter_map(|e| default_for(e, thresholds)) {
                if !thresholds.iter().any(|t| same_metric(&t.metric, &d.metric)) {
                    let mut r = evaluate(&leave_out_own(&d), self);
                    r.origin = Origin::Default;
                    results.push(r);
                }
            }
        }
        self.thresholds = results;
    }
}

/// A default threshold as it applies to a scenario with `thresholds`: `failure_rate(*)` takes the
/// operator and limit of the scenario's `failure_rate` (see [`FAILURE_RATE_EACH`]).
fn default_for(expr: &str, thresholds: &[Threshold]) -> Option<Threshold> {
    let overall = thresholds.iter().find(
        |t| matches!(&t.metric, Metric::Value { name } if name == names::DERIVED_FAILURE_RATE),
    );
    match overall {
        Some(t) if expr == FAILURE_RATE_EACH => {
            let rest = t.expr.get(t.lhs().len()..).unwrap_or_default();
            parse(&format!("failure_rate(*){rest}")).ok()
        }
        _ => parse(expr).ok(),
    }
}

/// Whether two thresholds measure the same thing (a scenario's replaces a default of it).
fn same_metric(a: &Metric, b: &Metric) -> bool {
    match (a, b) {
        (
            Metric::OpFailureRate {
                ops: OpSelection::Every { .. },
            },
            Metric::OpFailureRate {
                ops: OpSelection::Every { .. },
            },
        ) => true,
        _ => a == b,
    }
}

impl Report {
    /// The failure rate of `ops` and, for `*`, which operation it is: the worst of them (the
    /// first by name among equals).
    fn op_failure_rate(&self, ops: &OpSelection) -> Result<(f64, Option<String>), String> {
        let ops_of = &self.derived.operations;
        match ops {
            OpSelection::One(op) => ops_of
                .get(op)
                .and_then(|o| o.failure_rate.map(|r| (r, o)))
                .map(|(r, o)| (r, Some(detail(op, o.failures, o.requests))))
                .ok_or_else(|| {
                    format!(
                        "failure_rate({op}) is undefined: no {op} request was made ({}{op} = 0)",
                        names::PREFIX_REQUESTS
                    )
                }),
            OpSelection::Every { except } => {
                let worst = ops_of
                    .iter()
                    .filter(|(op, _)| !except.contains(op))
                    .filter_map(|(op, o)| o.failure_rate.map(|r| (r, op, o)))
                    .fold(None::<(f64, &String, _)>, |best, cur| match best {
                        Some(b) if b.0 >= cur.0 => Some(b),
                        _ => Some(cur),
                    });
                let counted = ops_of.values().any(|o| o.requests > 0);
                match (worst, self.derived.failure_rate) {
                    (Some((r, op, o)), _) => Ok((
                        r,
                        (o.failures > 0).then(|| detail(op, o.failures, o.requests)),
                    )),
                    // A report written before `requests.<op>` existed: the overall rate.
                    (None, Some(r)) if !counted => Ok((
                        r,
                        Some("the report counts no requests.<op>: the overall rate".to_string()),
                    )),
                    (None, _) => Err(
                        "failure_rate(*) is undefined: no operation made a request (requests = 0)"
                            .to_string(),
                    ),
                }
            }
        }
    }
}

/// Formats a value of `t`'s metric for people.
fn show(t: &Threshold, v: f64) -> String {
    match t.kind {
        Kind::Latency => format::micros(v),
        Kind::Count => {
            if v.fract() == 0.0 && v >= 0.0 {
                format::count(v as u64)
            } else {
                format::sig3(v)
            }
        }
        Kind::Ratio if t.percent => format::percent(v),
        Kind::Ratio => format::ratio(v),
        Kind::Rate => format::rate(v),
    }
}

/// Most decimals added to tell a failed value from its limit.
const MAX_EXTRA_DIGITS: usize = 12;

/// A value of `t`'s metric with `decimals` digits after the point, in the unit the limit is shown
/// in (so that the two line up).
fn show_digits(t: &Threshold, v: f64, decimals: usize) -> String {
    match t.kind {
        Kind::Latency => {
            let (scale, unit) = match t.limit.abs() {
                l if l < 1_000.0 => (1.0, "µs"),
                l if l < 1_000_000.0 => (1_000.0, "ms"),
                _ => (1_000_000.0, "s"),
            };
            format!("{:.decimals$}{unit}", v / scale)
        }
        Kind::Ratio if t.percent => format!("{:.decimals$}%", v * 100.0),
        Kind::Count | Kind::Ratio => format!("{v:.decimals$}"),
        Kind::Rate => format!("{v:.decimals$}/s"),
    }
}

/// The observed value and the limit as text. When a failed comparison would print them alike
/// (`1.004` and `1.0` both show as `1.00`), digits are added until they differ, so the reason for
/// the failure is visible (`1.004, expected <= 1.000`).
fn shown_apart(t: &Threshold, v: f64, passed: bool) -> (String, String) {
    let (value, limit) = (show(t, v), show(t, t.limit));
    if passed || value != limit || v == t.limit {
        return (value, limit);
    }
    (1..=MAX_EXTRA_DIGITS)
        .map(|d| (show_digits(t, v, d), show_digits(t, t.limit, d)))
        .find(|(a, b)| a != b)
        .unwrap_or((value, limit))
}

/// Why `histogram` has no samples: its operation's requests all failed (its latencies are in
/// `<histogram>_failed`), or nothing measured it at all.
fn no_samples(lhs: &str, histogram: &str, report: &Report) -> String {
    let sent = report.counter(&names::requests_of(histogram));
    if sent == 0 {
        return format!(
            "{lhs}: no samples — the run never measured `{histogram}` (did the phase that produces it run?)"
        );
    }
    let failed: u64 = report
        .counters
        .iter()
        .filter(|(k, _)| {
            k.strip_prefix(names::PREFIX_FAILURES)
                .and_then(|rest| rest.strip_prefix(histogram))
                .is_some_and(|class| class.starts_with('.'))
        })
        .map(|(_, v)| *v)
        .sum();
    format!(
        "{lhs}: no samples — none of the {sent} `{histogram}` requests was answered as expected ({failed} counted in failures.{histogram}.*; their latencies are in `{histogram}_failed`)"
    )
}

/// Evaluates `t` against a report. A per-client limit (`2 * clients`) is the factor times the
/// report's clients.
pub fn evaluate(t: &Threshold, report: &Report) -> ThresholdResult {
    let scaled;
    let t = if t.per_client {
        scaled = Threshold {
            limit: t.limit * f64::from(report.run.clients),
            per_client: false,
            ..t.clone()
        };
        &scaled
    } else {
        t
    };
    let lhs = t.lhs().to_string();
    let mut note = None;
    let observed: Result<f64, String> = match &t.metric {
            Metric::OpFailureRate { ops } => report.op_failure_rate(ops).map(|(r, n)| {
                note = n;
                r
            }),
            Metric::Histogram { stat, histogram } => match report.histograms.get(histogram) {
                Some(h) if h.count > 0 => Ok(match stat {
                    Stat::Quantile(q) => h.histogram.value_at_quantile(f64::from(*q) / 10_000.0) as f64,
                    Stat::Min => h.min as f64,
                    Stat::Max => h.max as f64,
                    Stat::Mean => h.mean,
                    Stat::Stdev => h.stdev,
                    Stat::Count => h.count as f64,
                }),
                _ if *stat == Stat::Count => Ok(0.0),
                _ => Err(no_samples(&lhs, histogram, report)),
            },
            Metric::Rate { name } => {
                let n = report
                    .histograms
                    .get(name)
                    .map(|h| h.count)
                    .unwrap_or_else(|| report.counter(name));
                Ok(per_second(n, report.run.duration_s))
            }
            Metric::Value { name } => match name.as_str() {
                names::DERIVED_REFRESH_AMPLIFICATION => report.derived.refresh_amplification.ok_or_else(|| {
                    let accepted = report.counter(names::ACCEPTED_AFTER_EXPIRY);
                    let why = if accepted > 0 {
                        format!("; {accepted} calls were answered 2xx with an access token past the expiry the server announced ({}): the server does not refuse expired tokens (or allows a clock leeway longer than the run), so no client had to refresh", names::ACCEPTED_AFTER_EXPIRY)
                    } else if report.histograms.get(names::API).is_none_or(|h| h.count == 0) {
                        "; no resource call succeeded, so no token was used long enough to need one".to_string()
                    } else {
                        // Calls succeeded, yet no 401, no proactive refresh, no call past an
                        // announced expiry: no token came to its end while it was used.
                        "; no access token came to its end while the clients used it: the server's tokens outlive the run (or announce no expiry and are never refused) — run longer (--duration) or give the test users short-lived tokens".to_string()
                    };
                    format!("{lhs} is undefined: no refresh was needed during the run (refreshes_needed = 0){why}")
                }),
                names::DERIVED_ERROR_RATE => report.derived.error_rate.ok_or_else(|| {
                    format!("{lhs} is undefined: no request was made during the run (requests = 0)")
                }),
                names::DERIVED_ERRORS => Ok(report.derived.errors as f64),
                names::DERIVED_FAILURE_RATE => report.derived.failure_rate.ok_or_else(|| {
                    format!("{lhs} is undefined: no request was made during the run (requests = 0)")
                }),
                names::DERIVED_FAILURES => Ok(report.derived.failures as f64),
                names::DERIVED_CHANNEL_FAILURE_RATE => report.derived.channel_failure_rate.ok_or_else(|| {
                    format!("{lhs} is undefined: no channel handshake, stream or registration was tried")
                }),
                names::DERIVED_CHANNEL_FAILURES => Ok(report.derived.channel_failures as f64),
                other => Ok(report.counter(other) as f64),
            },
        };
    match observed {
        Ok(v) => {
            let passed = t.op.holds(v, t.limit);
            let (text, limit) = shown_apart(t, v, passed);
            let limit = format!("{} {limit}", t.op.as_str());
            let message = match (passed, note) {
                (true, None) => format!("{lhs} = {text} ({limit})"),
                (true, Some(n)) => format!("{lhs} = {text} ({limit}; {n})"),
                (false, None) => format!("{lhs} = {text}, expected {limit}"),
                (false, Some(n)) => format!("{lhs} = {text}, expected {limit} ({n})"),
            };
            ThresholdResult {
                expr: t.expr.clone(),
                observed: Some(v),
                observed_text: text,
                passed,
                message,
                origin: Origin::Scenario,
            }
        }
        Err(message) => ThresholdResult {
            expr: t.expr.clone(),
            observed: None,
            observed_text: "-".to_string(),
            passed: false,
            message,
            origin: Origin::Scenario,
        },
    }
}

/// `login: 13 of 63 failed`.
fn detail(op: &str, failures: u64, requests: u64) -> String {
    format!(
        "{op}: {} of {} failed",
        format::count(failures),
        format::count(requests)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_shows_enough_digits_to_see_why() {
        let cases = [
            ("refresh_amplification <= 1.0", 1.004, "1.004", "1.000"),
            ("refresh_amplification <= 1.0", 1.5, "1.50", "1.00"),
            ("error_rate < 1%", 0.010_04, "1.004%", "1.000%"),
            ("p99(refresh) < 2s", 2_000_400.0, "2.0004s", "2.0000s"),
            ("p99(refresh) < 2s", 2_000_000.0, "2s", "2s"),
            ("relogins == 0", 0.25, "0.25", "0"),
        ];
        for (expr, v, value, limit) in cases {
            let t = parse(expr).unwrap();
            assert!(!t.op.holds(v, t.limit), "{expr} fails for {v}");
            assert_eq!(
                shown_apart(&t, v, false),
                (value.to_string(), limit.to_string()),
                "{expr} with {v}"
            );
        }
        let t = parse("refresh_amplification <= 1.0").unwrap();
        assert_eq!(shown_apart(&t, 1.0, true), ("1.00".into(), "1.00".into()));
    }

    #[test]
    fn no_samples_says_whether_the_requests_failed_or_never_went() {
        let mut report = Report::of_clients(50);
        let t = parse("p99(refresh) < 2s").unwrap();
        let never = evaluate(&t, &report);
        assert!(!never.passed);
        assert!(
            never.message.contains("the run never measured `refresh`"),
            "{}",
            never.message
        );
        // Every refresh sent failed (a 200 with an error body): not "never measured".
        report.counters.insert("requests.refresh".into(), 264);
        report.counters.insert("failures.refresh.body".into(), 260);
        report.counters.insert("failures.refresh.5xx".into(), 4);
        report
            .counters
            .insert("failures.refresh_race.5xx".into(), 9);
        let failed = evaluate(&t, &report);
        assert!(!failed.passed);
        assert!(
            failed.message.contains(
                "none of the 264 `refresh` requests was answered as expected (264 counted in failures.refresh.*; their latencies are in `refresh_failed`)"
            ),
            "{}",
            failed.message
        );
    }

    #[test]
    fn an_amplification_with_no_refresh_needed_says_why() {
        // Against a server whose tokens outlived the run the message read only "no refresh was
        // needed (refreshes_needed = 0)".
        let t = parse("refresh_amplification <= 1.0").unwrap();
        let judged = |api_calls: u64| {
            let rec = crate::metrics::Recorder::new();
            for _ in 0..api_calls {
                rec.record(0, names::API, 1_000);
            }
            let meta = super::super::RunMeta {
                name: "t".into(),
                clients: 2,
                ..Default::default()
            };
            evaluate(&t, &Report::from_run(meta, rec.snapshot(), &[]))
        };
        let used = judged(40);
        assert!(!used.passed);
        assert!(
            used.message.contains("the server's tokens outlive the run")
                && used.message.contains("--duration"),
            "{}",
            used.message
        );
        let unused = judged(0);
        assert!(
            unused.message.contains("no resource call succeeded"),
            "{}",
            unused.message
        );
    }

    #[test]
    fn a_per_client_limit_scales_with_the_runs_clients() {
        let mut report = Report::of_clients(20);
        report.counters.insert(names::RELOGINS.into(), 40);
        let t = parse("relogins == 2 * clients").unwrap();
        let r = evaluate(&t, &report);
        assert!(r.passed, "{}", r.message);
        assert_eq!(r.message, "relogins = 40 (== 40)");
        report.run.clients = 21;
        let r = evaluate(&t, &report);
        assert!(!r.passed);
        assert_eq!(r.message, "relogins = 40, expected == 42");
    }

    /// A report of `clients` clients whose counters are `counters`, judged by `expect`.
    fn judged(counters: &[(&str, u64)], expect: &[&str]) -> Report {
        let mut report = Report::of_clients(50);
        for (k, v) in counters {
            report.counters.insert((*k).into(), *v);
        }
        report.recompute_derived();
        let expect: Vec<Threshold> = expect.iter().map(|e| parse(e).unwrap()).collect();
        report.evaluate_thresholds(&expect);
        report
    }

    fn result<'a>(report: &'a Report, expr: &str) -> &'a ThresholdResult {
        report
            .thresholds
            .iter()
            .find(|t| t.expr == expr)
            .unwrap_or_else(|| panic!("no `{expr}` in {:?}", report.thresholds))
    }

    /// 13 of 63 logins failed among 2 063 requests: 0.63 % of the run, 20.6 % of the logins.
    const DILUTED: &[(&str, u64)] = &[
        ("requests", 2_063),
        ("requests.login", 63),
        ("requests.api", 2_000),
        ("failures.login.5xx", 13),
    ];

    #[test]
    fn a_failing_operation_is_not_diluted_by_the_others() {
        let report = judged(DILUTED, &[]);
        let overall = result(&report, "failure_rate < 1%");
        assert!(overall.passed, "{}", overall.message);
        let each = result(&report, FAILURE_RATE_EACH);
        assert!(!each.passed);
        assert_eq!(each.origin, Origin::Default);
        assert_eq!(
            each.message,
            "failure_rate(*) = 20.6%, expected < 1% (login: 13 of 63 failed)"
        );
        // The same server without the failures passes both.
        let report = judged(&DILUTED[..3], &[]);
        assert!(
            report.thresholds.iter().all(|t| t.passed),
            "{:?}",
            report.thresholds
        );
    }

    #[test]
    fn the_scenarios_failure_limit_applies_to_each_operation() {
        // `failure_rate < 25%` loosens the overall default and each operation's with it.
        let report = judged(DILUTED, &["failure_rate < 25%"]);
        let each = result(&report, "failure_rate(*) < 25%");
        assert!(each.passed, "{}", each.message);
        assert_eq!(each.origin, Origin::Default);
        assert!(
            !report
                .thresholds
                .iter()
                .any(|t| t.expr == FAILURE_RATE_EACH)
        );
        let report = judged(DILUTED, &["failure_rate < 10%"]);
        assert!(!result(&report, "failure_rate(*) < 10%").passed);
        // An operation with a limit of its own is left to it; the others keep the default.
        let report = judged(DILUTED, &["failure_rate(login) < 25%"]);
        assert!(report.passed(), "{:?}", report.thresholds);
        let each = result(&report, FAILURE_RATE_EACH);
        assert_eq!(each.observed, Some(0.0));
        let own = result(&report, "failure_rate(login) < 25%");
        assert_eq!(
            own.message,
            "failure_rate(login) = 20.6% (< 25%; login: 13 of 63 failed)"
        );
        // A scenario's own `failure_rate(*)` replaces the default.
        let report = judged(DILUTED, &["failure_rate(*) <= 100%"]);
        assert_eq!(
            report
                .thresholds
                .iter()
                .filter(|t| t.expr.starts_with("failure_rate(*)"))
                .count(),
            1
        );
        assert!(report.passed());
        // An operation never requested has no rate to meet.
        let report = judged(DILUTED, &["failure_rate(logout) < 1%"]);
        let own = result(&report, "failure_rate(logout) < 1%");
        assert!(
            !own.passed && own.message.contains("no logout request"),
            "{}",
            own.message
        );
    }

    #[test]
    fn failures_of_the_runs_own_outage_are_left_out_of_the_rates() {
        let counters = [
            ("requests", 1_000),
            ("requests.api", 1_000),
            ("failures.api.transport", 300),
            ("failures_in_outage.api", 300),
        ];
        let report = judged(&counters, &[]);
        assert_eq!(report.derived.failures, 300);
        assert_eq!(report.derived.failure_rate, Some(0.0));
        assert!(report.passed(), "{:?}", report.thresholds);
        // One failure outside the outage's window counts.
        let mut more = counters;
        more[2].1 = 320;
        let report = judged(&more, &[]);
        assert!(!result(&report, FAILURE_RATE_EACH).passed);
        assert!(!result(&report, "failure_rate < 1%").passed);
    }

    #[test]
    fn refused_channels_fail_unless_the_token_was_refused() {
        // 30 sockets opened, 10 handshakes answered 500: a third of the attempts failed.
        let channels = [
            ("channels_never_opened", 0),
            ("ws_connects", 20),
            ("ws_connect_failed.500", 10),
        ];
        let report = judged(&channels, &[]);
        let r = result(&report, "channel_failure_rate < 1%");
        assert!(!r.passed);
        assert_eq!(r.message, "channel_failure_rate = 33.3%, expected < 1%");
        // A token refused (401) is the server's verdict, renewed and counted where sessions end.
        let verdicts = [
            ("channels_never_opened", 0),
            ("ws_connects", 20),
            ("ws_connect_failed.401", 10),
            ("sse_connects", 5),
            ("sse_connect_failed.403", 1),
        ];
        let report = judged(&verdicts, &[]);
        assert!(result(&report, "channel_failure_rate < 1%").passed);
        assert_eq!(report.derived.channel_attempts, 36);
        // Push registrations refused and streams that were not streams count too.
        let report = judged(
            &[
                ("channels_never_opened", 0),
                ("push_registrations", 9),
                ("push_register_failed", 1),
                ("sse_connect_failed.content_type", 0),
            ],
            &[],
        );
        assert!(!result(&report, "channel_failure_rate < 1%").passed);
        // Sockets the server accepted and closed at once to be retried count too.
        let report = judged(
            &[
                ("channels_never_opened", 0),
                ("ws_connects", 110),
                ("channels_turned_away", 50),
            ],
            &[],
        );
        assert_eq!(report.derived.channel_failures, 50);
        assert!(!result(&report, "channel_failure_rate < 1%").passed);
        // A run without channels is not held to it.
        let report = judged(DILUTED, &[]);
        assert!(
            !report
                .thresholds
                .iter()
                .any(|t| t.expr.starts_with("channel_"))
        );
    }

    #[test]
    fn a_channel_the_server_never_kicked_or_closed_fails_the_run() {
        for missed in [
            "missed_kicks",
            "sse_missed_kicks",
            "missed_pushes",
            "kick_without_close",
        ] {
            let counters = [
                ("channels_never_opened", 0),
                ("ws_connects", 4),
                (missed, 3),
            ];
            let report = judged(&counters, &[]);
            let r = result(&report, &format!("{missed} == 0"));
            assert!(!r.passed && r.origin == Origin::Default, "{}", r.message);
            // A scenario that expects the misses (a relogin against a multi-session server)
            // says so, and its threshold replaces the default.
            let own = format!("{missed} >= 0");
            let report = judged(&counters, &[own.as_str()]);
            assert!(result(&report, &own).passed);
            let default = format!("{missed} == 0");
            assert!(!report.thresholds.iter().any(|t| t.expr == default));
        }
        // A run without channels is not held to them.
        let report = judged(DILUTED, &[]);
        assert!(!report.thresholds.iter().any(|t| t.expr.contains("kick")));
    }

    #[test]
    fn a_forked_refresh_family_fails_the_run() {
        let report = judged(&[("requests", 10), ("refresh_forks", 2)], &[]);
        let r = result(&report, "refresh_forks == 0");
        assert!(!r.passed && r.origin == Origin::Default, "{}", r.message);
        assert!(judged(&[("requests", 10), ("requests.refresh", 10)], &[]).passed());
        // A report written before `requests.<op>` existed is held to the overall rate.
        let old = judged(&[("requests", 10), ("failures.api.5xx", 1)], &[]);
        let each = result(&old, FAILURE_RATE_EACH);
        assert_eq!(each.observed, Some(0.1));
        assert!(
            each.message.contains("the overall rate"),
            "{}",
            each.message
        );
    }

    #[test]
    fn the_defaults_parse() {
        for d in DEFAULTS.iter().chain(CHANNEL_DEFAULTS) {
            assert!(parse(d).is_ok(), "{d}");
        }
    }
}
