//! The sample end to end: the real oxidp server in-process, a client-credentials token from
//! its `m2m` client, and the function called through its local HTTP wrapper.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use oxidp_api_auth::{Validator, ValidatorOptions};
use oxidp_testing::TestServer;

const OXIDP_CONFIG: &str = r#"
[[api_resources]]
name = "orders-api"
scopes = ["orders.read", "orders.write"]

[[clients]]
client_id = "m2m"
secrets = [{ value = "m2m-secret" }]
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read", "orders.write"]
"#;

struct TestApp {
    issuer: String,
    function: String,
    http: reqwest::Client,
    oxidp: TestServer,
}

impl TestApp {
    async fn spawn() -> Self {
        let oxidp = TestServer::start(OXIDP_CONFIG).await;
        let issuer = oxidp.issuer.clone();

        let validator =
            Validator::new(ValidatorOptions::new(issuer.clone(), "orders-api")).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let function = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, jwt_function::router(validator)).await });
        Self {
            issuer,
            function,
            http: reqwest::Client::new(),
            oxidp,
        }
    }

    async fn client_credentials_token(&self) -> String {
        self.oxidp
            .access_token_for(("m2m", "m2m-secret"), Some("orders.read"))
            .await
    }

    async fn call(&self, token: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}/api/orders", self.function));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }
}

#[tokio::test]
async fn a_client_credentials_caller_gets_its_claims_back() {
    let app = TestApp::spawn().await;
    let token = app.client_credentials_token().await;
    let response = app.call(Some(&token)).await;
    assert_eq!(response.status(), 200);
    let claims: serde_json::Value = response.json().await.unwrap();
    assert_eq!(claims["iss"], app.issuer.as_str());
    assert_eq!(claims["aud"], "orders-api");
    assert_eq!(claims["client_id"], "m2m");
    assert_eq!(claims["scope"], "orders.read");
}

#[tokio::test]
async fn a_caller_without_a_token_gets_401_with_a_challenge() {
    let app = TestApp::spawn().await;
    let response = app.call(None).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="orders-api""#
    );
}

#[tokio::test]
async fn a_caller_with_a_bad_token_gets_401_invalid_token() {
    let app = TestApp::spawn().await;
    let token = app.client_credentials_token().await;
    // Change one signature character: same header, same claims, broken signature.
    let at = token.len() - 10;
    let replacement = if &token[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("{}{replacement}{}", &token[..at], &token[at + 1..]);
    for bad in [forged.as_str(), "not-a-jwt"] {
        let response = app.call(Some(bad)).await;
        assert_eq!(response.status(), 401, "{bad}");
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
    }
}
