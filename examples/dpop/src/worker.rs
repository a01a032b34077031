//! The worker: a confidential client that gets client-credentials tokens bound to its DPoP key
//! and calls the API with them. `oxidp-client` does the DPoP part: a proof on every token
//! request, one on every API call (with `ath`, the token's hash), and one retry whenever the
//! server or the API asks for a nonce.

use anyhow::Context as _;
use oxidp_client::{ClientCredentialsManager, DpopKey, OAuthClient, Token};
use serde_json::Value;

/// A connected worker.
#[derive(Debug, Clone)]
pub struct Worker {
    client: OAuthClient,
    tokens: ClientCredentialsManager,
    http: reqwest::Client,
    api_url: String,
}

impl Worker {
    /// Discovers `issuer`'s endpoints and prepares the worker with a fresh ES256 key. (A real
    /// worker may keep its key across restarts; its tokens live minutes, so a new key per
    /// process costs only a token request.)
    pub async fn connect(issuer: &str, api_url: &str) -> anyhow::Result<Self> {
        let client = OAuthClient::builder(crate::WORKER_CLIENT_ID, crate::WORKER_SECRET)
            .dpop(DpopKey::generate()?)
            .discover(issuer)
            .await
            .with_context(|| format!("cannot discover {issuer}"))?;
        let tokens = ClientCredentialsManager::builder(client.clone())
            .scope(crate::API_SCOPE)
            .build();
        Ok(Self {
            client,
            tokens,
            http: reqwest::Client::new(),
            api_url: api_url.trim_end_matches('/').to_owned(),
        })
    }

    /// The thumbprint of the worker's key, which its tokens' `cnf.jkt` carries.
    pub fn thumbprint(&self) -> &str {
        self.client
            .dpop_key()
            .map(DpopKey::thumbprint)
            .unwrap_or_default()
    }

    /// The current token (cached until shortly before it expires).
    pub async fn token(&self) -> anyhow::Result<Token> {
        Ok(self.tokens.get_token().await?)
    }

    /// `GET /orders` at the API, with the token and a proof; the API's JSON answer.
    pub async fn list_orders(&self) -> anyhow::Result<Value> {
        let token = self.token().await?;
        let request = self.http.get(format!("{}/orders", self.api_url));
        let response = self.client.send_with_token(request, &token).await?;
        let status = response.status();
        if !status.is_success() {
            let challenge = response
                .headers()
                .get("www-authenticate")
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            anyhow::bail!("the API answered {status}: {challenge}");
        }
        Ok(response.json().await?)
    }
}
