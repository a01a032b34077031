//! Session migration over HTTP: two servers over one database, one with server-side sessions
//! off and one with them on, as before and after an operator switches them on (or off again).

use crate::browser::*;
use crate::helpers::*;
use oxidp_core::clock::ManualClock;
use oxidp_core::model::{ServerSideSession, SessionFilter};
use oxidp_core::services::RemoveSessionsContext;
use oxidp_jose::{b64url_encode, sha256};
use std::sync::Arc;

/// A server over `previous`'s database (or a new one), with server-side sessions as given.
async fn spawn(
    previous: Option<&TestApp>,
    clock: Option<Arc<ManualClock>>,
    server_side: bool,
    migrate: bool,
) -> TestApp {
    TestApp::spawn_on(previous.map(|app| app.stores.clone()), clock, |config| {
        config.server_side_sessions.enabled = server_side;
        config.server_side_sessions.migrate_cookie_sessions = migrate;
        config.server_side_sessions.user_display_name_claim_type = Some("name".into());
    })
    .await
}

/// A signed-in browser's cookie value and session id.
struct SignedIn {
    cookie: String,
    sid: String,
}

/// The value of the session cookie a response sets, if it sets one (empty when it deletes it).
fn set_session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().unwrap().strip_prefix("oxidp.session="))
        .map(|rest| rest.split(';').next().unwrap().to_owned())
        .next_back()
}

/// Signs alice in with the `web` client on `app`; returns her cookie and session id.
async fn sign_in(app: &TestApp) -> SignedIn {
    let browser = Browser::new(app);
    let (verifier, challenge) = pkce();
    let login = location(
        &browser
            .authorize(&[
                ("client_id", "web"),
                ("redirect_uri", WEB_REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ])
            .await,
    );
    let posted = browser.sign_in_at(&login, "alice", "alice-password").await;
    let cookie = set_session_cookie(&posted).expect("sign-in sets the cookie");
    let callback = browser.follow_to_client(posted).await;
    let response = app
        .redeem(("web", "web-secret"), &query(&callback)["code"], &verifier)
        .await;
    assert_eq!(response.status(), 200);
    let tokens: serde_json::Value = response.json().await.unwrap();
    let sid = jwt_payload(tokens["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    SignedIn { cookie, sid }
}

/// A request as a browser holding only `cookie` would send it (no jar, no redirects followed).
async fn get_with_cookie(app: &TestApp, path: &str, cookie: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url(path))
        .header("cookie", format!("oxidp.session={cookie}"))
        .send()
        .await
        .unwrap()
}

/// `prompt=none` authorization for `web`: a code when signed in, `login_required` otherwise.
async fn silent_authorize(app: &TestApp, cookie: &str) -> reqwest::Response {
    let (_, challenge) = pkce();
    let params = form_body(&[
        ("client_id", "web"),
        ("redirect_uri", WEB_REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("prompt", "none"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    get_with_cookie(app, &format!("/connect/authorize?{params}"), cookie).await
}

fn signed_in(response: &reqwest::Response) -> bool {
    let params = query(&location(response));
    match params.get("error") {
        Some(error) => {
            assert_eq!(error, "login_required");
            false
        }
        None => params.contains_key("code"),
    }
}

async fn records_of(app: &TestApp, sid: &str) -> Vec<ServerSideSession> {
    app.stores
        .sessions
        .get_sessions(&SessionFilter {
            session_id: Some(sid.to_owned()),
            ..Default::default()
        })
        .await
        .unwrap()
}

fn is_reference_cookie(value: &str) -> bool {
    value.len() == 43
}

#[tokio::test]
async fn a_cookie_session_survives_switching_server_side_sessions_on() {
    let off = spawn(None, None, false, true).await;
    let alice = sign_in(&off).await;
    assert!(!is_reference_cookie(&alice.cookie), "self-contained");
    assert!(records_of(&off, &alice.sid).await.is_empty());

    let on = spawn(Some(&off), None, true, true).await;
    let response = silent_authorize(&on, &alice.cookie).await;
    assert!(signed_in(&response), "still signed in");
    let reference = set_session_cookie(&response).expect("a new cookie in the same response");
    assert!(is_reference_cookie(&reference));
    let records = records_of(&on, &alice.sid).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].key, b64url_encode(sha256(&reference)));
    assert_eq!(records[0].display_name.as_deref(), Some("Alice Smith"));
    let sessions = on
        .identity_server()
        .session_management
        .get_sessions(&SessionFilter {
            session_id: Some(alice.sid.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        sessions[0].client_ids,
        ["web"],
        "the client list came along"
    );

    // From now on the reference cookie is the session; the admin page lists it.
    let page = get_with_cookie(&on, "/admin/sessions", &reference).await;
    assert_eq!(page.status(), 200);
    assert_eq!(set_session_cookie(&page), None, "nothing more to convert");
    assert!(page.text().await.unwrap().contains(&alice.sid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_requests_with_one_old_cookie_make_one_record() {
    let off = spawn(None, None, false, true).await;
    let alice = sign_in(&off).await;
    let on = Arc::new(spawn(Some(&off), None, true, true).await);
    let requests: Vec<_> = (0..12)
        .map(|_| {
            let (on, cookie) = (on.clone(), alice.cookie.clone());
            tokio::spawn(async move { silent_authorize(&on, &cookie).await })
        })
        .collect();
    let mut cookies = Vec::new();
    for request in requests {
        let response = request.await.unwrap();
        assert!(signed_in(&response), "every request proceeds as alice");
        cookies.push(set_session_cookie(&response).expect("each response carries the cookie"));
    }
    cookies.sort();
    cookies.dedup();
    assert_eq!(cookies.len(), 1, "every response names the same session");
    assert_eq!(records_of(&on, &alice.sid).await.len(), 1);
}

#[tokio::test]
async fn an_expired_old_cookie_is_not_migrated_and_the_browser_is_signed_out() {
    let clock = Arc::new(ManualClock::starting_now());
    let off = spawn(None, Some(clock.clone()), false, true).await;
    let alice = sign_in(&off).await;
    clock.advance(time::Duration::hours(10));
    let on = spawn(Some(&off), Some(clock), true, true).await;
    let response = silent_authorize(&on, &alice.cookie).await;
    assert!(!signed_in(&response));
    assert_eq!(
        set_session_cookie(&response).as_deref(),
        Some(""),
        "cleared"
    );
    assert!(records_of(&on, &alice.sid).await.is_empty());
}

#[tokio::test]
async fn a_tampered_old_cookie_is_not_migrated_and_the_browser_is_signed_out() {
    let off = spawn(None, None, false, true).await;
    let alice = sign_in(&off).await;
    let on = spawn(Some(&off), None, true, true).await;
    let mut tampered = alice.cookie.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let response = silent_authorize(&on, &tampered).await;
    assert!(!signed_in(&response));
    assert_eq!(
        set_session_cookie(&response).as_deref(),
        Some(""),
        "cleared"
    );
    assert!(records_of(&on, &alice.sid).await.is_empty());
    // The genuine cookie still migrates.
    assert!(signed_in(&silent_authorize(&on, &alice.cookie).await));
}

#[tokio::test]
async fn the_old_cookie_replayed_after_revocation_does_not_bring_the_session_back() {
    let off = spawn(None, None, false, true).await;
    let alice = sign_in(&off).await;
    let on = spawn(Some(&off), None, true, true).await;
    let reference = set_session_cookie(&silent_authorize(&on, &alice.cookie).await).unwrap();
    on.identity_server()
        .session_management
        .remove_sessions(&RemoveSessionsContext {
            session_id: Some(alice.sid.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!signed_in(&silent_authorize(&on, &reference).await));
    let replayed = silent_authorize(&on, &alice.cookie).await;
    assert!(!signed_in(&replayed), "a revoked session stays revoked");
    assert_eq!(set_session_cookie(&replayed).as_deref(), Some(""));
    assert!(records_of(&on, &alice.sid).await.is_empty());
}

#[tokio::test]
async fn without_migration_an_old_cookie_is_not_recognized() {
    let off = spawn(None, None, false, true).await;
    let alice = sign_in(&off).await;
    let on = spawn(Some(&off), None, true, false).await;
    let response = silent_authorize(&on, &alice.cookie).await;
    assert!(!signed_in(&response), "signed out");
    assert_eq!(set_session_cookie(&response).as_deref(), Some(""));
    assert!(records_of(&on, &alice.sid).await.is_empty());
}

#[tokio::test]
async fn switching_server_side_sessions_off_again_converts_reference_cookies_back() {
    let on = spawn(None, None, true, true).await;
    let alice = sign_in(&on).await;
    assert!(is_reference_cookie(&alice.cookie));
    assert_eq!(records_of(&on, &alice.sid).await.len(), 1);

    let off = spawn(Some(&on), None, false, true).await;
    let response = silent_authorize(&off, &alice.cookie).await;
    assert!(signed_in(&response), "still signed in");
    let cookie = set_session_cookie(&response).expect("a self-contained cookie");
    assert!(!is_reference_cookie(&cookie) && !cookie.is_empty());
    assert!(
        records_of(&off, &alice.sid).await.is_empty(),
        "the session moved into the cookie"
    );
    let again = silent_authorize(&off, &cookie).await;
    assert!(signed_in(&again));
    assert_eq!(set_session_cookie(&again), None, "nothing more to convert");
}

#[tokio::test]
async fn with_migration_off_a_reference_cookie_is_not_recognized_after_switching_off() {
    let on = spawn(None, None, true, true).await;
    let alice = sign_in(&on).await;
    let off = spawn(Some(&on), None, false, false).await;
    let response = silent_authorize(&off, &alice.cookie).await;
    assert!(!signed_in(&response), "signed out");
    assert_eq!(set_session_cookie(&response).as_deref(), Some(""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_migrations_on_two_instances_over_postgres_make_one_record() {
    let store = oxidp_store::testing::postgres_test_store().await;
    let stores = || oxidp_core::store::Stores::from_backend(Arc::new(store.clone()));
    let with = |server_side: bool| {
        move |config: &mut oxidp_server::config::Config| {
            config.server_side_sessions.enabled = server_side;
        }
    };
    let off = TestApp::spawn_on(Some(stores()), None, with(false)).await;
    let alice = sign_in(&off).await;
    let instances = [
        Arc::new(TestApp::spawn_on(Some(stores()), None, with(true)).await),
        Arc::new(TestApp::spawn_on(Some(stores()), None, with(true)).await),
    ];
    let requests: Vec<_> = (0..12)
        .map(|n| {
            let (on, cookie) = (instances[n % 2].clone(), alice.cookie.clone());
            tokio::spawn(async move { silent_authorize(&on, &cookie).await })
        })
        .collect();
    let mut cookies = Vec::new();
    for request in requests {
        let response = request.await.unwrap();
        assert!(signed_in(&response), "every request proceeds as alice");
        cookies.push(set_session_cookie(&response).unwrap());
    }
    cookies.sort();
    cookies.dedup();
    assert_eq!(cookies.len(), 1, "both instances derive the same cookie");
    assert_eq!(records_of(&off, &alice.sid).await.len(), 1);
    oxidp_store::testing::drop_test_schema(store).await;
}
