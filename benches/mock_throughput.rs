//! Throughput of the reference mock's token endpoint against its own `/healthz`, under the same load
//! (DESIGN §8: refresh with rotation ≥ 50 % of `/healthz` req/s; login likewise).
//!
//! A deliberately lean closed-loop load generator: N keep-alive HTTP/1.1 connections, each sending
//! one request, reading the whole response, and sending the next, for a fixed time per endpoint.
//! Requests are written by hand and responses parsed just far enough (status line, `Content-Length`,
//! body), so the generator costs little CPU and the server gets as much of the machine as possible —
//! the same setup for every endpoint, which is what makes the ratios fair.
//!
//! - `healthz`: `GET /healthz`.
//! - `refresh`: each connection logs in once (its own user) and then walks its own rotation chain:
//!   `POST /oauth/token grant_type=refresh_token` with the refresh token of the previous answer.
//!   A rejected refresh (which would mean the server broke the chain) is counted as an error and
//!   the connection logs in again.
//! - `login`: `POST /oauth/token grant_type=password`, each connection cycling through its own
//!   users (`user{n}`/`pw-{n}`), so no user piles up sessions.
//!
//! The endpoints take turns in short windows (`--rounds`, default 5, each endpoint `duration /
//! rounds` per round), so a change in the machine's background load hits all of them alike.
//! With `--server-pid`, the server's CPU time (user + system, from `/proc/PID/stat`) per request is
//! reported too.
//!
//! ```text
//! cargo bench --bench mock_throughput -- --url http://127.0.0.1:18080 [--connections 64]
//!     [--duration 5s] [--rounds 5] [--warmup 200ms] [--only healthz,refresh,login]
//!     [--users 100000] [--server-pid PID]
//! ```
//! The mock runs as its own process (`target/release/authbench-mock --port 18080 --signing hs256`),
//! so generator and server are measured the way they are deployed; without `--url` the bench
//! prints that it was skipped (a plain `cargo bench` runs every bench target).
//! Output: one line per endpoint, then `ratio refresh/healthz` and `ratio login/healthz`; exit
//! status 1 when a ratio is below 0.5 or when any endpoint saw errors.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response accepted (token responses are under 2 KiB).
const MAX_RESPONSE: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Healthz,
    Refresh,
    Login,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Healthz => "healthz",
            Endpoint::Refresh => "refresh",
            Endpoint::Login => "login",
        }
    }

    fn parse(s: &str) -> Result<Endpoint, String> {
        match s {
            "healthz" => Ok(Endpoint::Healthz),
            "refresh" => Ok(Endpoint::Refresh),
            "login" => Ok(Endpoint::Login),
            other => Err(format!(
                "unknown endpoint {other:?} (healthz, refresh, login)"
            )),
        }
    }
}

struct Args {
    url: Option<String>,
    connections: u32,
    duration: Duration,
    warmup: Duration,
    rounds: u32,
    only: Vec<Endpoint>,
    users: u64,
    server_pid: Option<u32>,
}

fn usage() -> ! {
    eprintln!(
        "usage: mock_throughput [--url http://HOST:PORT] [--connections 64] [--duration 5s] \
         [--rounds 5] [--warmup 200ms] [--only healthz,refresh,login] [--users 100000] \
         [--server-pid PID]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        url: None,
        connections: 64,
        duration: Duration::from_secs(5),
        warmup: Duration::from_millis(200),
        rounds: 5,
        only: vec![Endpoint::Healthz, Endpoint::Refresh, Endpoint::Login],
        users: 100_000,
        server_pid: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" => {}
            "--url" => a.url = Some(value()),
            "--connections" => a.connections = value().parse().unwrap_or_else(|_| usage()),
            "--duration" => {
                a.duration = humantime::parse_duration(&value()).unwrap_or_else(|_| usage())
            }
            "--warmup" => {
                a.warmup = humantime::parse_duration(&value()).unwrap_or_else(|_| usage())
            }
            "--users" => a.users = value().parse().unwrap_or_else(|_| usage()),
            "--rounds" => a.rounds = value().parse().unwrap_or_else(|_| usage()),
            "--server-pid" => a.server_pid = Some(value().parse().unwrap_or_else(|_| usage())),
            "--only" => {
                a.only = value()
                    .split(',')
                    .map(|s| Endpoint::parse(s.trim()))
                    .collect::<Result<_, _>>()
                    .unwrap_or_else(|e| {
                        eprintln!("{e}");
                        usage()
                    })
            }
            "-h" | "--help" => usage(),
            _ => {
                eprintln!("unknown argument {arg:?}");
                usage()
            }
        }
    }
    if a.connections == 0 || a.users == 0 || a.rounds == 0 {
        usage();
    }
    a
}

/// `http://HOST:PORT` → the socket address (IP literals only: this tool talks to loopback).
fn socket_addr(url: &str) -> Result<SocketAddr, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs"))?;
    let hostport = rest.split('/').next().unwrap_or(rest);
    let hostport = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    let hostport = hostport.replace("localhost", "127.0.0.1");
    hostport
        .parse()
        .map_err(|e| format!("{url}: {e} (give an IP address and port)"))
}

/// One response: status and body.
struct Response {
    status: u16,
    body: Vec<u8>,
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    stream: TcpStream,
    host: String,
    buf: Vec<u8>,
    req: Vec<u8>,
}

#[derive(Debug)]
enum ConnError {
    Io(std::io::Error),
    Protocol(String),
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::Io(e) => write!(f, "{e}"),
            ConnError::Protocol(m) => f.write_str(m),
        }
    }
}

impl From<std::io::Error> for ConnError {
    fn from(e: std::io::Error) -> Self {
        ConnError::Io(e)
    }
}

impl Conn {
    async fn open(addr: SocketAddr) -> Result<Conn, ConnError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            host: addr.to_string(),
            buf: Vec::with_capacity(4096),
            req: Vec::with_capacity(1024),
        })
    }

    async fn get(&mut self, path: &str) -> Result<Response, ConnError> {
        self.req.clear();
        for part in ["GET ", path, " HTTP/1.1\r\nHost: ", &self.host, "\r\n\r\n"] {
            self.req.extend_from_slice(part.as_bytes());
        }
        self.exchange().await
    }

    /// `POST path` with a form body made of `form` pieces (no formatting per request).
    async fn post_form(&mut self, path: &str, form: &[&[u8]]) -> Result<Response, ConnError> {
        self.req.clear();
        let len: usize = form.iter().map(|p| p.len()).sum();
        for part in [
            "POST ",
            path,
            " HTTP/1.1\r\nHost: ",
            &self.host,
            "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ",
        ] {
            self.req.extend_from_slice(part.as_bytes());
        }
        push_decimal(&mut self.req, len as u64);
        self.req.extend_from_slice(b"\r\n\r\n");
        for p in form {
            self.req.extend_from_slice(p);
        }
        self.exchange().await
    }

    async fn exchange(&mut self) -> Result<Response, ConnError> {
        self.stream.write_all(&self.req).await?;
        self.read_response().await
    }

    async fn read_response(&mut self) -> Result<Response, ConnError> {
        // `buf` may hold nothing from before: one request in flight per connection.
        self.buf.clear();
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| ConnError::Protocol("response head is not UTF-8".into()))?;
        let status = head
            .get(9..12)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| ConnError::Protocol("no status line".into()))?;
        let mut length = None;
        for line in head.split("\r\n").skip(1) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(ConnError::Protocol(
                    "chunked responses are not supported by this generator".into(),
                ));
            }
        }
        let length = length.unwrap_or(0);
        if head_end + length > MAX_RESPONSE {
            return Err(ConnError::Protocol("response too large".into()));
        }
        while self.buf.len() < head_end + length {
            self.fill().await?;
        }
        let body = self.buf[head_end..head_end + length].to_vec();
        Ok(Response { status, body })
    }

    async fn fill(&mut self) -> Result<(), ConnError> {
        if self.buf.len() >= MAX_RESPONSE {
            return Err(ConnError::Protocol("response too large".into()));
        }
        self.buf.reserve(4096);
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            return Err(ConnError::Protocol(
                "connection closed by the server".into(),
            ));
        }
        Ok(())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The string value of `"field":"..."` in a JSON body (token values need no unescaping).
fn json_str<'a>(body: &'a [u8], field: &str) -> Option<&'a str> {
    let body = std::str::from_utf8(body).ok()?;
    let key = format!("\"{field}\":\"");
    let start = body.find(&key)? + key.len();
    let end = body[start..].find('"')? + start;
    Some(&body[start..end])
}

/// Per-run counters shared by the connections.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    errors: AtomicU64,
    /// Requests outside the measured window (warm-up, chain setup) are not counted.
    measuring: AtomicBool,
}

impl Tally {
    fn done(&self, ok: bool) {
        if self.measuring.load(Ordering::Relaxed) {
            if ok {
                self.ok.fetch_add(1, Ordering::Relaxed);
            } else {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// `POST /oauth/token grant_type=password` for `user{n}` / `pw-{n}`.
async fn login(conn: &mut Conn, n: u64) -> Result<Response, ConnError> {
    let mut digits = Vec::with_capacity(20);
    push_decimal(&mut digits, n);
    let form: [&[u8]; 4] = [
        b"grant_type=password&username=user",
        &digits,
        b"&password=pw-",
        &digits,
    ];
    conn.post_form("/oauth/token", &form).await
}

/// A login whose refresh token starts a chain; `None` on failure.
async fn chain_start(conn: &mut Conn, user: u64) -> Result<Option<String>, ConnError> {
    let r = login(conn, user).await?;
    if r.status != 200 {
        return Ok(None);
    }
    Ok(json_str(&r.body, "refresh_token").map(str::to_string))
}

/// One connection's loop until `stop`.
async fn drive(
    addr: SocketAddr,
    endpoint: Endpoint,
    id: u64,
    connections: u64,
    users: u64,
    tally: Arc<Tally>,
    stop: Instant,
) -> Result<(), ConnError> {
    let mut conn = Conn::open(addr).await?;
    match endpoint {
        Endpoint::Healthz => {
            while Instant::now() < stop {
                let r = conn.get("/healthz").await?;
                tally.done(r.status == 200);
            }
        }
        Endpoint::Login => {
            let mut k = 0u64;
            while Instant::now() < stop {
                let user = (id + k * connections) % users;
                k += 1;
                let r = login(&mut conn, user).await?;
                tally.done(r.status == 200);
            }
        }
        Endpoint::Refresh => {
            let user = id % users;
            let mut rt = chain_start(&mut conn, user).await?;
            while Instant::now() < stop {
                let Some(token) = rt.take() else {
                    tally.done(false);
                    rt = chain_start(&mut conn, user).await?;
                    continue;
                };
                let form: [&[u8]; 2] =
                    [b"grant_type=refresh_token&refresh_token=", token.as_bytes()];
                let r = conn.post_form("/oauth/token", &form).await?;
                let next = (r.status == 200)
                    .then(|| json_str(&r.body, "refresh_token").map(str::to_string))
                    .flatten();
                // Rotation: the successor must differ from the presented token.
                let ok = next.as_deref().is_some_and(|n| n != token);
                tally.done(ok);
                rt = if ok {
                    next
                } else {
                    chain_start(&mut conn, user).await?
                };
            }
        }
    }
    Ok(())
}

/// CPU time (user + system) a process used so far, from `/proc/PID/stat`.
fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|h| *h > 0)?;
    Some(Duration::from_secs_f64(ticks as f64 / hz as f64))
}

/// One measured window of one endpoint.
#[derive(Default, Clone, Copy)]
struct Window {
    ok: u64,
    errors: u64,
    elapsed: Duration,
    server_cpu: Option<Duration>,
}

/// Runs one endpoint for warm-up + `duration`, counting only after the warm-up.
async fn measure(addr: SocketAddr, endpoint: Endpoint, args: &Args, duration: Duration) -> Window {
    let tally = Arc::new(Tally::default());
    let begin = Instant::now();
    let measure_from = begin + args.warmup;
    let stop = measure_from + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for id in 0..u64::from(args.connections) {
        let tally = tally.clone();
        let (connections, users) = (u64::from(args.connections), args.users);
        tasks.spawn(drive(addr, endpoint, id, connections, users, tally, stop));
    }
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu0 = args.server_pid.and_then(process_cpu);
    tally.measuring.store(true, Ordering::Relaxed);
    let t0 = Instant::now();
    let mut failed = 0u64;
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                failed += 1;
                eprintln!("{}: connection failed: {e}", endpoint.name());
            }
            Err(e) => {
                failed += 1;
                eprintln!("{}: connection task failed: {e}", endpoint.name());
            }
        }
    }
    let elapsed = t0.elapsed();
    let cpu1 = args.server_pid.and_then(process_cpu);
    Window {
        ok: tally.ok.load(Ordering::Relaxed),
        errors: tally.errors.load(Ordering::Relaxed) + failed,
        elapsed,
        server_cpu: cpu0.zip(cpu1).map(|(a, b)| b.saturating_sub(a)),
    }
}

fn main() {
    let args = parse_args();
    let Some(url) = args.url.clone() else {
        // A plain `cargo bench` runs every bench target: without a server there is nothing to do.
        println!("mock_throughput: skipped (needs --url of a running mock; see bench/run-all.sh)");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let addr = socket_addr(&url).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    println!(
        "mock_throughput: {url}, {} connections, {:?} per endpoint in {} rounds (each after {:?} warm-up)",
        args.connections, args.duration, args.rounds, args.warmup
    );
    let slice = args.duration / args.rounds;
    let mut totals = vec![Window::default(); args.only.len()];
    for _ in 0..args.rounds {
        for (k, &ep) in args.only.iter().enumerate() {
            let w = rt.block_on(measure(addr, ep, &args, slice));
            let t = &mut totals[k];
            t.ok += w.ok;
            t.errors += w.errors;
            t.elapsed += w.elapsed;
            t.server_cpu = match (t.server_cpu, w.server_cpu) {
                (None, w) => w,
                (Some(a), Some(b)) => Some(a + b),
                (Some(_), None) => None,
            };
        }
    }
    let mut results = Vec::new();
    let mut bad = false;
    for (&ep, t) in args.only.iter().zip(&totals) {
        let rps = t.ok as f64 / t.elapsed.as_secs_f64().max(1e-9);
        let cpu = match t.server_cpu {
            Some(c) if t.ok > 0 => format!(
                "  server CPU {:.1} µs/request",
                c.as_secs_f64() * 1e6 / t.ok as f64
            ),
            _ => String::new(),
        };
        println!(
            "{:<8} {:>10.0} req/s  errors {}{cpu}",
            ep.name(),
            rps,
            t.errors
        );
        bad |= t.errors > 0;
        results.push((ep, rps));
    }
    let healthz = results
        .iter()
        .find(|(e, _)| *e == Endpoint::Healthz)
        .map(|r| r.1);
    if let Some(h) = healthz.filter(|h| *h > 0.0) {
        for (ep, rps) in &results {
            if *ep != Endpoint::Healthz {
                let ratio = rps / h;
                println!(
                    "ratio {}/healthz {:.3} (target >= 0.5) {}",
                    ep.name(),
                    ratio,
                    if ratio >= 0.5 { "PASS" } else { "MISS" }
                );
                bad |= ratio < 0.5;
            }
        }
    }
    std::process::exit(if bad { 1 } else { 0 });
}
