//! `SS-*`: session ends as a client sees them — whether it can tell why its session ended.

pub mod ss04;
