//! Calling an API with a token: the `Authorization` header in the token's scheme and, for a
//! DPoP-bound token, a proof with `ath` (RFC 9449 §7), retried once when the API asks for a
//! nonce (RFC 9449 §9).

use crate::client::OAuthClient;
use crate::dpop::{DPOP, resource_wants_nonce};
use crate::error::Error;
use crate::token::Token;
use reqwest::header::AUTHORIZATION;

impl OAuthClient {
    /// Sends `request` (built with any `reqwest::Client`) with `token`: `Authorization: Bearer`
    /// for a bearer token; for a DPoP token (`token_type` `DPoP`), `Authorization: DPoP` and a
    /// `DPoP` proof for the request's method and URL with `ath` and the API's latest nonce. An
    /// API that answers `401` with a `DPoP error="use_dpop_nonce"` challenge and a `DPoP-Nonce`
    /// gets exactly one retry with that nonce (when the body can be sent again); the nonce is
    /// kept for the API's origin, as is any nonce a successful response brings.
    ///
    /// The response is returned whatever its status: what a `403` or a `404` means is the
    /// app's to decide. Errors are only those of sending ([`Error::Transport`]) or of a DPoP
    /// token without a DPoP key ([`Error::Configuration`]).
    ///
    /// ```
    /// use oxidp_client::{AccessToken, OAuthClient, Token};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = oxidp_client::testing::FakeAuthorizationServer::start().await;
    /// # let api = server.echo_url();
    /// # let client = server.client_builder().dpop(oxidp_client::DpopKey::generate()?).build()?;
    /// // `client` uses DPoP; `api` answers with the headers it received.
    /// let token = Token::new(AccessToken::new("at-1"), "DPoP", time::OffsetDateTime::now_utc());
    /// let http = reqwest::Client::new();
    /// let response = client.send_with_token(http.get(format!("{api}?page=2")), &token).await?;
    /// let seen: serde_json::Value = response.json().await?;
    /// assert_eq!(seen["authorization"], "DPoP at-1");
    /// assert!(seen["dpop"].as_str().is_some_and(|proof| proof.split('.').count() == 3));
    /// # Ok(()) }
    /// ```
    pub async fn send_with_token(
        &self,
        request: reqwest::RequestBuilder,
        token: &Token,
    ) -> Result<reqwest::Response, Error> {
        let (http, request) = request.build_split();
        let mut request = request.map_err(|e| Error::Configuration(format!("{e}")))?;
        let dpop = token.token_type.eq_ignore_ascii_case("dpop");
        let key = match (&self.inner.dpop, dpop) {
            (Some(key), true) => Some(key),
            (None, true) => {
                return Err(Error::Configuration(
                    "a DPoP token needs a client with a DPoP key".into(),
                ));
            }
            (_, false) => None,
        };
        let authorization = token
            .authorization_header()
            .map_err(|_| Error::Configuration("the token does not fit a header".into()))?;
        request.headers_mut().insert(AUTHORIZATION, authorization);
        let Some(key) = key else {
            return self.execute(&http, request).await;
        };
        let sign = |request: &mut reqwest::Request| -> Result<(), Error> {
            let mut url = request.url().clone();
            url.set_query(None);
            url.set_fragment(None);
            let nonce = self.inner.nonces.get(&url);
            let proof = key.proof_header(
                request.method().as_str(),
                &url,
                nonce.as_deref(),
                Some(token.access_token.secret()),
            )?;
            request.headers_mut().insert(DPOP, proof);
            Ok(())
        };
        sign(&mut request)?;
        let retry = request.try_clone();
        let response = self.execute(&http, request).await?;
        let new_nonce = self
            .inner
            .nonces
            .remember(response.url(), response.headers());
        let wants_nonce = response.status() == reqwest::StatusCode::UNAUTHORIZED
            && new_nonce
            && resource_wants_nonce(response.headers());
        match retry {
            Some(mut retry) if wants_nonce => {
                tracing::debug!(client_id = %self.inner.client_id, "retrying the API call with its DPoP nonce");
                sign(&mut retry)?;
                let response = self.execute(&http, retry).await?;
                self.inner
                    .nonces
                    .remember(response.url(), response.headers());
                Ok(response)
            }
            _ => Ok(response),
        }
    }

    async fn execute(
        &self,
        http: &reqwest::Client,
        request: reqwest::Request,
    ) -> Result<reqwest::Response, Error> {
        let mut endpoint = request.url().clone();
        endpoint.set_query(None);
        http.execute(request)
            .await
            .map_err(|e| crate::http::transport(endpoint.as_str(), e))
    }
}
