//! Lifetimes a client carries (from the admin API or a store written by other means) are
//! added to "now" without panicking, however absurd: the expiry saturates at the cap of
//! `clock::later` instead of overflowing.

use crate::support::{client, fixture};
use oxidp_core::clock::{Clock, MAX_SPAN};
use oxidp_core::model::{AccessTokenType, RefreshTokenExpiration, grant_types};
use std::time::Duration;

fn absurd_client(access_token_type: AccessTokenType) -> oxidp_core::model::Client {
    let mut rp = client("rp");
    rp.access_token_type = access_token_type;
    rp.access_token_lifetime = Duration::MAX;
    rp.identity_token_lifetime = Duration::MAX;
    rp.authorization_code_lifetime = Duration::MAX;
    rp.absolute_refresh_token_lifetime = Duration::MAX;
    rp.sliding_refresh_token_lifetime = Duration::from_secs(u64::MAX / 2);
    rp.refresh_token_expiration = RefreshTokenExpiration::Sliding;
    rp
}

#[tokio::test]
async fn absurd_client_lifetimes_are_capped_instead_of_panicking() {
    for access_token_type in [AccessTokenType::Reference, AccessTokenType::Jwt] {
        let f = fixture().await;
        let rp = absurd_client(access_token_type);
        f.add_client(&rp).await;
        let mut browser = f.sign_in().await;
        let tokens = f.code_flow(&mut browser, &rp).await;
        assert!(f.access_token_valid(&tokens.access_token).await);
        let refreshed = f
            .refresh(&rp, &tokens.refresh_token.unwrap())
            .await
            .unwrap();
        assert!(f.access_token_valid(&refreshed.access_token).await);

        let cap = f.clock.now() + MAX_SPAN;
        for kind in [grant_types::REFRESH_TOKEN, grant_types::REFERENCE_TOKEN] {
            for grant in f.grants(kind).await {
                assert_eq!(grant.expires, Some(cap), "{kind}");
            }
        }
        let claims = f
            .server
            .validate_access_token(&refreshed.access_token)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claims.exp, cap.unix_timestamp());
    }
}

#[tokio::test]
async fn a_capped_token_still_expires_at_the_cap() {
    let f = fixture().await;
    let rp = absurd_client(AccessTokenType::Reference);
    f.add_client(&rp).await;
    let mut browser = f.sign_in().await;
    let tokens = f.code_flow(&mut browser, &rp).await;
    f.clock.advance(MAX_SPAN + time::Duration::seconds(1));
    assert!(!f.access_token_valid(&tokens.access_token).await);
}
