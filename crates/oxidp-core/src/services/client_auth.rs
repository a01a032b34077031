//! Client authentication at the token, introspection and revocation endpoints:
//! `client_secret_basic`, `client_secret_post`, `private_key_jwt` (RFC 7523),
//! `tls_client_auth` and `self_signed_tls_client_auth` (RFC 8705, in [`certificate`]), plus
//! API resources authenticating with their own secret to introspect.

mod certificate;

use super::Context;
use crate::error::{ErrorCode, OAuthError};
use crate::model::{ApiResource, Client, HashedSecret, PersistedGrant, grant_types};
use crate::params::Parameters;
use crate::request::ProtocolRequest;
use crate::store::StoreError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use oxidp_jose::{b64url_encode, sha256};
use std::fmt;
use std::sync::Arc;

/// The only client assertion type supported (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE_JWT_BEARER: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The client authentication methods of confidential clients, as discovery advertises them
/// for the token, introspection and revocation endpoints.
pub const CLIENT_AUTH_METHODS: [&str; 5] = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "tls_client_auth",
    "self_signed_tls_client_auth",
];

/// Credentials as presented, before any check.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientCredentials {
    /// `client_secret_basic`: from the `Authorization: Basic` header.
    Basic {
        /// The client id.
        client_id: String,
        /// The secret.
        secret: String,
    },
    /// `client_secret_post`: from the form body.
    Post {
        /// The client id.
        client_id: String,
        /// The secret.
        secret: String,
    },
    /// `private_key_jwt`.
    Assertion {
        /// The `client_id` parameter, if sent.
        client_id: Option<String>,
        /// The signed assertion.
        assertion: String,
    },
    /// Only a `client_id`: a public client, or a confidential one that forgot its credentials.
    None {
        /// The client id.
        client_id: String,
    },
    /// A `client_id` over a connection with a TLS client certificate: `tls_client_auth` or
    /// `self_signed_tls_client_auth` (RFC 8705 §2), or a public client that has a certificate.
    Certificate {
        /// The client id.
        client_id: String,
        /// The certificate chain, leaf first, DER.
        chain: Vec<Vec<u8>>,
    },
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic { client_id, .. } => write!(f, "Basic({client_id}, [redacted])"),
            Self::Post { client_id, .. } => write!(f, "Post({client_id}, [redacted])"),
            Self::Assertion { client_id, .. } => write!(f, "Assertion({client_id:?}, [redacted])"),
            Self::None { client_id } => write!(f, "None({client_id})"),
            Self::Certificate { client_id, chain } => {
                write!(f, "Certificate({client_id}, {} certificates)", chain.len())
            }
        }
    }
}

impl ClientCredentials {
    /// Extracts the credentials from the `Authorization` header and the form parameters.
    /// Using more than one method at once is `invalid_request` (RFC 6749 §2.3); no credentials
    /// at all is `invalid_client`.
    pub fn extract(authorization: Option<&str>, params: &Parameters) -> Result<Self, OAuthError> {
        let basic = match authorization {
            Some(header) => Some(parse_basic(header)?),
            None => None,
        };
        let post_secret = params.get("client_secret");
        let assertion = params.get("client_assertion");
        let assertion_type = params.get("client_assertion_type");
        let methods = [
            basic.is_some(),
            post_secret.is_some(),
            assertion.is_some() || assertion_type.is_some(),
        ];
        if methods.iter().filter(|used| **used).count() > 1 {
            return Err(OAuthError::invalid_request(
                "more than one client authentication method was used",
            ));
        }
        let client_id = params.get("client_id");
        if let Some((id, secret)) = basic {
            if client_id.is_some_and(|body_id| body_id != id) {
                return Err(OAuthError::invalid_request(
                    "client_id differs from the authenticated client",
                ));
            }
            return Ok(Self::Basic {
                client_id: id,
                secret,
            });
        }
        if let Some(assertion) = assertion {
            if assertion_type != Some(CLIENT_ASSERTION_TYPE_JWT_BEARER) {
                return Err(OAuthError::invalid_request(
                    "unsupported client_assertion_type",
                ));
            }
            return Ok(Self::Assertion {
                client_id: client_id.map(str::to_owned),
                assertion: assertion.to_owned(),
            });
        }
        if assertion_type.is_some() {
            return Err(OAuthError::invalid_request(
                "parameter `client_assertion` is missing",
            ));
        }
        match (client_id, post_secret) {
            (Some(id), Some(secret)) => Ok(Self::Post {
                client_id: id.to_owned(),
                secret: secret.to_owned(),
            }),
            (Some(id), None) => Ok(Self::None {
                client_id: id.to_owned(),
            }),
            (None, Some(_)) => Err(OAuthError::invalid_request(
                "parameter `client_id` is missing",
            )),
            (None, None) => Err(OAuthError::invalid_client()),
        }
    }

    /// RFC 8705 §2: a request that names only its `client_id` authenticates with the
    /// connection's client certificate, when there is one.
    #[must_use]
    pub fn with_certificate(self, chain: &[Vec<u8>]) -> Self {
        match self {
            Self::None { client_id } if !chain.is_empty() => Self::Certificate {
                client_id,
                chain: chain.to_vec(),
            },
            other => other,
        }
    }

    /// Whether the client tried HTTP Basic; a failure must then answer with a Basic challenge.
    pub fn used_basic(&self) -> bool {
        matches!(self, Self::Basic { .. })
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn parse_basic(header: &str) -> Result<(String, String), OAuthError> {
    let malformed = || OAuthError::new(ErrorCode::InvalidClient, "malformed Basic credentials");
    let (scheme, encoded) = header.trim().split_once(' ').ok_or_else(malformed)?;
    // RFC 6749 §5.2: an unsupported authentication method is `invalid_client`, and a client
    // that tried the Authorization header gets 401 with a challenge of the scheme we support.
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::new(
            ErrorCode::InvalidClient,
            "unsupported Authorization scheme",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let id = form_decode(id).ok_or_else(malformed)?;
    let secret = form_decode(secret).ok_or_else(malformed)?;
    if id.is_empty() {
        return Err(malformed());
    }
    Ok((id, secret))
}

fn form_decode(value: &str) -> Option<String> {
    let spaced = value.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Who called the introspection endpoint.
#[derive(Debug, Clone)]
pub enum Introspector {
    /// An API resource with its own secret: sees tokens whose audience includes it.
    ApiResource(ApiResource),
    /// A client: sees the tokens issued to it.
    Client(Box<Client>),
}

/// Authenticates clients and API resources.
#[derive(Debug)]
pub struct ClientAuthenticator {
    ctx: Arc<Context>,
}

impl ClientAuthenticator {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Authenticates the client of a protocol request (token, revocation, ...). A failure
    /// after an HTTP Basic attempt carries the Basic challenge (RFC 6749 §5.2).
    pub async fn authenticate_request(
        &self,
        request: &ProtocolRequest,
    ) -> Result<Client, OAuthError> {
        let credentials = request
            .client_credentials()?
            .with_certificate(&request.peer.client_certificates);
        self.authenticate_client(&credentials, &request.path)
            .await
            .map_err(|e| e.with_basic_challenge_if(credentials.used_basic()))
    }

    /// Authenticates the caller of the introspection endpoint in a protocol request.
    pub async fn authenticate_introspection_request(
        &self,
        request: &ProtocolRequest,
    ) -> Result<Introspector, OAuthError> {
        let credentials = request
            .client_credentials()?
            .with_certificate(&request.peer.client_certificates);
        self.authenticate_introspector(&credentials, &request.path)
            .await
            .map_err(|e| e.with_basic_challenge_if(credentials.used_basic()))
    }

    /// Authenticates a client calling `endpoint_path`. Any failure is `invalid_client`.
    pub async fn authenticate_client(
        &self,
        credentials: &ClientCredentials,
        endpoint_path: &str,
    ) -> Result<Client, OAuthError> {
        let client_id = match credentials {
            ClientCredentials::Basic { client_id, .. }
            | ClientCredentials::Post { client_id, .. }
            | ClientCredentials::None { client_id }
            | ClientCredentials::Certificate { client_id, .. } => client_id.clone(),
            ClientCredentials::Assertion {
                client_id,
                assertion,
            } => match client_id {
                Some(id) => id.clone(),
                None => unverified_issuer(assertion).ok_or_else(OAuthError::invalid_client)?,
            },
        };
        let client = match self.ctx.stores.clients.find_client(&client_id).await? {
            Some(client) if client.enabled => client,
            Some(client) => {
                tracing::info!(client_id = %client.client_id, "disabled client");
                return Err(OAuthError::invalid_client());
            }
            None => {
                // A caller who swapped id and secret would put the secret in the log: an
                // unknown id is logged only as a short hash, enough to correlate attempts.
                tracing::info!(
                    client_id_sha256 = %log_fingerprint(&client_id),
                    "unknown client"
                );
                return Err(OAuthError::invalid_client());
            }
        };
        let now = self.ctx.clock.now();
        let authenticated = match credentials {
            ClientCredentials::Basic { secret, .. } | ClientCredentials::Post { secret, .. } => {
                any_secret_matches(&client.secrets, secret, now)
            }
            ClientCredentials::Assertion { assertion, .. } => {
                self.verify_assertion(&client, assertion, endpoint_path)
                    .await?
            }
            // A public client has nothing to prove; PKCE protects its codes instead.
            ClientCredentials::None { .. } => client.is_public(),
            // A public client's certificate binds its tokens but proves nothing about it.
            ClientCredentials::Certificate { chain, .. } => {
                client.is_public() || certificate::authenticates(&self.ctx, &client, chain)
            }
        };
        if !authenticated {
            tracing::info!(client_id = %client.client_id, "client authentication failed");
            return Err(OAuthError::invalid_client());
        }
        // The server's request span declares `client_id`: the access line names the client.
        tracing::Span::current().record("client_id", client.client_id.as_str());
        Ok(client)
    }

    /// Authenticates the caller of the introspection endpoint: an API resource by name and
    /// secret first, otherwise a client.
    pub async fn authenticate_introspector(
        &self,
        credentials: &ClientCredentials,
        endpoint_path: &str,
    ) -> Result<Introspector, OAuthError> {
        if let ClientCredentials::Basic { client_id, secret }
        | ClientCredentials::Post { client_id, secret } = credentials
            && let Some(resource) = self
                .ctx
                .stores
                .resources
                .find_api_resource(client_id)
                .await?
            && resource.enabled
            && any_secret_matches(&resource.secrets, secret, self.ctx.clock.now())
        {
            return Ok(Introspector::ApiResource(resource));
        }
        let client = self.authenticate_client(credentials, endpoint_path).await?;
        if client.is_public() {
            return Err(OAuthError::invalid_client());
        }
        Ok(Introspector::Client(Box::new(client)))
    }

    /// RFC 7523 §3: signature by a registered key, `iss` = `sub` = client id, `aud` naming this
    /// server, unexpired, and a `jti` never seen before.
    async fn verify_assertion(
        &self,
        client: &Client,
        assertion: &str,
        endpoint_path: &str,
    ) -> Result<bool, OAuthError> {
        let Some(jwks) = &client.jwks else {
            return Ok(false);
        };
        let claims = match oxidp_jose::verify::verify_signature(assertion, jwks) {
            Ok(claims) => claims,
            Err(error) => {
                tracing::info!(client_id = %client.client_id, %error, "client assertion refused");
                return Ok(false);
            }
        };
        let options = &self.ctx.options;
        let now = self.ctx.clock.now().unix_timestamp();
        let skew = options.clock_skew.as_secs() as i64;
        let text = |name: &str| claims.get(name).and_then(|v| v.as_str());
        let number = |name: &str| claims.get(name).and_then(|v| v.as_i64());
        let audiences = [
            options.issuer.clone(),
            options.endpoint(endpoint_path),
            options.endpoint(crate::options::paths::TOKEN),
        ];
        let aud_ok = match claims.get("aud") {
            Some(serde_json::Value::String(aud)) => audiences.contains(aud),
            Some(serde_json::Value::Array(values)) => values
                .iter()
                .filter_map(|v| v.as_str())
                .any(|a| audiences.iter().any(|x| x == a)),
            _ => false,
        };
        let Some(exp) = number("exp") else {
            return Ok(false);
        };
        let valid = text("iss") == Some(client.client_id.as_str())
            && text("sub") == Some(client.client_id.as_str())
            && aud_ok
            && exp.saturating_add(skew) > now
            // An assertion valid for more than an hour is refused: it would be a long-lived bearer credential.
            && exp <= now.saturating_add(3600)
            && number("nbf").is_none_or(|nbf| nbf.saturating_sub(skew) <= now)
            && number("iat").is_none_or(|iat| iat.saturating_sub(skew) <= now);
        let Some(jti) = text("jti").filter(|_| valid) else {
            tracing::info!(client_id = %client.client_id, "client assertion claims refused");
            return Ok(false);
        };
        let record = PersistedGrant {
            key: b64url_encode(sha256(format!("{}:{jti}", client.client_id))),
            grant_type: grant_types::CLIENT_ASSERTION_JTI.to_owned(),
            subject_id: None,
            session_id: None,
            client_id: client.client_id.clone(),
            created: self.ctx.clock.now(),
            // Kept until the assertion could no longer be accepted anyway.
            expires: time::OffsetDateTime::from_unix_timestamp(exp.saturating_add(skew)).ok(),
            consumed: None,
            data: String::new(),
        };
        match self.ctx.stores.grants.create_grant(&record).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => {
                tracing::warn!(client_id = %client.client_id, "replayed client assertion refused");
                Ok(false)
            }
            Err(other) => Err(other.into()),
        }
    }
}

fn any_secret_matches(
    secrets: &[HashedSecret],
    presented: &str,
    now: time::OffsetDateTime,
) -> bool {
    // Check every secret, so the time taken does not tell which one matched.
    secrets.iter().fold(false, |found, secret| {
        secret.matches(presented, now) | found
    })
}

/// The `iss` of an assertion before verification, only to find whose keys verify it.
fn unverified_issuer(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let claims: serde_json::Value =
        serde_json::from_slice(&oxidp_jose::b64url_decode(payload)?).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// The first 8 bytes of the SHA-256 of `value`, hex: identifies a presented value across log
/// lines without revealing it.
fn log_fingerprint(value: &str) -> String {
    sha256(value)[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(body: &str) -> Parameters {
        Parameters::from_form(body.as_bytes()).unwrap()
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let creds =
            ClientCredentials::extract(Some(&basic("my%20client", "s%3Acret")), &params(""))
                .unwrap();
        assert_eq!(
            creds,
            ClientCredentials::Basic {
                client_id: "my client".into(),
                secret: "s:cret".into()
            }
        );
        assert!(creds.used_basic());
    }

    #[test]
    fn two_methods_at_once_are_invalid_request() {
        let error = ClientCredentials::extract(
            Some(&basic("a", "b")),
            &params("client_id=a&client_secret=b"),
        )
        .unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn no_credentials_is_invalid_client() {
        assert_eq!(
            ClientCredentials::extract(None, &params(""))
                .unwrap_err()
                .code,
            ErrorCode::InvalidClient
        );
    }

    #[test]
    fn malformed_basic_is_invalid_client() {
        let error = ClientCredentials::extract(Some("Basic !!!"), &params("")).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidClient);
    }

    #[test]
    fn an_assertion_needs_the_jwt_bearer_type() {
        let error = ClientCredentials::extract(
            None,
            &params("client_assertion=x&client_assertion_type=other"),
        )
        .unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let creds = ClientCredentials::Post {
            client_id: "c".into(),
            secret: "hunter2".into(),
        };
        assert!(!format!("{creds:?}").contains("hunter2"));
    }

    /// Collects what a `fmt` subscriber writes, to look at the log lines a call produced.
    #[derive(Clone, Default)]
    struct CapturedLog(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for CapturedLog {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_unknown_client_id_is_logged_as_a_hash_never_as_presented() {
        use crate::clock::ManualClock;
        use crate::options::IdentityServerOptions;
        use crate::services::IdentityServer;
        use crate::store::{MemoryStore, Stores};

        let log = CapturedLog::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let server = IdentityServer::new(
            IdentityServerOptions::new("https://idp.test").unwrap(),
            Stores::from_backend(Arc::new(MemoryStore::default())),
            Arc::new(ManualClock::starting_now()),
        );

        // A caller who swapped the fields: the "id" is really a secret.
        let swapped = ClientCredentials::Post {
            client_id: "s3cret-value-swapped-in".into(),
            secret: "m2m".into(),
        };
        let error = server
            .client_auth
            .authenticate_client(&swapped, "/connect/token")
            .await
            .unwrap_err();

        assert_eq!(error.code, ErrorCode::InvalidClient);
        let lines = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        assert!(lines.contains("unknown client"), "{lines}");
        assert!(
            lines.contains(&log_fingerprint("s3cret-value-swapped-in")),
            "{lines}"
        );
        assert!(!lines.contains("s3cret-value-swapped-in"), "{lines}");
    }
}
