//! `RT-*`: the refresh grant — response form, errors, rotation, reuse detection and family
//! revocation, grace windows, concurrency, maximum lifetime, logout, idle timeout.

pub mod rt01;
pub mod rt02;
pub mod rt06;
pub mod rt07;
pub mod rt08;
pub mod rt09;
pub mod rt10;
pub mod rt12;
pub mod rt13;
