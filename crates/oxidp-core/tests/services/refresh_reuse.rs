//! A one-time refresh token presented twice, after the retry grace or once its successor was
//! used, is taken as theft: the whole family goes (the client's refresh and reference tokens in
//! that session), and nothing else. (Retries within the grace: `refresh_retry.rs`.)

use crate::support::{client, fixture};
use oxidp_core::model::grant_types;

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_family() {
    let f = fixture().await;
    let rp = client("rp");
    f.add_client(&rp).await;
    let mut browser = f.sign_in().await;
    let first = f.code_flow(&mut browser, &rp).await;
    let first_refresh = first.refresh_token.clone().unwrap();

    let second = f.refresh(&rp, &first_refresh).await.unwrap();
    let second_refresh = second.refresh_token.clone().unwrap();
    assert_ne!(second_refresh, first_refresh, "one-time tokens rotate");
    assert!(f.access_token_valid(&first.access_token).await);
    assert!(f.access_token_valid(&second.access_token).await);

    // Past the default retry grace (10 s): no retry, a reuse.
    f.clock.advance(time::Duration::seconds(11));
    let reuse = f.refresh(&rp, &first_refresh).await.unwrap_err();
    assert_eq!(reuse.code.as_str(), "invalid_grant");

    let successor = f.refresh(&rp, &second_refresh).await.unwrap_err();
    assert_eq!(successor.code.as_str(), "invalid_grant");
    assert!(!f.access_token_valid(&first.access_token).await);
    assert!(!f.access_token_valid(&second.access_token).await);
    assert!(f.grants(grant_types::REFRESH_TOKEN).await.is_empty());
    assert!(f.grants(grant_types::REFERENCE_TOKEN).await.is_empty());
}

#[tokio::test]
async fn a_reuse_leaves_other_clients_and_other_sessions_alone() {
    let f = fixture().await;
    let (rp, other) = (client("rp"), client("other"));
    f.add_client(&rp).await;
    f.add_client(&other).await;
    let mut browser = f.sign_in().await;
    let stolen = f.code_flow(&mut browser, &rp).await;
    let other_client = f.code_flow(&mut browser, &other).await;
    let mut second_browser = f.sign_in().await;
    assert_ne!(browser.ticket.session_id, second_browser.ticket.session_id);
    let other_session = f.code_flow(&mut second_browser, &rp).await;

    let stolen_refresh = stolen.refresh_token.unwrap();
    f.refresh(&rp, &stolen_refresh).await.unwrap();
    f.clock.advance(time::Duration::seconds(11));
    f.refresh(&rp, &stolen_refresh).await.unwrap_err();

    assert!(f.access_token_valid(&other_client.access_token).await);
    assert!(f.access_token_valid(&other_session.access_token).await);
    f.refresh(&other, &other_client.refresh_token.unwrap())
        .await
        .unwrap();
    f.refresh(&rp, &other_session.refresh_token.unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_reusable_refresh_token_may_be_presented_again() {
    let f = fixture().await;
    let mut rp = client("rp");
    rp.refresh_token_usage = oxidp_core::model::RefreshTokenUsage::ReUse;
    f.add_client(&rp).await;
    let mut browser = f.sign_in().await;
    let tokens = f.code_flow(&mut browser, &rp).await;
    let refresh = tokens.refresh_token.unwrap();
    for _ in 0..3 {
        let again = f.refresh(&rp, &refresh).await.unwrap();
        assert_eq!(again.refresh_token.as_deref(), Some(refresh.as_str()));
    }
    assert!(f.access_token_valid(&tokens.access_token).await);
}
