//! The web app's forms and callback refuse what a browser of its own did not send.

use crate::helpers::*;

#[tokio::test]
async fn a_callback_this_browser_did_not_start_is_refused() {
    let app = TestSample::spawn().await;
    // A sign-in started by someone else: this browser has no `web.login` cookie for it.
    let (_, page) = app
        .browser
        .get(app.web("/callback?code=planted&state=not-ours"))
        .await;
    assert_eq!(page.status(), 400);
    let html = page.text().await.unwrap();
    assert!(html.contains("This sign-in was not started here"), "{html}");
    assert_eq!(app.sample.web_app().signed_in_count(), 0);
}

#[tokio::test]
async fn a_callback_cannot_be_replayed() {
    let app = TestSample::spawn().await;
    // Stop at the callback, replay it after the web app used it.
    let (url, page) = app.browser.get(app.web("/login")).await;
    let html = page.text().await.unwrap();
    let form = [
        ("username", "alice".to_owned()),
        ("password", "alice".to_owned()),
        ("return_url", field(&html, "return_url")),
        ("csrf_token", field(&html, "csrf_token")),
    ];
    let mut response = app
        .browser
        .http
        .post(url.join("/account/login").unwrap())
        .form(&form)
        .send()
        .await
        .unwrap();
    let mut at = url;
    while !at.as_str().starts_with(app.web("/callback").as_str()) {
        at = at
            .join(response.headers()["location"].to_str().unwrap())
            .unwrap();
        response = app.browser.http.get(at.clone()).send().await.unwrap();
    }
    assert_eq!(response.status(), 303, "the first use signs in");
    let (_, again) = app.browser.get(at).await;
    assert_eq!(
        again.status(),
        400,
        "the second finds no sign-in in progress"
    );
}

#[tokio::test]
async fn an_action_without_the_sessions_csrf_token_is_refused() {
    let app = TestSample::spawn().await;
    let home = app.sign_in().await;
    let forged = home.replace(&field(&home, "csrf_token"), "forged");
    let (_, page) = app.act(&forged, "/refresh").await;
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("The form has expired"));
    let home = app.home().await;
    assert!(
        home.contains("<td id=\"refreshes\">0</td>"),
        "nothing was refreshed"
    );
}
