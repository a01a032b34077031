//! Renders every page template with sample data and checks structure, accessibility basics,
//! CSRF fields, auto-escaping, security headers and the operator override directory.

#[path = "pages/support.rs"]
mod support;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use oxidp_server::pages::{
    ErrorView, FormPostView, LoggedOutView, LoginView, Pages, render_error_page,
};
use support::{XSS, all_pages, attr, consent_view, login_view, pages, tags};

#[test]
fn every_page_is_a_complete_html_document() {
    for (name, page) in all_pages(&pages()) {
        let html = page.html();
        assert!(html.contains("<html"), "{name}: no <html");
        assert!(html.contains("</html>"), "{name}: no </html>");
        assert!(html.contains("<main"), "{name}: no <main>");
        assert!(html.contains("oxidp"), "{name}: no product name");
    }
}

#[test]
fn every_user_input_has_a_matching_label() {
    for (name, page) in all_pages(&pages()) {
        let html = page.html();
        let labels: Vec<&str> = tags(html, "label")
            .iter()
            .filter_map(|t| attr(t, "for"))
            .collect();
        for input in tags(html, "input") {
            if matches!(attr(input, "type"), Some("hidden" | "submit")) {
                continue;
            }
            let id =
                attr(input, "id").unwrap_or_else(|| panic!("{name}: input without id: {input}"));
            assert!(labels.contains(&id), "{name}: no <label for=\"{id}\">");
        }
    }
}

#[test]
fn every_form_of_ours_carries_the_csrf_field() {
    for (name, page) in all_pages(&pages()) {
        let html = page.html();
        for form in html.split("<form").skip(1) {
            let form = &form[..form.find("</form>").expect("form closes")];
            if name == "form_post" {
                assert!(
                    !form.contains("csrf_token"),
                    "form_post must not leak our CSRF token"
                );
                continue;
            }
            assert!(
                form.contains(r#"<input type="hidden" name="csrf_token" value="csrf-123">"#),
                "{name}: form without CSRF field"
            );
        }
    }
}

#[test]
fn user_data_is_auto_escaped() {
    let pages = pages();
    let login = pages.login(&login_view()).expect("login");
    assert!(!login.html().contains(XSS));
    assert!(
        login
            .html()
            .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
    );
    assert!(!login.html().contains("\"><b>"));
    assert!(login.html().contains("Demo &lt;App&gt;"));
    let form_post = pages.form_post(&FormPostView {
        action: "https://app.example/cb".into(),
        fields: vec![("state".into(), XSS.into())],
    });
    assert!(!form_post.expect("form_post").html().contains(XSS));
}

#[test]
fn login_form_has_the_expected_fields() {
    let html = pages()
        .login(&login_view())
        .expect("login")
        .html()
        .to_owned();
    assert!(html.contains(r#"action="/account/login""#));
    assert!(html.contains(r#"autocomplete="username""#));
    assert!(html.contains(r#"autocomplete="current-password""#));
    assert!(html.contains(r#"role="alert""#));
    assert!(html.contains(r#"name="return_url""#));
}

#[test]
fn login_without_error_has_no_alert() {
    let view = LoginView {
        error: None,
        ..login_view()
    };
    assert!(
        !pages()
            .login(&view)
            .expect("login")
            .html()
            .contains("role=\"alert\"")
    );
}

#[test]
fn consent_submits_required_scopes_through_hidden_inputs() {
    let html = pages()
        .consent(&consent_view())
        .expect("consent")
        .html()
        .to_owned();
    assert!(html.contains(r#"action="/account/consent""#));
    let boxes = tags(&html, "input");
    let openid: Vec<_> = boxes
        .iter()
        .filter(|t| attr(t, "value") == Some("openid"))
        .collect();
    assert_eq!(openid.len(), 2, "checkbox plus hidden input");
    assert!(
        openid
            .iter()
            .any(|t| t.contains(" disabled") && t.contains(" checked"))
    );
    assert!(openid.iter().any(|t| attr(t, "type") == Some("hidden")));
    let email: Vec<_> = boxes
        .iter()
        .filter(|t| attr(t, "value") == Some("email"))
        .collect();
    assert_eq!(email.len(), 1);
    assert!(!email[0].contains("disabled"));
    assert!(html.contains(r#"name="remember""#) && html.contains("Remember my decision"));
    assert!(html.contains(r#"name="button" value="yes""#));
    assert!(html.contains(r#"name="button" value="no""#));
}

#[test]
fn logged_out_links_back_only_to_a_safe_uri() {
    let pages = pages();
    let view = LoggedOutView {
        post_logout_redirect_uri: None,
        client_name: None,
    };
    assert!(
        !pages
            .logged_out(&view)
            .expect("page")
            .html()
            .contains("<a ")
    );
    let view = LoggedOutView {
        post_logout_redirect_uri: Some("https://app.example/bye".into()),
        client_name: None,
    };
    let html = pages.logged_out(&view).expect("page").html().to_owned();
    assert!(html.contains(r#"href="https:&#x2f;&#x2f;app.example&#x2f;bye""#));
    assert!(html.contains("Return to the application"));
    let view = LoggedOutView {
        post_logout_redirect_uri: Some("javascript:alert(1)".into()),
        client_name: Some("Evil".into()),
    };
    assert!(
        !pages
            .logged_out(&view)
            .expect("page")
            .html()
            .contains("javascript")
    );
}

#[test]
fn pages_carry_the_security_headers() {
    let page = pages().consent(&consent_view()).expect("consent");
    let page = page.allow_form_redirect_to("http://127.0.0.1:4000/cb");
    let response = page.with_status(StatusCode::BAD_REQUEST).into_response();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let header = |name: &str| response.headers()[name].to_str().expect("ascii").to_owned();
    assert_eq!(header("cache-control"), "no-store");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(header("content-type").starts_with("text/html"));
    assert_eq!(
        header("content-security-policy"),
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http://127.0.0.1:4000; \
         frame-ancestors 'none'; base-uri 'none'"
    );
}

#[test]
fn form_post_allows_its_script_by_nonce_and_posts_only_to_the_client() {
    let page = pages()
        .form_post(&FormPostView {
            action: "https://app.example:8443/cb?x=1".into(),
            fields: vec![("code".into(), "c0de".into())],
        })
        .expect("form_post");
    let csp = page.content_security_policy();
    assert!(
        csp.contains("form-action https://app.example:8443;"),
        "{csp}"
    );
    assert!(!csp.contains("'unsafe-inline'; form") && !csp.contains("'self'"));
    let script = tags(page.html(), "script")[0];
    let nonce = attr(script, "nonce").expect("nonce");
    assert!(csp.contains(&format!("script-src 'nonce-{nonce}'")));
    assert!(page.html().contains("document.forms[0].submit()"));
    assert!(page.html().contains(r#"<button type="submit""#));
    assert!(
        pages()
            .form_post(&FormPostView {
                action: "javascript:x".into(),
                fields: vec![]
            })
            .is_err()
    );
}

#[test]
fn error_page_shows_an_id_and_the_status() {
    let response = render_error_page(&pages(), StatusCode::NOT_FOUND, "That page does not exist.");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let page = pages()
        .error(&ErrorView {
            error_id: "0a1b".into(),
            title: "T".into(),
            message: "M".into(),
        })
        .expect("error");
    assert!(page.html().contains("Error id: <code>0a1b</code>"));
}

#[test]
fn override_directory_replaces_a_default_and_ignores_unknown_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let custom = r#"{% extends "layout.html" %}{% block title %}Custom{% endblock %}
{% block content %}<p>ACME sign-in for {{ username }}</p>
<form method="post" action="/account/login"><input type="hidden" name="csrf_token" value="{{ csrf_token }}"></form>{% endblock %}"#;
    std::fs::write(dir.path().join("login.html"), custom).expect("write");
    std::fs::write(dir.path().join("notes.txt"), "ignored {% broken").expect("write");
    let pages = Pages::new(Some(dir.path())).expect("override loads");
    let html = pages.login(&login_view()).expect("login").html().to_owned();
    assert!(html.contains("ACME sign-in for &lt;script&gt;"));
    assert!(
        html.contains("</html>"),
        "the default layout still wraps it"
    );
    assert!(
        !pages
            .consent(&consent_view())
            .expect("consent")
            .html()
            .contains("ACME")
    );
}

#[test]
fn override_with_a_syntax_error_fails_start_up_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("consent.html"), "{% if %}broken").expect("write");
    let error = Pages::new(Some(dir.path())).expect_err("must fail");
    assert!(format!("{error:#}").contains("consent.html"), "{error:#}");
}

#[test]
fn override_using_an_unknown_variable_fails_start_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("logout.html"), "{{ no_such_field }}").expect("write");
    let error = Pages::new(Some(dir.path())).expect_err("must fail");
    assert!(format!("{error:#}").contains("logout.html"), "{error:#}");
}

#[test]
fn missing_override_directory_fails_start_up() {
    let error = Pages::new(Some(std::path::Path::new("/nonexistent/oxidp-templates")));
    assert!(error.is_err());
}
