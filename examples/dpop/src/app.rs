//! The interactive app: a public client (no secret) that signs a user in with the code flow
//! and PKCE, binds the authorization code to its DPoP key (`dpop_jkt`, RFC 9449 §10), redeems
//! it with a proof of that key, and so gets a refresh token bound to the key: whoever steals the
//! refresh token without the key cannot use it (RFC 9449 §5).

use anyhow::Context as _;
use oxidp_client::{DpopKey, OAuthClient, RefreshTokenManager, Token, TokenSet};
use oxidp_jose::{b64url_encode, random_bytes, sha256};
use serde_json::Value;
use url::Url;

/// The key the app's one signed-in user is stored under in the token manager.
const SESSION: &str = "user";

/// A started sign-in: the URL to open in a browser, and what the callback is checked against.
#[derive(Debug, Clone)]
pub struct Authorization {
    /// The authorization request (with `code_challenge` and `dpop_jkt`).
    pub url: Url,
    state: String,
    verifier: String,
}

/// The interactive app.
#[derive(Debug, Clone)]
pub struct InteractiveApp {
    client: OAuthClient,
    sessions: RefreshTokenManager,
    authorization_endpoint: Url,
    redirect_uri: String,
    api_url: String,
    http: reqwest::Client,
}

impl InteractiveApp {
    /// Discovers `issuer` and prepares the app with a fresh ES256 key; the server sends the
    /// browser back to `redirect_uri`.
    pub async fn connect(issuer: &str, api_url: &str, redirect_uri: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::new();
        let discovery: Value = http
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let authorization_endpoint = discovery["authorization_endpoint"]
            .as_str()
            .context("the discovery document has no authorization_endpoint")?
            .parse()?;
        let client = OAuthClient::public(crate::APP_CLIENT_ID)
            .dpop(DpopKey::generate()?)
            .discover(issuer)
            .await?;
        Ok(Self {
            sessions: RefreshTokenManager::new(client.clone()),
            client,
            authorization_endpoint,
            redirect_uri: redirect_uri.to_owned(),
            api_url: api_url.trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// The app's DPoP key.
    pub fn key(&self) -> &DpopKey {
        self.client
            .dpop_key()
            .unwrap_or_else(|| unreachable!("built with a key"))
    }

    /// A new sign-in: PKCE S256, a random `state`, and `dpop_jkt` naming the app's key.
    pub fn authorization(&self) -> Authorization {
        let verifier = b64url_encode(random_bytes::<32>());
        let state = b64url_encode(random_bytes::<16>());
        let mut url = self.authorization_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("client_id", crate::APP_CLIENT_ID)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("response_type", "code")
            .append_pair(
                "scope",
                &format!("openid {} offline_access", crate::API_SCOPE),
            )
            .append_pair("state", &state)
            .append_pair("code_challenge", &b64url_encode(sha256(&verifier)))
            .append_pair("code_challenge_method", "S256")
            .append_pair("dpop_jkt", self.key().thumbprint());
        Authorization {
            url,
            state,
            verifier,
        }
    }

    /// Completes `authorization` with the URL the browser came back to: checks `state`, and
    /// redeems the code (with the PKCE verifier and a DPoP proof).
    pub async fn complete(
        &self,
        authorization: &Authorization,
        callback: &Url,
    ) -> anyhow::Result<TokenSet> {
        let param = |name: &str| {
            callback
                .query_pairs()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
        };
        if let Some(error) = param("error") {
            anyhow::bail!("the sign-in failed: {error}");
        }
        if param("state").as_deref() != Some(authorization.state.as_str()) {
            anyhow::bail!("the callback's state is not the one sent");
        }
        let code = param("code").context("the callback has no code")?;
        let tokens = self
            .sessions
            .exchange_code(
                SESSION,
                &code,
                &self.redirect_uri,
                Some(&authorization.verifier),
            )
            .await?;
        Ok(tokens)
    }

    /// The signed-in user's tokens.
    pub async fn tokens(&self) -> anyhow::Result<TokenSet> {
        self.sessions
            .tokens(SESSION)
            .await?
            .context("nobody is signed in")
    }

    /// Renews the access token with the (key-bound) refresh token now.
    pub async fn refresh(&self) -> anyhow::Result<Token> {
        Ok(self.sessions.refresh_now(SESSION).await?)
    }

    /// `GET /orders` at the API on the user's behalf.
    pub async fn list_orders(&self) -> anyhow::Result<Value> {
        let token = self.sessions.access_token(SESSION).await?;
        let request = self.http.get(format!("{}/orders", self.api_url));
        let response = self.client.send_with_token(request, &token).await?;
        let status = response.status();
        if !status.is_success() {
            anyhow::bail!("the API answered {status}");
        }
        Ok(response.json().await?)
    }
}
