//! Talking to the issuer: its discovery document (read once, then kept), its JWKS, and its
//! introspection endpoint. Every failure here is [`ErrorKind::IssuerUnavailable`], logged with
//! the URL and the reason but never a token.

use crate::error::ErrorKind;
use crate::options::{ConfigError, ValidatorOptions};
use serde::Deserialize;
use tokio::sync::OnceCell;

/// The parts of the issuer's metadata the validator uses.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Metadata {
    pub(crate) issuer: String,
    pub(crate) jwks_uri: String,
    #[serde(default)]
    pub(crate) introspection_endpoint: Option<String>,
}

/// An HTTP client bound to one issuer.
#[derive(Debug)]
pub(crate) struct IssuerClient {
    http: reqwest::Client,
    issuer: String,
    metadata_url: String,
    metadata: OnceCell<Metadata>,
}

impl IssuerClient {
    pub(crate) fn new(options: &ValidatorOptions) -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            .timeout(options.http_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .tls_certs_merge(options.extra_root_certificates.iter().cloned())
            .build()
            .map_err(ConfigError::HttpClient)?;
        Ok(Self {
            http,
            issuer: options.issuer.clone(),
            metadata_url: options.metadata_url(),
            metadata: OnceCell::new(),
        })
    }

    /// The discovery document, fetched on first use. Concurrent first uses share one request;
    /// a failure is not kept, so the next caller tries again.
    pub(crate) async fn metadata(&self) -> Result<&Metadata, ErrorKind> {
        self.metadata
            .get_or_try_init(|| async {
                let metadata: Metadata = self.get_json(&self.metadata_url).await?;
                if metadata.issuer != self.issuer {
                    tracing::error!(
                        expected = %self.issuer,
                        found = %metadata.issuer,
                        "the discovery document names another issuer"
                    );
                    return Err(ErrorKind::IssuerUnavailable);
                }
                Ok(metadata)
            })
            .await
    }

    /// The issuer's JWK set, as JSON.
    pub(crate) async fn fetch_jwks(&self) -> Result<serde_json::Value, ErrorKind> {
        let jwks_uri = self.metadata().await?.jwks_uri.clone();
        let jwks: serde_json::Value = self.get_json(&jwks_uri).await?;
        if !jwks.get("keys").is_some_and(serde_json::Value::is_array) {
            tracing::error!(url = %jwks_uri, "the JWKS has no `keys` array");
            return Err(ErrorKind::IssuerUnavailable);
        }
        Ok(jwks)
    }

    /// POSTs `form` to `url` with HTTP Basic credentials (RFC 6749 §2.3.1: both parts
    /// form-urlencoded first) and reads a JSON object back.
    pub(crate) async fn post_form(
        &self,
        url: &str,
        client_id: &str,
        secret: &str,
        form: &[(&str, &str)],
    ) -> Result<serde_json::Map<String, serde_json::Value>, ErrorKind> {
        let response = self
            .http
            .post(url)
            .header(
                http::header::AUTHORIZATION,
                basic_authorization(client_id, secret),
            )
            .header(http::header::ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .map_err(|error| unavailable(url, &error))?;
        if !response.status().is_success() {
            tracing::error!(url, status = %response.status(), "the issuer refused the request");
            return Err(ErrorKind::IssuerUnavailable);
        }
        response
            .json()
            .await
            .map_err(|error| unavailable(url, &error))
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, ErrorKind> {
        let response = self
            .http
            .get(url)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| unavailable(url, &error))?;
        if !response.status().is_success() {
            tracing::warn!(url, status = %response.status(), "the issuer answered with an error");
            return Err(ErrorKind::IssuerUnavailable);
        }
        response
            .json()
            .await
            .map_err(|error| unavailable(url, &error))
    }
}

fn unavailable(url: &str, error: &reqwest::Error) -> ErrorKind {
    tracing::warn!(url, %error, "the issuer could not be reached");
    ErrorKind::IssuerUnavailable
}

fn basic_authorization(client_id: &str, secret: &str) -> String {
    use base64::Engine;
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(client_id), encode(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_encoded_before_base64() {
        // "a b:c:d" → "a+b:c%3Ad"
        assert_eq!(basic_authorization("a b", "c:d"), "Basic YStiOmMlM0Fk");
    }
}
