//! `send_skew` is taken at the write, not at the wake (issue 16 §1): a target that stops accepting
//! connections right at the storm keeps every client's first request off the wire, and
//! `send_skew` shows that wait while `wake_skew` does not.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::support::{mock, plan, settings, storm};
use authbench::client::Strategy;
use authbench::engine::{self, Progress};
use authbench::metrics::Recorder;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How long the front keeps its accept queue shut after the sync point.
const HOLD: Duration = Duration::from_millis(600);

/// A TCP front of `upstream` with an accept queue of one slot (listen backlog 0). Once `shut`
/// carries an instant, the front stops accepting and fills that slot with a connection of its
/// own, so the kernel drops the clients' connection attempts (they retransmit their SYN, the first
/// time after about 1 s), until `HOLD` after that instant; then it accepts again.
async fn front(upstream: SocketAddr, mut shut: watch::Receiver<Option<SystemTime>>) -> SocketAddr {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener: TcpListener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = false;
        loop {
            tokio::select! {
                Ok(()) = shut.changed(), if !held => {
                    let Some(at) = *shut.borrow_and_update() else { continue };
                    held = true;
                    // Takes the one queue slot: the kernel completes this handshake itself.
                    let filler = TcpStream::connect(addr).await.unwrap();
                    let open_at = at + HOLD;
                    if let Ok(wait) = open_at.duration_since(SystemTime::now()) {
                        tokio::time::sleep(wait).await;
                    }
                    drop(filler);
                }
                accepted = listener.accept() => {
                    let Ok((mut down, _)) = accepted else { return };
                    tokio::spawn(async move {
                        let Ok(mut up) = TcpStream::connect(upstream).await else { return };
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                    });
                }
            }
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_skew_is_taken_when_the_request_is_written_not_at_the_wake() {
    // Every response closes its connection, so each client's first request after the wake needs
    // a new connection, which the front does not let through for HOLD after the sync point. The
    // 4 s tokens put the sync point's publication (the front shuts) well before the engine starts
    // opening connections for the burst (2 s before the deadline): those attempts are dropped too.
    let server = mock(|c| {
        c.connection_close = true;
        c.access_ttl = Duration::from_secs(4);
    })
    .await;
    let upstream: SocketAddr = server
        .base_url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let progress = Progress::new();
    let addr = front(upstream, progress.sync_points()).await;
    let profile = Arc::new(
        authbench::profile::preset("mock", &format!("http://{addr}"))
            .unwrap()
            .with_admin_key(server.admin_key()),
    );
    let clients = 2;
    let p = plan(
        clients,
        settings(Strategy::SingleFlight, 1),
        storm(Duration::from_secs(3)),
    );
    let rec = Recorder::new();
    engine::run(p, profile, rec.clone(), CancellationToken::new(), progress)
        .await
        .expect("engine set up");
    let snap = rec.snapshot();
    let n = u64::from(clients);
    let (wake, send) = (&snap.histograms["wake_skew"], &snap.histograms["send_skew"]);
    assert_eq!((wake.len(), send.len()), (n, n), "{:?}", snap.counters);
    // The clients woke on time, their requests left only once the front accepted again.
    let hold = HOLD.as_micros() as u64;
    assert!(
        send.min() >= hold - 50_000,
        "send_skew min {} µs, hold {hold} µs",
        send.min()
    );
    assert!(
        wake.max() < send.min(),
        "wake_skew max {} µs, send_skew min {} µs",
        wake.max(),
        send.min()
    );
    assert_eq!(
        snap.counters.get("errors.connect"),
        None,
        "{:?}",
        snap.counters
    );
    server.shutdown().await;
}
