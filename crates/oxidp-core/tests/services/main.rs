//! The core services driven end to end over memory stores and a manual clock: no HTTP, no SQL,
//! no sleeping. Each file covers one rule; `support` builds the server and walks the code flow.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken set-up; unwrap is how it says so"
)]

mod lifetimes;
mod refresh_retry;
mod refresh_reuse;
mod revocation;
mod session_removal;
mod sign_in;
mod support;
