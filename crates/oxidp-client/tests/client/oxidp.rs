//! The real oxidp server on 127.0.0.1:0 (SQLite in a temporary directory), and a cookie-jar
//! browser that signs a user in through its login page, as `oxidp-server`'s own tests do.
//! No issuer is configured, so the server's issuer is its bound address and discovery works.

use oxidp_jose::{b64url_encode, random_bytes, sha256};
use oxidp_testing::TestServer;
use serde_json::Value;
use std::collections::HashMap;

pub const CALLBACK: &str = "https://app.test/callback";

pub struct Oxidp {
    pub issuer: String,
    server: TestServer,
}

fn config() -> String {
    format!(
        r#"
[password_hashing]
memory_kib = 1024
iterations = 1

[[api_resources]]
name = "orders-api"
scopes = ["orders.read", "orders.write"]
secrets = [{{ value = "orders-api-secret" }}]

[[users]]
username = "alice"
password = "alice-password"
claims = {{ name = "Alice Smith" }}

[[clients]]
client_id = "m2m"
secrets = [{{ value = "m2m-secret" }}]
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read", "orders.write"]
access_token_lifetime = "10m"

[[clients]]
client_id = "web"
secrets = [{{ value = "web-secret" }}]
allowed_grant_types = ["authorization_code"]
allowed_scopes = ["openid", "profile", "orders.read"]
allow_offline_access = true
redirect_uris = ["{CALLBACK}"]
access_token_lifetime = "5m"

[[clients]]
client_id = "m2m-dpop-nonce"
secrets = [{{ value = "m2m-dpop-nonce-secret" }}]
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]
require_dpop = true
require_dpop_nonce = true

[[clients]]
client_id = "native"
require_client_secret = false
allowed_grant_types = ["authorization_code"]
allowed_scopes = ["openid", "orders.read"]
allow_offline_access = true
redirect_uris = ["{CALLBACK}"]
require_dpop = true
require_dpop_nonce = true
access_token_lifetime = "5m"

[[clients]]
client_id = "web-reference"
secrets = [{{ value = "web-reference-secret" }}]
allowed_grant_types = ["authorization_code"]
allowed_scopes = ["openid", "orders.read"]
allow_offline_access = true
access_token_type = "reference"
redirect_uris = ["{CALLBACK}"]
"#
    )
}

impl Oxidp {
    pub async fn start() -> Self {
        let server = TestServer::start(&config()).await;
        Self {
            issuer: server.issuer.clone(),
            server,
        }
    }

    /// Signs alice in with `client_id` and returns (code, PKCE verifier) from the callback.
    pub async fn sign_in(&self, client_id: &str, scope: &str) -> (String, String) {
        self.sign_in_with(client_id, scope, &[]).await
    }

    /// [`sign_in`](Self::sign_in) with more authorization request parameters (`dpop_jkt`).
    pub async fn sign_in_with(
        &self,
        client_id: &str,
        scope: &str,
        extra: &[(&str, &str)],
    ) -> (String, String) {
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let verifier = b64url_encode(random_bytes::<32>());
        let challenge = b64url_encode(sha256(&verifier));
        let authorize = reqwest::Url::parse_with_params(
            &format!("{}/connect/authorize", self.issuer),
            [
                ("client_id", client_id),
                ("redirect_uri", CALLBACK),
                ("response_type", "code"),
                ("scope", scope),
                ("state", "st"),
                ("nonce", "n"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ]
            .into_iter()
            .chain(extra.iter().copied()),
        )
        .unwrap();
        let login = location(&browser.get(authorize).send().await.unwrap());
        let page = browser.get(self.url(&login)).send().await.unwrap();
        let html = page.text().await.unwrap();
        let form = [
            ("username", "alice".to_owned()),
            ("password", "alice-password".to_owned()),
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
            if next.starts_with(CALLBACK) {
                let query: HashMap<String, String> = reqwest::Url::parse(&next)
                    .unwrap()
                    .query_pairs()
                    .into_owned()
                    .collect();
                return (query["code"].clone(), verifier);
            }
            response = browser.get(self.url(&next)).send().await.unwrap();
        }
        panic!("never reached the callback");
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.issuer)
        }
    }

    /// A direct refresh_token grant, outside the manager.
    pub async fn refresh(&self, client: (&str, &str), refresh_token: &str) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(self.url("/connect/token"))
            .basic_auth(client.0, Some(client.1))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ])
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// Introspects a token as the orders API.
    pub async fn introspect(&self, token: &str) -> Value {
        self.server
            .introspect(("orders-api", "orders-api-secret"), token)
            .await
    }
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location in {}", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The value of `<input name="NAME" value="...">`, HTML-unescaped.
fn field(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\"")).unwrap();
    let tag_start = html[..at].rfind('<').unwrap();
    let tag_end = at + html[at..].find('>').unwrap();
    let tag = &html[tag_start..tag_end];
    let value_at = tag.find("value=\"").unwrap() + "value=\"".len();
    let value = &tag[value_at..value_at + tag[value_at..].find('"').unwrap()];
    value
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
