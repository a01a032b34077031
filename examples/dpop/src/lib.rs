//! The DPoP sample (RFC 9449 end to end): an API protected by `oxidp-api-auth` that takes
//! DPoP-bound tokens only ([`api`]), a back-end worker that calls it with client-credentials
//! tokens ([`worker`]), and an interactive public client whose refresh token is bound to its
//! key ([`app`]). Both clients use `oxidp-client`, which signs the proofs, answers nonce
//! challenges and keeps the nonces; the identity server is oxidp with [`CONFIG_FILE`].
//!
//! The README of this folder walks through it; `tests/dpop.rs` runs it against the real server.

pub mod api;
pub mod app;
pub mod worker;

/// The identity server's configuration, relative to the repository root.
pub const CONFIG_FILE: &str = "examples/dpop/oxidp.toml";
/// The API resource (the tokens' audience).
pub const API_AUDIENCE: &str = "orders-api";
/// The scope the API requires.
pub const API_SCOPE: &str = "orders.read";
/// The worker's client id.
pub const WORKER_CLIENT_ID: &str = "dpop-worker";
/// The worker's secret (public: a sample).
pub const WORKER_SECRET: &str = "dpop-worker-secret";
/// The interactive public client's id.
pub const APP_CLIENT_ID: &str = "dpop-app";
/// Where the identity server sends the interactive client back (registered in [`CONFIG_FILE`]).
pub const APP_REDIRECT_URI: &str = "http://127.0.0.1:7074/callback";
/// The identity server the binary trusts unless `DPOP_SAMPLE_ISSUER` says otherwise.
pub const DEFAULT_ISSUER: &str = "http://127.0.0.1:5000";
/// Where the API listens unless `DPOP_SAMPLE_API_LISTEN` says otherwise.
pub const DEFAULT_API_LISTEN: &str = "127.0.0.1:7073";
