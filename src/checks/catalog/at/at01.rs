//! AT-01: measures how long an access token is still accepted after logout. Self-contained JWTs
//! usually live until `exp`; that is reported (INFO). Accepting it past its own lifetime is a WARN.

use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "AT-01",
        title: "How long an access token still works after logout (measured)",
        summary: "Log out, then call the resource with the access token every 100 ms until refused (at most 5 s or its expiry): the window is reported; WARN only if it is accepted past its own lifetime.",
        requirements: &["ASVS5-7.4.1", "RFC7009-2.1"],
        level: Level::Report,
        destructive: true,
        needs: &[Need::Logout],
    },
    run: |p| Box::pin(run(p)),
};

const POLL: Duration = Duration::from_millis(100);
const BUDGET: Duration = Duration::from_secs(5);

async fn run(p: Arc<Probe>) -> Verdict {
    let s = p.login(0).await?;
    genuine_works(&p, s.at()).await?;
    let Some(r) = p.logout("logout", &s.tokens).await else {
        return Err(Stop::skip(Need::Logout.reason()));
    };
    let r = r?;
    if !r.ok() {
        return Err(Stop::error(format!("logout failed: {}", r.brief())));
    }
    let t0 = Instant::now();
    let exp = s.tokens.expires_at;
    let mut f = Findings::new();
    let mut n = 0;
    loop {
        n += 1;
        let r = p
            .api(&format!("resource call #{n} after logout"), s.at())
            .await?;
        let waited = t0.elapsed();
        if !r.ok() {
            let expired = exp.is_some_and(|e| SystemTime::now() >= e);
            f.info(
                "ASVS5-7.4.1",
                if n == 1 {
                    format!("refused immediately after logout ({})", r.status)
                } else if expired {
                    format!("accepted until it expired: {} after logout", secs(waited))
                } else {
                    format!(
                        "accepted for {} after logout, then refused ({})",
                        secs(waited),
                        r.status
                    )
                },
            );
            return Ok(f);
        }
        let past_exp = exp.and_then(|e| SystemTime::now().duration_since(e).ok());
        if let Some(past) = past_exp.filter(|p| *p > Duration::from_secs(1)) {
            f.warn(
                "ASVS5-7.4.1",
                format!(
                    "still accepted {} after logout, {} past its own expiry",
                    secs(waited),
                    secs(past)
                ),
            );
            return Ok(f);
        }
        if waited >= BUDGET {
            let left = exp
                .map(until)
                .map(secs)
                .unwrap_or_else(|| "an unknown time".into());
            f.info(
                "ASVS5-7.4.1",
                format!(
                    "still accepted {} after logout; it expires in {left} (the window is at most its lifetime)",
                    secs(waited)
                ),
            );
            return Ok(f);
        }
        tokio::time::sleep(POLL).await;
    }
}
