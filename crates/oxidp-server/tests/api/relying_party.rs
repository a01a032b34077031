//! An independent relying party: the `openidconnect` crate drives discovery, the code flow with
//! PKCE, ID token validation, refresh, UserInfo and RP-initiated logout against the real server.

use crate::browser::*;
use crate::helpers::*;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreGenderClaim, CoreIdToken,
    CoreIdTokenClaims, CoreProviderMetadata, CoreTokenResponse,
};
use openidconnect::{
    AccessTokenHash, AsyncHttpClient, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EmptyAdditionalClaims, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpClientError,
    HttpRequest, HttpResponse, IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl,
    RequestTokenError, Scope, TokenResponse,
};
use std::future::Future;
use std::pin::Pin;

/// The relying party's HTTP client: the workspace `reqwest`, with the advertised issuer host
/// (`http://idp.test`) mapped onto the address the test server listens on.
struct RpHttp {
    client: reqwest::Client,
    address: String,
}

type RpHttpError = HttpClientError<reqwest::Error>;

impl RpHttp {
    fn new(app: &TestApp) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            client,
            address: app.address.clone(),
        }
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, RpHttpError> {
        let mut request = reqwest::Request::try_from(request).map_err(Box::new)?;
        let rewritten = rewrite(request.url().as_str(), &self.address);
        *request.url_mut() = rewritten
            .parse()
            .map_err(|e| HttpClientError::Other(format!("{rewritten}: {e}")))?;
        let response = self.client.execute(request).await.map_err(Box::new)?;
        let mut builder = openidconnect::http::Response::builder()
            .status(response.status())
            .version(response.version());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let body = response.bytes().await.map_err(Box::new)?.to_vec();
        builder.body(body).map_err(HttpClientError::Http)
    }
}

impl<'c> AsyncHttpClient<'c> for RpHttp {
    type Error = RpHttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, RpHttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// `http://idp.test/...` → `http://127.0.0.1:PORT/...`; other URLs unchanged.
fn rewrite(url: &str, address: &str) -> String {
    match url.strip_prefix(ISSUER) {
        Some(rest) => format!("{address}{rest}"),
        None => url.to_owned(),
    }
}

type RpClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

fn issuer() -> IssuerUrl {
    IssuerUrl::new(ISSUER.to_owned()).unwrap()
}

async fn discover(http: &RpHttp) -> ProviderMetadataWithLogout {
    ProviderMetadataWithLogout::discover_async(issuer(), http)
        .await
        .unwrap_or_else(|e| panic!("discovery: {e:?}"))
}

fn web_client(metadata: &ProviderMetadataWithLogout) -> RpClient {
    CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new("web".to_owned()),
        Some(ClientSecret::new("web-secret".to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(WEB_REDIRECT.to_owned()).unwrap())
}

/// Alice, signed in through the `web` client by the relying party.
struct SignedIn {
    http: RpHttp,
    metadata: ProviderMetadataWithLogout,
    client: RpClient,
    browser: Browser,
    nonce: Nonce,
    tokens: CoreTokenResponse,
}

impl SignedIn {
    fn id_token(&self) -> &CoreIdToken {
        self.tokens.id_token().expect("an ID token")
    }

    fn claims(&self) -> &CoreIdTokenClaims {
        self.id_token()
            .claims(&self.client.id_token_verifier(), &self.nonce)
            .unwrap_or_else(|e| panic!("ID token: {e:?}"))
    }
}

async fn sign_in(app: &TestApp, scopes: &[&str]) -> SignedIn {
    let http = RpHttp::new(app);
    let metadata = discover(&http).await;
    let client = web_client(&metadata);
    let browser = Browser::new(app);

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in scopes {
        request = request.add_scope(Scope::new((*scope).to_owned()));
    }
    let (authorize_url, csrf, nonce) = request.set_pkce_challenge(challenge).url();
    assert!(authorize_url.as_str().starts_with(ISSUER));

    let response = browser
        .get(&rewrite(authorize_url.as_str(), &app.address))
        .await;
    let login = location(&response);
    assert!(login.starts_with("/account/login"), "{login}");
    let posted = browser.sign_in_at(&login, "alice", "alice-password").await;
    let callback = browser.follow_to_client(posted).await;
    assert!(callback.starts_with(WEB_REDIRECT), "{callback}");
    let params = query(&callback);
    assert_eq!(params.get("state"), Some(csrf.secret()), "{callback}");
    assert_eq!(
        params.get("iss").map(String::as_str),
        Some(ISSUER),
        "RFC 9207 iss"
    );

    let tokens = client
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("code exchange: {e:?}"));
    SignedIn {
        http,
        metadata,
        client,
        browser,
        nonce,
        tokens,
    }
}

#[tokio::test]
async fn openidconnect_discovers_the_provider_and_its_keys() {
    let app = TestApp::spawn().await;
    let http = RpHttp::new(&app);

    let metadata = CoreProviderMetadata::discover_async(issuer(), &http)
        .await
        .unwrap_or_else(|e| panic!("discovery: {e:?}"));
    assert_eq!(metadata.issuer(), &issuer());
    assert!(!metadata.jwks().keys().is_empty(), "the JWKS is fetched");
    assert!(metadata.token_endpoint().is_some());
    assert!(metadata.userinfo_endpoint().is_some());
    assert!(
        !metadata.id_token_signing_alg_values_supported().is_empty(),
        "required by Discovery §3"
    );

    let with_logout = discover(&http).await;
    let end_session = with_logout
        .additional_metadata()
        .end_session_endpoint
        .as_ref()
        .expect("end_session_endpoint is advertised");
    assert!(end_session.url().as_str().starts_with(ISSUER));
}

#[tokio::test]
async fn openidconnect_completes_the_code_flow_with_pkce_and_validates_the_id_token() {
    let app = TestApp::spawn().await;
    let session = sign_in(&app, &["profile", "email", "orders.read"]).await;

    // Signature against the JWKS, iss, aud, exp, iat and nonce.
    let claims = session.claims();
    assert_eq!(claims.issuer(), &issuer());
    assert!(claims.audiences().iter().any(|aud| aud.as_str() == "web"));
    assert!(!claims.subject().as_str().is_empty());
    assert!(claims.auth_time().is_some(), "auth_time");
    assert!(claims.expiration() > claims.issue_time());

    // at_hash binds the access token to the ID token.
    let verifier = session.client.id_token_verifier();
    let id_token = session.id_token();
    let expected = claims.access_token_hash().expect("at_hash claim");
    let actual = AccessTokenHash::from_token(
        session.tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(&actual, expected);

    // A nonce other than the one sent is refused.
    let wrong = Nonce::new("not-the-nonce".to_owned());
    assert!(id_token.claims(&verifier, &wrong).is_err());

    assert!(
        session.tokens.refresh_token().is_none(),
        "no offline_access"
    );
    let granted = session.tokens.scopes().expect("scope in the response");
    assert!(granted.iter().any(|s| s.as_str() == "orders.read"));
}

#[tokio::test]
async fn openidconnect_refreshes_with_rotation() {
    let app = TestApp::spawn().await;
    let session = sign_in(&app, &["profile", "offline_access"]).await;
    let original = session.claims().clone();
    let first = session
        .tokens
        .refresh_token()
        .expect("a refresh token with offline_access");

    let refreshed: CoreTokenResponse = session
        .client
        .exchange_refresh_token(first)
        .unwrap()
        .request_async(&session.http)
        .await
        .unwrap_or_else(|e| panic!("refresh: {e:?}"));
    assert_ne!(
        refreshed.access_token().secret(),
        session.tokens.access_token().secret()
    );
    let second = refreshed.refresh_token().expect("a rotated refresh token");
    assert_ne!(second.secret(), first.secret(), "rotated");

    // This server re-issues an ID token on refresh (OIDC Core §12.2 allows either). It keeps
    // iss, sub, aud and the auth_time of the original authentication; a nonce, if present, must
    // be the original one.
    let id_token = refreshed.id_token().expect("an ID token on refresh");
    let verifier = session.client.id_token_verifier();
    let expected_nonce = session.nonce.secret().clone();
    let claims = id_token
        .claims(&verifier, |nonce: Option<&Nonce>| match nonce {
            Some(n) if n.secret() != &expected_nonce => Err("nonce changed".to_owned()),
            _ => Ok(()),
        })
        .unwrap_or_else(|e| panic!("refreshed ID token: {e:?}"));
    assert_eq!(claims.issuer(), original.issuer());
    assert_eq!(claims.subject(), original.subject());
    assert_eq!(claims.audiences(), original.audiences());
    assert_eq!(claims.auth_time(), original.auth_time());
    if let Some(expected) = claims.access_token_hash() {
        let actual = AccessTokenHash::from_token(
            refreshed.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(&actual, expected, "at_hash of the new access token");
    }

    // The new refresh token works; the rotated-out one is refused with invalid_grant.
    let again: CoreTokenResponse = session
        .client
        .exchange_refresh_token(second)
        .unwrap()
        .request_async(&session.http)
        .await
        .unwrap_or_else(|e| panic!("second refresh: {e:?}"));
    assert!(again.refresh_token().is_some());
    let replayed = session
        .client
        .exchange_refresh_token(first)
        .unwrap()
        .request_async(&session.http)
        .await;
    match replayed {
        Err(RequestTokenError::ServerResponse(error)) => {
            assert_eq!(error.error(), &CoreErrorResponseType::InvalidGrant);
        }
        other => panic!("expected invalid_grant, got {other:?}"),
    }
}

#[tokio::test]
async fn openidconnect_reads_userinfo() {
    let app = TestApp::spawn().await;
    let session = sign_in(&app, &["profile", "email"]).await;
    let subject = session.claims().subject().clone();

    let info = session
        .client
        .user_info(session.tokens.access_token().clone(), Some(subject.clone()))
        .unwrap()
        .request_async::<EmptyAdditionalClaims, _, CoreGenderClaim>(&session.http)
        .await
        .unwrap_or_else(|e| panic!("userinfo: {e:?}"));
    assert_eq!(info.subject(), &subject);
    assert_eq!(
        info.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some("Alice Smith")
    );
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));
    assert_eq!(info.email_verified(), Some(true));
}

#[tokio::test]
async fn openidconnect_rp_initiated_logout_ends_the_session() {
    let app = TestApp::spawn().await;
    let session = sign_in(&app, &["profile"]).await;
    let end_session = session
        .metadata
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .expect("end_session_endpoint");

    let state = CsrfToken::new_random();
    let logout_url = LogoutRequest::from(end_session)
        .set_id_token_hint(session.id_token())
        .set_post_logout_redirect_uri(
            PostLogoutRedirectUrl::new("https://app.test/signed-out".to_owned()).unwrap(),
        )
        .set_state(state.clone())
        .http_get_url();
    let response = session
        .browser
        .get(&rewrite(logout_url.as_str(), &app.address))
        .await;
    assert_eq!(response.status(), 303);
    let back = format!(
        "https://app.test/signed-out?{}",
        form_body(&[("state", state.secret())])
    );
    assert_eq!(location(&response), back);

    // Signed out: a silent authorize request reports login_required to the client.
    let (challenge, _verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, csrf, _nonce) = session
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_prompt(openidconnect::core::CoreAuthPrompt::None)
        .set_pkce_challenge(challenge)
        .url();
    let response = session
        .browser
        .get(&rewrite(authorize_url.as_str(), &app.address))
        .await;
    let callback = location(&response);
    assert!(callback.starts_with(WEB_REDIRECT), "{callback}");
    let params = query(&callback);
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("login_required")
    );
    assert_eq!(params.get("state"), Some(csrf.secret()));
}
