//! `TestSample`: the whole sample on port 0 (the committed `oxidp.toml`, SQLite in a temporary
//! directory), a browser with a cookie jar that follows no redirect on its own, and typed
//! helpers for what the walk-through does.

use oxidp_server::config::Config;
use reqwest::cookie::CookieStore as _;
use serde_json::Value;
use session_management_sample::{Sample, SampleOptions};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use url::Url;

/// The web client's access-token lifetime in these tests: the token manager renews at half
/// the lifetime, so a refresh is due two seconds after each token is issued.
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(4);

/// The session's inactivity window in these tests (20 minutes in `oxidp.toml`): short, so that
/// half of it — when a refresh slides the session — passes within the test.
pub const SESSION_WINDOW: Duration = Duration::from_secs(8);

pub struct TestSample {
    pub sample: Sample,
    /// The user's browser, signed in at the web app.
    pub browser: Browser,
    /// The administrator's browser (another window), signed in at the identity server only.
    pub admin: Browser,
    http: reqwest::Client,
    _dir: TempDir,
}

impl TestSample {
    pub async fn spawn() -> Self {
        let dir = TempDir::new().unwrap();
        let mut config = Config::from_toml(include_str!("../../oxidp.toml")).unwrap();
        // The sample starts oxidp itself: only the shared test settings (port 0, SQLite in the
        // temporary directory) come from the shared test server.
        oxidp_testing::prepare(&mut config, &dir);
        // Cheap password hashing: alice's hash is made at every start.
        config.password_hashing.memory_kib = 1024;
        config.password_hashing.iterations = 1;
        config.authentication.cookie_lifetime = SESSION_WINDOW;
        let web = &mut config
            .clients
            .iter_mut()
            .find(|client| client.client.client_id == "web")
            .unwrap()
            .client;
        web.access_token_lifetime = ACCESS_TOKEN_LIFETIME;
        let sample = Sample::start(SampleOptions {
            config,
            web_listen: "127.0.0.1:0".parse().unwrap(),
            api_listen: "127.0.0.1:0".parse().unwrap(),
        })
        .await
        .unwrap();
        Self {
            sample,
            browser: Browser::new(),
            admin: Browser::new(),
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// A URL of the web app.
    pub fn web(&self, path: &str) -> Url {
        self.sample.web_url().join(path).unwrap()
    }

    /// A URL of the identity server.
    pub fn idp(&self, path: &str) -> Url {
        Url::parse(&format!("{}{path}", self.sample.issuer())).unwrap()
    }

    /// Signs alice in through the web app, as a person would: the web app's sign-in link, the
    /// identity server's login form (with its CSRF token), and back. Returns the home page.
    pub async fn sign_in(&self) -> String {
        let (url, page) = self.browser.get(self.web("/login")).await;
        assert!(url.path().ends_with("/account/login"), "at {url}");
        let html = page.text().await.unwrap();
        let form = [
            ("username", "alice".to_owned()),
            ("password", "alice".to_owned()),
            ("return_url", field(&html, "return_url")),
            ("csrf_token", field(&html, "csrf_token")),
        ];
        let (url, home) = self.browser.post(self.idp("/account/login"), &form).await;
        assert_eq!(url, self.web("/"), "back at the web app");
        assert_eq!(home.status(), 200);
        let html = home.text().await.unwrap();
        assert!(html.contains("Signed in as Alice Smith"), "{html}");
        html
    }

    /// Opens the admin page in the administrator's browser, signing alice in there first if
    /// the identity server asks; returns the page.
    pub async fn admin_page(&self) -> String {
        let (url, page) = self.admin.get(self.idp("/admin/sessions")).await;
        let page = if url.path() == "/account/login" {
            let html = page.text().await.unwrap();
            let form = [
                ("username", "alice".to_owned()),
                ("password", "alice".to_owned()),
                ("return_url", field(&html, "return_url")),
                ("csrf_token", field(&html, "csrf_token")),
            ];
            let (url, page) = self.admin.post(self.idp("/account/login"), &form).await;
            assert_eq!(url.path(), "/admin/sessions");
            page
        } else {
            page
        };
        assert_eq!(page.status(), 200);
        page.text().await.unwrap()
    }

    /// The web app's home page.
    pub async fn home(&self) -> String {
        let (_, page) = self.browser.get(self.web("/")).await;
        assert_eq!(page.status(), 200);
        page.text().await.unwrap()
    }

    /// Posts one of the home page's forms (`/call-api`, `/refresh`, `/logout`) with the CSRF
    /// token of `home`; returns where the browser ends up and that page.
    pub async fn act(&self, home: &str, action: &str) -> (Url, reqwest::Response) {
        let form = [("csrf_token", field(home, "csrf_token"))];
        self.browser.post(self.web(action), &form).await
    }

    /// The key in the browser's `web.session` cookie.
    pub fn session_cookie(&self) -> Option<String> {
        let cookies = self.browser.jar.cookies(&self.web("/"))?;
        cookies
            .to_str()
            .unwrap()
            .split("; ")
            .find_map(|pair| pair.strip_prefix("web.session="))
            .map(str::to_owned)
    }

    /// An admin-API token (the `admin-tool` client of `oxidp.toml`).
    pub async fn admin_token(&self) -> String {
        let response: Value = self
            .http
            .post(self.idp("/connect/token"))
            .basic_auth("admin-tool", Some("admin-tool-secret"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "oxidp.admin"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        response["access_token"].as_str().unwrap().to_owned()
    }

    /// `GET /api/admin/sessions`: every session the server holds.
    pub async fn sessions(&self) -> Vec<Value> {
        let token = self.admin_token().await;
        let response = self
            .http
            .get(self.idp("/api/admin/sessions"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let page: Value = response.json().await.unwrap();
        page["results"].as_array().unwrap().clone()
    }

    /// A refresh-token grant as the web client, outside the web app.
    pub async fn refresh_directly(&self, refresh_token: &str) -> (u16, Value) {
        let response = self
            .http
            .post(self.idp("/connect/token"))
            .basic_auth("web", Some("web-secret"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ])
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// Reloads the home page until `done` holds for it (bounded); returns the last one.
    pub async fn home_until(&self, done: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let html = self.home().await;
            if done(&html) || tokio::time::Instant::now() > deadline {
                return html;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A browser: one cookie jar for every site, redirects followed hop by hop.
pub struct Browser {
    pub http: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
}

impl Browser {
    fn new() -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { http, jar }
    }

    /// GETs `url` and follows redirects; returns the final URL and response.
    pub async fn get(&self, url: Url) -> (Url, reqwest::Response) {
        let response = self.http.get(url.clone()).send().await.unwrap();
        self.follow(url, response).await
    }

    /// POSTs a form to `url` and follows redirects.
    pub async fn post(&self, url: Url, form: &[(&str, String)]) -> (Url, reqwest::Response) {
        let response = self.http.post(url.clone()).form(form).send().await.unwrap();
        self.follow(url, response).await
    }

    async fn follow(
        &self,
        mut url: Url,
        mut response: reqwest::Response,
    ) -> (Url, reqwest::Response) {
        for _ in 0..10 {
            if !response.status().is_redirection() {
                return (url, response);
            }
            let location = response.headers()["location"].to_str().unwrap();
            url = url.join(location).unwrap();
            response = self.http.get(url.clone()).send().await.unwrap();
        }
        panic!("too many redirects, at {url}");
    }
}

/// The value of `<input name="NAME" value="...">` in a page, HTML-unescaped.
pub fn field(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no field {name}"));
    let tag_start = html[..at].rfind('<').unwrap();
    let tag_end = at + html[at..].find('>').unwrap();
    let tag = &html[tag_start..tag_end];
    let value_at = tag.find("value=\"").unwrap() + "value=\"".len();
    unescape(&tag[value_at..value_at + tag[value_at..].find('"').unwrap()])
}

/// Undoes minijinja's HTML escaping.
pub fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// An RFC 3339 time from the admin API.
pub fn instant(value: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        value.as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}
