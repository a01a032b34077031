//! Integration tests: the real server on 127.0.0.1:0 over a SQLite database in a temporary
//! directory, driven over HTTP as clients and APIs would.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken set-up; unwrap is how it says so"
)]

mod browser;
mod helpers;
mod hostile;

mod admin_api;
mod admin_page;
mod authorize;
mod backchannel;
mod client_auth;
mod code_flow;
mod config;
mod connections;
mod consent;
mod coordination;
mod discovery;
mod dpop;
mod introspection;
mod keys;
mod logout;
mod mtls;
mod mtls_proxy;
mod operations;
mod postgres;
mod refresh;
mod relying_party;
mod revocation;
mod server_side_sessions;
mod session;
mod session_cleanup;
mod session_migration;
mod sign_in_throttle;
mod store_outage;
mod tls;
mod tls_support;
mod token;
mod userinfo;
