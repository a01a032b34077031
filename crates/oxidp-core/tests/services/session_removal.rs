//! Session removal (`RemoveSessionsContext`): each flag does exactly what it says, alone.

use crate::support::{Fixture, SUBJECT, client, server_side_fixture};
use oxidp_core::model::{DeliveryStatus, SessionFilter, grant_types};
use oxidp_core::services::RemoveSessionsContext;
use oxidp_core::store::{OutboxStore, SessionStore};

/// What a removal may have touched.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    session_record: bool,
    browser_signed_in: bool,
    refresh_tokens: usize,
    reference_tokens: usize,
    consent: bool,
    notifications: usize,
}

/// A signed-in user whose session used one client (with a back-channel logout URI), holding
/// a refresh token and a reference access token, with a remembered consent. Returns the
/// browser's cookie value.
async fn signed_in_user(f: &Fixture) -> String {
    let mut rp = client("rp");
    rp.backchannel_logout_uri = Some("https://rp.example/backchannel".into());
    f.add_client(&rp).await;
    let mut browser = f.sign_in().await;
    f.code_flow(&mut browser, &rp).await;
    f.server
        .consent
        .remember(SUBJECT, "rp", &["openid".into()])
        .await
        .unwrap();
    browser.cookie
}

async fn observe(f: &Fixture, cookie: &str) -> Observed {
    let sessions = f
        .store
        .get_sessions(&SessionFilter {
            subject_id: Some(SUBJECT.into()),
            session_id: None,
        })
        .await
        .unwrap();
    Observed {
        session_record: !sessions.is_empty(),
        browser_signed_in: f
            .server
            .sessions
            .authenticate(cookie)
            .await
            .unwrap()
            .is_some(),
        refresh_tokens: f.grants(grant_types::REFRESH_TOKEN).await.len(),
        reference_tokens: f.grants(grant_types::REFERENCE_TOKEN).await.len(),
        consent: f
            .server
            .consent
            .remembered(SUBJECT, "rp")
            .await
            .unwrap()
            .is_some(),
        notifications: f
            .store
            .list_messages(DeliveryStatus::Pending, 100)
            .await
            .unwrap()
            .len(),
    }
}

const UNTOUCHED: Observed = Observed {
    session_record: true,
    browser_signed_in: true,
    refresh_tokens: 1,
    reference_tokens: 1,
    consent: true,
    notifications: 0,
};

/// Removes the user's sessions with `flags` applied to an all-false context.
async fn remove_with(flags: impl FnOnce(&mut RemoveSessionsContext)) -> Observed {
    let f = server_side_fixture().await;
    let cookie = signed_in_user(&f).await;
    assert_eq!(observe(&f, &cookie).await, UNTOUCHED);
    let mut context = RemoveSessionsContext {
        subject_id: Some(SUBJECT.into()),
        remove_server_side_session: false,
        revoke_tokens: false,
        revoke_consents: false,
        send_backchannel_logout_notification: false,
        ..RemoveSessionsContext::default()
    };
    flags(&mut context);
    let summary = f
        .server
        .session_management
        .remove_sessions(&context)
        .await
        .unwrap();
    assert_eq!(summary.sessions_matched, 1);
    observe(&f, &cookie).await
}

#[tokio::test]
async fn with_every_flag_off_nothing_changes() {
    assert_eq!(remove_with(|_| {}).await, UNTOUCHED);
}

#[tokio::test]
async fn remove_server_side_session_only_signs_the_browser_out() {
    let observed = remove_with(|c| c.remove_server_side_session = true).await;
    assert_eq!(
        observed,
        Observed {
            session_record: false,
            browser_signed_in: false,
            ..UNTOUCHED
        }
    );
}

#[tokio::test]
async fn revoke_tokens_only_revokes_the_sessions_tokens() {
    let observed = remove_with(|c| c.revoke_tokens = true).await;
    assert_eq!(
        observed,
        Observed {
            refresh_tokens: 0,
            reference_tokens: 0,
            ..UNTOUCHED
        }
    );
}

#[tokio::test]
async fn revoke_consents_only_revokes_the_consent() {
    let observed = remove_with(|c| c.revoke_consents = true).await;
    assert_eq!(
        observed,
        Observed {
            consent: false,
            ..UNTOUCHED
        }
    );
}

#[tokio::test]
async fn send_backchannel_logout_notification_only_enqueues_one_notification() {
    let observed = remove_with(|c| c.send_backchannel_logout_notification = true).await;
    assert_eq!(
        observed,
        Observed {
            notifications: 1,
            ..UNTOUCHED
        }
    );
}

#[tokio::test]
async fn every_flag_on_does_all_of_it() {
    let observed = remove_with(|c| {
        c.remove_server_side_session = true;
        c.revoke_tokens = true;
        c.revoke_consents = true;
        c.send_backchannel_logout_notification = true;
    })
    .await;
    assert_eq!(
        observed,
        Observed {
            session_record: false,
            browser_signed_in: false,
            refresh_tokens: 0,
            reference_tokens: 0,
            consent: false,
            notifications: 1,
        }
    );
}
