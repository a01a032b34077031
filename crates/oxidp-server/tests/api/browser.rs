//! A browser for tests: a cookie jar, no automatic redirects (each hop is inspected), and the
//! form-filling a person would do.

use crate::helpers::*;
use oxidp_jose::{b64url_encode, random_bytes, sha256};
use serde_json::Value;

pub const WEB_REDIRECT: &str = "https://app.test/callback";

pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

/// PKCE verifier and S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = b64url_encode(random_bytes::<32>());
    let challenge = b64url_encode(sha256(&verifier));
    (verifier, challenge)
}

/// The value of a form field in an HTML page (`<input name="NAME" value="...">`).
pub fn field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let at = html.find(&marker)?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let value_at = tag.find("value=\"")? + "value=\"".len();
    let value = &tag[value_at..value_at + tag[value_at..].find('"')?];
    Some(unescape(value))
}

/// Undoes HTML escaping (minijinja escapes `/` too).
pub fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The query parameters of a URL.
pub fn query(url: &str) -> std::collections::HashMap<String, String> {
    let parsed = url::Url::parse(url)
        .unwrap_or_else(|_| url::Url::parse(&format!("http://x{url}")).unwrap());
    parsed.query_pairs().into_owned().collect()
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location in {}", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            http,
            base: app.address.clone(),
        }
    }

    pub fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{}", self.base, path_or_url)
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// GET /connect/authorize with these parameters.
    pub async fn authorize(&self, params: &[(&str, &str)]) -> reqwest::Response {
        self.get(&format!("/connect/authorize?{}", form_body(params)))
            .await
    }

    /// From a redirect to the login page: fill in and submit the form; returns the response to
    /// the POST.
    pub async fn sign_in_at(
        &self,
        login_location: &str,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        let page = self.get(login_location).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let csrf = field(&html, "csrf_token").expect("csrf field");
        let return_url = field(&html, "return_url").expect("return_url field");
        self.post(
            "/account/login",
            &[
                ("username", username),
                ("password", password),
                ("return_url", &return_url),
                ("csrf_token", &csrf),
            ],
        )
        .await
    }

    /// Follows redirects inside the identity server until one leaves it; returns that URL.
    pub async fn follow_to_client(&self, mut response: reqwest::Response) -> String {
        for _ in 0..10 {
            assert!(
                response.status().is_redirection(),
                "expected a redirect, got {}",
                response.status()
            );
            let next = location(&response);
            if next.starts_with("https://app.test") {
                return next;
            }
            response = self.get(&next).await;
        }
        panic!("too many redirects");
    }

    /// The whole browser part of a code flow: authorize, sign in if asked, return the callback URL.
    pub async fn code_flow_callback(
        &self,
        client_id: &str,
        scope: &str,
        challenge: &str,
        user: (&str, &str),
    ) -> String {
        let response = self
            .authorize(&[
                ("client_id", client_id),
                ("redirect_uri", WEB_REDIRECT),
                ("response_type", "code"),
                ("scope", scope),
                ("state", "st-1"),
                ("nonce", "n-1"),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
            ])
            .await;
        let next = location(&response);
        if next.starts_with("/account/login") {
            let posted = self.sign_in_at(&next, user.0, user.1).await;
            return self.follow_to_client(posted).await;
        }
        if next.starts_with("https://app.test") {
            next
        } else {
            self.follow_to_client(self.get(&next).await).await
        }
    }
}

impl TestApp {
    /// Redeems a code at the token endpoint.
    pub async fn redeem(
        &self,
        client: (&str, &str),
        code: &str,
        verifier: &str,
    ) -> reqwest::Response {
        self.post_token(
            Some(client),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", WEB_REDIRECT),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    /// Signs alice in with the `web` client and returns the token response.
    pub async fn web_tokens(&self, scope: &str) -> (Browser, Value) {
        let browser = Browser::new(self);
        let (verifier, challenge) = pkce();
        let callback = browser
            .code_flow_callback("web", scope, &challenge, ("alice", "alice-password"))
            .await;
        let code = query(&callback)["code"].clone();
        let response = self.redeem(("web", "web-secret"), &code, &verifier).await;
        assert_eq!(response.status(), 200);
        (browser, response.json().await.unwrap())
    }
}
