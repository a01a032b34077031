//! The oxidp domain: model, options, store traits, services and the protocol rules.
//!
//! Nothing here speaks HTTP or SQL. The server crate turns requests into calls on the services
//! ([`services`]) and renders their [`error::OAuthError`]s; the store crate implements the
//! traits of [`store`]. Time comes from an injected [`clock::Clock`].

pub mod certificates;
pub mod clock;
pub mod error;
pub mod keys;
pub mod model;
pub mod options;
pub mod params;
pub mod request;
pub mod services;
pub mod store;
pub mod users;

#[cfg(feature = "test-kit")]
pub mod test_kit;
