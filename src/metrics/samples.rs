//! A few sample failures kept whole enough for a person to see the cause (op, status, a redacted
//! body excerpt) without opening any file: the terminal summary and report.json show them.
//!
//! Bounded: at most [`MAX_SAMPLES`] are kept, the first of each distinct `(op, class, status)`;
//! once full, recording is one relaxed atomic load.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// Most failure samples kept by one recorder (and one report).
pub const MAX_SAMPLES: usize = 8;

/// One failed operation, as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureSample {
    /// The operation (`login`, `refresh`, `api`...).
    pub op: String,
    /// The failure class (`5xx`, `429`, `4xx`, `transport`, `body`).
    pub class: String,
    /// The HTTP status, when there was a response.
    pub status: Option<u16>,
    /// The start of the response body or the transport error, tokens redacted.
    pub detail: String,
}

impl FailureSample {
    fn same_kind(&self, other: &FailureSample) -> bool {
        self.op == other.op && self.class == other.class && self.status == other.status
    }
}

/// The samples of one run (see the module docs).
#[derive(Debug, Default)]
pub struct Samples {
    full: AtomicBool,
    list: Mutex<Vec<FailureSample>>,
}

impl Samples {
    /// Whether another sample could still be kept (cheap; callers skip building one otherwise).
    pub fn wants_more(&self) -> bool {
        !self.full.load(Ordering::Relaxed)
    }

    /// Keeps `sample` unless one of its kind is kept already or the list is full.
    pub fn offer(&self, sample: FailureSample) {
        let mut list = self.list.lock();
        if list.len() >= MAX_SAMPLES || list.iter().any(|s| s.same_kind(&sample)) {
            return;
        }
        list.push(sample);
        if list.len() >= MAX_SAMPLES {
            self.full.store(true, Ordering::Relaxed);
        }
    }

    /// The samples kept, in the order they were seen.
    pub fn list(&self) -> Vec<FailureSample> {
        self.list.lock().clone()
    }
}

/// Adds `more` to `into` by the same rule (first of each kind, at most [`MAX_SAMPLES`]): for
/// merged reports.
pub fn merge_into(into: &mut Vec<FailureSample>, more: &[FailureSample]) {
    for s in more {
        if into.len() >= MAX_SAMPLES {
            return;
        }
        if !into.iter().any(|x| x.same_kind(s)) {
            into.push(s.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(op: &str, status: u16) -> FailureSample {
        FailureSample {
            op: op.into(),
            class: "5xx".into(),
            status: Some(status),
            detail: String::new(),
        }
    }

    #[test]
    fn keeps_the_first_of_each_kind_and_is_bounded() {
        let samples = Samples::default();
        samples.offer(s("login", 500));
        samples.offer(s("login", 500));
        samples.offer(s("login", 503));
        assert_eq!(samples.list().len(), 2);
        for code in 500..520 {
            samples.offer(s("api", code));
        }
        assert_eq!(samples.list().len(), MAX_SAMPLES);
        assert!(!samples.wants_more());
        let mut merged = vec![s("login", 500)];
        merge_into(&mut merged, &[s("login", 500), s("refresh", 500)]);
        assert_eq!(merged.len(), 2);
    }
}
