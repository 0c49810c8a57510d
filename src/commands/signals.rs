//! Ctrl-C handling: the first signal cancels the run (a partial report is still written), or once
//! the run is over ends what still serves its results (`--metrics-linger`); a second one exits at
//! once with 130.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;

/// Set once the engine has returned: a Ctrl-C no longer interrupts a run.
static RUN_OVER: AtomicBool = AtomicBool::new(false);

/// Cancels `cancel` on the first Ctrl-C (or SIGTERM); exits the process on the second.
pub fn install(cancel: CancellationToken) {
    let first = authbench_mock::shutdown_signal();
    tokio::spawn(async move {
        first.await;
        // Listening for the second before saying so: a Ctrl-C pressed as soon as the message
        // shows is not lost (a listener sees only the signals that come after it).
        let second = authbench_mock::shutdown_signal();
        if RUN_OVER.load(Ordering::Acquire) {
            authbench_mock::stderrln!(
                "\nstopping: the run is over, its report is written either way (Ctrl-C again to exit now)"
            );
        } else {
            authbench_mock::stderrln!(
                "\ninterrupted: stopping clients and writing a partial report (Ctrl-C again to exit now)"
            );
        }
        cancel.cancel();
        second.await;
        std::process::exit(130);
    });
}

/// The engine has returned: a Ctrl-C from now on ends what still waits (the lingering metrics
/// endpoint) and says that the report is written either way, instead of announcing a partial one.
pub fn run_over() {
    RUN_OVER.store(true, Ordering::Release);
}
