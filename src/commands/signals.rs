//! Ctrl-C handling: the first signal cancels the run (a partial report is still written); a second
//! one exits at once with 130.

use tokio_util::sync::CancellationToken;

/// Cancels `cancel` on the first Ctrl-C (or SIGTERM); exits the process on the second.
pub fn install(cancel: CancellationToken) {
    let first = authbench_mock::shutdown_signal();
    tokio::spawn(async move {
        first.await;
        // Listening for the second before saying so: a Ctrl-C pressed as soon as the message
        // shows is not lost (a listener sees only the signals that come after it).
        let second = authbench_mock::shutdown_signal();
        authbench_mock::stderrln!(
            "\ninterrupted: stopping clients and writing a partial report (Ctrl-C again to exit now)"
        );
        cancel.cancel();
        second.await;
        std::process::exit(130);
    });
}
