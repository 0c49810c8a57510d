//! RT-12: logout, and an admin "log this user out everywhere" (the password-change case), end the
//! refresh token.

use crate::checks::catalog::prelude::*;

pub const CHECK: Check = Check {
    meta: CheckMeta {
        id: "RT-12",
        title: "Logout and admin logout end the refresh token",
        summary: "Log out (profile logout request), then refresh: rejected. Same after the admin logout of the user (password change). SKIP when neither is configured.",
        requirements: &["RFC9700-4.14.2", "ASVS5-7.4.1", "ASVS5-7.4.3"],
        level: Level::Should,
        destructive: true,
        needs: &[Need::RefreshTokenValue],
    },
    run: |p| Box::pin(run(p)),
};

async fn run(p: Arc<Probe>) -> Verdict {
    let has_logout = p.profile().has_logout();
    let has_admin = p.profile().has_admin_logout();
    if !has_logout && !has_admin {
        return Err(Stop::skip(format!(
            "{}, and {}",
            Need::Logout.reason(),
            Need::AdminLogout.reason()
        )));
    }
    let mut f = Findings::new();
    if has_logout {
        let s = p.login(0).await?;
        let rt = s.rt()?;
        if let Some(r) = p.logout("logout", &s.tokens).await {
            let r = r?;
            f.expect(
                r.ok(),
                Status::Warn,
                "ASVS5-7.4.1",
                format!("logout answered {}", r.brief()),
            );
        }
        let (reply, resp) = p.refresh_reply("refresh after logout", &rt).await?;
        f.expect(
            reply.rejected(),
            Status::Warn,
            "ASVS5-7.4.1",
            if reply.accepted() {
                format!(
                    "the refresh token still works after logout ({})",
                    resp.status
                )
            } else {
                format!("refresh after logout: {}", resp.brief())
            },
        );
    } else {
        f.info("", Need::Logout.reason());
    }
    if has_admin {
        let s = p.login(1).await?;
        let rt = s.rt()?;
        if let Some(r) = p.admin_logout("admin logout of the user", &s.user).await {
            let r = r?;
            if !r.ok() {
                return Err(Stop::error(format!(
                    "the admin logout failed: {}",
                    r.brief()
                )));
            }
        }
        let (reply, resp) = p
            .refresh_reply("refresh after the admin logout", &rt)
            .await?;
        f.expect(
            reply.rejected(),
            Status::Warn,
            "ASVS5-7.4.3",
            if reply.accepted() {
                format!(
                    "the refresh token still works after the admin logout ({})",
                    resp.status
                )
            } else {
                format!("refresh after the admin logout: {}", resp.brief())
            },
        );
    } else {
        f.info("", Need::AdminLogout.reason());
    }
    Ok(f)
}
