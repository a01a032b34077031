//! Integration tests of oxidp-client: against a small fake authorization server on
//! 127.0.0.1:0 that counts its requests (caching, single flight, expiry, rotation, every error
//! path), and against the real oxidp server.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken set-up; unwrap is how it says so"
)]

mod fake;
mod oxidp;

mod client_credentials;
mod dpop;
mod real_server;
mod real_server_dpop;
mod refresh;
mod sign_out;
