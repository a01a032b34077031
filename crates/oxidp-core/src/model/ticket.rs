//! The authentication ticket: who signed in, when, how, and which clients used the session.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// What the authentication cookie stands for. In a self-contained cookie the whole ticket is
/// encrypted into the cookie; with server-side sessions the cookie holds a key to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthenticationTicket {
    /// The user (`sub`).
    pub subject_id: String,
    /// The session (`sid`): 128 random bits, base64url.
    pub session_id: String,
    /// When the user authenticated (`auth_time`).
    #[serde(with = "time::serde::timestamp")]
    pub auth_time: OffsetDateTime,
    /// The identity provider that authenticated the user (`local` for passwords).
    pub idp: String,
    /// Authentication methods (`pwd`).
    pub amr: Vec<String>,
    /// Client ids the session has been used with, in order of first use.
    #[serde(default)]
    pub client_ids: Vec<String>,
    /// When the ticket was issued or last renewed.
    #[serde(with = "time::serde::timestamp")]
    pub issued: OffsetDateTime,
    /// When the ticket expires.
    #[serde(with = "time::serde::timestamp")]
    pub expires: OffsetDateTime,
    /// The user's claims captured at sign-in.
    #[serde(default)]
    pub claims: BTreeMap<String, serde_json::Value>,
    /// The issuer that signed the user in (tickets of another issuer sharing a store are not
    /// ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

impl AuthenticationTicket {
    /// Adds a client to the session's client list (idempotent, order kept); returns whether
    /// the list changed.
    pub fn add_client(&mut self, client_id: &str) -> bool {
        if self.client_ids.iter().any(|c| c == client_id) {
            return false;
        }
        self.client_ids.push(client_id.to_owned());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_a_client_is_idempotent_and_keeps_order() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut ticket = AuthenticationTicket {
            subject_id: "s".into(),
            session_id: "sid".into(),
            auth_time: now,
            idp: "local".into(),
            amr: vec!["pwd".into()],
            client_ids: vec![],
            issued: now,
            expires: now,
            claims: BTreeMap::new(),
            issuer: None,
        };
        assert!(ticket.add_client("b"));
        assert!(ticket.add_client("a"));
        assert!(!ticket.add_client("b"));
        assert_eq!(ticket.client_ids, ["b", "a"]);
    }
}
