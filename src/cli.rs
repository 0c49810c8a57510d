//! The command-line contract (DESIGN §2): every command, flag and its help text, as clap derive types.

use std::path::PathBuf;

use authbench::report::FailOn;
use clap::{Args, Parser, Subcommand};

/// `authbench --version`: the version, then the allocator this binary was built with (the
/// `jemalloc` feature, on by default; see `main`).
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
const LONG_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\nallocator: jemalloc");
#[cfg(not(all(feature = "jemalloc", not(target_env = "msvc"))))]
const LONG_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\nallocator: system");

/// Load-testing and conformance harness for authentication servers: refresh storms, rotation races,
/// WebSocket kick-off and RFC conformance, against any server or the bundled reference mock.
#[derive(Debug, Parser)]
#[command(
    name = "authbench",
    version,
    long_version = LONG_VERSION,
    about,
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// `-v`/`-vv`, `--log-format` (shared with `authbench-mock`).
    #[command(flatten)]
    pub log: authbench_mock::LogArgs,
    /// `--threads` (shared with `authbench-mock`).
    #[command(flatten)]
    pub runtime: authbench_mock::RuntimeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario; with `target: builtin` (or none) the reference mock starts in-process.
    Run(RunArgs),
    /// Conformance suite: PASS / FAIL / WARN / SKIP per check, with the RFC behind it and evidence.
    Check(CheckArgs),
    /// Side-by-side table (terminal) and HTML of two or more report.json files (or their folders).
    Compare(CompareArgs),
    /// Lossless merge of shard reports: HDR histograms, counters and timelines.
    Merge(MergeArgs),
    /// Run the reference mock server (same flags as the `authbench-mock` binary).
    Mock(authbench_mock::MockArgs),
    /// Write a target profile for a server from its OpenID discovery (and, with --probe, a login).
    Init(InitArgs),
    /// Validate a scenario (and its target profile), or a target profile alone, without running it.
    Validate(ValidateArgs),
    /// Print the JSON Schema (draft-07) of scenario and target profile files.
    Schema,
    /// Print shell completions.
    Completions {
        /// The shell to generate completions for.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file (YAML).
    pub scenario: PathBuf,
    /// Target: a target profile file or a base URL (generic oauth2 preset); overrides `target:`.
    #[arg(long, value_name = "FILE|URL")]
    pub target: Option<String>,
    /// Replace the target profile's `base_url` (e.g. the same profile against staging).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Output folder (default: reports/<name>-<YYYYmmdd-HHMMSS>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Override a scenario key, e.g. `--set client.strategy=naive` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Override the number of clients (1 to 10000000).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_clients)]
    pub clients: Option<u32>,
    /// Override the duration of every traffic phase (e.g. 30s).
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Run shard i of N (0-based): this process runs its share of the clients.
    #[arg(long, value_name = "i/N")]
    pub shard: Option<String>,
    /// Wait until this wall-clock instant (RFC 3339) before the first phase, so shards start together.
    #[arg(long, value_name = "RFC3339")]
    pub start_at: Option<String>,
    /// No live progress and no summary on the terminal (files are still written).
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the report summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Serve live metrics in the OpenMetrics text format at http://ADDR/metrics while the run
    /// goes on (e.g. 0.0.0.0:9464; port 0 picks a free port, printed on stderr).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// With --metrics-listen: once the run is over, keep serving its final values (phase `done`,
    /// the counts made at the end of the run) until a scrape has read them or this long has
    /// passed, e.g. 90s, longer than the scrape interval. Without it the endpoint ends with the run.
    #[arg(long, value_name = "DURATION", requires = "metrics_listen", value_parser = parse_linger)]
    pub metrics_linger: Option<std::time::Duration>,
}

/// The longest `--metrics-linger`.
const MAX_LINGER: std::time::Duration = std::time::Duration::from_secs(3600);

/// `run --metrics-linger DURATION`: a duration of at most an hour.
fn parse_linger(s: &str) -> Result<std::time::Duration, String> {
    let d = authbench::config::units::parse_duration(s)?;
    if d > MAX_LINGER {
        return Err(format!(
            "{s} is longer than an hour; give the scrape interval and some margin, e.g. --metrics-linger 90s"
        ));
    }
    Ok(d)
}

/// `run --clients N`: a count the scenario accepts, so the message names the real bounds (not
/// those of a `u32`).
fn parse_clients(s: &str) -> Result<u32, String> {
    let max = authbench::scenario::validate::MAX_CLIENTS;
    let bounds = format!("expected a whole number of clients from 1 to {max}, e.g. --clients 100");
    match s.trim().parse::<i128>() {
        Ok(n) => u32::try_from(n)
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or(bounds),
        Err(_) => Err(bounds),
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Target profile file or base URL; none = the builtin mock, started in-process.
    #[arg(value_name = "TARGET")]
    pub target_pos: Option<String>,
    /// Same as the positional TARGET.
    #[arg(long, value_name = "FILE|URL", conflicts_with = "target_pos")]
    pub target: Option<String>,
    /// Replace the target profile's `base_url` (e.g. the same profile against staging).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// The test accounts, as a scenario's `users:` (repeatable): `--set users.csv=accounts.csv`,
    /// or `--set users.pattern=PATTERN --set users.password=PATTERN --set users.offset=100`, where
    /// each PATTERN holds the user number's placeholder `{ n }` written without the spaces (help
    /// text cannot show it); without a target, the builtin mock's knobs as a scenario's `mock:`,
    /// e.g. `--set 'mock.flaws=[no-rotation]'` or `--set mock.rotation=false`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Run only these check ids (comma separated, e.g. RT-01,RS-02; a family prefix like RT- works).
    #[arg(long, value_delimiter = ',', value_name = "ID,...")]
    pub only: Vec<String>,
    /// Skip these check ids (comma separated).
    #[arg(long, value_delimiter = ',', value_name = "ID,...")]
    pub skip: Vec<String>,
    /// A refresh rejected with 401/403 instead of 400 is a FAIL instead of a WARN.
    #[arg(long)]
    pub strict: bool,
    /// Checks run at the same time (1 = one after another, for a server that cannot take the
    /// catalog's parallel load; RT-09 still races its own refreshes).
    #[arg(long, default_value_t = authbench::checks::DEFAULT_CONCURRENCY as u16, value_parser = clap::value_parser!(u16).range(1..=256), value_name = "N")]
    pub jobs: u16,
    /// What fails the run.
    #[arg(long, value_enum, default_value = "fail")]
    pub fail_on: FailOn,
    /// Known deviations (YAML: list of {id, reason}); they do not fail the run.
    #[arg(long, value_name = "FILE")]
    pub expected_failures: Option<PathBuf>,
    /// Write JUnit XML here (also written to the output folder).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Output folder (default: reports/check-<YYYYmmdd-HHMMSS>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// List the catalog (ids, levels, sources) and exit; with --only/--skip the checks they
    /// select, with --json as a JSON array of the checks' metadata.
    #[arg(long, conflicts_with_all = ["target_pos", "target", "base_url", "set", "strict", "jobs", "fail_on", "expected_failures", "junit", "out"])]
    pub list: bool,
    /// Print the results as JSON on stdout (with --list: the catalog).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The server's base URL (its issuer), e.g. https://idp.example.com/realms/demo.
    pub url: String,
    /// Where to write the profile.
    #[arg(long, short, value_name = "FILE", default_value = "target.yaml")]
    pub out: PathBuf,
    /// Overwrite --out if it exists.
    #[arg(long)]
    pub force: bool,
    /// The token endpoint (a path below URL, or a URL), for servers without discovery.
    #[arg(long, value_name = "PATH")]
    pub token_path: Option<String>,
    /// The revocation endpoint (RFC 7009), when discovery does not announce it.
    #[arg(long, value_name = "PATH")]
    pub revoke_path: Option<String>,
    /// The introspection endpoint (RFC 7662), when discovery does not announce it.
    #[arg(long, value_name = "PATH")]
    pub introspect_path: Option<String>,
    /// The protected API the traffic phases call (default: the announced userinfo endpoint).
    #[arg(long, value_name = "PATH")]
    pub resource: Option<String>,
    /// How the client authenticates at the token endpoint: basic, post or none (default: what
    /// the server announces; client_secret_basic when it announces nothing).
    #[arg(long, value_name = "METHOD")]
    pub client_auth: Option<String>,
    /// The scope the login asks for (default with the authorization-code flow: `openid` and
    /// `offline_access`, those of them the server announces).
    #[arg(long)]
    pub scope: Option<String>,
    /// How the first token pair is obtained: `password`, or `authorization-code` (PKCE through
    /// the server's sign-in form, needs --redirect-uri). Default: the password grant, unless the
    /// server announces grants without it but with the authorization-code flow.
    #[arg(long, value_enum, value_name = "GRANT")]
    pub grant: Option<InitGrantArg>,
    /// The redirect URI registered for the client (the authorization-code flow ends when the
    /// server redirects there; nothing needs to listen on it).
    #[arg(long, value_name = "URI")]
    pub redirect_uri: Option<String>,
    /// CSS selector of the sign-in form on the server's login page (authorization-code flow;
    /// default `form`).
    #[arg(long, value_name = "SELECTOR")]
    pub form: Option<String>,
    /// The client's id, written into the profile as the default of AUTHBENCH_CLIENT_ID (without
    /// it, a confidential client's id is read from AUTHBENCH_CLIENT_ID; its secret always comes
    /// from AUTHBENCH_CLIENT_SECRET).
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Log in as --user, refresh once and fill in the response shape (extractors, expiry source,
    /// rotation, how a dead refresh token is rejected).
    #[arg(long)]
    pub probe: bool,
    /// The probe's test account.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// The probe account's password.
    #[arg(long, value_name = "SECRET")]
    pub password: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Two or more report.json files or report folders; the first is the baseline.
    #[arg(required = true, num_args = 2.., value_name = "REPORT")]
    pub reports: Vec<PathBuf>,
    /// Also write an HTML comparison page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard reports (report.json files or folders).
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<PathBuf>,
    /// Output folder for the merged report.
    #[arg(long, value_name = "DIR", required = true)]
    pub out: PathBuf,
    /// Merge even when shards of the run are missing; the merged report is marked partial and
    /// lists them. Without it, an incomplete set is refused (exit 2).
    #[arg(long)]
    pub allow_partial: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario file or target profile file (YAML).
    pub scenario: PathBuf,
    /// Override a scenario key (as for `run`), or a target profile's key (e.g.
    /// `--set base_url=https://staging.example.com`); the value is validated as the file's.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// `init --grant`: how the drafted profile gets the first token pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InitGrantArg {
    /// The password grant.
    Password,
    /// The authorization-code flow with PKCE through the server's sign-in form.
    AuthorizationCode,
}
