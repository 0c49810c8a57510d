//! The async runtime both binaries run on: how many worker threads it has (`--threads`,
//! [`RuntimeArgs`]) and how many the code running on it may count on ([`workers`]), which the
//! engine sizes its shards by.

use clap::Args;

/// `--threads N`: the worker threads of the async runtime. Shared by `authbench` (every command)
/// and `authbench-mock`.
#[derive(Debug, Clone, Default, Args)]
pub struct RuntimeArgs {
    /// Worker threads of the async runtime (default: the CPUs this process may use, a container's
    /// CPU limit included). Fewer leave cores to a server on the same machine, as wrk's -t does.
    #[arg(long, value_name = "N", global = true, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
}

impl RuntimeArgs {
    /// A multi-thread runtime with `--threads` workers, or tokio's default (the CPUs this process
    /// may use, or `TOKIO_WORKER_THREADS`) without it; timers and I/O enabled.
    pub fn runtime(&self) -> std::io::Result<tokio::runtime::Runtime> {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if let Some(n) = self.threads {
            builder.worker_threads(usize::from(n));
        }
        builder.enable_all().build()
    }
}

/// The worker threads of the runtime the caller runs on; outside a runtime, the CPUs this process
/// may use (at least 1).
pub fn workers() -> usize {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.metrics().num_workers().max(1),
        Err(_) => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_has_the_threads_asked_for_and_workers_reports_them() {
        for n in [1u16, 3] {
            let rt = RuntimeArgs { threads: Some(n) }.runtime().unwrap();
            assert_eq!(rt.block_on(async { workers() }), usize::from(n));
        }
    }

    #[test]
    fn without_threads_the_runtime_has_one_worker_per_cpu() {
        let rt = RuntimeArgs::default().runtime().unwrap();
        let cpus = std::thread::available_parallelism().unwrap().get();
        // TOKIO_WORKER_THREADS, when the environment sets it, wins over the CPU count.
        let expected = std::env::var("TOKIO_WORKER_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(cpus);
        assert_eq!(rt.block_on(async { workers() }), expected);
        assert_eq!(
            workers(),
            cpus,
            "outside a runtime: the CPUs this process may use"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_current_thread_runtime_has_one_worker() {
        assert_eq!(workers(), 1);
    }
}
