//! The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2): request validation, the
//! decision between login, consent and issuing a code, and the response (RFC 9207 `iss`).
//!
//! Until the client and its redirect URI are known to be valid, errors are shown to the user
//! and never redirected (an open redirector otherwise); after that they go back to the client.

use super::Context;
use super::identity::OPENID;
use super::scopes::{GrantedScopes, ScopeContext, resolve_scopes};
use super::token::SessionInfo;
use super::token::code::{AuthorizationCodeData, code_key};
use crate::error::{ErrorCode, OAuthError};
use crate::model::{AuthenticationTicket, Client, GrantType, PersistedGrant, grant_types};
use crate::params::Parameters;
use oxidp_jose::random_token;
use std::sync::Arc;

/// Seconds a fresh sign-in still satisfies `max_age` (covers the redirect back from login).
const MAX_AGE_GRACE: i64 = 5;

/// How the response travels back to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// Parameters in the redirect URI's query.
    Query,
    /// An auto-submitting HTML form POSTed to the redirect URI.
    FormPost,
}

/// A validated authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    /// The client.
    pub client: Client,
    /// The redirect URI (registered, exact match).
    pub redirect_uri: String,
    /// The response mode.
    pub response_mode: ResponseMode,
    /// `state`, echoed back.
    pub state: Option<String>,
    /// Requested scopes, validated.
    pub scopes: GrantedScopes,
    /// `nonce`.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// `dpop_jkt` (RFC 9449 §10): the DPoP key the code is bound to.
    pub dpop_jkt: Option<String>,
    /// `prompt=login`.
    pub prompt_login: bool,
    /// `prompt=consent`.
    pub prompt_consent: bool,
    /// `prompt=none`.
    pub prompt_none: bool,
    /// `max_age` in seconds.
    pub max_age: Option<i64>,
    /// `login_hint`.
    pub login_hint: Option<String>,
}

impl AuthorizeRequest {
    /// The scopes a consent grants: those of the request the user chose, and `openid` always
    /// (without it the request is not OpenID Connect at all). Empty means nothing was approved.
    pub fn consented_scopes(&self, chosen: &[&str]) -> Vec<String> {
        self.scopes
            .scopes
            .iter()
            .filter(|s| s.as_str() == OPENID || chosen.contains(&s.as_str()))
            .cloned()
            .collect()
    }
}

/// The request to resume after the login page: `prompt=login` was honoured by showing that
/// page, so it is removed, or the signed-in user would be sent back to it forever.
pub fn resume_after_login(params: &Parameters) -> Parameters {
    let mut resumed = params.clone();
    let prompt: Vec<&str> = params
        .get("prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|p| *p != "login")
        .collect();
    resumed.set("prompt", Some(prompt.join(" ")));
    resumed
}

/// What the user must do before a code can be issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    /// Sign in (again).
    Login,
    /// Approve the scopes.
    Consent,
    /// Nothing: issue the code.
    None,
}

/// An authorization error, and where it goes.
#[derive(Debug, Clone)]
pub enum AuthorizeError {
    /// The client or redirect URI is not trustworthy: show an error page.
    Page(OAuthError),
    /// Tell the client, at its redirect URI.
    Redirect(AuthorizeResponse),
}

/// A response for the client's redirect URI (a code or an error).
#[derive(Debug, Clone)]
pub struct AuthorizeResponse {
    /// Where to send it.
    pub redirect_uri: String,
    /// How.
    pub response_mode: ResponseMode,
    /// The parameters (`code` or `error`..., `state`, `iss`).
    pub parameters: Vec<(String, String)>,
}

impl AuthorizeResponse {
    /// The redirect URL for `response_mode=query`.
    pub fn redirect_url(&self) -> String {
        let mut url = self.redirect_uri.clone();
        url.push(if url.contains('?') { '&' } else { '?' });
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (name, value) in &self.parameters {
            serializer.append_pair(name, value);
        }
        url.push_str(&serializer.finish());
        url
    }
}

/// Serves the authorization endpoint.
#[derive(Debug)]
pub struct AuthorizeService {
    ctx: Arc<Context>,
}

fn page(description: &'static str) -> AuthorizeError {
    AuthorizeError::Page(OAuthError::invalid_request(description))
}

impl AuthorizeService {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Validates an authorization request.
    pub async fn validate(&self, params: &Parameters) -> Result<AuthorizeRequest, AuthorizeError> {
        let client_id = params
            .get("client_id")
            .ok_or_else(|| page("client_id is missing"))?;
        let client = self
            .ctx
            .stores
            .clients
            .find_client(client_id)
            .await
            .map_err(|e| AuthorizeError::Page(e.into()))?
            .filter(|c| {
                c.enabled
                    && c.allowed_grant_types
                        .contains(&GrantType::AuthorizationCode)
            })
            .ok_or_else(|| page("unknown client"))?;
        let redirect_uri = params
            .get("redirect_uri")
            .ok_or_else(|| page("redirect_uri is missing"))?;
        if !client.accepts_redirect_uri(redirect_uri) {
            return Err(page("redirect_uri is not registered for this client"));
        }
        let response_mode = match params.get("response_mode") {
            None | Some("query") => ResponseMode::Query,
            Some("form_post") => ResponseMode::FormPost,
            Some(_) => return Err(page("unsupported response_mode")),
        };
        let state = params.get("state").map(str::to_owned);
        let to_client = |code: ErrorCode, description: &'static str| {
            AuthorizeError::Redirect(self.error_response(
                redirect_uri,
                response_mode,
                state.as_deref(),
                code.as_str(),
                description,
            ))
        };
        // OIDC Core §6: the specific errors for request objects this server does not support.
        for (parameter, error) in [
            ("request", "request_not_supported"),
            ("request_uri", "request_uri_not_supported"),
        ] {
            if params.get(parameter).is_some() {
                let response =
                    self.error_response(redirect_uri, response_mode, state.as_deref(), error, "");
                return Err(AuthorizeError::Redirect(response));
            }
        }
        match params.get("response_type") {
            Some("code") => {}
            None => {
                return Err(to_client(
                    ErrorCode::InvalidRequest,
                    "response_type is missing",
                ));
            }
            Some(_) => {
                return Err(to_client(
                    ErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported",
                ));
            }
        }
        // From here on the client and its redirect URI are trusted: errors go back to it.
        let redirect = |e: OAuthError| {
            AuthorizeError::Redirect(self.error_response(
                redirect_uri,
                response_mode,
                state.as_deref(),
                e.code.as_str(),
                e.description.as_deref().unwrap_or(""),
            ))
        };
        let scopes = resolve_scopes(&self.ctx, &client, params.get("scope"), ScopeContext::User)
            .await
            .map_err(redirect)?;
        let code_challenge = super::pkce::challenge_of(params, &client).map_err(redirect)?;
        let prompts: Vec<&str> = params
            .get("prompt")
            .map(|p| p.split(' ').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        if prompts
            .iter()
            .any(|p| !matches!(*p, "none" | "login" | "consent"))
        {
            return Err(to_client(
                ErrorCode::InvalidRequest,
                "unsupported prompt value",
            ));
        }
        let prompt_none = prompts.contains(&"none");
        if prompt_none && prompts.len() > 1 {
            return Err(to_client(
                ErrorCode::InvalidRequest,
                "prompt=none cannot be combined",
            ));
        }
        let max_age = match params.get("max_age") {
            None => None,
            Some(value) => Some(value.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(
                || {
                    to_client(
                        ErrorCode::InvalidRequest,
                        "max_age must be a non-negative integer",
                    )
                },
            )?),
        };
        let nonce = params.get("nonce").map(str::to_owned);
        if nonce.as_ref().is_some_and(|n| n.len() > 512) {
            return Err(to_client(ErrorCode::InvalidRequest, "nonce is too long"));
        }
        // RFC 9449 §10: the base64url SHA-256 thumbprint of the key, 43 characters.
        let dpop_jkt = params.get("dpop_jkt").map(str::to_owned);
        if dpop_jkt
            .as_deref()
            .is_some_and(|jkt| oxidp_jose::b64url_decode(jkt).is_none_or(|bytes| bytes.len() != 32))
        {
            return Err(to_client(
                ErrorCode::InvalidRequest,
                "dpop_jkt must be a base64url SHA-256 JWK thumbprint",
            ));
        }
        Ok(AuthorizeRequest {
            dpop_jkt,
            redirect_uri: redirect_uri.to_owned(),
            response_mode,
            state,
            scopes,
            nonce,
            code_challenge,
            prompt_login: prompts.contains(&"login"),
            prompt_consent: prompts.contains(&"consent"),
            prompt_none,
            max_age,
            login_hint: params.get("login_hint").map(str::to_owned),
            client,
        })
    }

    /// Decides what the user must do, given the browser's session (if any) and whether the
    /// user has just consented to this request.
    pub async fn interaction(
        &self,
        request: &AuthorizeRequest,
        ticket: Option<&AuthenticationTicket>,
    ) -> Result<Interaction, AuthorizeError> {
        let now = self.ctx.clock.now();
        let user = match ticket {
            Some(ticket) => self
                .ctx
                .stores
                .users
                .find_user_by_subject(&ticket.subject_id)
                .await
                .map_err(|e| AuthorizeError::Page(e.into()))?,
            None => None,
        };
        let too_old = match (ticket, request.max_age) {
            // A few seconds of grace: the round trip from the login page back here takes time,
            // and max_age=0 must not send the user back to the login page forever.
            (Some(ticket), Some(max_age)) => {
                (now - ticket.auth_time).whole_seconds() > max_age.saturating_add(MAX_AGE_GRACE)
            }
            _ => false,
        };
        let signed_in = ticket.is_some() && user.is_some_and(|u| u.enabled);
        if !signed_in || request.prompt_login || too_old {
            if request.prompt_none {
                return Err(AuthorizeError::Redirect(self.error(
                    request,
                    "login_required",
                    "the user must sign in",
                )));
            }
            return Ok(Interaction::Login);
        }
        // prompt=consent asks for the page even from a client that does not require consent.
        if request.client.require_consent || request.prompt_consent {
            let remembered = match ticket {
                Some(ticket) => self
                    .remembered_consent_covers(&ticket.subject_id, request)
                    .await
                    .map_err(AuthorizeError::Page)?,
                None => false,
            };
            if request.prompt_consent || !remembered {
                if request.prompt_none {
                    return Err(AuthorizeError::Redirect(self.error(
                        request,
                        "consent_required",
                        "the user must consent",
                    )));
                }
                return Ok(Interaction::Consent);
            }
        }
        Ok(Interaction::None)
    }

    async fn remembered_consent_covers(
        &self,
        subject_id: &str,
        request: &AuthorizeRequest,
    ) -> Result<bool, OAuthError> {
        let consented =
            super::consent::remembered_scopes(&self.ctx, subject_id, &request.client.client_id)
                .await?;
        Ok(
            consented
                .is_some_and(|scopes| request.scopes.scopes.iter().all(|s| scopes.contains(s))),
        )
    }

    /// Issues an authorization code for `scopes` (all requested, or what the user consented to).
    pub async fn issue_code(
        &self,
        request: &AuthorizeRequest,
        ticket: &AuthenticationTicket,
        scopes: Vec<String>,
    ) -> Result<AuthorizeResponse, OAuthError> {
        let now = self.ctx.clock.now();
        let code = random_token();
        let data = AuthorizationCodeData {
            client_id: request.client.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            subject_id: ticket.subject_id.clone(),
            session: SessionInfo {
                session_id: ticket.session_id.clone(),
                auth_time: ticket.auth_time.unix_timestamp(),
                amr: ticket.amr.clone(),
                idp: ticket.idp.clone(),
            },
            scopes,
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            dpop_jkt: request.dpop_jkt.clone(),
        };
        let grant = PersistedGrant {
            key: code_key(&code),
            grant_type: grant_types::AUTHORIZATION_CODE.to_owned(),
            subject_id: Some(ticket.subject_id.clone()),
            session_id: Some(ticket.session_id.clone()),
            client_id: request.client.client_id.clone(),
            created: now,
            expires: Some(crate::clock::later(
                now,
                request.client.authorization_code_lifetime,
            )),
            consumed: None,
            data: serde_json::to_string(&data).map_err(|_| OAuthError::server_error())?,
        };
        self.ctx.stores.grants.store_grant(&grant).await?;
        tracing::info!(client_id = %request.client.client_id, sid = %ticket.session_id, "issued authorization code");
        let mut parameters = vec![("code".to_owned(), code)];
        if let Some(state) = &request.state {
            parameters.push(("state".to_owned(), state.clone()));
        }
        parameters.push(("iss".to_owned(), self.ctx.options.issuer.clone()));
        Ok(AuthorizeResponse {
            redirect_uri: request.redirect_uri.clone(),
            response_mode: request.response_mode,
            parameters,
        })
    }

    /// An error response for a validated request (`access_denied`, `login_required`, ...).
    pub fn error(
        &self,
        request: &AuthorizeRequest,
        error: &str,
        description: &str,
    ) -> AuthorizeResponse {
        self.error_response(
            &request.redirect_uri,
            request.response_mode,
            request.state.as_deref(),
            error,
            description,
        )
    }

    fn error_response(
        &self,
        redirect_uri: &str,
        response_mode: ResponseMode,
        state: Option<&str>,
        error: &str,
        description: &str,
    ) -> AuthorizeResponse {
        let mut parameters = vec![("error".to_owned(), error.to_owned())];
        if !description.is_empty() {
            parameters.push(("error_description".to_owned(), description.to_owned()));
        }
        if let Some(state) = state {
            parameters.push(("state".to_owned(), state.to_owned()));
        }
        parameters.push(("iss".to_owned(), self.ctx.options.issuer.clone()));
        AuthorizeResponse {
            redirect_uri: redirect_uri.to_owned(),
            response_mode,
            parameters,
        }
    }

    /// Whether the request asks for an ID token.
    pub fn is_openid(request: &AuthorizeRequest) -> bool {
        request.scopes.contains(OPENID)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resuming_after_login_drops_only_prompt_login() {
        let params = Parameters::from_form(b"client_id=c&prompt=login+consent&state=s").unwrap();
        let resumed = resume_after_login(&params);
        assert_eq!(resumed.get("prompt"), Some("consent"));
        assert_eq!(resumed.get("state"), Some("s"));
        let only_login = Parameters::from_form(b"prompt=login").unwrap();
        assert_eq!(resume_after_login(&only_login).get("prompt"), None);
    }
}
