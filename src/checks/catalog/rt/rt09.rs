//! RT-09: N concurrent refreshes of one refresh token (what a client without single-flight does
//! when several requests hit 401 at once). Outcome classes: one winner · the same successor for
//! all (grace) · a forked chain (several different successors) · everything rejected · 5xx.

use std::collections::BTreeSet;

use crate::checks::catalog::prelude::*;
use crate::client::transport::BodyMode;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "RT-09",
        title: "Concurrent refreshes of one token leave at most one chain",
        summary: "Send 8 refreshes of the same refresh token at once: one winner, or the same successor for all; never several different successors (a forked chain), never a 5xx.",
        requirements: &["RFC9700-4.14.2"],
        level: Level::Should,
        destructive: true,
        needs: &[Need::RefreshTokenValue],
    },
    run: |p| Box::pin(run(p)),
};

/// Refreshes released together.
pub const PARALLEL: usize = 8;

async fn run(p: Arc<Probe>) -> Verdict {
    warm_up(&p).await;
    let s = p.login(0).await?;
    let r0 = s.rt()?;
    let barrier = Arc::new(tokio::sync::Barrier::new(PARALLEL));
    let mut tasks = Vec::with_capacity(PARALLEL);
    for i in 0..PARALLEL {
        let (p, r0, barrier) = (p.clone(), r0.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let req = p.profile().refresh_request(Some(&r0));
            barrier.wait().await;
            let resp = p
                .try_send(&format!("concurrent refresh #{} of R0", i + 1), req)
                .await;
            resp.map(|r| (p.classify_refresh(&r), r))
        }));
    }
    let mut accepted = 0;
    let mut rejected = 0;
    let mut server_errors = 0;
    let mut other = Vec::new();
    let mut successors = BTreeSet::new();
    for t in tasks {
        match t.await {
            Ok(Ok((reply, resp))) => match reply {
                RefreshReply::Accepted(tokens) => {
                    accepted += 1;
                    successors.insert(tokens.refresh_token.unwrap_or_default());
                }
                RefreshReply::Rejected { .. } => rejected += 1,
                RefreshReply::ServerError => server_errors += 1,
                RefreshReply::Unexpected => other.push(resp.brief()),
            },
            Ok(Err(e)) => other.push(e),
            Err(e) => other.push(format!("task failed: {e}")),
        }
    }
    let mut f = Findings::new();
    f.info(
        "",
        format!(
            "{PARALLEL} concurrent refreshes: {accepted} accepted, {rejected} rejected, {server_errors} server errors, {} other",
            other.len()
        ),
    );
    if server_errors > 0 {
        f.warn(
            "RFC9700-4.14.2",
            format!("{server_errors} of {PARALLEL} concurrent refreshes got a 5xx"),
        );
    }
    if !other.is_empty() {
        f.warn(
            "RFC9700-4.14.2",
            format!("unexpected answers: {}", p.scrub(&other.join("; "))),
        );
    }
    if successors.len() > 1 {
        let live = live_heads(&p, &successors).await?;
        f.warn(
            "RFC9700-4.14.2",
            format!(
                "forked chain: R0 was redeemed {accepted} times with {} different successors (single use violated); {live} of them still refreshed afterwards",
                successors.len()
            ),
        );
        return Ok(f);
    }
    match accepted {
        0 => {
            f.warn(
                "RFC9700-4.14.2",
                "every concurrent refresh of a valid refresh token was refused: the user is logged out",
            );
        }
        1 => {
            let winner = successors.iter().next().cloned().unwrap_or_default();
            let survived = !winner.is_empty() && live_heads(&p, &successors).await? == 1;
            f.pass(
                "RFC9700-4.14.2",
                if survived {
                    "one winner; the others were rejected and the winner's chain lives on".to_string()
                } else {
                    "one winner; the others were rejected, and the family was then revoked (reuse detection): clients must single-flight their refreshes".to_string()
                },
            );
        }
        n => {
            f.pass(
                "RFC9700-4.14.2",
                format!(
                    "the same successor for all {n} accepted refreshes (grace window): one chain"
                ),
            );
        }
    }
    Ok(f)
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

/// How many of the successors still refresh (each is tried once, in order).
async fn live_heads(p: &Probe, successors: &BTreeSet<String>) -> Result<usize, Stop> {
    let mut live = 0;
    for (i, rt) in successors.iter().filter(|r| !r.is_empty()).enumerate() {
        let (reply, _) = p
            .refresh_reply(&format!("is successor #{} still live?", i + 1), rt)
            .await?;
        if reply.accepted() {
            live += 1;
        }
    }
    Ok(live)
}
