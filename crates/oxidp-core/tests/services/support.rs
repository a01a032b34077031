//! An [`IdentityServer`] over one [`MemoryStore`] and a [`ManualClock`], a user, clients, and
//! the steps of the authorization-code flow as the server's handlers take them.

use oxidp_core::clock::ManualClock;
use oxidp_core::error::OAuthError;
use oxidp_core::model::{AccessTokenType, Client, GrantType, PersistedGrant, User};
use oxidp_core::model::{AuthenticationTicket, PersistedGrantFilter};
use oxidp_core::options::IdentityServerOptions;
use oxidp_core::params::Parameters;
use oxidp_core::services::{IdentityServer, TokenResponse};
use oxidp_core::store::{ClientStore, GrantStore, MemoryStore, Stores, UserStore};
use std::sync::Arc;

pub const SUBJECT: &str = "alice-sub";
pub const REDIRECT_URI: &str = "https://rp.example/callback";
/// The RFC 7636 appendix B pair.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The server and what the tests look behind it at.
pub struct Fixture {
    pub server: IdentityServer,
    pub store: Arc<MemoryStore>,
    pub clock: Arc<ManualClock>,
}

/// A server with self-contained (cookie) sessions.
pub async fn fixture() -> Fixture {
    let store = Arc::new(MemoryStore::default());
    build(false, store.clone(), store).await
}

/// A server keeping sessions in the store, which session management needs.
pub async fn server_side_fixture() -> Fixture {
    let store = Arc::new(MemoryStore::default());
    build(true, store.clone(), store).await
}

/// A server with self-contained sessions whose grants go through `grants` (a wrapper of
/// `store`, to observe or disturb them); everything else is `store`.
pub async fn fixture_with_grants(store: Arc<MemoryStore>, grants: Arc<dyn GrantStore>) -> Fixture {
    build(false, store, grants).await
}

async fn build(server_side: bool, store: Arc<MemoryStore>, grants: Arc<dyn GrantStore>) -> Fixture {
    let clock = Arc::new(ManualClock::starting_now());
    let mut options = IdentityServerOptions::new("https://idp.example").unwrap();
    // The tests change clients in the store directly: read them through, uncached.
    options.store_cache_duration = std::time::Duration::ZERO;
    options.user_cache_duration = std::time::Duration::ZERO;
    let mut stores = Stores::from_backend(store.clone());
    stores.grants = grants;
    let mut builder = IdentityServer::builder(options, stores, clock.clone());
    if server_side {
        builder = builder.server_side_sessions(None);
    }
    let server = builder.build();
    store
        .create_user(&User {
            subject_id: SUBJECT.into(),
            username: "alice".into(),
            password_hash: None,
            claims: Default::default(),
            enabled: true,
            roles: Vec::new(),
            created: time::OffsetDateTime::now_utc(),
        })
        .await
        .unwrap();
    Fixture {
        server,
        store,
        clock,
    }
}

/// A confidential code-flow client with refresh tokens, stored under `client_id`.
pub fn client(client_id: &str) -> Client {
    let mut client = Client::new(client_id);
    client.allowed_grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
    client.allowed_scopes = vec!["openid".into(), "offline_access".into()];
    client.redirect_uris = vec![REDIRECT_URI.into()];
    client.allow_offline_access = true;
    client.access_token_type = AccessTokenType::Reference;
    client
}

fn params(pairs: &[(&str, &str)]) -> Parameters {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        form.append_pair(name, value);
    }
    Parameters::from_form(form.finish().as_bytes()).unwrap()
}

/// A signed-in browser: its cookie value and ticket.
pub struct Browser {
    pub cookie: String,
    pub ticket: AuthenticationTicket,
}

impl Fixture {
    /// Stores `client`.
    pub async fn add_client(&self, client: &Client) {
        self.store.upsert_client(client).await.unwrap();
    }

    /// Signs the user in, as the login page does.
    pub async fn sign_in(&self) -> Browser {
        let user = self
            .store
            .find_user_by_subject(SUBJECT)
            .await
            .unwrap()
            .unwrap();
        let (ticket, cookie) = self
            .server
            .sessions
            .sign_in(&user, &["pwd"], "local", None)
            .await
            .unwrap();
        Browser { cookie, ticket }
    }

    /// Walks the code flow for `client` in `browser`'s session and redeems the code, as the
    /// authorize and token endpoints do.
    pub async fn code_flow(&self, browser: &mut Browser, client: &Client) -> TokenResponse {
        let request = self
            .server
            .authorize
            .validate(&params(&[
                ("client_id", &client.client_id),
                ("redirect_uri", REDIRECT_URI),
                ("response_type", "code"),
                ("scope", "openid offline_access"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ]))
            .await
            .map_err(|e| format!("{e:?}"))
            .unwrap();
        if let Some(cookie) = self
            .server
            .sessions
            .add_client(&browser.cookie, &mut browser.ticket, &client.client_id)
            .await
            .unwrap()
        {
            browser.cookie = cookie;
        }
        let response = self
            .server
            .authorize
            .issue_code(&request, &browser.ticket, request.scopes.scopes.clone())
            .await
            .unwrap();
        let code = response
            .parameters
            .iter()
            .find(|(name, _)| name == "code")
            .map(|(_, value)| value.clone())
            .unwrap();
        self.server
            .tokens
            .handle(
                client,
                &params(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT_URI),
                    ("code_verifier", VERIFIER),
                ]),
            )
            .await
            .unwrap()
    }

    /// Presents a refresh token.
    pub async fn refresh(&self, client: &Client, token: &str) -> Result<TokenResponse, OAuthError> {
        self.server
            .tokens
            .handle(
                client,
                &params(&[("grant_type", "refresh_token"), ("refresh_token", token)]),
            )
            .await
    }

    /// Revokes a token (RFC 7009) as `client`, with an optional `token_type_hint`.
    pub async fn revoke(
        &self,
        client: &Client,
        token: &str,
        hint: Option<&str>,
    ) -> Result<(), OAuthError> {
        let mut pairs = vec![("token", token)];
        if let Some(hint) = hint {
            pairs.push(("token_type_hint", hint));
        }
        self.server.revocation.revoke(client, &params(&pairs)).await
    }

    /// Whether an access token (JWT or reference) is accepted now.
    pub async fn access_token_valid(&self, token: &str) -> bool {
        self.server
            .validate_access_token(token)
            .await
            .unwrap()
            .is_some()
    }

    /// The live (unconsumed) grants of one kind.
    pub async fn grants(&self, grant_type: &str) -> Vec<PersistedGrant> {
        self.store
            .get_grants(&PersistedGrantFilter {
                grant_type: Some(grant_type.into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_iter()
            .filter(|g| g.consumed.is_none())
            .collect()
    }
}
