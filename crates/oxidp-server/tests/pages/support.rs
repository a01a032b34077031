//! Fixtures for the page tests: sample views and a minimal HTML tag scanner.

use oxidp_server::pages::{
    ConsentView, ErrorView, FormPostView, LoggedOutView, LoginView, LogoutView, Page, Pages,
    ScopeView,
};

pub const XSS: &str = "<script>alert(1)</script>";

pub fn pages() -> Pages {
    Pages::new(None).expect("embedded templates load")
}

pub fn login_view() -> LoginView {
    LoginView {
        return_url: "/connect/authorize?client_id=app&x=\"><b>".into(),
        username: XSS.into(),
        error: Some("Wrong username or password.".into()),
        csrf_token: "csrf-123".into(),
        client_name: Some("Demo <App>".into()),
    }
}

pub fn scope(name: &str, required: bool) -> ScopeView {
    ScopeView {
        name: name.into(),
        display_name: format!("{name} label"),
        description: Some(format!("{name} description")),
        required,
    }
}

pub fn consent_view() -> ConsentView {
    ConsentView {
        return_url: "/connect/authorize?client_id=app".into(),
        client_name: "Demo App".into(),
        client_id: "app".into(),
        identity_scopes: vec![scope("openid", true), scope("email", false)],
        api_scopes: vec![scope("api.read", false)],
        allow_remember: true,
        csrf_token: "csrf-123".into(),
    }
}

/// Every page rendered with sample data, by name.
pub fn all_pages(pages: &Pages) -> Vec<(&'static str, Page)> {
    vec![
        ("login", pages.login(&login_view()).expect("login")),
        ("consent", pages.consent(&consent_view()).expect("consent")),
        (
            "logout",
            pages
                .logout(&LogoutView {
                    logout_id: "lo-1".into(),
                    csrf_token: "csrf-123".into(),
                })
                .expect("logout"),
        ),
        (
            "logged_out",
            pages
                .logged_out(&LoggedOutView {
                    post_logout_redirect_uri: Some("https://app.example/bye?a=1&b=2".into()),
                    client_name: Some("Demo App".into()),
                })
                .expect("logged_out"),
        ),
        (
            "error",
            pages
                .error(&ErrorView {
                    error_id: "abcd".into(),
                    title: "Oops".into(),
                    message: "Try again".into(),
                })
                .expect("error"),
        ),
        (
            "form_post",
            pages
                .form_post(&FormPostView {
                    action: "https://app.example/cb".into(),
                    fields: vec![("code".into(), "c0de".into()), ("state".into(), XSS.into())],
                })
                .expect("form_post"),
        ),
    ]
}

/// The opening tags named `tag` (e.g. `input`), up to their closing `>`. Auto-escaping turns
/// `>` in attribute values into `&gt;`, so the first `>` ends the tag.
pub fn tags<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}");
    html.match_indices(&open)
        .filter(|(at, _)| html[at + open.len()..].starts_with([' ', '>', '\n']))
        .map(|(at, _)| &html[at..at + html[at..].find('>').expect("tag closes") + 1])
        .collect()
}

pub fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    Some(&tag[start..start + tag[start..].find('"')?])
}
