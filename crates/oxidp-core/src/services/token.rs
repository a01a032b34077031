//! The token endpoint: grant dispatch, and issuance of access tokens (RFC 9068 JWTs or
//! reference tokens), ID tokens and refresh tokens.

mod binding;
pub(crate) mod code;
mod refresh;

use super::Context;
use super::client_auth::ClientAuthenticator;
use super::dpop::{DpopService, Site};
use super::scopes::{GrantedScopes, ScopeContext, resolve_scopes};
use crate::error::{ErrorCode, OAuthError};
use crate::model::{AccessTokenType, Client, GrantType, PersistedGrant, grant_types};
use crate::params::Parameters;
use crate::request::ProtocolRequest;
use oxidp_jose::{b64url_encode, random_bytes, random_token, sha256};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

pub use refresh::RefreshTokenData;
pub(crate) use refresh::refresh_key;

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// `Bearer` or `DPoP`, from the issued token's binding.
    pub token_type: TokenType,
    /// Lifetime in seconds.
    pub expires_in: u64,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// The ID token, when `openid` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The refresh token, when `offline_access` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// A fresh DPoP nonce for the `DPoP-Nonce` response header (nonce mode, RFC 9449 §8);
    /// not part of the body.
    #[serde(skip)]
    pub dpop_nonce: Option<String>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// The user session a token derives from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// `sid`.
    pub session_id: String,
    /// `auth_time` (seconds since the epoch).
    pub auth_time: i64,
    /// `amr`.
    pub amr: Vec<String>,
    /// `idp`.
    pub idp: String,
}

/// The claims of an access token, as signed into a JWT or stored behind a reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Audiences: the API resources of the granted scopes.
    #[serde(with = "one_or_many")]
    pub aud: Vec<String>,
    /// Space-separated scopes (RFC 9068 §2.2.3).
    pub scope: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Subject: the user, or the client for client credentials (RFC 9068 §2.2).
    pub sub: String,
    /// Unique token id.
    pub jti: String,
    /// The user session, for tokens issued to a signed-in user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// When the user authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// How the user authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// Who authenticated the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
    /// The key or certificate the token is bound to (RFC 7800 `cnf`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// A token's proof-of-possession binding (`cnf`): the JWK thumbprint of a DPoP key (RFC 9449
/// §6) or the SHA-256 thumbprint of a client certificate (RFC 8705 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// `jkt`: the DPoP key's thumbprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
    /// `x5t#S256`: the client certificate's thumbprint.
    #[serde(rename = "x5t#S256", default, skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
}

/// The `token_type` of an issued access token (RFC 6749 §7.1, RFC 9449 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TokenType {
    /// An unbound (or certificate-bound, RFC 8705 §3) token.
    Bearer,
    /// A DPoP-bound token.
    #[serde(rename = "DPoP")]
    Dpop,
}

impl TokenType {
    /// The `token_type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "Bearer",
            Self::Dpop => "DPoP",
        }
    }
}

impl AccessTokenClaims {
    /// The token's type, which follows from its binding: a DPoP-bound token is `DPoP`, any
    /// other `Bearer` (a certificate-bound token is still presented as a Bearer token).
    pub fn token_type(&self) -> TokenType {
        match &self.cnf {
            Some(Confirmation { jkt: Some(_), .. }) => TokenType::Dpop,
            _ => TokenType::Bearer,
        }
    }

    /// The token's scopes.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }
}

/// `aud` is a string when there is one audience and an array otherwise (RFC 7519 §4.1.3).
mod one_or_many {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(values: &[String], serializer: S) -> Result<S::Ok, S::Error> {
        match values {
            [one] => one.serialize(serializer),
            many => many.serialize(serializer),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<String>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(match OneOrMany::deserialize(deserializer)? {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        })
    }
}

/// Revokes a client's token family in one user session: its refresh and reference tokens.
/// The one rule behind a reused refresh token, a replayed authorization code and the
/// revocation of a refresh token (RFC 7009 §2.1).
pub(crate) async fn revoke_family(
    ctx: &Context,
    client_id: &str,
    subject_id: &str,
    session_id: &str,
) -> Result<u64, crate::store::StoreError> {
    let filter = crate::model::PersistedGrantFilter {
        subject_id: Some(subject_id.to_owned()),
        session_id: Some(session_id.to_owned()),
        client_id: Some(client_id.to_owned()),
        grant_types: Some(vec![
            grant_types::REFRESH_TOKEN.to_owned(),
            grant_types::REFERENCE_TOKEN.to_owned(),
        ]),
        ..crate::model::PersistedGrantFilter::default()
    };
    ctx.stores.grants.remove_grants(&filter).await
}

/// The storage key of a handle (reference token, code, refresh token): a hash bound to the
/// grant type, so a database leak reveals no usable value.
pub(crate) fn handle_key(handle: &str, grant_type: &str) -> String {
    b64url_encode(sha256(format!("{handle}:{grant_type}")))
}

/// The storage key of a reference token.
pub(crate) fn reference_token_key(handle: &str) -> String {
    handle_key(handle, grant_types::REFERENCE_TOKEN)
}

/// The `cnf` of tokens issued for a DPoP proof of the key with thumbprint `jkt` and/or over
/// the client certificate of `certificate` (RFC 8705); `None` when neither binds them.
pub(crate) fn confirmation(
    jkt: Option<&str>,
    certificate: Option<&Confirmation>,
) -> Option<Confirmation> {
    let x5t_s256 = certificate.and_then(|c| c.x5t_s256.clone());
    if jkt.is_none() && x5t_s256.is_none() {
        return None;
    }
    Some(Confirmation {
        jkt: jkt.map(str::to_owned),
        x5t_s256,
    })
}

/// Issues tokens.
#[derive(Debug)]
pub struct TokenService {
    ctx: Arc<Context>,
    client_auth: Arc<ClientAuthenticator>,
    dpop: Arc<DpopService>,
}

impl TokenService {
    pub(crate) fn new(
        ctx: Arc<Context>,
        client_auth: Arc<ClientAuthenticator>,
        dpop: Arc<DpopService>,
    ) -> Self {
        Self {
            ctx,
            client_auth,
            dpop,
        }
    }

    /// Serves a token request: authenticates the client, checks its DPoP proof if it sent
    /// one (RFC 9449 §5), then handles its grant; the access tokens are bound to the proof's
    /// key and, when the client is registered for it, to its TLS client certificate
    /// (RFC 8705 §3).
    pub async fn endpoint(&self, request: &ProtocolRequest) -> Result<TokenResponse, OAuthError> {
        let client = self.client_auth.authenticate_request(request).await?;
        let certificate = binding::certificate_binding(&client, &request.peer)?;
        let dpop = self
            .dpop
            .check(request, Site::TokenEndpoint, Some(&client), None)
            .await?;
        let cnf = confirmation(dpop.jkt(), certificate.as_ref());
        let mut response = self
            .grant(&client, &request.params, dpop.jkt(), cnf.as_ref())
            .await?;
        response.dpop_nonce = dpop.nonce;
        Ok(response)
    }

    /// Handles a token request without a DPoP proof or a client certificate from an
    /// authenticated client.
    pub async fn handle(
        &self,
        client: &Client,
        params: &Parameters,
    ) -> Result<TokenResponse, OAuthError> {
        self.grant(client, params, None, None).await
    }

    /// Handles a token request; `jkt` is the thumbprint of the key of its verified DPoP
    /// proof, if it had one, and `binding` the `cnf` its access tokens carry.
    async fn grant(
        &self,
        client: &Client,
        params: &Parameters,
        jkt: Option<&str>,
        binding: Option<&Confirmation>,
    ) -> Result<TokenResponse, OAuthError> {
        if client.require_dpop && jkt.is_none() {
            return Err(OAuthError::invalid_request(
                "this client must send a DPoP proof",
            ));
        }
        let grant_type = params.require("grant_type")?;
        let Some(grant_type) = GrantType::parse(grant_type) else {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!("grant type `{grant_type}` is not supported"),
            ));
        };
        if !client.allows_grant(grant_type) {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!("the client may not use `{}`", grant_type.as_str()),
            ));
        }
        match grant_type {
            GrantType::ClientCredentials => self.client_credentials(client, params, binding).await,
            GrantType::AuthorizationCode => {
                code::redeem(&self.ctx, client, params, jkt, binding).await
            }
            GrantType::RefreshToken => {
                refresh::redeem(&self.ctx, client, params, jkt, binding).await
            }
        }
    }

    async fn client_credentials(
        &self,
        client: &Client,
        params: &Parameters,
        binding: Option<&Confirmation>,
    ) -> Result<TokenResponse, OAuthError> {
        if client.is_public() {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "a public client cannot use client_credentials",
            ));
        }
        let granted = resolve_scopes(
            &self.ctx,
            client,
            params.get("scope"),
            ScopeContext::Machine,
        )
        .await?;
        let (access_token, claims) = issue_access_token(
            &self.ctx,
            client,
            &client.client_id,
            &granted,
            None,
            binding,
        )
        .await?;
        Ok(TokenResponse {
            access_token,
            token_type: claims.token_type(),
            expires_in: client.access_token_lifetime.as_secs(),
            scope: granted.joined(),
            id_token: None,
            refresh_token: None,
            dpop_nonce: None,
        })
    }
}

fn signing_failure(error: impl fmt::Display) -> OAuthError {
    tracing::error!(%error, "token signing failed");
    OAuthError::server_error()
}

/// Issues an access token for `subject`, bound as `cnf` says, and returns it with its claims.
pub(crate) async fn issue_access_token(
    ctx: &Context,
    client: &Client,
    subject: &str,
    granted: &GrantedScopes,
    session: Option<&SessionInfo>,
    binding: Option<&Confirmation>,
) -> Result<(String, AccessTokenClaims), OAuthError> {
    let minted = mint_access_token(ctx, client, subject, granted, session, binding).await?;
    if let Some(grant) = &minted.grant {
        ctx.stores.grants.store_grant(grant).await?;
    }
    Ok((minted.token, minted.claims))
}

/// An access token made but not yet stored: a reference token counts only once its grant is
/// stored, which the caller may do together with other writes (a refresh token's rotation).
pub(crate) struct MintedAccessToken {
    /// The token handed to the client.
    pub(crate) token: String,
    /// Its claims.
    pub(crate) claims: AccessTokenClaims,
    /// The grant behind a reference token, to store; `None` for a JWT.
    pub(crate) grant: Option<PersistedGrant>,
}

/// Makes an access token for `subject`, bound to `binding` when given, without storing
/// anything.
pub(crate) async fn mint_access_token(
    ctx: &Context,
    client: &Client,
    subject: &str,
    granted: &GrantedScopes,
    session: Option<&SessionInfo>,
    binding: Option<&Confirmation>,
) -> Result<MintedAccessToken, OAuthError> {
    let now = ctx.clock.now();
    let expires = crate::clock::later(now, client.access_token_lifetime);
    let audiences = if granted.audiences.is_empty() {
        vec![format!("{}/resources", ctx.options.issuer)]
    } else {
        granted.audiences.clone()
    };
    let claims = AccessTokenClaims {
        iss: ctx.options.issuer.clone(),
        exp: expires.unix_timestamp(),
        iat: now.unix_timestamp(),
        nbf: now.unix_timestamp(),
        aud: audiences,
        scope: granted.joined(),
        client_id: client.client_id.clone(),
        sub: subject.to_owned(),
        jti: b64url_encode(random_bytes::<16>()),
        sid: session.map(|s| s.session_id.clone()),
        auth_time: session.map(|s| s.auth_time),
        amr: session.map(|s| s.amr.clone()),
        idp: session.map(|s| s.idp.clone()),
        cnf: binding.cloned(),
    };
    // A token that opens the admin API is always a reference token, so that revoking it (or
    // the session it came from) takes effect at once rather than when a JWT would expire.
    let token_type = if granted.contains(super::ADMIN_SCOPE) {
        AccessTokenType::Reference
    } else {
        client.access_token_type
    };
    let (token, grant) = match token_type {
        AccessTokenType::Jwt => {
            let key = ctx
                .keys
                .default_signing_key()
                .await
                .map_err(signing_failure)?;
            (
                key.sign_jwt("at+jwt", &claims).map_err(signing_failure)?,
                None,
            )
        }
        AccessTokenType::Reference => {
            let handle = random_token();
            let grant = PersistedGrant {
                key: reference_token_key(&handle),
                grant_type: grant_types::REFERENCE_TOKEN.to_owned(),
                subject_id: Some(claims.sub.clone()),
                session_id: claims.sid.clone(),
                client_id: client.client_id.clone(),
                created: now,
                expires: Some(expires),
                consumed: None,
                data: serde_json::to_string(&claims).map_err(|_| OAuthError::server_error())?,
            };
            (handle, Some(grant))
        }
    };
    tracing::debug!(client_id = %client.client_id, jti = %claims.jti, "issued access token");
    Ok(MintedAccessToken {
        token,
        claims,
        grant,
    })
}

/// Claims of an ID token.
#[derive(Debug, Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    sid: &'a str,
    amr: &'a [String],
    idp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    at_hash: Option<String>,
}

/// Issues an ID token (OIDC Core §2) for a user's session.
pub(crate) async fn issue_id_token(
    ctx: &Context,
    client: &Client,
    subject: &str,
    session: &SessionInfo,
    nonce: Option<&str>,
    access_token: Option<&str>,
) -> Result<String, OAuthError> {
    let now = ctx.clock.now();
    let algorithm = ctx
        .options
        .keys
        .id_token_algorithm(client.id_token_signed_response_alg);
    let key = ctx
        .keys
        .signing_key(algorithm)
        .await
        .map_err(signing_failure)?;
    let at_hash = access_token.map(|token| token_hash(token, key.algorithm()));
    let claims = IdTokenClaims {
        iss: &ctx.options.issuer,
        sub: subject,
        aud: &client.client_id,
        exp: crate::clock::later(now, client.identity_token_lifetime).unix_timestamp(),
        iat: now.unix_timestamp(),
        auth_time: session.auth_time,
        nonce,
        sid: &session.session_id,
        amr: &session.amr,
        idp: &session.idp,
        at_hash,
    };
    key.sign_jwt("JWT", &claims).map_err(signing_failure)
}

/// `at_hash` (OIDC Core §3.1.3.6): the left half of the hash of the token, with the hash of
/// the signing algorithm (SHA-512 for Ed25519, per the EdDSA errata).
fn token_hash(token: &str, algorithm: oxidp_jose::SigningAlgorithm) -> String {
    let digest: Vec<u8> = match algorithm {
        oxidp_jose::SigningAlgorithm::EdDSA => oxidp_jose::sha512(token).to_vec(),
        _ => sha256(token).to_vec(),
    };
    b64url_encode(&digest[..digest.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_oidc_example() {
        // OIDC Core appendix A.3: access token and its at_hash (RS256).
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(
            token_hash(token, oxidp_jose::SigningAlgorithm::RS256),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
