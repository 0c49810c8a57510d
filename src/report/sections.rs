//! Report content shared by the terminal and HTML writers: which counters matter, status codes by
//! operation, close codes with their meaning, the verdict sentence.

use super::conformance::Status;
use super::format;
use super::model::Report;
use crate::metrics::names;

/// One labelled value of the "counters that matter" list.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KeyValue {
    /// Counter or derived name.
    pub name: String,
    /// Formatted value.
    pub value: String,
    /// Short explanation.
    pub note: String,
    /// The value is a problem sign (nonzero spurious logouts, errors, ...).
    pub bad: bool,
}

/// Counters that matter, in reading order; absent optional counters are left out.
pub fn key_counters(r: &Report) -> Vec<KeyValue> {
    let mut out = Vec::new();
    let mut push = |name: &str, value: String, note: &str, bad: bool| {
        out.push(KeyValue {
            name: name.to_string(),
            value,
            note: note.to_string(),
            bad,
        });
    };
    let has = |k: &str| r.counters.contains_key(k);
    push(
        names::REQUESTS,
        format::count(r.derived.requests),
        "requests sent",
        false,
    );
    if let Some((logged_in, clients)) = logged_in(r) {
        push(
            names::CLIENTS_LOGGED_IN,
            format!("{} of {}", format::count(logged_in), format::count(clients)),
            "clients that got a session",
            logged_in < clients,
        );
        let never = r.counter(names::NEVER_LOGGED_IN);
        push(
            names::NEVER_LOGGED_IN,
            format::count(never),
            "clients whose every login failed",
            never > 0,
        );
    }
    push(
        names::DERIVED_FAILURES,
        format::count(r.derived.failures),
        "operations with an unexpected answer or none (sum of failures.*)",
        r.derived.failures > 0,
    );
    if let Some(f) = r.derived.failure_rate {
        push(
            names::DERIVED_FAILURE_RATE,
            format::percent(f),
            if r.derived.failures_in_outage > 0 {
                "(failures - failures_in_outage) / requests"
            } else {
                "failures / requests"
            },
            f > 0.0,
        );
    }
    for (op, o) in &r.derived.operations {
        if let (Some(f), true) = (o.failure_rate, o.failures > 0) {
            push(
                &format!("{}({op})", names::DERIVED_FAILURE_RATE),
                format::percent(f),
                &format!(
                    "{} of {} {op} requests failed",
                    format::count(o.failures),
                    format::count(o.requests)
                ),
                true,
            );
        }
    }
    for (rest, v) in r.counters_with_prefix(names::PREFIX_FAILURES) {
        push(
            &format!("{}{rest}", names::PREFIX_FAILURES),
            format::count(v),
            "",
            v > 0,
        );
    }
    for (rest, v) in r.counters_with_prefix(names::PREFIX_FAILURES_IN_OUTAGE) {
        push(
            &format!("{}{rest}", names::PREFIX_FAILURES_IN_OUTAGE),
            format::count(v),
            "of those, no answer while the run's own outage had the target away (not in the rates)",
            false,
        );
    }
    for (rest, v) in r.counters_with_prefix(names::PREFIX_RETRY_AFTER) {
        push(
            &format!("{}{rest}", names::PREFIX_RETRY_AFTER),
            format::count(v),
            "429/503 with Retry-After: the client waited (at most 5s)",
            false,
        );
    }
    for (rest, v) in r.counters_with_prefix(names::PREFIX_GAVE_UP) {
        push(
            &format!("{}{rest}", names::PREFIX_GAVE_UP),
            format::count(v),
            "clients whose last call of this operation had failed when the run ended",
            v > 0,
        );
    }
    let channel_ends = [
        (
            names::CHANNELS_NEVER_OPENED,
            "sockets, streams or push registrations the server refused every time (none opened)",
        ),
        (
            names::WS_NOT_OPEN_AT_END,
            "clients whose WebSocket was not open when the run ended",
        ),
        (
            names::CHANNELS_TURNED_AWAY,
            "sockets or streams closed within 1 s to be retried, nothing delivered (failed attempts)",
        ),
    ];
    for (name, note) in channel_ends.into_iter().filter(|(name, _)| has(name)) {
        let v = r.counter(name);
        push(name, format::count(v), note, v > 0);
    }
    if let Some(f) = r.derived.channel_failure_rate {
        push(
            names::DERIVED_CHANNEL_FAILURES,
            format::count(r.derived.channel_failures),
            "handshakes, streams or registrations that failed, not for the token (5xx, no answer, ...)",
            r.derived.channel_failures > 0,
        );
        let in_outage = r.counter(names::CHANNEL_FAILURES_IN_OUTAGE);
        if in_outage > 0 {
            push(
                names::CHANNEL_FAILURES_IN_OUTAGE,
                format::count(in_outage),
                "of those, while the run's own outage had the target away (not in the rate)",
                false,
            );
        }
        push(
            names::DERIVED_CHANNEL_FAILURE_RATE,
            format::percent(f),
            &format!(
                "channel failures / {} attempts",
                format::count(r.derived.channel_attempts)
            ),
            f > 0.0,
        );
    }
    let refreshing = has(names::REFRESH_CALLS) || has(names::REFRESHES_NEEDED);
    if refreshing {
        push(
            names::REFRESH_CALLS,
            format::count(r.counter(names::REFRESH_CALLS)),
            "refresh requests sent",
            false,
        );
        push(
            names::REFRESHES_NEEDED,
            format::count(r.counter(names::REFRESHES_NEEDED)),
            "token expiries that needed a refresh",
            false,
        );
    }
    if has(names::REFRESHES_REFUSED) {
        push(
            names::REFRESHES_REFUSED,
            format::count(r.counter(names::REFRESHES_REFUSED)),
            "refreshes the server refused (refresh_rejected), for any reason",
            false,
        );
    }
    if let Some(a) = r.derived.refresh_amplification {
        push(
            names::DERIVED_REFRESH_AMPLIFICATION,
            format::ratio(a),
            "refresh_calls / refreshes_needed (1.00 = one refresh per expiry)",
            a > 1.0 + 1e-9,
        );
    }
    let refused = r.counter(names::REFRESHES_REFUSED);
    for (name, note) in [
        (names::RELOGINS, "refresh rejected → new login"),
        (
            names::SPURIOUS_LOGOUTS,
            "relogins while the session should still have been valid",
        ),
        (
            names::SESSIONS_EXPIRED,
            "refreshes refused at the session end the server announced",
        ),
        (
            names::FALSE_LOGOUTS,
            "logouts on a 403 of a still-valid session (logout_on_403)",
        ),
        (
            names::REUSE_DETECTED,
            "refreshes the server refused as an already-used token",
        ),
        (
            names::REFRESH_FORKS,
            "refresh tokens accepted twice with different successors",
        ),
        (
            names::NEVER_RECOVERED,
            "storm clients without a successful call by the phase end",
        ),
        (names::DROPPED, "open-model arrivals that could not start"),
        (
            names::MISSED_KICKS,
            "sockets whose kick never came: still open at the wait's end, or ended another way",
        ),
        (
            names::KICK_WITHOUT_CLOSE,
            "kick event without a close frame",
        ),
        (
            names::WS_OPEN_AFTER_EXPIRY,
            "sockets still open after their access token expired",
        ),
        (
            names::WS_GAVE_UP,
            "clients that stopped reconnecting after repeated failures",
        ),
        (
            names::CLOSE_WITHOUT_EVENT,
            "close frame without the matching event",
        ),
        (
            names::CLOSE_CODE_VIOLATIONS,
            "close codes RFC 6455 forbids on the wire",
        ),
        (
            names::STALE_WS_MESSAGES,
            "messages from an old socket after a reconnect (dropped)",
        ),
        (
            names::SSE_CONNECTS,
            "SSE streams opened (client.channel: sse)",
        ),
        (
            names::SSE_MISSED_KICKS,
            "SSE streams whose kick never came: still open at the wait's end, or ended another way",
        ),
        (
            names::SSE_END_WITHOUT_EVENT,
            "SSE streams the server ended without a session event",
        ),
        (names::SSE_RESUMES, "SSE reconnects that sent Last-Event-ID"),
        (
            names::SSE_GAVE_UP,
            "clients that stopped reconnecting their SSE stream",
        ),
        (
            names::PUSH_REGISTRATIONS,
            "device tokens registered (client.channel: push)",
        ),
        (
            names::PUSH_REGISTER_FAILED,
            "push registrations the server refused or that failed",
        ),
        (
            names::PUSHES_RECEIVED,
            "push messages received for a registered device",
        ),
        (
            names::MISSED_PUSHES,
            "ended sessions whose device got no push",
        ),
        (
            names::PUSHES_UNROUTED,
            "push messages for a device token no client registered",
        ),
        (
            names::ZOMBIE_SESSIONS,
            "devices still usable after logout everywhere (refresh, or access token past its exp)",
        ),
        (
            names::ZOMBIE_REFRESH,
            "devices whose refresh still worked after logout everywhere",
        ),
        (
            names::ZOMBIE_ACCESS,
            "devices whose access token was still accepted after its exp",
        ),
        (
            names::ZOMBIE_UNCHECKED,
            "devices whose access token expires after await_expiry (not checked)",
        ),
        (
            names::LOGOUT_EVERYWHERE_FAILED,
            "logout-everywhere requests the target did not accept",
        ),
        (
            names::TAB_ADOPTIONS,
            "tokens a tab took from its user's store instead of renewing them",
        ),
        (
            names::STALE_TAB_REQUESTS,
            "calls a tab sent with tokens another tab's logout had dropped",
        ),
        (
            names::TAB_LOGOUT_MISSED,
            "tabs that never learned of another tab's logout",
        ),
        (
            names::RESENT_UNSENT,
            "requests a server-closed idle connection handed back unsent, sent on a new one",
        ),
        (
            names::RESENT_IDEMPOTENT,
            "idempotent requests sent again after a reused connection ended unanswered",
        ),
        (
            names::CONNECTIONS_RETIRED,
            "responses that ended their connection (Connection: close)",
        ),
    ] {
        // The refresh outcome counters matter whenever refreshes happened, even at 0.
        let core = matches!(
            name,
            names::RELOGINS
                | names::SPURIOUS_LOGOUTS
                | names::SESSIONS_EXPIRED
                | names::REUSE_DETECTED
                | names::REFRESH_FORKS
        );
        // A channel's miss counter matters whenever the channel was used, even at 0.
        let channel_miss = (name == names::SSE_MISSED_KICKS && has(names::SSE_CONNECTS))
            || (name == names::MISSED_PUSHES
                && (has(names::PUSH_REGISTRATIONS) || has(names::PUSH_REGISTER_FAILED)));
        if has(name) || (core && refreshing) || channel_miss {
            let v = r.counter(name);
            // Relogins and announced expiries are what a session's life brings, not faults; the
            // channel's own activity counters are no faults either, nor are connections the
            // server closed (each request still got its answer).
            let bad = v > 0
                && !matches!(
                    name,
                    names::RELOGINS
                        | names::SESSIONS_EXPIRED
                        | names::SSE_CONNECTS
                        | names::SSE_RESUMES
                        | names::PUSH_REGISTRATIONS
                        | names::PUSHES_RECEIVED
                        | names::ZOMBIE_UNCHECKED
                        | names::TAB_ADOPTIONS
                        | names::STALE_TAB_REQUESTS
                        | names::RESENT_UNSENT
                        | names::RESENT_IDEMPOTENT
                        | names::CONNECTIONS_RETIRED
                );
            let note = if name == names::REUSE_DETECTED && v == 0 && refused > 0 {
                // Zero here is what the server said, not what happened: a server that refuses
                // every dead token alike cannot be counted (README, `reuse_rejected:`).
                format!(
                    "{note}; none of the {} refused refreshes said so (reuse_rejected), so a server that does not say why shows 0 here",
                    format::count(refused)
                )
            } else if name == names::SPURIOUS_LOGOUTS && r.counter(names::SPURIOUS_UNANNOUNCED) > 0
            {
                // Nothing told the client when its session would end: the count is right (the
                // session ended unannounced), and the fix for a server that ends sessions on
                // purpose is to declare when.
                format!(
                    "{note}; {} of them with no end announced (no refresh_expires_in, no exp on the refresh token) or declared: if the server ends sessions on purpose (a refresh-token lifetime, an idle timeout), declare it in the target profile, session: {{ max: …, idle: … }}",
                    format::count(r.counter(names::SPURIOUS_UNANNOUNCED))
                )
            } else {
                note.to_string()
            };
            push(name, format::count(v), &note, bad);
        }
    }
    push(
        names::DERIVED_ERRORS,
        format::count(r.derived.errors),
        "no answer, or a body that could not be used (sum of errors.*)",
        r.derived.errors > 0,
    );
    if let Some(e) = r.derived.error_rate {
        push(
            names::DERIVED_ERROR_RATE,
            format::percent(e),
            "errors / requests (see failure_rate for every failure)",
            e > 0.0,
        );
    }
    for (kind, v) in r.counters_with_prefix(names::PREFIX_ERRORS) {
        push(
            &format!("{}{kind}", names::PREFIX_ERRORS),
            format::count(v),
            "",
            v > 0,
        );
    }
    for (prefix, note) in [
        (names::PREFIX_RACE, "refresh race outcome (per race)"),
        (names::PREFIX_WS_CLOSE_CLASS, "server closes by class"),
        (
            names::PREFIX_WS_CONNECT_FAILED,
            "refused WebSocket handshakes",
        ),
    ] {
        for (rest, v) in r.counters_with_prefix(prefix) {
            let name = format!("{prefix}{rest}");
            let bad = prefix == names::PREFIX_WS_CONNECT_FAILED
                || (prefix == names::PREFIX_RACE
                    && !matches!(
                        name.as_str(),
                        names::RACE_ONE_WINNER | names::RACE_SAME_SUCCESSOR
                    ));
            push(&name, format::count(v), note, bad && v > 0);
        }
    }
    out
}

/// What each of the run's clients stands for beside its count: ` × 4 tabs (lock)` when the users
/// ran several tabs (`client.tabs`), ` × 3 devices` when they had several devices
/// (`client.devices`). The logged-in and per-client counts are then per tab or device.
pub fn clients_note(r: &Report) -> String {
    let client = &r.run.config["client"];
    let tabs = match client["tabs"].as_u64() {
        Some(n) if n > 1 => format!(
            " × {n} tabs ({})",
            client["tab_sync"].as_str().unwrap_or("none")
        ),
        _ => String::new(),
    };
    // Each device is a client of its own: `clients_logged_in` counts devices.
    let devices = match client["devices"].as_u64() {
        Some(n) if n > 1 => format!(" × {n} devices"),
        _ => String::new(),
    };
    tabs + &devices
}

/// `(clients_logged_in, clients)` of a load run that counted them (older reports did not).
pub fn logged_in(r: &Report) -> Option<(u64, u64)> {
    let ever = *r.counters.get(names::CLIENTS_LOGGED_IN)?;
    Some((ever, ever.saturating_add(r.counter(names::NEVER_LOGGED_IN))))
}

/// A sample failure in one line: `login 501 (4xx): <body excerpt>`.
pub fn failure_line(f: &crate::metrics::FailureSample) -> String {
    let status = f.status.map_or_else(|| "-".to_string(), |s| s.to_string());
    let detail = if f.detail.is_empty() {
        "(empty body)"
    } else {
        &f.detail
    };
    format!("{} {status} ({}): {detail}", f.op, f.class)
}

/// `status.<op>.<code>` counters grouped by operation: `[("api", [("200", 9000), ("401", 12)])]`.
pub fn status_codes(r: &Report) -> Vec<(String, Vec<(String, u64)>)> {
    let mut out: Vec<(String, Vec<(String, u64)>)> = Vec::new();
    for (rest, v) in r.counters_with_prefix(names::PREFIX_STATUS) {
        let (op, code) = rest.rsplit_once('.').unwrap_or(("?", rest));
        match out.iter_mut().find(|(o, _)| o == op) {
            Some((_, codes)) => codes.push((code.to_string(), v)),
            None => out.push((op.to_string(), vec![(code.to_string(), v)])),
        }
    }
    out
}

/// `ws_close.<code>` counters with the meaning of each code.
pub fn close_codes(r: &Report) -> Vec<(String, &'static str, u64)> {
    r.counters_with_prefix(names::PREFIX_WS_CLOSE)
        .map(|(code, v)| (code.to_string(), close_code_meaning(code), v))
        .collect()
}

/// What a WebSocket close code means (RFC 6455 §7.4 and the mock's application codes).
pub fn close_code_meaning(code: &str) -> &'static str {
    match code.parse::<u16>().unwrap_or(0) {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1005 => "no status (must not be sent on the wire)",
        1006 => "abnormal closure (must not be sent on the wire)",
        1007 => "invalid payload data",
        1008 => "policy violation",
        1009 => "message too big",
        1010 => "mandatory extension",
        1011 => "internal error",
        1012 => "service restart",
        1013 => "try again later (back off)",
        1014 => "bad gateway",
        1015 => "TLS handshake failure (must not be sent on the wire)",
        4401 => "session expired (refresh, then reconnect)",
        4403 => "logged out (terminal)",
        4409 => "kicked: replaced by a login elsewhere (terminal)",
        0..=999 => "invalid (must not be used)",
        1016..=2999 => "unassigned (must not be used)",
        3000..=3999 => "registered (library/framework)",
        4000..=4999 => "application-defined",
        _ => "invalid",
    }
}

/// The one-line verdict.
pub fn verdict(r: &Report) -> (bool, String) {
    let mut parts = Vec::new();
    let failed: Vec<&str> = r
        .thresholds
        .iter()
        .filter(|t| !t.passed)
        .map(|t| t.message.as_str())
        .collect();
    if !r.thresholds.is_empty() {
        if failed.is_empty() {
            parts.push(format!(
                "{}/{} thresholds met",
                r.thresholds.len(),
                r.thresholds.len()
            ));
        } else {
            parts.push(format!(
                "{} of {} thresholds failed: {}",
                failed.len(),
                r.thresholds.len(),
                failed.join("; ")
            ));
        }
    }
    if let Some(c) = &r.conformance {
        let failing: Vec<&str> = c
            .checks
            .iter()
            .filter(|k| k.fails_run(c.fail_on))
            .map(|k| k.id.as_str())
            .collect();
        let mut summary = format!(
            "{} pass, {} fail, {} warn, {} skip, {} info",
            c.count(Status::Pass),
            c.count(Status::Fail),
            c.count(Status::Warn),
            c.count(Status::Skip),
            c.count(Status::Info)
        );
        let errors = c.count(Status::Error);
        if errors > 0 {
            summary.push_str(&format!(", {errors} error"));
        }
        if failing.is_empty() {
            parts.push(format!("conformance: {summary}"));
        } else {
            parts.push(format!(
                "conformance: {summary} — failing: {}",
                failing.join(", ")
            ));
        }
    }
    if parts.is_empty() {
        parts.push("no thresholds (add `expect:` to the scenario to get a verdict)".to_string());
    }
    if let Some(why) = r.partial_note() {
        parts.push(format!("partial report: {why}"));
    }
    let passed = r.passed();
    let word = if passed { "PASS" } else { "FAIL" };
    (passed, format!("{word}: {}", parts.join(" · ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_client(client: serde_json::Value) -> Report {
        let mut r = Report::of_clients(20);
        r.run.config = serde_json::json!({ "client": client });
        r
    }

    #[test]
    fn the_clients_line_says_what_a_client_stands_for() {
        let note = |c| clients_note(&with_client(c));
        assert_eq!(note(serde_json::json!({ "tabs": 1, "devices": 1 })), "");
        assert_eq!(
            note(serde_json::json!({ "tabs": 4, "tab_sync": "lock" })),
            " × 4 tabs (lock)"
        );
        assert_eq!(note(serde_json::json!({ "devices": 3 })), " × 3 devices");
    }
}
