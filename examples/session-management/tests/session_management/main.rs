//! The session-management sample end to end: the identity server, the web app and the API
//! started by `Sample::start` on port 0, driven over HTTP by a browser with a cookie jar.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod backchannel;
mod forms;
mod helpers;
mod sign_out;
mod walkthrough;
