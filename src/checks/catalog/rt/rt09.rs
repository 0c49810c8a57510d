//! RT-09: concurrent refreshes of one refresh token (what a client without single-flight does
//! when several requests hit 401 at once), raced in [`ROUNDS`] rounds, each on a fresh session.
//!
//! A round releases [`PARALLEL`] refreshes of one token R0 together — the login's in odd rounds,
//! its rotated successor in even ones (a server may guard only the first rotation) — then follows
//! the chain: its heads are the distinct successors handed out (a response without a refresh token
//! keeps R0 itself as the head, so such answers never collapse into "one successor"), and each
//! head is refreshed once more to see whether it lives. A round is
//! - **one chain** when exactly one head lives on (one winner, or the same successor for all
//!   inside a grace window): PASS;
//! - **session ended** when the only head is then refused: reuse detection counted the losers as
//!   theft and revoked the session — correct security, but the user is logged out (INFO);
//! - **forked** when R0 was redeemed for several different successors: single use violated (WARN);
//! - **all refused** when no refresh of a valid token succeeded: the user is logged out (WARN);
//! - **broken** on a 5xx or an answer outside the refresh contract (WARN).
//!
//! A server that forks only sometimes (worker processes racing each other) is caught by the
//! rounds: one forked round turns the verdict, and the findings list every round. "Session
//! ended" and "all refused" rest on a control (the same kind of token, without a race,
//! refreshes); a refused control makes the check SKIP unless a WARN already stands.

use std::collections::BTreeSet;

use crate::checks::catalog::prelude::*;
use crate::client::transport::BodyMode;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "RT-09",
        title: "Concurrent refreshes of one token leave at most one chain",
        summary: "16 rounds, each on a fresh session: send 8 refreshes of the same refresh token at once (the login's in odd rounds, a rotated one in even rounds), then refresh each successor once more. One chain that lives on: PASS; the session revoked by the race: INFO (the user is logged out); several different successors (a fork) in any round, every refresh refused, or a 5xx: WARN.",
        requirements: &["RFC9700-4.14.2"],
        level: Level::Should,
        destructive: true,
        needs: &[Need::RefreshTokenValue],
    },
    run: |p| Box::pin(run(p)),
};

/// Refreshes released together in one round.
pub const PARALLEL: usize = 8;
/// Rounds raced, each on a fresh session: a server forking in one race out of four at random
/// escapes all of them with probability (3/4)^16 ≈ 1%.
pub const ROUNDS: usize = 16;

/// What one round showed.
#[derive(Debug, Default)]
struct Round {
    accepted: usize,
    /// Accepted without a new refresh token (the client keeps R0).
    kept_r0: usize,
    rejected: usize,
    server_errors: usize,
    other: Vec<String>,
    /// Refreshes that got no answer about the token (transport failure, timeout, 429, 503): not
    /// the server's verdict.
    unanswered: Vec<String>,
    /// The distinct chain heads after the race (redacted for display).
    heads: Vec<String>,
    /// How many heads still refreshed afterwards.
    live: usize,
    /// The raced token was issued by a rotation (not by the login).
    rotated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Chain,
    Ended,
    Forked,
    AllRefused,
    Broken,
    Unanswered,
}

impl Round {
    fn class(&self) -> Class {
        if self.heads.len() > 1 {
            Class::Forked
        } else if !self.unanswered.is_empty() {
            Class::Unanswered
        } else if self.server_errors > 0 || !self.other.is_empty() {
            Class::Broken
        } else if self.accepted == 0 {
            Class::AllRefused
        } else if self.live == 0 {
            Class::Ended
        } else {
            Class::Chain
        }
    }

    fn describe(&self, n: usize) -> String {
        let outcome = match self.class() {
            Class::Chain => "one chain lives on",
            Class::Ended => "the only successor was then refused: the session ended",
            Class::Forked => "FORKED",
            Class::AllRefused => "every refresh refused",
            Class::Broken => "unexpected answers",
            Class::Unanswered => "not judged: refreshes without an answer",
        };
        format!(
            "round {n} ({}): {} accepted{}, {} rejected, {} 5xx, {} other, {} unanswered; heads {} ({} live): {outcome}",
            if self.rotated {
                "a rotated token raced"
            } else {
                "the login's token raced"
            },
            self.accepted,
            if self.kept_r0 > 0 {
                format!(
                    " ({} without a new refresh token: R0 stays in use)",
                    self.kept_r0
                )
            } else {
                String::new()
            },
            self.rejected,
            self.server_errors,
            self.other.len(),
            self.unanswered.len(),
            if self.heads.is_empty() {
                "none".to_string()
            } else {
                self.heads.join(", ")
            },
            self.live,
        )
    }
}

async fn run(p: Arc<Probe>) -> Verdict {
    warm_up(&p).await;
    let mut rounds = Vec::with_capacity(ROUNDS);
    for n in 1..=ROUNDS {
        rounds.push(race(&p, n).await?);
    }
    // The verdict first (the one-line message is made of it), then the controls, then the rounds.
    let mut f = Findings::new();
    let mut notes = Findings::new();
    notes.info(
        "",
        format!("{ROUNDS} rounds of {PARALLEL} concurrent refreshes of one refresh token, each on a fresh session"),
    );
    for (i, r) in rounds.iter().enumerate() {
        notes.info("", r.describe(i + 1));
    }
    let of = |class: Class| -> Vec<usize> {
        (1..=ROUNDS)
            .filter(|n| rounds[n - 1].class() == class)
            .collect()
    };
    let list = |ns: &[usize]| {
        ns.iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let forked = of(Class::Forked);
    if !forked.is_empty() {
        let max_heads = forked.iter().map(|n| rounds[n - 1].heads.len()).max();
        f.warn(
            "RFC9700-4.14.2",
            format!(
                "forked chain in {} of {ROUNDS} rounds (round {}): one refresh token was redeemed for up to {} different successors (single use violated)",
                forked.len(),
                list(&forked),
                max_heads.unwrap_or(0)
            ),
        );
    }
    // 5xx and unexpected answers, in any round (a forked round may have them too).
    let broken: Vec<usize> = (1..=ROUNDS)
        .filter(|n| rounds[n - 1].server_errors > 0 || !rounds[n - 1].other.is_empty())
        .collect();
    if !broken.is_empty() {
        let errors: usize = rounds.iter().map(|r| r.server_errors).sum();
        let other: Vec<&str> = rounds
            .iter()
            .flat_map(|r| r.other.iter().map(String::as_str))
            .collect();
        f.warn(
            "RFC9700-4.14.2",
            p.scrub(&format!(
                "concurrent refreshes got {errors} server errors and {} unexpected answers (round {}){}",
                other.len(),
                list(&broken),
                other
                    .first()
                    .map(|o| format!(", e.g. {o}"))
                    .unwrap_or_default()
            )),
        );
    }
    // A control is a token of the kind raced: after one more rotation when a rotated token was.
    let rotations = |ns: &[usize]| u32::from(ns.iter().any(|n| rounds[n - 1].rotated));
    let refused = of(Class::AllRefused);
    if !refused.is_empty()
        && let Some(control) =
            control_unless_found(&p, &mut f, 1, rotations(&refused), "RT-01").await?
    {
        f.warn(
            "RFC9700-4.14.2",
            format!(
                "every concurrent refresh of a valid refresh token was refused (round {}): the user is logged out",
                list(&refused)
            ),
        );
        f.append(control);
    }
    let ended = of(Class::Ended);
    if !ended.is_empty()
        && let Some(control) =
            control_unless_found(&p, &mut f, 2, 1 + rotations(&ended), "RT-06").await?
    {
        f.info(
            "RFC9700-4.14.2",
            format!(
                "concurrent refreshes of one session END that session (round {}): one winner, and its successor was then refused — reuse detection counted the losers as theft. Correct security, but the user is logged out: clients must single-flight their refreshes",
                list(&ended)
            ),
        );
        f.append(control);
    }
    // A refresh without any answer (connection failure, timeout) says nothing about the server:
    // its round is not judged, and with no finding elsewhere the check could not run (ERROR).
    let unanswered: Vec<usize> = (1..=ROUNDS)
        .filter(|n| !rounds[n - 1].unanswered.is_empty())
        .collect();
    if !unanswered.is_empty() {
        let all: Vec<&str> = rounds
            .iter()
            .flat_map(|r| r.unanswered.iter().map(String::as_str))
            .collect();
        let msg = p.scrub(&format!(
            "{} concurrent refreshes got no answer about the token (round {}), e.g. {}: those rounds are not judged",
            all.len(),
            list(&unanswered),
            all[0]
        ));
        if !f.has_findings() {
            return Err(Stop::error(msg));
        }
        f.info("", msg);
    }
    if !f.has_findings() && ended.is_empty() {
        f.pass(
            "RFC9700-4.14.2",
            format!(
                "one chain in every round: one winner (or the same successor for all), and the chain lives on ({ROUNDS} of {ROUNDS} rounds)"
            ),
        );
    }
    f.append(notes);
    Ok(f)
}

/// One round: a fresh session, [`PARALLEL`] refreshes of its token released together, then the
/// heads of the chain refreshed once more.
async fn race(p: &Arc<Probe>, n: usize) -> Result<Round, Stop> {
    let s = p.login(0).await?;
    let mut r0 = s.rt()?;
    let mut rotated = false;
    // Even rounds race a token issued by a rotation: a server may guard a login's token and
    // still rotate its successors check-then-act.
    if n.is_multiple_of(2) {
        let (reply, _) = p
            .refresh_reply(&format!("round {n}: refresh the login's token once"), &r0)
            .await?;
        // Refused or not rotated: the round races the login's token, as an odd one does.
        if let RefreshReply::Accepted(Tokens {
            refresh_token: Some(r1),
            ..
        }) = reply
            && r1 != r0
        {
            rotated = true;
            r0 = r1;
        }
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(PARALLEL));
    let mut tasks = Vec::with_capacity(PARALLEL);
    for i in 0..PARALLEL {
        let (p, r0, barrier) = (p.clone(), r0.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let req = p.profile().refresh_request(Some(&r0));
            barrier.wait().await;
            let resp = p
                .try_send(
                    &format!("round {n}: concurrent refresh #{} of R0", i + 1),
                    req,
                )
                .await;
            // A 429 or 503 is no answer about the token: its round is not judged.
            resp.and_then(|r| match r.declined() {
                Some(why) => Err(why),
                None => Ok((p.classify_refresh(&r), r)),
            })
        }));
    }
    let mut round = Round::default();
    let mut heads = BTreeSet::new();
    for t in tasks {
        match t.await {
            Ok(Ok((reply, resp))) => match reply {
                RefreshReply::Accepted(tokens) => {
                    round.accepted += 1;
                    // No new refresh token: the client keeps R0, which stays a head.
                    let head = tokens.refresh_token.unwrap_or_else(|| {
                        round.kept_r0 += 1;
                        r0.clone()
                    });
                    heads.insert(head);
                }
                RefreshReply::Rejected { .. } => round.rejected += 1,
                RefreshReply::ServerError => round.server_errors += 1,
                RefreshReply::Unexpected => round.other.push(resp.brief()),
            },
            Ok(Err(e)) => round.unanswered.push(e),
            Err(e) => round.unanswered.push(format!("task failed: {e}")),
        }
    }
    for (i, rt) in heads.iter().enumerate() {
        let (reply, resp) = p
            .refresh_reply(&format!("round {n}: is head #{} still live?", i + 1), rt)
            .await?;
        match reply {
            RefreshReply::Accepted(_) => round.live += 1,
            RefreshReply::Rejected { .. } => {}
            RefreshReply::ServerError | RefreshReply::Unexpected => {
                round
                    .other
                    .push(format!("head #{}: {}", i + 1, resp.brief()))
            }
        }
    }
    round.heads = heads.iter().map(|h| p.show(h)).collect();
    round.rotated = rotated;
    Ok(round)
}

/// Opens `PARALLEL` keep-alive connections (concurrent resource calls without a credential,
/// not evidence), so the released refreshes do not wait for TCP handshakes and really overlap.
async fn warm_up(p: &Probe) {
    let calls = (0..PARALLEL).map(|_| async {
        let _ = p
            .http()
            .exchange_with(
                || p.profile().resource_request("warm-up"),
                BodyMode::Truncate,
            )
            .await;
    });
    futures::future::join_all(calls).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(accepted: usize, heads: usize, live: usize) -> Round {
        Round {
            accepted,
            rejected: PARALLEL - accepted,
            heads: (0..heads).map(|i| format!("h{i}")).collect(),
            live,
            ..Round::default()
        }
    }

    #[test]
    fn rounds_are_classified_by_their_heads() {
        assert_eq!(round(1, 1, 1).class(), Class::Chain);
        assert_eq!(
            round(8, 1, 1).class(),
            Class::Chain,
            "the same successor for all"
        );
        assert_eq!(round(1, 1, 0).class(), Class::Ended);
        assert_eq!(round(2, 2, 1).class(), Class::Forked);
        assert_eq!(round(0, 0, 0).class(), Class::AllRefused);
        let mut broken = round(1, 1, 1);
        broken.server_errors = 1;
        assert_eq!(broken.class(), Class::Broken);
        // No answer at all is not the server's verdict.
        let mut unanswered = round(1, 1, 1);
        unanswered.unanswered.push("timed out".into());
        assert_eq!(unanswered.class(), Class::Unanswered);
        // Two answers, one with a successor and one without (R0 kept): two heads, a fork.
        let mixed = Round {
            kept_r0: 1,
            ..round(2, 2, 2)
        };
        assert_eq!(mixed.class(), Class::Forked);
        assert!(mixed.describe(3).contains("1 without a new refresh token"));
    }
}
