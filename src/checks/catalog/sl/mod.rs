//! `SL-*`: sliding renewal — a renewal header near expiry.

pub mod sl01;
