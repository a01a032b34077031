//! The session-management sample: an identity server, a web app whose tokens live and die with
//! the user's server-side session, and an API, started together by [`Sample::start`].
//!
//! - The **identity server** is `oxidp-server` embedded as a library, configured by
//!   `oxidp.toml` in this folder: server-side sessions on, so every sign-in is a record that the
//!   admin page (`/admin/sessions`) lists and revokes.
//! - The **web app** ([`web`]) signs users in with the code flow and PKCE, keeps their tokens
//!   with `oxidp-client`'s [`RefreshTokenManager`](oxidp_client::RefreshTokenManager) and calls
//!   the API with them. Its client is coordinated with the user session, so each refresh slides
//!   the session on the server. It has a back-channel logout endpoint: when an administrator
//!   revokes the session, the server POSTs a logout token there and the app ends its own local
//!   session for that `sid`.
//! - The **API** ([`api`]) is protected by `oxidp-api-auth` and answers with the caller's
//!   token claims.
//!
//! The web app needs the server's discovery document and the server needs the web app's
//! addresses (redirect, post-logout and back-channel URIs), so [`Sample::start`] binds all
//! listeners first, points the `web` client at where the app really listens, then starts the
//! server before the app discovers it.

pub mod api;
mod launch;
pub mod web;

pub use launch::{Sample, SampleOptions};

/// The client id of the web app, as `oxidp.toml` registers it.
pub const WEB_CLIENT_ID: &str = "web";
/// The web app's client secret (public: this is a sample).
pub const WEB_CLIENT_SECRET: &str = "web-secret";
/// The API resource the web app calls: the `aud` of its access tokens.
pub const API_AUDIENCE: &str = "sample-api";
/// The scope the API requires.
pub const API_SCOPE: &str = "sample-api.read";
/// Where the web app listens unless `SESSION_SAMPLE_WEB_LISTEN` says otherwise.
pub const DEFAULT_WEB_LISTEN: &str = "127.0.0.1:5002";
/// Where the API listens unless `SESSION_SAMPLE_API_LISTEN` says otherwise.
pub const DEFAULT_API_LISTEN: &str = "127.0.0.1:5003";
/// The identity server's configuration file, committed beside this crate.
pub const CONFIG_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/oxidp.toml");
