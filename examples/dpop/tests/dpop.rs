//! The sample end to end against the real oxidp server, started in-process from the sample's
//! own `oxidp.toml` (listener and database moved to a port and a directory of the test's): the
//! API on port 0, the worker, and the interactive app driven through the real login form.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use dpop_sample::app::{Authorization, InteractiveApp};
use dpop_sample::worker::Worker;
use oxidp_client::{DpopKey, Error, OAuthClient, RefreshTokenManager, TokenSet};
use oxidp_testing::TestServer;
use std::collections::HashMap;

const CONFIG: &str = include_str!("../oxidp.toml");

struct TestApp {
    oxidp: TestServer,
    api_url: String,
}

impl TestApp {
    async fn spawn() -> Self {
        let oxidp = TestServer::start(CONFIG).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_url = format!("http://{}", listener.local_addr().unwrap());
        let validator = dpop_sample::api::validator(&oxidp.issuer, &api_url).unwrap();
        tokio::spawn(
            async move { axum::serve(listener, dpop_sample::api::router(validator)).await },
        );
        Self { oxidp, api_url }
    }

    async fn worker(&self) -> Worker {
        Worker::connect(&self.oxidp.issuer, &self.api_url)
            .await
            .unwrap()
    }

    async fn app(&self) -> InteractiveApp {
        InteractiveApp::connect(
            &self.oxidp.issuer,
            &self.api_url,
            dpop_sample::APP_REDIRECT_URI,
        )
        .await
        .unwrap()
    }

    /// Signs alice in through the login form, as a browser would, and returns the URL the
    /// server sent the browser back to.
    async fn sign_in(&self, authorization: &Authorization) -> url::Url {
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let login = location(&browser.get(authorization.url.clone()).send().await.unwrap());
        let html = browser
            .get(self.url(&login))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let form = [
            ("username", "alice".to_owned()),
            ("password", "alice".to_owned()),
            ("return_url", field(&html, "return_url")),
            ("csrf_token", field(&html, "csrf_token")),
        ];
        let mut response = browser
            .post(self.url("/account/login"))
            .form(&form)
            .send()
            .await
            .unwrap();
        for _ in 0..10 {
            let next = location(&response);
            if next.starts_with(dpop_sample::APP_REDIRECT_URI) {
                return url::Url::parse(&next).unwrap();
            }
            response = browser.get(self.url(&next)).send().await.unwrap();
        }
        panic!("never came back to the app");
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.oxidp.address)
        }
    }
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location in a {}", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The value of `<input name="NAME" value="...">`.
fn field(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\"")).unwrap();
    let tag = &html[html[..at].rfind('<').unwrap()..at + html[at..].find('>').unwrap()];
    let start = tag.find("value=\"").unwrap() + "value=\"".len();
    tag[start..start + tag[start..].find('"').unwrap()]
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn the_worker_lists_orders_with_dpop_bound_client_credentials_tokens() {
    let app = TestApp::spawn().await;
    let worker = app.worker().await;
    assert_eq!(worker.token().await.unwrap().token_type, "DPoP");
    for _ in 0..2 {
        let orders = worker.list_orders().await.unwrap();
        assert_eq!(orders["client_id"], dpop_sample::WORKER_CLIENT_ID);
        assert_eq!(orders["jkt"], worker.thumbprint());
        assert_eq!(orders["orders"].as_array().unwrap().len(), 2);
    }
}

#[tokio::test]
async fn a_stolen_worker_token_is_useless_without_the_key() {
    let app = TestApp::spawn().await;
    let worker = app.worker().await;
    let token = worker.token().await.unwrap();
    let http = reqwest::Client::new();
    let orders = format!("{}/orders", app.api_url);

    let as_bearer = http
        .get(&orders)
        .bearer_auth(token.access_token.secret())
        .send()
        .await
        .unwrap();
    assert_eq!(as_bearer.status(), 401);
    let challenge = as_bearer.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );

    let without_proof = http
        .get(&orders)
        .header(
            "authorization",
            format!("DPoP {}", token.access_token.secret()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(without_proof.status(), 401);
    let challenge = without_proof.headers()["www-authenticate"]
        .to_str()
        .unwrap();
    assert!(
        challenge.contains(r#"error="invalid_dpop_proof""#),
        "{challenge}"
    );

    // With a proof of another key (the thief's), through the same library the worker uses.
    let thief = OAuthClient::builder("anyone", "x")
        .token_endpoint(app.url("/connect/token"))
        .dpop(DpopKey::generate().unwrap())
        .build()
        .unwrap();
    let response = thief
        .send_with_token(http.get(&orders), &token)
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn the_interactive_app_signs_in_and_refreshes_with_its_key_bound_refresh_token() {
    let app = TestApp::spawn().await;
    let client = app.app().await;
    let authorization = client.authorization();
    let query: HashMap<_, _> = authorization.url.query_pairs().into_owned().collect();
    assert_eq!(query["dpop_jkt"], client.key().thumbprint());

    let callback = app.sign_in(&authorization).await;
    let tokens = client.complete(&authorization, &callback).await.unwrap();
    assert_eq!(tokens.token_type, "DPoP");
    assert!(tokens.refresh_token.is_some());

    let orders = client.list_orders().await.unwrap();
    assert_eq!(orders["jkt"], client.key().thumbprint());
    assert_eq!(orders["client_id"], dpop_sample::APP_CLIENT_ID);

    let refreshed = client.refresh().await.unwrap();
    assert_ne!(refreshed.access_token, tokens.access_token);
    assert_eq!(refreshed.token_type, "DPoP");
    assert_eq!(
        client.list_orders().await.unwrap()["jkt"],
        client.key().thumbprint()
    );

    // The refresh token, stolen, with the thief's own key: refused.
    let stolen: TokenSet = client.tokens().await.unwrap();
    let thief = RefreshTokenManager::new(
        OAuthClient::public(dpop_sample::APP_CLIENT_ID)
            .dpop(DpopKey::generate().unwrap())
            .discover(&app.oxidp.issuer)
            .await
            .unwrap(),
    );
    thief.store_tokens("stolen", stolen.clone()).await.unwrap();
    let error = thief.refresh_now("stolen").await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::ReauthenticationRequired { .. } | Error::OAuth(_)
        ),
        "{error:?}"
    );

    // ...and with no key at all.
    let (status, body) = refresh_without_proof(&app, stolen.refresh_token.unwrap().secret()).await;
    assert_eq!(status, 400, "{body}");
}

async fn refresh_without_proof(app: &TestApp, refresh_token: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(app.url("/connect/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", dpop_sample::APP_CLIENT_ID),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_sign_in_callback_with_another_state_is_refused() {
    let app = TestApp::spawn().await;
    let client = app.app().await;
    let authorization = client.authorization();
    let forged = url::Url::parse(&format!(
        "{}?code=abc&state=not-ours",
        dpop_sample::APP_REDIRECT_URI
    ))
    .unwrap();
    assert!(client.complete(&authorization, &forged).await.is_err());
}
