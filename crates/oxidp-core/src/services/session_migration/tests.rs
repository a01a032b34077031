//! Session migration over the memory store and a manual clock: servers built with the
//! setting on and off share one store, as restarts over one database do.

use super::*;
use crate::clock::ManualClock;
use crate::model::{SessionFilter, User};
use crate::options::IdentityServerOptions;
use crate::services::{IdentityServer, RemoveSessionsContext};
use crate::store::{MemoryStore, Stores};

struct World {
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
}

impl World {
    fn new() -> Self {
        Self {
            store: Arc::new(MemoryStore::default()),
            clock: Arc::new(ManualClock::starting_now()),
        }
    }

    /// The identity server as it runs with server-side sessions on or off; every one
    /// built here shares the store, the key ring and the clock, as restarts over one
    /// database do.
    fn server(&self, server_side: bool, migrate: bool) -> IdentityServer {
        let mut options = IdentityServerOptions::new("https://idp.test").unwrap();
        options.server_side_sessions.enabled = server_side;
        options.server_side_sessions.migrate_cookie_sessions = migrate;
        options.authentication.cookie_lifetime = std::time::Duration::from_secs(3600);
        IdentityServer::new(
            options,
            Stores::from_backend(self.store.clone()),
            self.clock.clone(),
        )
    }

    fn alice(&self) -> User {
        User {
            subject_id: "alice".into(),
            username: "alice".into(),
            password_hash: None,
            claims: [("name".to_owned(), serde_json::json!("Alice"))].into(),
            enabled: true,
            roles: vec![],
            created: self.clock.now(),
        }
    }

    /// Signs alice in on `server` and records a client; returns the ticket and cookie.
    async fn sign_in(&self, server: &IdentityServer) -> (AuthenticationTicket, String) {
        let (mut ticket, cookie) = server
            .sessions
            .sign_in(&self.alice(), &["pwd"], "local", None)
            .await
            .unwrap();
        let cookie = server
            .sessions
            .add_client(&cookie, &mut ticket, "web")
            .await
            .unwrap()
            .unwrap_or(cookie);
        (ticket, cookie)
    }

    async fn records_of(&self, sid: &str) -> Vec<crate::model::ServerSideSession> {
        self.store
            .get_sessions(&SessionFilter {
                session_id: Some(sid.to_owned()),
                ..Default::default()
            })
            .await
            .unwrap()
    }
}

fn replaced(migration: Migration) -> String {
    match migration {
        Migration::Replaced(value) => value,
        Migration::Unchanged => panic!("expected the cookie to be converted"),
    }
}

#[tokio::test]
async fn a_self_contained_cookie_becomes_a_record_with_the_same_ticket() {
    let world = World::new();
    let (ticket, old) = world.sign_in(&world.server(false, true)).await;
    assert!(world.records_of(&ticket.session_id).await.is_empty());

    let on = world.server(true, true);
    let reference = replaced(on.session_migration.migrate(&old).await.unwrap());
    assert!(is_session_key(&reference), "a reference cookie");
    let records = world.records_of(&ticket.session_id).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].key, row_key(&reference));
    assert_eq!(records[0].subject_id, "alice");
    assert_eq!(records[0].expires, Some(ticket.expires));
    let authenticated = on.sessions.authenticate(&reference).await.unwrap().unwrap();
    assert_eq!(
        authenticated.ticket, ticket,
        "sid, clients, claims and expiry kept"
    );
    assert_eq!(authenticated.ticket.client_ids, ["web"]);

    // The same old cookie again (a lost response, a second tab) finds the same record.
    assert_eq!(
        on.session_migration.migrate(&old).await.unwrap(),
        Migration::Replaced(reference.clone())
    );
    assert_eq!(world.records_of(&ticket.session_id).await.len(), 1);
    // A reference cookie is left as it is.
    assert_eq!(
        on.session_migration.migrate(&reference).await.unwrap(),
        Migration::Unchanged
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_of_one_cookie_make_one_record() {
    let world = World::new();
    let (ticket, old) = world.sign_in(&world.server(false, true)).await;
    let on = Arc::new(world.server(true, true));
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (on, old, barrier) = (on.clone(), old.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                on.session_migration.migrate(&old).await.unwrap()
            })
        })
        .collect();
    let mut cookies = Vec::new();
    for task in tasks {
        cookies.push(replaced(task.await.unwrap()));
    }
    cookies.dedup();
    assert_eq!(cookies.len(), 1, "every request gets the same cookie");
    assert_eq!(world.records_of(&ticket.session_id).await.len(), 1);
}

#[tokio::test]
async fn a_replayed_old_cookie_does_not_bring_back_a_revoked_session() {
    let world = World::new();
    let (ticket, old) = world.sign_in(&world.server(false, true)).await;
    let on = world.server(true, true);
    let reference = replaced(on.session_migration.migrate(&old).await.unwrap());
    // The administrator removes the session and every grant of it.
    on.session_management
        .remove_sessions(&RemoveSessionsContext {
            session_id: Some(ticket.session_id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        on.sessions
            .authenticate(&reference)
            .await
            .unwrap()
            .is_none()
    );

    assert_eq!(
        on.session_migration.migrate(&old).await.unwrap(),
        Migration::Unchanged
    );
    assert!(on.sessions.authenticate(&old).await.unwrap().is_none());
    assert!(
        world.records_of(&ticket.session_id).await.is_empty(),
        "not recreated"
    );
}

#[tokio::test]
async fn a_replayed_old_cookie_does_not_bring_back_a_logged_out_session() {
    let world = World::new();
    let (ticket, old) = world.sign_in(&world.server(false, true)).await;
    let on = world.server(true, true);
    let reference = replaced(on.session_migration.migrate(&old).await.unwrap());
    on.sessions.sign_out(&reference).await.unwrap();
    assert_eq!(
        on.session_migration.migrate(&old).await.unwrap(),
        Migration::Unchanged
    );
    assert!(world.records_of(&ticket.session_id).await.is_empty());
}

#[tokio::test]
async fn expired_and_tampered_cookies_are_not_migrated() {
    let world = World::new();
    let off = world.server(false, true);
    let (expired, expired_cookie) = world.sign_in(&off).await;
    world.clock.advance(time::Duration::minutes(61));
    let (valid, valid_cookie) = world.sign_in(&off).await;
    let on = world.server(true, true);

    assert_eq!(
        on.session_migration.migrate(&expired_cookie).await.unwrap(),
        Migration::Unchanged
    );
    assert!(world.records_of(&expired.session_id).await.is_empty());

    let mut tampered = valid_cookie.into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        on.session_migration.migrate(&tampered).await.unwrap(),
        Migration::Unchanged
    );
    assert!(world.records_of(&valid.session_id).await.is_empty());
    for garbage in ["", "x", "not base64 !"] {
        assert_eq!(
            on.session_migration.migrate(garbage).await.unwrap(),
            Migration::Unchanged
        );
    }
}

#[tokio::test]
async fn without_the_option_nothing_is_converted_either_way() {
    let world = World::new();
    let (ticket, old) = world.sign_in(&world.server(false, true)).await;
    let on = world.server(true, false);
    assert!(!on.session_migration.is_enabled());
    assert_eq!(
        on.session_migration.migrate(&old).await.unwrap(),
        Migration::Unchanged
    );
    assert!(on.sessions.authenticate(&old).await.unwrap().is_none());
    assert!(world.records_of(&ticket.session_id).await.is_empty());

    let (_, reference) = world.sign_in(&world.server(true, true)).await;
    let off = world.server(false, false);
    assert_eq!(
        off.session_migration.migrate(&reference).await.unwrap(),
        Migration::Unchanged
    );
    assert!(
        off.sessions
            .authenticate(&reference)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_reference_cookie_becomes_self_contained_when_server_side_sessions_are_off() {
    let world = World::new();
    let (ticket, reference) = world.sign_in(&world.server(true, true)).await;
    let off = world.server(false, true);
    let cookie = replaced(off.session_migration.migrate(&reference).await.unwrap());
    assert!(!is_session_key(&cookie));
    let authenticated = off.sessions.authenticate(&cookie).await.unwrap().unwrap();
    assert_eq!(authenticated.ticket.session_id, ticket.session_id);
    assert_eq!(authenticated.ticket.client_ids, ["web"]);
    assert_eq!(authenticated.ticket.expires, ticket.expires);
    assert!(
        world.records_of(&ticket.session_id).await.is_empty(),
        "the session moved into the cookie"
    );
    // A self-contained cookie is left as it is; the spent reference cookie converts no more.
    assert_eq!(
        off.session_migration.migrate(&cookie).await.unwrap(),
        Migration::Unchanged
    );
    assert_eq!(
        off.session_migration.migrate(&reference).await.unwrap(),
        Migration::Unchanged
    );

    // And on again: the cookie migrates back into a record of the same session.
    let on = world.server(true, true);
    let again = replaced(on.session_migration.migrate(&cookie).await.unwrap());
    assert!(on.sessions.authenticate(&again).await.unwrap().is_some());
    assert_eq!(world.records_of(&ticket.session_id).await.len(), 1);
}

#[tokio::test]
async fn an_expired_record_is_not_converted_back_and_is_deleted() {
    let world = World::new();
    let (ticket, reference) = world.sign_in(&world.server(true, true)).await;
    world.clock.advance(time::Duration::minutes(61));
    let off = world.server(false, true);
    assert_eq!(
        off.session_migration.migrate(&reference).await.unwrap(),
        Migration::Unchanged
    );
    assert!(world.records_of(&ticket.session_id).await.is_empty());
}

#[test]
fn the_debug_form_hides_the_cookie() {
    let text = format!("{:?}", Migration::Replaced("secret-cookie".into()));
    assert!(!text.contains("secret-cookie"));
}
