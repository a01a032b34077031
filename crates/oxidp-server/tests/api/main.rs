//! Integration tests: the real server on 127.0.0.1:0 over a SQLite database in a temporary
//! directory, driven over HTTP as clients and APIs would.

mod helpers;

mod client_auth;
mod config;
mod discovery;
mod introspection;
mod keys;
mod operations;
mod revocation;
mod token;
