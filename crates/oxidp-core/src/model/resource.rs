//! API resources: the audiences of access tokens, and the scopes that select them.

use super::HashedSecret;
use serde::{Deserialize, Serialize};

/// An API protected by oxidp's access tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiResource {
    /// Unique name; becomes the `aud` of tokens that carry one of its scopes.
    pub name: String,
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// A disabled resource grants no scopes and cannot introspect.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Scopes that belong to this API.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Hashed secrets the API uses to call the introspection endpoint.
    #[serde(default)]
    pub secrets: Vec<HashedSecret>,
}

fn yes() -> bool {
    true
}

impl ApiResource {
    /// A new enabled resource with no scopes and no secrets.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            display_name: None,
            enabled: true,
            scopes: Vec::new(),
            secrets: Vec::new(),
        }
    }
}
