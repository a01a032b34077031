//! Integration tests: the real server on 127.0.0.1:0 over a SQLite database in a temporary
//! directory, driven over HTTP as clients and APIs would.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken set-up; unwrap is how it says so"
)]

mod helpers;

mod client_auth;
mod config;
mod discovery;
mod introspection;
mod keys;
mod operations;
mod postgres;
mod revocation;
mod token;
