//! The process heap, set up for bursts ([`prepare_for_bursts`]; both binaries call it first).
//!
//! glibc's allocator grows a worker thread's heap in page-rounded steps, one `mprotect` each, and
//! gives memory back once 128 KiB at the top of a heap are free. A storm allocates about 100 MB
//! within a few hundred milliseconds (every client's calls, the connections' buffers, on both
//! sides when the mock runs in-process) right after the quiet wait for the deadline, in which the
//! login phase's memory had been given back. Measured with `perf` on `scenarios/storm.yaml`:
//! 27 713 `mprotect` calls in the run, each taking the process's memory-map lock for writing,
//! while the other worker's page faults take it for reading; the two workers took turns sleeping
//! on that lock, and the wire fell silent for 20–40 ms in the middle of the burst. With a 64 MiB
//! top pad (a new thread heap is made accessible in one step) and a 1 GiB trim threshold (freed
//! memory stays with the process for the next burst), the same run makes 20 `mprotect` calls, and
//! the first calls' arrival spread at the server narrowed from a median of about 320 ms to about
//! 215 ms in six runs each (`bench/results/issue16-perf-log.md`, "The storm's first milliseconds").
//!
//! What it costs: address space, not memory (pages count only once touched), and memory freed
//! after a burst stays with the process until it exits instead of going back to the system.
//! Elsewhere than on glibc this does nothing. The `authbench` binary allocates with jemalloc (its
//! default feature `jemalloc`), so there these settings reach only what C code allocates; the
//! mock's binary and an `authbench` built with `--no-default-features` use glibc's heap.

/// Padding added to each growth of the heap (glibc `M_TOP_PAD`; default 128 KiB).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TOP_PAD: libc::c_int = 64 << 20;
/// Free memory at the top of a heap before it is given back (glibc `M_TRIM_THRESHOLD`; default
/// 128 KiB, then adapted to the largest freed mmap'ed chunk).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = 1 << 30;

/// Sets the allocator up for bursts (see the module docs). Call it first in `main`, before the
/// runtime's threads make their heaps.
pub fn prepare_for_bursts() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets two of the allocator's tuning parameters; it takes the
    // allocator's own lock and is safe to call at any time from any thread.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, TOP_PAD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}
