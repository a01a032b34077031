//! Signing out from the web app: its tokens are revoked, the identity server's session ends
//! (RP-initiated logout), and the browser comes back to the web app signed out.

use crate::helpers::*;

#[tokio::test]
async fn signing_out_revokes_the_tokens_and_ends_the_session_at_the_server() {
    let app = TestSample::spawn().await;
    let home = app.sign_in().await;
    let sid = app.sessions().await[0]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = app.session_cookie().unwrap();
    let tokens = app.sample.web_app().tokens().tokens(&key).await.unwrap();
    let refresh_token = tokens.unwrap().refresh_token.unwrap().secret().to_owned();

    // The web app sends the browser to the end-session endpoint, which signs it out there
    // and sends it straight back to the web app's registered post-logout redirect URI.
    let (url, page) = app.act(&home, "/logout").await;
    assert_eq!(url, app.web("/"));
    assert!(page.text().await.unwrap().contains("<h1>Signed out</h1>"));
    assert!(
        app.sessions().await.is_empty(),
        "the server's session is gone"
    );
    assert_eq!(app.sample.web_app().signed_in_count(), 0);
    let (status, body) = app.refresh_directly(&refresh_token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // The server's back-channel logout for the ended session still arrives; the web app
    // accepts it and has nothing left to end.
    let home = app
        .home_until(|html| html.contains("<td>user_logout</td>"))
        .await;
    assert!(home.contains(&format!("<code>{sid}</code>")), "{home}");
    assert!(home.contains("<td>user_logout</td><td>0</td>"), "{home}");
    assert!(
        !home.contains("id=\"ended\""),
        "a sign-out of one's own is not announced"
    );
}
