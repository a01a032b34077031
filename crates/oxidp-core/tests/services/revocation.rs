//! Token revocation (RFC 7009): refresh tokens take their grant's tokens with them, reference
//! access tokens go alone, unknown tokens succeed and another client's token is refused.

use crate::support::{client, fixture};
use oxidp_core::model::grant_types;

#[tokio::test]
async fn revoking_a_refresh_token_revokes_the_access_tokens_of_its_grant() {
    for hint in [
        None,
        Some("refresh_token"),
        Some("access_token"),
        Some("bogus"),
    ] {
        let f = fixture().await;
        let rp = client("rp");
        f.add_client(&rp).await;
        let mut browser = f.sign_in().await;
        let tokens = f.code_flow(&mut browser, &rp).await;
        let refresh = tokens.refresh_token.unwrap();

        f.revoke(&rp, &refresh, hint).await.unwrap();

        let error = f.refresh(&rp, &refresh).await.unwrap_err();
        assert_eq!(error.code.as_str(), "invalid_grant", "hint {hint:?}");
        // RFC 7009 §2.1: the access tokens of the same grant go too.
        assert!(
            !f.access_token_valid(&tokens.access_token).await,
            "hint {hint:?}"
        );
        assert!(f.grants(grant_types::REFRESH_TOKEN).await.is_empty());
    }
}

#[tokio::test]
async fn revoking_a_reference_access_token_leaves_the_refresh_token() {
    for hint in [None, Some("access_token"), Some("refresh_token")] {
        let f = fixture().await;
        let rp = client("rp");
        f.add_client(&rp).await;
        let mut browser = f.sign_in().await;
        let tokens = f.code_flow(&mut browser, &rp).await;
        assert!(f.access_token_valid(&tokens.access_token).await);

        f.revoke(&rp, &tokens.access_token, hint).await.unwrap();

        assert!(
            !f.access_token_valid(&tokens.access_token).await,
            "hint {hint:?}"
        );
        let refreshed = f
            .refresh(&rp, &tokens.refresh_token.unwrap())
            .await
            .unwrap();
        assert!(f.access_token_valid(&refreshed.access_token).await);
    }
}

#[tokio::test]
async fn revoking_a_token_twice_or_an_unknown_token_succeeds() {
    let f = fixture().await;
    let rp = client("rp");
    f.add_client(&rp).await;
    let mut browser = f.sign_in().await;
    let tokens = f.code_flow(&mut browser, &rp).await;
    let refresh = tokens.refresh_token.unwrap();
    f.revoke(&rp, &refresh, None).await.unwrap();
    f.revoke(&rp, &refresh, None).await.unwrap();
    f.revoke(&rp, "no-such-token", Some("refresh_token"))
        .await
        .unwrap();
}

#[tokio::test]
async fn another_clients_token_is_refused_and_stays_valid() {
    let f = fixture().await;
    let (rp, thief) = (client("rp"), client("thief"));
    f.add_client(&rp).await;
    f.add_client(&thief).await;
    let mut browser = f.sign_in().await;
    let tokens = f.code_flow(&mut browser, &rp).await;
    let refresh = tokens.refresh_token.unwrap();

    for token in [&refresh, &tokens.access_token] {
        let error = f.revoke(&thief, token, None).await.unwrap_err();
        assert_eq!(error.code.as_str(), "unauthorized_client");
    }

    assert!(f.access_token_valid(&tokens.access_token).await);
    f.refresh(&rp, &refresh).await.unwrap();
}
