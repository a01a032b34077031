//! The OpenID Provider configuration document. It advertises only what is implemented.

use super::Context;
use crate::options::paths;
use serde_json::{Value, json};

/// Builds the discovery document; `scopes` are the scopes clients can request.
pub fn discovery_document(ctx: &Context, scopes: Vec<String>) -> Value {
    let options = &ctx.options;
    let auth_methods = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ];
    json!({
        "issuer": options.issuer,
        "jwks_uri": options.endpoint(paths::JWKS),
        "token_endpoint": options.endpoint(paths::TOKEN),
        "introspection_endpoint": options.endpoint(paths::INTROSPECTION),
        "revocation_endpoint": options.endpoint(paths::REVOCATION),
        "scopes_supported": scopes,
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": oxidp_jose::verify::accepted_algorithms(),
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "access_token_signing_alg_values_supported":
            ctx.keys.algorithms().iter().map(|a| a.as_str()).collect::<Vec<_>>(),
    })
}
