//! `IN-*`: token introspection (RFC 7662).

pub mod in01;
