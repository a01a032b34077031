//! The one validation of a client registration, used wherever a client is written: seeding
//! from configuration, the library's registration service, and anything that registers
//! clients later (admin API, dynamic registration). A client that fails it is never stored.

use super::{Client, GrantType};
use std::time::Duration;

/// The longest lifetime a client may configure for anything it is issued. Longer values are
/// a typo (a unit missing) rather than a policy, and would overflow date arithmetic.
pub const MAX_CLIENT_LIFETIME: Duration = Duration::from_secs(10 * 365 * 86_400);

/// The longest retry grace of a rotated refresh token (`refresh_token_reuse_grace`). The grace
/// covers a lost response or a retried request, which take seconds; much longer, it would let
/// a stolen token be used long after its owner moved on.
pub const MAX_REFRESH_TOKEN_REUSE_GRACE: Duration = Duration::from_secs(5 * 60);

/// Why a client registration is refused. Field names are as written in configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// `client_id` is empty or blank.
    #[error("`client_id` must not be empty")]
    EmptyClientId,
    /// A lifetime is zero.
    #[error("`{0}` must be positive")]
    ZeroLifetime(&'static str),
    /// A lifetime is absurdly long.
    #[error("`{0}` is longer than ten years")]
    LifetimeTooLong(&'static str),
    /// `refresh_token_reuse_grace` is above [`MAX_REFRESH_TOKEN_REUSE_GRACE`].
    #[error("`refresh_token_reuse_grace` is longer than five minutes")]
    ReuseGraceTooLong,
    /// A URI is not absolute.
    #[error("`{0}` is not an absolute URL")]
    NotAbsolute(String),
    /// A redirect URI carries a fragment (RFC 6749 §3.1.2).
    #[error("redirect URI `{0}` must not contain a fragment")]
    Fragment(String),
    /// A code-flow client has nowhere to return to.
    #[error("a client using authorization_code needs `redirect_uris`")]
    MissingRedirectUris,
    /// A confidential client has no way to authenticate.
    #[error(
        "a confidential client needs `secrets`, `jwks` or a `tls_client_auth_*` value (or `require_client_secret = false` for a public client)"
    )]
    MissingCredentials,
    /// A public client has secrets, or asks for client credentials.
    #[error(
        "a public client (`require_client_secret = false`) has no secrets and cannot use client_credentials"
    )]
    PublicClientWithSecrets,
    /// `jwks` is not a JWK set.
    #[error("`jwks` must be a JWK set: {{\"keys\": [...]}}")]
    InvalidJwks,
    /// More than one `tls_client_auth_*` value (RFC 8705 §2.1.2: exactly one is used).
    #[error(
        "register at most one of `tls_client_auth_subject_dn` and the `tls_client_auth_san_*` values"
    )]
    SeveralTlsClientAuthValues,
    /// A `tls_client_auth_*` value cannot be matched (a DN not in RFC 4514 form, an IP
    /// address that is not one, an empty value).
    #[error("`{0}` is not valid: {1}")]
    InvalidTlsClientAuthValue(&'static str, String),
}

impl Client {
    /// Checks the registration: a non-empty id, sane lifetimes, absolute redirect URIs
    /// without fragments, credentials that fit the client type.
    pub fn validate(&self) -> Result<(), ClientError> {
        if self.client_id.trim().is_empty() {
            return Err(ClientError::EmptyClientId);
        }
        let lifetimes = [
            ("access_token_lifetime", self.access_token_lifetime),
            (
                "authorization_code_lifetime",
                self.authorization_code_lifetime,
            ),
            ("identity_token_lifetime", self.identity_token_lifetime),
            (
                "absolute_refresh_token_lifetime",
                self.absolute_refresh_token_lifetime,
            ),
            (
                "sliding_refresh_token_lifetime",
                self.sliding_refresh_token_lifetime,
            ),
        ];
        for (name, lifetime) in lifetimes {
            // A sliding lifetime means nothing unless refresh tokens slide.
            let unused = name == "sliding_refresh_token_lifetime"
                && self.refresh_token_expiration != super::RefreshTokenExpiration::Sliding;
            if lifetime.is_zero() && !unused {
                return Err(ClientError::ZeroLifetime(name));
            }
            if lifetime > MAX_CLIENT_LIFETIME {
                return Err(ClientError::LifetimeTooLong(name));
            }
        }
        if self
            .refresh_token_reuse_grace
            .is_some_and(|grace| grace > MAX_REFRESH_TOKEN_REUSE_GRACE)
        {
            return Err(ClientError::ReuseGraceTooLong);
        }
        for uri in self
            .redirect_uris
            .iter()
            .chain(&self.post_logout_redirect_uris)
            .chain(&self.backchannel_logout_uri)
        {
            let parsed = url::Url::parse(uri).map_err(|_| ClientError::NotAbsolute(uri.clone()))?;
            if parsed.fragment().is_some() {
                return Err(ClientError::Fragment(uri.clone()));
            }
        }
        if self
            .allowed_grant_types
            .contains(&GrantType::AuthorizationCode)
            && self.redirect_uris.is_empty()
        {
            return Err(ClientError::MissingRedirectUris);
        }
        if let Some(jwks) = &self.jwks
            && !jwks.get("keys").is_some_and(|keys| keys.is_array())
        {
            return Err(ClientError::InvalidJwks);
        }
        self.validate_tls_client_auth()?;
        if self.require_client_secret
            && self.secrets.is_empty()
            && self.jwks.is_none()
            && !self.uses_tls_client_auth()
            && !self.allowed_grant_types.is_empty()
        {
            return Err(ClientError::MissingCredentials);
        }
        if !self.require_client_secret
            && (!self.secrets.is_empty()
                || self
                    .allowed_grant_types
                    .contains(&GrantType::ClientCredentials))
        {
            return Err(ClientError::PublicClientWithSecrets);
        }
        Ok(())
    }

    fn validate_tls_client_auth(&self) -> Result<(), ClientError> {
        if self.tls_client_auth_attributes().count() > 1 {
            return Err(ClientError::SeveralTlsClientAuthValues);
        }
        for (name, value) in self.tls_client_auth_attributes() {
            let invalid = |why: &str| ClientError::InvalidTlsClientAuthValue(name, why.to_owned());
            if value.trim().is_empty() {
                return Err(invalid("it is empty"));
            }
            match name {
                "tls_client_auth_subject_dn" => {
                    crate::certificates::DistinguishedName::parse(value)
                        .map_err(|e| invalid(&e.to_string()))?;
                }
                "tls_client_auth_san_ip" => {
                    value
                        .parse::<std::net::IpAddr>()
                        .map_err(|_| invalid("it is not an IP address"))?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HashedSecret;

    fn web() -> Client {
        let mut client = Client::new("web");
        client.secrets = vec![HashedSecret::from_plaintext("s")];
        client.allowed_grant_types = vec![GrantType::AuthorizationCode];
        client.redirect_uris = vec!["https://app.example/cb".into()];
        client
    }

    #[test]
    fn a_sound_client_passes() {
        assert_eq!(web().validate(), Ok(()));
        let mut graced = web();
        for grace in [Duration::ZERO, MAX_REFRESH_TOKEN_REUSE_GRACE] {
            graced.refresh_token_reuse_grace = Some(grace);
            assert_eq!(graced.validate(), Ok(()), "a grace of {grace:?}");
        }
    }

    #[test]
    fn each_rule_refuses_its_case() {
        let case = |change: fn(&mut Client)| {
            let mut client = web();
            change(&mut client);
            client.validate().expect_err("refused")
        };
        assert_eq!(
            case(|c| c.client_id = " ".into()),
            ClientError::EmptyClientId
        );
        assert_eq!(
            case(|c| c.access_token_lifetime = Duration::ZERO),
            ClientError::ZeroLifetime("access_token_lifetime")
        );
        assert_eq!(
            case(|c| c.absolute_refresh_token_lifetime = Duration::MAX),
            ClientError::LifetimeTooLong("absolute_refresh_token_lifetime")
        );
        assert_eq!(
            case(|c| c.refresh_token_reuse_grace = Some(Duration::from_secs(301))),
            ClientError::ReuseGraceTooLong
        );
        assert!(matches!(
            case(|c| c.redirect_uris = vec!["/cb".into()]),
            ClientError::NotAbsolute(_)
        ));
        assert!(matches!(
            case(|c| c.redirect_uris = vec!["https://app.example/cb#x".into()]),
            ClientError::Fragment(_)
        ));
        assert_eq!(
            case(|c| c.redirect_uris.clear()),
            ClientError::MissingRedirectUris
        );
        assert_eq!(case(|c| c.secrets.clear()), ClientError::MissingCredentials);
        assert_eq!(
            case(|c| c.require_client_secret = false),
            ClientError::PublicClientWithSecrets
        );
        assert_eq!(
            case(|c| c.jwks = Some(serde_json::json!({"kty": "EC"}))),
            ClientError::InvalidJwks
        );
        assert_eq!(
            case(|c| {
                c.tls_client_auth_san_dns = Some("a.example".into());
                c.tls_client_auth_san_uri = Some("https://a.example".into());
            }),
            ClientError::SeveralTlsClientAuthValues
        );
        assert!(matches!(
            case(|c| c.tls_client_auth_subject_dn = Some("client".into())),
            ClientError::InvalidTlsClientAuthValue("tls_client_auth_subject_dn", _)
        ));
        assert!(matches!(
            case(|c| c.tls_client_auth_san_ip = Some("10.0.0.300".into())),
            ClientError::InvalidTlsClientAuthValue("tls_client_auth_san_ip", _)
        ));
    }

    #[test]
    fn a_tls_client_auth_value_is_a_credential() {
        let mut client = web();
        client.secrets.clear();
        client.tls_client_auth_subject_dn = Some("CN=web,O=Example".into());
        assert_eq!(client.validate(), Ok(()));
    }
}
