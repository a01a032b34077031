//! The account pages: login, consent and logout.

pub mod consent;
pub mod login;
pub mod logout;
