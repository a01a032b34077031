//! Password sign-in throttling (OWASP ASVS 2.2.1): a progressive delay per (user, address), a
//! looser one per address, never a lockout of the user from elsewhere, and expired counters
//! removed by the upkeep's core method.

use crate::support::fixture;
use oxidp_core::services::LoginError;
use oxidp_core::users::Password;
use std::net::IpAddr;
use time::Duration;

const RIGHT: &str = "correct horse battery staple";

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

async fn with_password() -> crate::support::Fixture {
    let fx = fixture().await;
    fx.server
        .users
        .set_password("alice", Password::new(RIGHT))
        .await
        .unwrap();
    fx
}

async fn attempt(fx: &crate::support::Fixture, password: &str, from: &str) -> Result<(), String> {
    match fx
        .server
        .login
        .login("alice", password, ip(from), None)
        .await
    {
        Ok(_) => Ok(()),
        Err(LoginError::InvalidCredentials) => Err("invalid".into()),
        Err(LoginError::Throttled) => Err("throttled".into()),
        Err(other) => panic!("unexpected failure: {other}"),
    }
}

#[tokio::test]
async fn failures_from_one_address_delay_that_address_only_and_progressively() {
    let fx = with_password().await;
    let attacker = "203.0.113.5";
    for _ in 0..5 {
        assert_eq!(attempt(&fx, "guess", attacker).await, Err("invalid".into()));
    }
    assert_eq!(
        attempt(&fx, RIGHT, attacker).await,
        Err("throttled".into()),
        "the guessing address waits, even with the right password"
    );
    assert_eq!(
        attempt(&fx, RIGHT, "198.51.100.7").await,
        Ok(()),
        "the real user from another address is never refused"
    );

    fx.clock.advance(Duration::seconds(30));
    assert_eq!(attempt(&fx, "guess", attacker).await, Err("invalid".into()));
    assert_eq!(attempt(&fx, RIGHT, attacker).await, Err("throttled".into()));
    fx.clock.advance(Duration::seconds(59));
    assert_eq!(
        attempt(&fx, RIGHT, attacker).await,
        Err("throttled".into()),
        "the second wait is twice the first"
    );
    fx.clock.advance(Duration::seconds(1));
    assert_eq!(attempt(&fx, RIGHT, attacker).await, Ok(()));
    assert_eq!(
        attempt(&fx, "typo", attacker).await,
        Err("invalid".into()),
        "a success starts the count again"
    );
}

#[tokio::test]
async fn spraying_many_usernames_from_one_address_slows_that_address_down() {
    let fx = with_password().await;
    let sprayer = "203.0.113.9";
    for n in 0..50 {
        let outcome = fx
            .server
            .login
            .login(&format!("user-{n}"), "Summer2026!", ip(sprayer), None)
            .await;
        assert!(matches!(outcome, Err(LoginError::InvalidCredentials)));
    }
    let outcome = fx
        .server
        .login
        .login("user-50", "Summer2026!", ip(sprayer), None)
        .await;
    assert!(matches!(outcome, Err(LoginError::Throttled)));
    assert_eq!(attempt(&fx, RIGHT, "198.51.100.7").await, Ok(()));
}

#[tokio::test]
async fn expired_counters_are_removed() {
    let fx = with_password().await;
    assert_eq!(
        attempt(&fx, "guess", "203.0.113.5").await,
        Err("invalid".into())
    );
    assert_eq!(
        fx.server.login.remove_expired_failures(100).await.unwrap(),
        0,
        "live counters stay"
    );
    fx.clock.advance(Duration::hours(1));
    assert_eq!(
        fx.server.login.remove_expired_failures(100).await.unwrap(),
        2,
        "the (user, address) and the address counters go once expired"
    );
}
