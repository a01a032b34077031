//! Coordinated clients slide the user session by the browser's renewal rule: a use within the
//! first half of the session's window writes nothing; a later one extends it by its window; a
//! session that is gone fails the client's tokens.

use oxidp_core::clock::{Clock, ManualClock};
use oxidp_core::model::{Client, GrantType, SessionFilter};
use oxidp_core::options::IdentityServerOptions;
use oxidp_core::services::IdentityServer;
use oxidp_core::store::Stores;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use time::Duration as Span;

struct Setup {
    clock: Arc<ManualClock>,
    stores: Stores,
    idp: IdentityServer,
    client: Client,
}

async fn setup() -> Setup {
    let clock = Arc::new(ManualClock::starting_now());
    let stores = Stores::in_memory();
    let mut options = IdentityServerOptions::new("https://idp.example").expect("an issuer");
    options.authentication.cookie_lifetime = Duration::from_secs(3600);
    options
        .authentication
        .coordinate_client_lifetimes_with_user_session = true;
    options.user_cache_duration = Duration::ZERO;
    options.store_cache_duration = Duration::ZERO;
    let idp = IdentityServer::builder(options, stores.clone(), clock.clone())
        .server_side_sessions(None)
        .build();
    let mut client = Client::new("web");
    client.allowed_grant_types = vec![GrantType::AuthorizationCode];
    Setup {
        clock,
        stores,
        idp,
        client,
    }
}

async fn signed_in(setup: &Setup) -> (String, String) {
    let user = setup
        .idp
        .users
        .create_user("alice", None, BTreeMap::new(), Vec::new(), None)
        .await
        .expect("alice");
    let (ticket, _) = setup
        .idp
        .sessions
        .sign_in(&user, &["pwd"], "local", None)
        .await
        .expect("signed in");
    (ticket.subject_id, ticket.session_id)
}

async fn record_times(
    setup: &Setup,
    sub: &str,
    sid: &str,
) -> (time::OffsetDateTime, time::OffsetDateTime) {
    let filter = SessionFilter {
        subject_id: Some(sub.to_owned()),
        session_id: Some(sid.to_owned()),
    };
    let sessions = setup
        .stores
        .sessions
        .get_sessions(&filter)
        .await
        .expect("read");
    let [session] = sessions.as_slice() else {
        panic!("one session expected, found {}", sessions.len());
    };
    (
        session.renewed,
        session.expires.expect("the session expires"),
    )
}

#[tokio::test]
async fn a_use_in_the_first_half_of_the_window_writes_nothing() {
    let setup = setup().await;
    let (sub, sid) = signed_in(&setup).await;
    let before = record_times(&setup, &sub, &sid).await;
    setup.clock.advance(Span::minutes(20));
    let alive = setup
        .idp
        .coordination
        .validate_and_extend(&setup.client, &sub, &sid)
        .await
        .expect("checked");
    assert!(alive);
    assert_eq!(record_times(&setup, &sub, &sid).await, before);
}

#[tokio::test]
async fn a_use_past_half_the_window_slides_the_session_by_its_window() {
    let setup = setup().await;
    let (sub, sid) = signed_in(&setup).await;
    setup.clock.advance(Span::minutes(31));
    let alive = setup
        .idp
        .coordination
        .validate_and_extend(&setup.client, &sub, &sid)
        .await
        .expect("checked");
    assert!(alive);
    let now = setup.clock.now();
    assert_eq!(
        record_times(&setup, &sub, &sid).await,
        (now, now + Span::hours(1))
    );
}

#[tokio::test]
async fn a_gone_or_expired_session_fails_the_client() {
    let setup = setup().await;
    let (sub, sid) = signed_in(&setup).await;
    setup.clock.advance(Span::minutes(61));
    let alive = setup
        .idp
        .coordination
        .validate_and_extend(&setup.client, &sub, &sid)
        .await
        .expect("checked");
    assert!(!alive, "an expired session must not be slid back to life");
    let alive = setup
        .idp
        .coordination
        .validate_and_extend(&setup.client, &sub, "another-sid")
        .await
        .expect("checked");
    assert!(!alive);
}

#[tokio::test]
async fn an_uncoordinated_client_is_not_checked() {
    let setup = setup().await;
    let mut client = setup.client.clone();
    client.coordinate_lifetime_with_user_session = Some(false);
    let alive = setup
        .idp
        .coordination
        .validate_and_extend(&client, "nobody", "no-session")
        .await
        .expect("checked");
    assert!(alive);
}
