//! RP-initiated logout (OIDC RP-Initiated Logout 1.0): validation of the logout request.
//! A `post_logout_redirect_uri` is honoured only when the client is known (from `id_token_hint`
//! or `client_id`) and the URI is registered for it, exactly.

use super::Context;
use super::access_token::{jwt_header, looks_like_jwt};
use crate::error::OAuthError;
use crate::params::Parameters;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

const LOGOUT_PURPOSE: &str = "oxidp.logout.v1";

/// A validated logout request, carried through the confirmation page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndSessionRequest {
    /// The client that asked.
    pub client_id: Option<String>,
    /// Its display name.
    pub client_name: Option<String>,
    /// Where to offer to go afterwards.
    pub post_logout_redirect_uri: Option<String>,
    /// `state` to append to it.
    pub state: Option<String>,
    /// The subject named by `id_token_hint`.
    pub subject_id: Option<String>,
    /// The session named by `id_token_hint`.
    pub session_id: Option<String>,
    /// `logout_hint`: who the client believes is signed in (a username or subject id).
    pub logout_hint: Option<String>,
}

impl EndSessionRequest {
    /// Whether the request names this very session and user, so that the RP is the user's own
    /// and logout may proceed without asking: the ID token's `sub` and `sid` match, and a
    /// `logout_hint`, if any, names the same user.
    pub fn names_session(
        &self,
        subject_id: &str,
        session_id: &str,
        username: Option<&str>,
    ) -> bool {
        self.subject_id.as_deref() == Some(subject_id)
            && self.session_id.as_deref() == Some(session_id)
            && self
                .logout_hint
                .as_deref()
                .is_none_or(|hint| hint == subject_id || Some(hint) == username)
    }
}

impl EndSessionRequest {
    /// The post-logout redirect URI with `state` appended.
    pub fn redirect_url(&self) -> Option<String> {
        let uri = self.post_logout_redirect_uri.as_ref()?;
        Some(match &self.state {
            None => uri.clone(),
            Some(state) => {
                let mut serializer = form_urlencoded::Serializer::new(String::new());
                serializer.append_pair("state", state);
                format!(
                    "{uri}{}{}",
                    if uri.contains('?') { '&' } else { '?' },
                    serializer.finish()
                )
            }
        })
    }
}

/// Validates logout requests.
#[derive(Debug)]
pub struct EndSessionService {
    ctx: Arc<Context>,
}

impl EndSessionService {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Validates the parameters of `/connect/endsession`.
    pub async fn validate(&self, params: &Parameters) -> Result<EndSessionRequest, OAuthError> {
        let mut request = EndSessionRequest {
            state: params.get("state").map(str::to_owned),
            logout_hint: params.get("logout_hint").map(str::to_owned),
            ..Default::default()
        };
        if let Some(hint) = params.get("id_token_hint") {
            let claims = self.id_token_claims(hint).await?.ok_or_else(|| {
                OAuthError::invalid_request("id_token_hint is not a valid ID token of this server")
            })?;
            request.client_id = claims.get("aud").and_then(first_audience);
            request.subject_id = claims.get("sub").and_then(Value::as_str).map(str::to_owned);
            request.session_id = claims.get("sid").and_then(Value::as_str).map(str::to_owned);
        }
        if let Some(client_id) = params.get("client_id") {
            if request.client_id.as_deref().is_some_and(|c| c != client_id) {
                return Err(OAuthError::invalid_request(
                    "client_id does not match id_token_hint",
                ));
            }
            request.client_id = Some(client_id.to_owned());
        }
        let client = match &request.client_id {
            Some(id) => self
                .ctx
                .stores
                .clients
                .find_client(id)
                .await?
                .filter(|c| c.enabled),
            None => None,
        };
        if request.client_id.is_some() && client.is_none() {
            return Err(OAuthError::invalid_request("unknown client"));
        }
        request.client_name = client
            .as_ref()
            .map(|c| c.client_name.clone().unwrap_or_else(|| c.client_id.clone()));
        if let Some(uri) = params.get("post_logout_redirect_uri") {
            let Some(client) = &client else {
                return Err(OAuthError::invalid_request(
                    "post_logout_redirect_uri needs id_token_hint or client_id",
                ));
            };
            if !client.post_logout_redirect_uris.iter().any(|u| u == uri) {
                return Err(OAuthError::invalid_request(
                    "post_logout_redirect_uri is not registered for this client",
                ));
            }
            request.post_logout_redirect_uri = Some(uri.to_owned());
        }
        Ok(request)
    }

    /// The claims of an ID token we signed; expiry is not checked (a hint may be old).
    async fn id_token_claims(
        &self,
        token: &str,
    ) -> Result<Option<serde_json::Map<String, Value>>, OAuthError> {
        // An ID token only: an access or logout token we signed is no hint.
        let Some(header) = jwt_header(token).filter(|_| looks_like_jwt(token)) else {
            return Ok(None);
        };
        if header
            .get("typ")
            .and_then(Value::as_str)
            .is_some_and(|typ| typ != "JWT")
        {
            return Ok(None);
        }
        let verifier = self
            .ctx
            .keys
            .verifier()
            .await
            .map_err(|_| OAuthError::server_error())?;
        let Ok(claims) = verifier.verify(token) else {
            return Ok(None);
        };
        let ours =
            claims.get("iss").and_then(Value::as_str) == Some(self.ctx.options.issuer.as_str());
        Ok(ours.then_some(claims))
    }

    /// Seals a request for the confirmation form, so it cannot be altered in between.
    pub async fn protect(&self, request: &EndSessionRequest) -> Result<String, OAuthError> {
        let json = serde_json::to_vec(request).map_err(|_| OAuthError::server_error())?;
        let sealed = self
            .ctx
            .protector
            .protect(LOGOUT_PURPOSE, &json)
            .await
            .map_err(|_| OAuthError::server_error())?;
        Ok(oxidp_jose::b64url_encode(sealed))
    }

    /// Opens what [`EndSessionService::protect`] sealed; `None` when tampered with.
    pub async fn unprotect(&self, logout_id: &str) -> Option<EndSessionRequest> {
        let sealed = oxidp_jose::b64url_decode(logout_id)?;
        let json = self
            .ctx
            .protector
            .unprotect(LOGOUT_PURPOSE, &sealed)
            .await
            .ok()?;
        serde_json::from_slice(&json).ok()
    }
}

fn first_audience(aud: &Value) -> Option<String> {
    match aud {
        Value::String(one) => Some(one.clone()),
        Value::Array(many) => many.first().and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}
