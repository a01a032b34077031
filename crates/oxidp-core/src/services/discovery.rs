//! The OpenID Provider configuration document and the JWKS. The document advertises only what
//! is implemented, and takes its lists from where each feature is defined (grant types from
//! [`GrantType::ALL`], client authentication from the authenticator, algorithms from the key
//! manager), so a new grant type or method shows up here by being added there.

use super::Context;
use super::client_auth::CLIENT_AUTH_METHODS;
use super::identity::{IDENTITY_SCOPES, OFFLINE_ACCESS};
use crate::error::OAuthError;
use crate::model::GrantType;
use crate::options::paths;
use serde_json::{Value, json};
use std::sync::Arc;

/// Serves discovery and the JWKS.
#[derive(Debug)]
pub struct DiscoveryService {
    ctx: Arc<Context>,
}

impl DiscoveryService {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// The discovery document, with the scopes of the enabled API resources.
    pub async fn document(&self) -> Result<Value, OAuthError> {
        let resources = self.ctx.stores.resources.list_api_resources().await?;
        let mut scopes: Vec<String> = resources
            .into_iter()
            .filter(|r| r.enabled)
            .flat_map(|r| r.scopes)
            .collect();
        scopes.sort();
        scopes.dedup();
        Ok(discovery_document(&self.ctx, scopes))
    }

    /// The public signing keys (current, announced and retired-but-valid).
    pub async fn jwks(&self) -> Result<Arc<oxidp_jose::JwkSet>, OAuthError> {
        let jwks = self.ctx.keys.jwks().await.map_err(|error| {
            tracing::error!(%error, "cannot publish keys");
            OAuthError::temporarily_unavailable()
        })?;
        Ok(jwks)
    }
}

/// Builds the discovery document; `api_scopes` are the API scopes clients can request.
fn discovery_document(ctx: &Context, api_scopes: Vec<String>) -> Value {
    let options = &ctx.options;
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
    let grant_types: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
    let mut token_auth_methods = CLIENT_AUTH_METHODS.to_vec();
    // Public clients authenticate with nothing at the token endpoint (PKCE protects them).
    token_auth_methods.push("none");
    let mut document = json!({
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
        "grant_types_supported": grant_types,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "subject_types_supported": ["public"],
        "prompt_values_supported": ["none", "login", "consent"],
        "code_challenge_methods_supported": ["S256"],
        "dpop_signing_alg_values_supported": oxidp_jose::dpop::DpopAlgorithm::ALL.map(oxidp_jose::dpop::DpopAlgorithm::as_str),
        "id_token_signing_alg_values_supported": algorithms,
        "access_token_signing_alg_values_supported": [ctx.options.keys.default_algorithm().as_str()],
        "token_endpoint_auth_methods_supported": token_auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": oxidp_jose::verify::accepted_algorithms(),
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
        "tls_client_certificate_bound_access_tokens": true,
    });
    // RFC 8705 §5: the endpoints where client certificates are asked for, when that is a
    // host of its own (so browsers on the main host never see a certificate prompt).
    if let Some(base) = &options.mtls.endpoint_alias_base {
        let base = base.trim_end_matches('/');
        document["mtls_endpoint_aliases"] = json!({
            "token_endpoint": format!("{base}{}", paths::TOKEN),
            "introspection_endpoint": format!("{base}{}", paths::INTROSPECTION),
            "revocation_endpoint": format!("{base}{}", paths::REVOCATION),
            "userinfo_endpoint": format!("{base}{}", paths::USERINFO),
        });
    }
    document
}
