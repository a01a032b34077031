//! The oxidp HTTP server: configuration, routes, error rendering, metrics and background jobs.
//!
//! Use [`Server::build`] with a [`config::Config`] to run the ready server, or [`router`] to
//! nest the identity server's routes into your own axum application.

pub mod admin_api;
mod backchannel;
mod browser;
pub mod config;
pub mod csrf;
mod error;
mod listener;
pub mod pages;
mod request;
mod routes;
mod server;
mod session_cleanup;
mod telemetry;
pub mod tls;

pub use request::ConnectedPeer;
pub use routes::{AppState, HttpLimits, router};
pub use server::{Server, open_database, open_stores, redact_url, shutdown_signal};
