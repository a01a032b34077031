//! The OpenID Provider configuration document. It advertises only what is implemented.

use super::Context;
use super::identity::{IDENTITY_SCOPES, OFFLINE_ACCESS};
use crate::options::paths;
use serde_json::{Value, json};

/// Builds the discovery document; `api_scopes` are the API scopes clients can request.
pub fn discovery_document(ctx: &Context, api_scopes: Vec<String>) -> Value {
    let options = &ctx.options;
    let auth_methods = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ];
    let mut scopes: Vec<String> = IDENTITY_SCOPES
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    scopes.push(OFFLINE_ACCESS.to_owned());
    scopes.extend(api_scopes);
    let mut claims: Vec<&str> = IDENTITY_SCOPES
        .iter()
        .flat_map(|(_, claims)| claims.iter().copied())
        .collect();
    claims.extend([
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "sid",
        "amr",
        "idp",
        "at_hash",
    ]);
    let algorithms: Vec<&str> = ctx.keys.algorithms().iter().map(|a| a.as_str()).collect();
    json!({
        "issuer": options.issuer,
        "jwks_uri": options.endpoint(paths::JWKS),
        "authorization_endpoint": options.endpoint(paths::AUTHORIZE),
        "token_endpoint": options.endpoint(paths::TOKEN),
        "userinfo_endpoint": options.endpoint(paths::USERINFO),
        "end_session_endpoint": options.endpoint(paths::END_SESSION),
        "introspection_endpoint": options.endpoint(paths::INTROSPECTION),
        "revocation_endpoint": options.endpoint(paths::REVOCATION),
        "scopes_supported": scopes,
        "claims_supported": claims,
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "subject_types_supported": ["public"],
        "prompt_values_supported": ["none", "login", "consent"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": algorithms,
        "access_token_signing_alg_values_supported": algorithms,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": oxidp_jose::verify::accepted_algorithms(),
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
    })
}
