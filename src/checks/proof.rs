//! The proof table: for every deliberate flaw of the reference mock, the checks that must catch
//! it (FAIL or WARN) and the checks that become not applicable (SKIP) because of it. Every other
//! check must give the same result as against the correct mock — tests/conformance/proof.rs runs the
//! whole matrix, and the README's proof table is rendered from here.

use std::fmt::Write as _;

use authbench_mock::Flaw;

use super::outcome::Status;

/// What one flaw does to the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlawProof {
    /// The flaw.
    pub flaw: Flaw,
    /// Checks that must FAIL (MUST rules) or WARN (SHOULD rules) against it.
    pub catches: &'static [&'static str],
    /// Checks that become SKIP (their premise is gone, e.g. no rotation at all).
    pub skips: &'static [&'static str],
    /// Checks whose observation changes through a side effect of how the mock implements the
    /// flaw, without any finding (they stay PASS, INFO or SKIP); each is explained at its entry.
    pub side_effects: &'static [&'static str],
}

/// The flaw → check mapping (the single source of truth).
pub const FLAW_CHECKS: &[FlawProof] = &[
    FlawProof {
        flaw: Flaw::AcceptAlgNone,
        catches: &["JW-01"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::AcceptExpired,
        catches: &["RS-02", "JW-06"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::ForbiddenOnExpired,
        catches: &["RS-02"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::NoWwwAuthenticate,
        catches: &["RS-01", "RS-02"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::NoRotation,
        catches: &["RT-06"],
        skips: &["RT-07", "RT-08"],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::RotateOnce,
        catches: &["RT-06"],
        // RT-08 rotates twice and sees R2 come back unchanged: no rotation to replay.
        skips: &["RT-08"],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::ReuseAllowed,
        catches: &["RT-07", "RT-08"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::NoFamilyRevocation,
        catches: &["RT-07"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::RacyRotation,
        catches: &["RT-09"],
        skips: &[],
        // The mock's racy rotation path does not keep a grace entry, so RT-08 sees no grace
        // window (INFO instead of PASS).
        side_effects: &["RT-08"],
    },
    FlawProof {
        flaw: Flaw::RacyRotated,
        catches: &["RT-09"],
        skips: &[],
        // As with racy-rotation: the racy path (here RT-08's second rotation) keeps no grace
        // entry, so RT-08 sees no grace window (INFO instead of PASS).
        side_effects: &["RT-08"],
    },
    FlawProof {
        flaw: Flaw::RefreshAsAccess,
        catches: &["JW-07"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::AccessAsRefresh,
        catches: &["RT-02"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::LogoutKeepsRefresh,
        catches: &["RT-12", "RV-01"],
        // SS-03 builds on a logout that ends its own session.
        skips: &["SS-03"],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::RevocationLapses,
        catches: &["RT-12", "RV-01", "AT-01", "IN-01"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::SessionExtends,
        catches: &["RT-10"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::WsNoHandshakeAuth,
        // WS-04 also reconnects with the kicked session's token: it must be refused.
        catches: &["WS-01", "WS-04"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::WsStaysOpenAfterExpiry,
        catches: &["WS-03"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::NoKick,
        // SS-01 holds a socket of the session the limit ends: it must be kicked.
        catches: &["WS-04", "SS-01"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::SilentLogout,
        // WS-02 holds a socket of the session it logs out, SS-02 one of each session the logout
        // everywhere ends: each must close. (WS-05's socket stays open after its logout too, which
        // it reports as nothing to judge.)
        catches: &["WS-02", "SS-02"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::WrongCloseCode,
        catches: &["WS-02", "WS-03", "WS-04"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::NoCloseAfterEvent,
        // The event comes, the close never does: the socket of the logged-out (WS-02), replaced
        // (WS-04), limited-out (SS-01) or logged-out-everywhere (SS-02) session stays open.
        catches: &["WS-02", "WS-04", "SS-01", "SS-02"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::RejectAllRefresh,
        catches: &["RT-01"],
        // Every "refused after X" verdict rests on a control that is refused too: not judged.
        skips: &[
            "RT-06", "RT-07", "RT-08", "RT-09", "RT-10", "RT-12", "RV-01", "RT-13", "SS-01",
            "SS-02", "SS-03",
            // WS-04 refreshes the oldest of two sessions (the builtin mock allows two) before
            // the login beyond the limit.
            "WS-04",
        ],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::OneShotRotation,
        catches: &["RT-06"],
        // Their verdicts rest on a rotated token refreshing (a control, or a premise). SS-01's
        // oldest session and SS-02's first were rotated before the event (a fresh access token
        // for their sockets): their refusal may be the flaw's, and their twins, rotated as
        // often, are refused too.
        skips: &[
            "RT-07", "RT-08", "RT-09", "RT-10", "RT-13", "SS-01", "SS-02",
        ],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::SessionEndsEarly,
        catches: &["RT-10"],
        // The builtin mock's sessions then end at 2 s, when their access tokens expire: JW-06
        // cannot tell a refusal of the expiry from one of the session's end.
        skips: &["JW-06"],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::GraceNewSuccessor,
        catches: &["RT-07", "RT-08", "RT-09"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::ForkOneInFour,
        catches: &["RT-09"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::BareBearerChallenge,
        catches: &["RS-02"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::RefreshCacheable,
        catches: &["RT-01"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::AcceptQueryToken,
        catches: &["RS-04"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::RevokeUnknownError,
        catches: &["RV-02"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::IntrospectRevokedActive,
        catches: &["IN-01"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::UnverifiedSignature,
        // WS-01 also presents a token with a tampered signature at the handshake.
        catches: &["JW-02", "WS-01"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::Hs256KeyConfusion,
        catches: &["JW-03"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::KidFilePath,
        catches: &["JW-05"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::IllegalCloseCode,
        // WS-02 expects the logout's close to be terminal (4403); 1006 is a protocol error.
        catches: &["WS-05", "WS-02"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::RenewalSameExpiry,
        catches: &["SL-01"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::IntrospectOpen,
        catches: &["IN-01"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::IntrospectUnauthenticated400,
        catches: &["IN-01"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::IntrospectNoAccessTokens,
        // The revoked and unknown cases are judged with refresh tokens instead.
        catches: &["IN-01"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::CachedVerdicts,
        // JW-06 uses its token before the expiry and again after it: the cache accepts it.
        catches: &["AT-01", "JW-06"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::Scope401,
        catches: &["RS-03"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::IdleNever,
        catches: &["RT-13"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::SessionLimitIgnored,
        catches: &["SS-01"],
        // WS-04 finds the old session alive after the logins: no kick-off policy to judge.
        skips: &["WS-04"],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::LogoutEverywherePartial,
        catches: &["SS-02"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::IdleEarly,
        catches: &["RT-13"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::IdleNotExtended,
        catches: &["RT-13"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::LogoutEndsAllSessions,
        catches: &["SS-03"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::ExpMillis,
        // RT-01 reads the JWT's exp against expires_in; the server's own expiry stays right, so
        // JW-06 and RS-02 see nothing (the client schedules by expires_in: the claim is absurd).
        catches: &["RT-01"],
        skips: &[],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::AccessDiesEarly,
        catches: &["AT-02"],
        skips: &[],
        // SL-01 calls until the token's last second for a renewed one: the early end refuses
        // those calls first ("not judged", SKIP).
        side_effects: &["SL-01"],
    },
    FlawProof {
        flaw: Flaw::AcceptAnyToken,
        // Every check that shows the resource a token it must refuse; AT-01 (a logged-out
        // session's token) and RV-01 (a revoked grant's) see it accepted past its end. AT-02's
        // acceptance rests on a made-up token being refused: not judged.
        catches: &[
            "RS-02", "RV-01", "JW-01", "JW-02", "JW-03", "JW-05", "JW-06", "JW-07", "AT-01",
        ],
        skips: &["AT-02"],
        side_effects: &[],
    },
    FlawProof {
        flaw: Flaw::GenericSessionEnd,
        // WS-04 and WS-02 also expect the kicked and logout events before their closes.
        catches: &["SS-04", "WS-04", "WS-02"],
        skips: &[],
        side_effects: &[],
    },
];

/// Catches made by a SHOULD assertion inside a MUST-level check: against this flaw the check
/// reports WARN, not FAIL (e.g. RFC 6750 says a resource server SHOULD answer an invalid token
/// with 401 and `error="invalid_token"`, but MUST send the challenge).
pub const SHOULD_CATCHES: &[(Flaw, &str)] = &[
    (Flaw::ForbiddenOnExpired, "RS-02"),
    (Flaw::BareBearerChallenge, "RS-02"),
    (Flaw::Scope401, "RS-03"),
    // RFC 7662 defines no error for a token type the endpoint does not introspect; the refusal
    // deviates from §2.3's wording, not from a MUST about inactive tokens.
    (Flaw::IntrospectNoAccessTokens, "IN-01"),
    // The unauthenticated caller is refused (§2.1's MUST holds); only the 401 of §2.3 is missing.
    (Flaw::IntrospectUnauthenticated400, "IN-01"),
    // The limit itself is enforced (the refresh token dies); only the kick is missing.
    (Flaw::NoKick, "SS-01"),
    // Every session ends (its refresh token is refused); only the sockets are not closed, which
    // SS-02 rates WARN (ASVS 5 7.4.1).
    (Flaw::SilentLogout, "SS-02"),
    // RFC 7009 §2.1: revoking a refresh token SHOULD invalidate the grant's access tokens; the
    // refresh token itself is refused (the MUST holds).
    (Flaw::AcceptAnyToken, "RV-01"),
    // The sessions end and their sockets are told; only the close is missing.
    (Flaw::NoCloseAfterEvent, "SS-01"),
    (Flaw::NoCloseAfterEvent, "SS-02"),
];

impl FlawProof {
    /// The status check `id` must report against this flaw when it is one of its catches: the
    /// violation of the check's level, or WARN for a [`SHOULD_CATCHES`] entry.
    pub fn caught_as(&self, id: &str) -> Option<Status> {
        if !self.catches.contains(&id) {
            return None;
        }
        if SHOULD_CATCHES.contains(&(self.flaw, id)) {
            return Some(Status::Warn);
        }
        super::catalog::find(id).map(|c| c.meta.level.violation())
    }
}

/// The proof entry of `flaw`.
pub fn proof_for(flaw: Flaw) -> Option<&'static FlawProof> {
    FLAW_CHECKS.iter().find(|p| p.flaw == flaw)
}

/// The README's flaw → check table.
pub fn markdown_proof_table() -> String {
    let mut out =
        String::from("| Mock flaw (`--flaw`) | What it breaks | Caught by |\n|---|---|---|\n");
    for p in FLAW_CHECKS {
        let caught = p
            .catches
            .iter()
            .map(|id| {
                let status = p.caught_as(id).map(Status::name);
                format!("{id} ({})", status.unwrap_or("?"))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            p.flaw.name(),
            p.flaw.description().replace('|', "\\|"),
            caught
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::catalog;

    #[test]
    fn every_flaw_is_mapped_once_to_known_checks() {
        for f in Flaw::ALL {
            let n = FLAW_CHECKS.iter().filter(|p| p.flaw == *f).count();
            assert_eq!(n, 1, "flaw {} is mapped {n} times", f.name());
        }
        for p in FLAW_CHECKS {
            assert!(
                !p.catches.is_empty(),
                "{} is caught by nothing",
                p.flaw.name()
            );
            for id in p.catches.iter().chain(p.skips).chain(p.side_effects) {
                assert!(catalog::find(id).is_some(), "{id} is not in the catalog");
            }
        }
        for (flaw, id) in SHOULD_CATCHES {
            let p = proof_for(*flaw).expect("mapped");
            assert!(
                p.catches.contains(id),
                "{id} does not catch {}",
                flaw.name()
            );
            assert_eq!(p.caught_as(id), Some(Status::Warn));
        }
        assert_eq!(markdown_proof_table().lines().count(), Flaw::ALL.len() + 2);
    }
}
