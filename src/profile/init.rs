//! `authbench init`'s knowledge, without I/O: what a server's metadata (OpenID discovery or RFC 8414)
//! says ([`Draft::from_metadata`]), what a probe login and refresh showed ([`Findings`],
//! [`find_token_fields`]), and the commented target profile a person can run ([`Draft::render`]).
//! The command (`commands::init`) fetches, probes and writes.

use std::fmt::Write as _;

/// Where a profile's client credentials go in token requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic with the client id and secret.
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` form fields.
    Post,
    /// A public client: `client_id` only, as a form field.
    None,
}

impl ClientAuth {
    /// Parses `basic`, `post` or `none`.
    pub fn parse(s: &str) -> Option<ClientAuth> {
        match s {
            "basic" | "client_secret_basic" => Some(ClientAuth::Basic),
            "post" | "client_secret_post" => Some(ClientAuth::Post),
            "none" => Some(ClientAuth::None),
            _ => None,
        }
    }

    /// What the server announces: basic first, then post, then none; RFC 8414 §2's default
    /// (`client_secret_basic`) when it announces nothing.
    fn from_methods(methods: &[String]) -> ClientAuth {
        let has = |m: &str| methods.iter().any(|x| x == m);
        if methods.is_empty() || has("client_secret_basic") {
            ClientAuth::Basic
        } else if has("client_secret_post") {
            ClientAuth::Post
        } else if has("none") {
            ClientAuth::None
        } else {
            ClientAuth::Basic
        }
    }

    fn describe(self) -> &'static str {
        match self {
            ClientAuth::Basic => "client_secret_basic (HTTP Basic)",
            ClientAuth::Post => "client_secret_post (form fields)",
            ClientAuth::None => "none (a public client)",
        }
    }
}

/// Environment variable of the client id.
pub const ENV_CLIENT_ID: &str = "AUTHBENCH_CLIENT_ID";
/// Environment variable of the client secret.
pub const ENV_CLIENT_SECRET: &str = "AUTHBENCH_CLIENT_SECRET";
/// Environment variable of the admin key (the reference mock's admin endpoints).
pub const ENV_ADMIN_KEY: &str = "AUTHBENCH_ADMIN_KEY";
/// Environment variable that points the written profile at another deployment of the server
/// (its default: the URL `init` was given).
pub const ENV_BASE_URL: &str = "AUTHBENCH_BASE_URL";

/// `{{ env.NAME | default("value") }}`: the value `init` saw, overridable per environment.
fn env_or(name: &str, value: &str) -> String {
    format!("{{{{ env.{name} | default(\"{value}\") }}}}")
}

/// How a drafted profile gets the first token pair.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum InitGrant {
    /// The password grant: `login` sends `{{user}}` and `{{password}}`.
    #[default]
    Password,
    /// The authorization-code flow with PKCE through the server's sign-in form
    /// (`grant.authorization_code`), and `login` exchanges the code.
    AuthorizationCode {
        /// The redirect URI registered for the client.
        redirect_uri: String,
        /// CSS selector of the sign-in form (`None`: `form`).
        form: Option<String>,
    },
}

/// What a probe login (and refresh) showed about the server's answers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Findings {
    /// The user the probe logged in as.
    pub user: String,
    /// Extractors found in the login answer (`json:/pointer` or `cookie:name`).
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<String>,
    pub refresh_expires_in: Option<String>,
    pub session_id: Option<String>,
    /// The access token is a JWT (its expiry is read from `exp`).
    pub access_is_jwt: bool,
    /// A refresh issued a new refresh token (`Some(false)`: it kept the old one or sent none).
    pub rotates: Option<bool>,
    /// An unknown refresh token got 400 `invalid_grant` (RFC 6749 §5.2): `refresh_rejected: strict`.
    pub rejection_strict: Option<bool>,
    /// One line per observation, written into the profile's header.
    pub notes: Vec<String>,
}

/// Token-field names servers use, per extractor key, in the order they are tried.
const FIELD_NAMES: &[(&str, &[&str])] = &[
    (
        "access_token",
        &["access_token", "accessToken", "AccessToken"],
    ),
    (
        "refresh_token",
        &["refresh_token", "refreshToken", "RefreshToken"],
    ),
    ("expires_in", &["expires_in", "expiresIn", "ExpiresIn"]),
    (
        "refresh_expires_in",
        &["refresh_expires_in", "refreshExpiresIn"],
    ),
    (
        "session_id",
        &["session_id", "session_state", "sessionId", "sid"],
    ),
];

/// Finds each token field of a JSON answer (at the top level or nested up to 3 objects deep,
/// e.g. Cognito's `AuthenticationResult.AccessToken`): extractor key → `json:/pointer`.
pub fn find_token_fields(body: &serde_json::Value) -> Vec<(&'static str, String)> {
    fn search(v: &serde_json::Value, names: &[&str], path: &str, depth: u8) -> Option<String> {
        let obj = v.as_object()?;
        for n in names {
            if let Some(found) = obj.get(*n)
                && !found.is_null()
                && !found.is_object()
            {
                return Some(format!("{path}/{}", escape_pointer(n)));
            }
        }
        if depth == 0 {
            return None;
        }
        obj.iter().find_map(|(k, child)| {
            search(
                child,
                names,
                &format!("{path}/{}", escape_pointer(k)),
                depth - 1,
            )
        })
    }
    FIELD_NAMES
        .iter()
        .filter_map(|(key, names)| search(body, names, "", 3).map(|p| (*key, format!("json:{p}"))))
        .collect()
}

fn escape_pointer(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// A target profile being drafted from what the server says about itself.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The URL `init` was given (the profile's `base_url`).
    pub base_url: url::Url,
    /// Where the endpoints came from, for the header (a discovery URL, or "given on the command
    /// line").
    pub source: String,
    pub token: String,
    pub revocation: Option<String>,
    pub introspection: Option<String>,
    pub resource: Option<String>,
    pub jwks: Option<String>,
    pub end_session: Option<String>,
    /// `grant_types_supported` (empty: not announced).
    pub grants: Vec<String>,
    /// `authorization_endpoint`, for the authorization-code flow.
    pub authorize: Option<String>,
    /// `scopes_supported` (empty: not announced).
    pub scopes: Vec<String>,
    /// How the profile gets the first token pair.
    pub grant: InitGrant,
    pub client_auth: ClientAuth,
    /// Introspection authenticates with a bearer admin key (the reference mock).
    pub introspection_bearer: bool,
    /// The reference mock's `authbench_*` extensions.
    pub admin_logout: Option<String>,
    pub admin_outage: Option<String>,
    pub ws: Option<String>,
    /// The login request's `scope`, if one is asked for.
    pub scope: Option<String>,
    /// A public client's id (`ClientAuth::None`), written as is: it is not a secret.
    pub client_id: Option<String>,
    pub findings: Option<Findings>,
}

impl Draft {
    /// A draft for a server without metadata: the token endpoint (a path below `base_url` or an
    /// absolute URL) given by the user.
    pub fn manual(base_url: url::Url, token: String) -> Draft {
        Draft {
            base_url,
            source: "given on the command line (the server publishes no discovery document)".into(),
            token,
            revocation: None,
            introspection: None,
            resource: None,
            jwks: None,
            end_session: None,
            grants: Vec::new(),
            authorize: None,
            scopes: Vec::new(),
            grant: InitGrant::Password,
            client_auth: ClientAuth::Basic,
            introspection_bearer: false,
            admin_logout: None,
            admin_outage: None,
            ws: None,
            scope: None,
            client_id: None,
            findings: None,
        }
    }

    /// A draft from an OpenID discovery or RFC 8414 metadata document fetched from `source`.
    /// Errors name what is missing or malformed.
    pub fn from_metadata(
        base_url: url::Url,
        source: &str,
        doc: &serde_json::Value,
    ) -> Result<Draft, String> {
        if !doc.is_object() {
            return Err("the document is not a JSON object".into());
        }
        let url = |key: &str| -> Result<Option<String>, String> {
            match doc.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s))
                    if s.starts_with("http://") || s.starts_with("https://") =>
                {
                    Ok(Some(s.clone()))
                }
                Some(other) => Err(format!("{key} is not an http(s) URL: {other}")),
            }
        };
        let list = |key: &str| -> Vec<String> {
            doc.get(key)
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let token = url("token_endpoint")?
            .ok_or("it has no token_endpoint (RFC 8414 §2 requires one for the password grant)")?;
        let ws = doc
            .get("authbench_ws_endpoint")
            .and_then(|v| v.as_str())
            .filter(|s| s.starts_with("ws://") || s.starts_with("wss://"))
            .map(str::to_string);
        Ok(Draft {
            source: source.to_string(),
            token,
            revocation: url("revocation_endpoint")?,
            introspection: url("introspection_endpoint")?,
            resource: url("userinfo_endpoint")?.or(url("authbench_resource_endpoint")?),
            jwks: url("jwks_uri")?,
            end_session: url("end_session_endpoint")?,
            grants: list("grant_types_supported"),
            authorize: url("authorization_endpoint")?,
            scopes: list("scopes_supported"),
            grant: InitGrant::Password,
            client_auth: ClientAuth::from_methods(&list("token_endpoint_auth_methods_supported")),
            introspection_bearer: list("introspection_endpoint_auth_methods_supported")
                .iter()
                .any(|m| m == "bearer"),
            admin_logout: url("authbench_admin_logout_endpoint")?,
            admin_outage: url("authbench_admin_outage_endpoint")?,
            ws,
            scope: None,
            client_id: None,
            findings: None,
            base_url,
        })
    }

    /// Whether the server announces its grants, the password grant not among them, but the
    /// authorization-code flow and an authorization endpoint: the flow a profile for it needs.
    pub fn announces_only_the_code_flow(&self) -> bool {
        let has = |g: &str| self.grants.iter().any(|x| x == g);
        !self.grants.is_empty()
            && !has("password")
            && has("authorization_code")
            && self.authorize.is_some()
    }

    /// The scope an authorization-code login asks for when none is given: `openid` (the userinfo
    /// resource needs it) and `offline_access` (many providers issue refresh tokens only for it),
    /// those of them the server announces.
    pub fn code_flow_scope(&self) -> Option<String> {
        let wanted: Vec<&str> = ["openid", "offline_access"]
            .into_iter()
            .filter(|s| self.scopes.iter().any(|x| x == s))
            .collect();
        (!wanted.is_empty()).then(|| wanted.join(" "))
    }

    /// The environment variables the profile needs (the secrets, and the client id when `init`
    /// was not given one).
    pub fn env_vars(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.client_auth != ClientAuth::None {
            if self.client_id.is_none() {
                v.push(ENV_CLIENT_ID);
            }
            v.push(ENV_CLIENT_SECRET);
        } else if self.client_id.is_none() && self.grant != InitGrant::Password {
            // The authorize request names the client, public or not.
            v.push(ENV_CLIENT_ID);
        }
        if self.uses_admin_key() {
            v.push(ENV_ADMIN_KEY);
        }
        v
    }

    fn uses_admin_key(&self) -> bool {
        (self.introspection.is_some() && self.introspection_bearer)
            || self.admin_logout.is_some()
            || self.admin_outage.is_some()
    }

    /// An endpoint as the profile writes it: a path when it lies below `base_url`, else the URL.
    fn at(&self, endpoint: &str) -> String {
        let base = self.base_url.as_str().trim_end_matches('/');
        match endpoint.strip_prefix(base) {
            Some(rest) if rest.starts_with('/') => rest.to_string(),
            Some("") => "/".to_string(),
            _ => endpoint.to_string(),
        }
    }

    /// A WebSocket URL below the base URL as a path (`ws://` under `http://`, `wss://` under
    /// `https://`), the way `ws.path` is resolved; None for any other URL.
    fn ws_path(&self, ws: &str) -> Option<String> {
        let http = if let Some(rest) = ws.strip_prefix("ws://") {
            format!("http://{rest}")
        } else {
            format!("https://{}", ws.strip_prefix("wss://")?)
        };
        Some(self.at(&http)).filter(|p| p.starts_with('/'))
    }

    /// The commented target profile.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_header(&mut out);
        let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"));
        let _ = writeln!(
            out,
            "base_url: {}",
            q(&env_or(ENV_BASE_URL, self.base_url.as_str()))
        );
        match &self.grant {
            InitGrant::Password => {
                let mut login_form = vec![
                    ("grant_type", q("password")),
                    ("username", q("{{user}}")),
                    ("password", q("{{password}}")),
                ];
                if let Some(scope) = &self.scope {
                    login_form.push(("scope", q(scope)));
                }
                self.render_request(&mut out, "login", &self.token, &login_form, true);
            }
            InitGrant::AuthorizationCode { redirect_uri, form } => {
                let authorize = self.authorize.as_deref().unwrap_or("/authorize");
                let _ = writeln!(
                    out,
                    "grant:                            # the authorization-code flow with PKCE, through the sign-in form"
                );
                let _ = writeln!(out, "  authorization_code:\n    authorize:");
                let _ = writeln!(out, "      path: {}", q(&self.at(authorize)));
                let mut query = format!("client_id: {}", q(&self.client_id_template()));
                if let Some(scope) = &self.scope {
                    let _ = write!(query, ", scope: {}", q(scope));
                }
                let _ = writeln!(out, "      query: {{ {query} }}");
                let _ = writeln!(out, "    redirect_uri: {}", q(redirect_uri));
                let _ = writeln!(
                    out,
                    "    form: {}{}",
                    q(form.as_deref().unwrap_or("form")),
                    if form.is_none() {
                        "                      # CSS selector of the sign-in form (set it when the page has others)"
                    } else {
                        ""
                    }
                );
                self.render_request(
                    &mut out,
                    "login",
                    &self.token,
                    &[
                        ("grant_type", q("authorization_code")),
                        ("code", q("{{code}}")),
                        ("code_verifier", q("{{code_verifier}}")),
                        ("redirect_uri", q(redirect_uri)),
                    ],
                    true,
                );
            }
        }
        self.render_request(
            &mut out,
            "refresh",
            &self.token,
            &[
                ("grant_type", q("refresh_token")),
                ("refresh_token", q("{{refresh_token}}")),
            ],
            true,
        );
        if let Some(rev) = &self.revocation {
            let _ = writeln!(
                out,
                "# Logout: revoke the refresh token (RFC 7009); replace with your logout API if it has one."
            );
            self.render_request(
                &mut out,
                "logout",
                rev,
                &[
                    ("token", q("{{refresh_token}}")),
                    ("token_type_hint", q("refresh_token")),
                ],
                true,
            );
            self.render_request(
                &mut out,
                "revoke",
                rev,
                &[
                    ("token", q("{{token}}")),
                    ("token_type_hint", q("{{token_type_hint}}")),
                ],
                true,
            );
        }
        if let Some(intro) = &self.introspection {
            let form = [
                ("token", q("{{token}}")),
                ("token_type_hint", q("{{token_type_hint}}")),
            ];
            if self.introspection_bearer {
                let _ = writeln!(out, "introspect:\n  path: {}", q(&self.at(intro)));
                let _ = writeln!(
                    out,
                    "  headers: {{ Authorization: {} }}",
                    q("Bearer {{admin_key}}")
                );
                render_form(&mut out, &form);
            } else {
                self.render_request(&mut out, "introspect", intro, &form, true);
            }
        }
        match &self.resource {
            Some(r) => {
                let _ = writeln!(
                    out,
                    "resource:                         # the protected API the traffic phases call"
                );
                let _ = writeln!(out, "  method: GET\n  path: {}", q(&self.at(r)));
            }
            None => {
                let _ = writeln!(
                    out,
                    "resource:                         # CHANGE ME: a protected API of yours (no userinfo endpoint was announced)"
                );
                let _ = writeln!(out, "  method: GET\n  path: \"/userinfo\"");
            }
        }
        let _ = writeln!(
            out,
            "  headers: {{ Authorization: {} }}",
            q("Bearer {{access_token}}")
        );
        if let Some(admin) = &self.admin_logout {
            let _ = writeln!(
                out,
                "admin_logout:\n  path: {}\n  headers: {{ Authorization: {} }}",
                q(&self.at(&admin.replace("{user}", "{{user}}"))),
                q("Bearer {{admin_key}}")
            );
        }
        if let Some(outage) = &self.admin_outage {
            let _ = writeln!(
                out,
                "admin_outage:\n  path: {}\n  query: {{ duration_ms: {} }}\n  headers: {{ Authorization: {} }}",
                q(&self.at(outage)),
                q("{{duration_ms}}"),
                q("Bearer {{admin_key}}")
            );
        }
        if self.uses_admin_key() {
            let _ = writeln!(
                out,
                "admin_key: {}",
                q(&format!("{{{{env.{ENV_ADMIN_KEY}}}}}"))
            );
        }
        self.render_extract(&mut out);
        let _ = writeln!(
            out,
            "renewal_header: \"\"                # no sliding renewal header (set its name if your API sends one)"
        );
        match self.findings.as_ref().and_then(|f| f.rejection_strict) {
            Some(true) => {
                let _ = writeln!(
                    out,
                    "refresh_rejected: strict          # the probe's unknown refresh token got 400 invalid_grant (RFC 6749 §5.2)"
                );
            }
            Some(false) => {
                let _ = writeln!(
                    out,
                    "refresh_rejected: lenient         # the probe's unknown refresh token did not get 400 invalid_grant"
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "refresh_rejected: lenient         # 400, 401 or 403 count as \"rejected\"; `strict` when your server answers 400 invalid_grant"
                );
            }
        }
        if let Some(ws) = &self.ws {
            // Below the base URL (same host, ws for http, wss for https): a path, so the socket
            // follows AUTHBENCH_BASE_URL like every other endpoint.
            let (key, value) = match self.ws_path(ws) {
                Some(path) => ("path", path),
                None => ("url", ws.clone()),
            };
            let _ = writeln!(
                out,
                "ws: {{ {key}: {}, token: {{ query: access_token }}, close_codes: authbench }}",
                q(&value)
            );
        }
        out
    }

    fn render_header(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# Target profile for {}, written by `authbench init`.",
            self.base_url
        );
        let _ = writeln!(out, "# Endpoints: {}.", self.source);
        let _ = writeln!(out, "#   token          {}", self.token);
        for (name, v) in [
            ("revocation", &self.revocation),
            ("introspection", &self.introspection),
            ("userinfo/API", &self.resource),
            ("JWKS", &self.jwks),
            ("end session", &self.end_session),
        ] {
            let shown = v.as_deref().unwrap_or("(not announced)");
            let _ = writeln!(out, "#   {name:<14} {shown}");
        }
        if !self.grants.is_empty() {
            let _ = writeln!(out, "# Grants announced: {}.", self.grants.join(", "));
            if self.grant == InitGrant::Password && !self.grants.iter().any(|g| g == "password") {
                let _ = writeln!(
                    out,
                    "# WARNING: the password grant is not announced; the login below may be refused. Enable it for\n# a test client, or start sessions another way (see the README's target presets)."
                );
            }
        }
        if let InitGrant::AuthorizationCode { .. } = self.grant {
            let _ = writeln!(
                out,
                "# First token pair: the authorization-code flow with PKCE; each client signs in through the\n# server's sign-in form (`grant.authorization_code`) and `login` exchanges the code."
            );
        }
        let _ = writeln!(
            out,
            "# Client authentication: {}.",
            self.client_auth.describe()
        );
        if let Some(f) = &self.findings {
            let _ = writeln!(out, "# Probe (a login as {}):", f.user);
            for n in &f.notes {
                let _ = writeln!(out, "#   {n}");
            }
        }
        let _ = writeln!(out, "#");
        let _ = writeln!(
            out,
            "# Secrets stay out of this file; export them before a run (loading fails naming any that is unset):"
        );
        let vars = self.env_vars();
        if vars.is_empty() {
            let _ = writeln!(out, "#   (none: a public client and no admin endpoints)");
        }
        for v in vars {
            let _ = writeln!(out, "#   export {v}=...");
        }
        let _ = writeln!(
            out,
            "# Per environment (optional; the default is what init used): {ENV_BASE_URL}{}",
            if self.client_id.is_some() {
                format!(", {ENV_CLIENT_ID}")
            } else {
                String::new()
            }
        );
        let _ = writeln!(out, "#");
        let _ = writeln!(out, "# Run:  authbench check <this file>");
        let _ = writeln!(
            out,
            "#       authbench run scenarios/storm.yaml --target <this file>"
        );
    }

    /// The client id as the profile writes it: from the environment, with the id given to `init`
    /// as its default.
    fn client_id_template(&self) -> String {
        match &self.client_id {
            Some(given) => env_or(ENV_CLIENT_ID, given),
            None => format!("{{{{env.{ENV_CLIENT_ID}}}}}"),
        }
    }

    /// A request with the client's credentials in the announced way.
    fn render_request(
        &self,
        out: &mut String,
        key: &str,
        endpoint: &str,
        form: &[(&str, String)],
        client: bool,
    ) {
        let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let _ = writeln!(out, "{key}:\n  path: {}", q(&self.at(endpoint)));
        let id = self.client_id_template();
        let secret = format!("{{{{env.{ENV_CLIENT_SECRET}}}}}");
        let mut fields: Vec<(&str, String)> = form.to_vec();
        if client {
            match self.client_auth {
                ClientAuth::Basic => {
                    let _ = writeln!(
                        out,
                        "  basic_auth: {{ user: {}, password: {} }}",
                        q(&id),
                        q(&secret)
                    );
                }
                ClientAuth::Post => {
                    fields.push(("client_id", q(&id)));
                    fields.push(("client_secret", q(&secret)));
                }
                ClientAuth::None => {
                    if self.client_id.is_some() {
                        fields.push(("client_id", q(&id)));
                    }
                }
            }
        }
        render_form(out, &fields);
    }

    fn render_extract(&self, out: &mut String) {
        let _ = writeln!(out, "extract:");
        match &self.findings {
            Some(f) => {
                let _ = writeln!(
                    out,
                    "  access_token: {}{}",
                    f.access_token,
                    if f.access_is_jwt {
                        "   # a JWT: its expiry is read from `exp`"
                    } else {
                        "   # opaque: its expiry comes from expires_in"
                    }
                );
                for (key, v) in [
                    ("refresh_token", &f.refresh_token),
                    ("expires_in", &f.expires_in),
                    ("refresh_expires_in", &f.refresh_expires_in),
                    ("session_id", &f.session_id),
                ] {
                    if let Some(v) = v {
                        let _ = writeln!(out, "  {key}: {v}");
                    }
                }
            }
            None => {
                let _ = writeln!(
                    out,
                    "  access_token: json:/access_token\n  refresh_token: json:/refresh_token   # or cookie:NAME for an HttpOnly cookie\n  expires_in: json:/expires_in"
                );
            }
        }
    }
}

/// Where a server below `base` publishes its metadata, in the order `init` tries them: OpenID
/// discovery (`base` + `/.well-known/openid-configuration`), RFC 8414 §3.1 (the well-known suffix
/// inserted between the host and the issuer's path: `https://h/.well-known/oauth-authorization-server/tenant`),
/// then the same suffix appended to `base`, as servers predating RFC 8414 publish it (the same URL
/// as §3.1's when `base` has no path).
pub fn metadata_urls(base: &url::Url) -> Vec<String> {
    let root = base.as_str().trim_end_matches('/');
    let path = base.path().trim_end_matches('/');
    let mut urls = vec![format!("{root}/.well-known/openid-configuration")];
    if !path.is_empty() {
        let mut origin = base.clone();
        origin.set_path("");
        origin.set_query(None);
        origin.set_fragment(None);
        let origin = origin.as_str().trim_end_matches('/').to_string();
        urls.push(format!(
            "{origin}/.well-known/oauth-authorization-server{path}"
        ));
    }
    urls.push(format!("{root}/.well-known/oauth-authorization-server"));
    urls
}

fn render_form(out: &mut String, fields: &[(&str, String)]) {
    let _ = writeln!(out, "  form:");
    for (k, v) in fields {
        let _ = writeln!(out, "    {k}: {v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> url::Url {
        url::Url::parse("http://127.0.0.1:8080").unwrap()
    }

    #[test]
    fn metadata_without_a_token_endpoint_is_refused_with_the_reason() {
        let err =
            Draft::from_metadata(base(), "x", &serde_json::json!({"issuer": "x"})).unwrap_err();
        assert!(err.contains("no token_endpoint"), "{err}");
        let err = Draft::from_metadata(base(), "x", &serde_json::json!({"token_endpoint": 7}))
            .unwrap_err();
        assert!(err.contains("not an http(s) URL"), "{err}");
        assert!(Draft::from_metadata(base(), "x", &serde_json::json!([1])).is_err());
    }

    #[test]
    fn metadata_is_looked_for_where_rfc_8414_puts_it_for_an_issuer_with_a_path() {
        let at = |u: &str| metadata_urls(&url::Url::parse(u).unwrap());
        assert_eq!(
            at("https://idp.example/tenant/a/"),
            vec![
                "https://idp.example/tenant/a/.well-known/openid-configuration",
                "https://idp.example/.well-known/oauth-authorization-server/tenant/a",
                "https://idp.example/tenant/a/.well-known/oauth-authorization-server",
            ]
        );
        assert_eq!(
            at("http://127.0.0.1:8080"),
            vec![
                "http://127.0.0.1:8080/.well-known/openid-configuration",
                "http://127.0.0.1:8080/.well-known/oauth-authorization-server",
            ]
        );
    }

    #[test]
    fn client_auth_follows_what_the_server_announces() {
        let m = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(ClientAuth::from_methods(&m(&[])), ClientAuth::Basic);
        assert_eq!(
            ClientAuth::from_methods(&m(&["client_secret_post", "none"])),
            ClientAuth::Post
        );
        assert_eq!(ClientAuth::from_methods(&m(&["none"])), ClientAuth::None);
    }

    #[test]
    fn nested_token_fields_are_found_as_pointers() {
        let body = serde_json::json!({
            "AuthenticationResult": { "AccessToken": "a", "RefreshToken": "r", "ExpiresIn": 300 },
            "ChallengeParameters": {}
        });
        let found = find_token_fields(&body);
        assert!(found.contains(&(
            "access_token",
            "json:/AuthenticationResult/AccessToken".into()
        )));
        assert!(found.contains(&("expires_in", "json:/AuthenticationResult/ExpiresIn".into())));
        let flat = find_token_fields(&serde_json::json!({"access_token": "a", "expires_in": 5}));
        assert_eq!(
            flat,
            vec![
                ("access_token", "json:/access_token".to_string()),
                ("expires_in", "json:/expires_in".to_string())
            ]
        );
    }

    #[test]
    fn the_rendered_profile_loads_and_keeps_secrets_in_the_environment() {
        let doc = serde_json::json!({
            "token_endpoint": "http://127.0.0.1:8080/oauth/token",
            "revocation_endpoint": "http://127.0.0.1:8080/oauth/revoke",
            "userinfo_endpoint": "https://other.example/userinfo",
            "grant_types_supported": ["authorization_code"],
        });
        let draft =
            Draft::from_metadata(base(), "http://127.0.0.1:8080/.well-known/x", &doc).unwrap();
        let text = draft.render();
        assert!(text.contains("path: \"/oauth/token\""), "{text}");
        assert!(
            text.contains("path: \"https://other.example/userinfo\""),
            "{text}"
        );
        assert!(
            text.contains("the password grant is not announced"),
            "{text}"
        );
        assert!(text.contains("{{env.AUTHBENCH_CLIENT_SECRET}}"), "{text}");
        let p = crate::profile::file::profile_from_str_with(
            &text,
            None,
            crate::profile::file::EnvCheck::Skip,
        );
        assert!(p.is_ok(), "{text}\n{:?}", p.err());
    }

    #[test]
    fn a_websocket_below_the_base_url_is_written_as_a_path_so_it_follows_the_base_url() {
        let doc = |ws: &str| {
            serde_json::json!({
                "token_endpoint": "http://127.0.0.1:8080/oauth/token",
                "authbench_ws_endpoint": ws,
            })
        };
        let render = |ws: &str| {
            Draft::from_metadata(base(), "x", &doc(ws))
                .unwrap()
                .render()
        };
        let text = render("ws://127.0.0.1:8080/ws");
        assert!(text.contains("ws: { path: \"/ws\","), "{text}");
        let p = crate::profile::file::profile_from_str_with(
            &text,
            None,
            crate::profile::file::EnvCheck::Skip,
        )
        .unwrap();
        assert_eq!(p.ws().unwrap().url.as_str(), "ws://127.0.0.1:8080/ws");
        for elsewhere in ["wss://127.0.0.1:8080/ws", "ws://rt.example/ws"] {
            let text = render(elsewhere);
            assert!(
                text.contains(&format!("ws: {{ url: \"{elsewhere}\",")),
                "{text}"
            );
        }
    }

    #[test]
    fn a_server_without_the_password_grant_gets_the_code_flow_drafted() {
        let doc = serde_json::json!({
            "token_endpoint": "http://127.0.0.1:8080/token",
            "authorization_endpoint": "http://127.0.0.1:8080/auth",
            "grant_types_supported": ["implicit", "authorization_code", "refresh_token"],
            "scopes_supported": ["openid", "offline_access", "email"],
            "token_endpoint_auth_methods_supported": ["none"],
        });
        let mut draft = Draft::from_metadata(base(), "x", &doc).unwrap();
        assert!(draft.announces_only_the_code_flow());
        assert_eq!(
            draft.code_flow_scope().as_deref(),
            Some("openid offline_access")
        );
        draft.grant = InitGrant::AuthorizationCode {
            redirect_uri: "http://127.0.0.1:3000/cb".into(),
            form: None,
        };
        draft.scope = draft.code_flow_scope();
        // A public client still names itself in the authorize request.
        assert_eq!(draft.env_vars(), vec![ENV_CLIENT_ID]);
        let text = draft.render();
        assert!(
            !text.contains("the password grant is not announced"),
            "{text}"
        );
        assert!(!text.contains("grant_type: \"password\""), "{text}");
        let p = crate::profile::file::profile_from_str_with(
            &text,
            None,
            crate::profile::file::EnvCheck::Skip,
        )
        .unwrap_or_else(|e| panic!("{text}\n{e}"));
        let spec = p.authorization_code().expect("the code flow");
        assert_eq!(spec.redirect_uri, "http://127.0.0.1:3000/cb");
        // With the password grant announced, or no authorization endpoint, nothing changes.
        for doc in [
            serde_json::json!({
                "token_endpoint": "http://127.0.0.1:8080/token",
                "authorization_endpoint": "http://127.0.0.1:8080/auth",
                "grant_types_supported": ["password", "authorization_code"],
            }),
            serde_json::json!({
                "token_endpoint": "http://127.0.0.1:8080/token",
                "grant_types_supported": ["authorization_code"],
            }),
            serde_json::json!({ "token_endpoint": "http://127.0.0.1:8080/token" }),
        ] {
            let d = Draft::from_metadata(base(), "x", &doc).unwrap();
            assert!(!d.announces_only_the_code_flow(), "{doc}");
        }
    }

    #[test]
    fn base_url_and_a_given_client_id_are_overridable_defaults() {
        let doc = serde_json::json!({ "token_endpoint": "http://127.0.0.1:8080/oauth/token" });
        let mut draft = Draft::from_metadata(base(), "x", &doc).unwrap();
        draft.client_id = Some("web-app".into());
        let text = draft.render();
        assert!(
            text.contains(
                r#"base_url: "{{ env.AUTHBENCH_BASE_URL | default(\"http://127.0.0.1:8080/\") }}""#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"{{ env.AUTHBENCH_CLIENT_ID | default(\"web-app\") }}"#),
            "{text}"
        );
        assert_eq!(draft.env_vars(), vec![ENV_CLIENT_SECRET]);
        let load = |text: &str| {
            crate::profile::file::profile_from_str_with(
                text,
                None,
                crate::profile::file::EnvCheck::Skip,
            )
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
        };
        assert_eq!(
            load(&text).base_url().as_str(),
            "http://127.0.0.1:8080/",
            "the default when the variable is unset"
        );
    }
}
