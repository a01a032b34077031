//! Integration tests of `oxidp-api-auth`: against a local test issuer (counting its JWKS and
//! introspection requests) and against the real oxidp server.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod checks;
mod dpop;
mod dpop_proofs;
mod header;
mod helpers;
mod jwt;
mod keys;
mod layer;
mod oxidp;
mod reference;
