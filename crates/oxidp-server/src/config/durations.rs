//! Bounds on every duration in the configuration. A duration is added to "now" to compute an
//! expiry or a deadline; far beyond any sensible value (a typo such as `100000y`) it would only
//! be capped or, in the standard library's `Instant` arithmetic, panic. Zero is refused where
//! it would make a feature useless (a token that is expired when issued, a timeout that fails
//! every request) and accepted where the key documents it (a cache duration of zero turns the
//! cache off). Each error names the key as the operator wrote it.

use super::Config;
use anyhow::bail;
use oxidp_core::model::Client;
use std::time::Duration;

/// The longest duration any key accepts: ten years. Lifetimes and periods beyond it are
/// mistakes, not intentions, and refusing them at start-up beats a surprise at run time.
pub(super) const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 86_400);

/// Whether zero is a meaningful value for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Zero {
    /// Zero means "off" (a cache) or "none" (a grace period).
    Allowed,
    /// Zero would make the feature useless or every request fail.
    Refused,
}

/// Checks one key's duration against [`MAX_DURATION`] and, when `zero` says so, against zero.
fn check(key: &str, value: Duration, zero: Zero) -> anyhow::Result<()> {
    if zero == Zero::Refused && value.is_zero() {
        bail!("invalid value for key `{key}`: must be longer than zero");
    }
    if value > MAX_DURATION {
        bail!(
            "invalid value for key `{key}`: {} is longer than the 10 years any duration may be",
            humantime_serde::re::humantime::format_duration(value)
        );
    }
    Ok(())
}

/// Checks the durations of the server-wide sections.
pub(super) fn validate(config: &Config) -> anyhow::Result<()> {
    use Zero::{Allowed, Refused};
    let keys: [(&str, Duration, Zero); 16] = [
        (
            "server.header_read_timeout",
            config.server.header_read_timeout,
            Refused,
        ),
        ("server.idle_timeout", config.server.idle_timeout, Refused),
        (
            "server.request_timeout",
            config.server.request_timeout,
            Refused,
        ),
        (
            "server.shutdown_timeout",
            config.server.shutdown_timeout,
            Allowed,
        ),
        ("store.cache_duration", config.store.cache_duration, Allowed),
        (
            "store.user_cache_duration",
            config.store.user_cache_duration,
            Allowed,
        ),
        (
            "keys.rotation_interval",
            config.keys.rotation_interval,
            Refused,
        ),
        (
            "keys.announcement_period",
            config.keys.announcement_period,
            Allowed,
        ),
        (
            "keys.retention_period",
            config.keys.retention_period,
            Refused,
        ),
        ("keys.cache_duration", config.keys.cache_duration, Allowed),
        (
            "keys.data_protection_key_lifetime",
            config.keys.data_protection_key_lifetime,
            Refused,
        ),
        (
            "authentication.cookie_lifetime",
            config.authentication.cookie_lifetime,
            Refused,
        ),
        (
            "server_side_sessions.remove_expired_sessions_frequency",
            config
                .server_side_sessions
                .remove_expired_sessions_frequency,
            Refused,
        ),
        (
            "backchannel_logout.timeout",
            config.backchannel_logout.timeout,
            Refused,
        ),
        (
            "backchannel_logout.retry_period",
            config.backchannel_logout.retry_period,
            Allowed,
        ),
        (
            "backchannel_logout.max_backoff",
            config.backchannel_logout.max_backoff,
            Allowed,
        ),
    ];
    for (key, value, zero) in keys {
        check(key, value, zero)?;
    }
    check(
        "tokens.refresh_token_reuse_grace",
        config.tokens.refresh_token_reuse_grace,
        Zero::Allowed,
    )?;
    check(
        "backchannel_logout.initial_backoff",
        config.backchannel_logout.initial_backoff,
        Zero::Allowed,
    )?;
    validate_dpop(config)
}

/// The DPoP proof window and nonce lifetime have bounds of their own: a proof is a one-request
/// credential (minutes at most, or a stolen one stays usable), a client clock more than
/// minutes ahead is broken, and a nonce exists to be rotated.
fn validate_dpop(config: &Config) -> anyhow::Result<()> {
    const MINUTE: u64 = 60;
    let keys = [
        (
            "dpop.proof_max_age",
            config.dpop.proof_max_age,
            Zero::Refused,
            Duration::from_secs(60 * MINUTE),
        ),
        (
            "dpop.proof_max_future",
            config.dpop.proof_max_future,
            Zero::Allowed,
            Duration::from_secs(5 * MINUTE),
        ),
        (
            "dpop.nonce_lifetime",
            config.dpop.nonce_lifetime,
            Zero::Refused,
            Duration::from_secs(24 * 60 * MINUTE),
        ),
    ];
    for (key, value, zero, max) in keys {
        check(key, value, zero)?;
        if value > max {
            bail!(
                "invalid value for key `{key}`: must be at most {}",
                humantime_serde::re::humantime::format_duration(max)
            );
        }
    }
    Ok(())
}

/// Checks the token and code lifetimes of `clients[index]`. A zero lifetime issues something
/// already expired; the sliding refresh lifetime only matters when expiration is sliding.
pub(super) fn validate_client(index: usize, client: &Client) -> anyhow::Result<()> {
    use oxidp_core::model::RefreshTokenExpiration;
    let sliding = if client.refresh_token_expiration == RefreshTokenExpiration::Sliding {
        Zero::Refused
    } else {
        Zero::Allowed
    };
    let lifetimes = [
        (
            "access_token_lifetime",
            client.access_token_lifetime,
            Zero::Refused,
        ),
        (
            "authorization_code_lifetime",
            client.authorization_code_lifetime,
            Zero::Refused,
        ),
        (
            "identity_token_lifetime",
            client.identity_token_lifetime,
            Zero::Refused,
        ),
        (
            "absolute_refresh_token_lifetime",
            client.absolute_refresh_token_lifetime,
            Zero::Refused,
        ),
        (
            "sliding_refresh_token_lifetime",
            client.sliding_refresh_token_lifetime,
            sliding,
        ),
    ];
    for (name, value, zero) in lifetimes {
        check(&format!("clients[{index}].{name}"), value, zero)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    fn error_of(toml: &str) -> String {
        format!("{:#}", Config::from_toml(toml).unwrap_err())
    }

    #[test]
    fn the_defaults_pass() {
        assert!(Config::from_toml("").is_ok());
    }

    #[test]
    fn the_dpop_window_and_nonce_lifetime_are_bounded() {
        let config = Config::from_toml(
            "[dpop]\nproof_max_age = \"2m\"\nproof_max_future = \"0s\"\nrequire_nonce = true\nnonce_lifetime = \"1h\"",
        )
        .unwrap();
        assert!(config.dpop.require_nonce);
        let options = config
            .identity_server_options("127.0.0.1:5000".parse().unwrap())
            .unwrap();
        assert_eq!(options.dpop.proof_max_age.as_secs(), 120);
        assert_eq!(options.dpop.proof_max_future.as_secs(), 0);
        assert!(options.dpop.require_nonce);
        assert_eq!(options.dpop.nonce_lifetime.as_secs(), 3600);
        for (key, value, message) in [
            ("proof_max_age", "0s", "longer than zero"),
            ("proof_max_age", "61m", "at most 1h"),
            ("proof_max_future", "6m", "at most 5m"),
            ("nonce_lifetime", "0s", "longer than zero"),
            ("nonce_lifetime", "2days", "at most 1day"),
        ] {
            let error = error_of(&format!("[dpop]\n{key} = \"{value}\""));
            assert!(
                error.contains(&format!("`dpop.{key}`")) && error.contains(message),
                "{error}"
            );
        }
        let error = error_of("[dpop]\nunknown = 1");
        assert!(error.contains("unknown"), "{error}");
    }

    #[test]
    fn a_duration_above_ten_years_is_refused_naming_the_key() {
        for (section, key) in [
            ("server", "request_timeout"),
            ("store", "cache_duration"),
            ("keys", "retention_period"),
            ("keys", "data_protection_key_lifetime"),
            ("authentication", "cookie_lifetime"),
            ("server_side_sessions", "remove_expired_sessions_frequency"),
            ("backchannel_logout", "retry_period"),
            ("backchannel_logout", "initial_backoff"),
        ] {
            let error = error_of(&format!("[{section}]\n{key} = \"11y\""));
            assert!(
                error.contains(&format!("`{section}.{key}`")) && error.contains("10 years"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_rotation_interval_above_ten_years_is_refused() {
        // The bound is checked before the rule that relates the two key periods.
        let error = error_of("[keys]\nrotation_interval = \"11y\"");
        assert!(error.contains("`keys.rotation_interval`"), "{error}");
    }

    #[test]
    fn ten_years_is_still_accepted() {
        assert!(Config::from_toml("[authentication]\ncookie_lifetime = \"3650days\"").is_ok());
    }

    #[test]
    fn zero_is_refused_where_it_makes_no_sense() {
        for (section, key) in [
            ("server", "request_timeout"),
            ("authentication", "cookie_lifetime"),
            ("keys", "data_protection_key_lifetime"),
            ("backchannel_logout", "timeout"),
        ] {
            let error = error_of(&format!("[{section}]\n{key} = \"0s\""));
            assert!(
                error.contains(&format!("`{section}.{key}`: must be longer than zero")),
                "{error}"
            );
        }
    }

    #[test]
    fn zero_is_accepted_where_it_turns_a_cache_off() {
        let toml = "[store]\ncache_duration = \"0s\"\nuser_cache_duration = \"0s\"\n[keys]\ncache_duration = \"0s\"";
        assert!(Config::from_toml(toml).is_ok());
    }

    #[test]
    fn an_absurd_client_lifetime_is_refused_naming_the_client_key() {
        for key in [
            "authorization_code_lifetime",
            "identity_token_lifetime",
            "absolute_refresh_token_lifetime",
            "sliding_refresh_token_lifetime",
        ] {
            let toml = format!("[[clients]]\nclient_id = \"c\"\n{key} = \"11y\"");
            let error = error_of(&toml);
            assert!(
                error.contains(&format!("`clients[0].{key}`")) && error.contains("10 years"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_zero_client_lifetime_is_refused() {
        for key in [
            "access_token_lifetime",
            "authorization_code_lifetime",
            "identity_token_lifetime",
            "absolute_refresh_token_lifetime",
        ] {
            let toml = format!("[[clients]]\nclient_id = \"c\"\n{key} = \"0s\"");
            let error = error_of(&toml);
            assert!(
                error.contains(&format!("`clients[0].{key}`: must be longer than zero")),
                "{error}"
            );
        }
    }

    #[test]
    fn the_refresh_token_reuse_grace_is_at_most_five_minutes() {
        assert!(Config::from_toml("[tokens]\nrefresh_token_reuse_grace = \"0s\"").is_ok());
        assert!(Config::from_toml("[tokens]\nrefresh_token_reuse_grace = \"5m\"").is_ok());
        let error = error_of("[tokens]\nrefresh_token_reuse_grace = \"301s\"");
        assert!(
            error.contains("`tokens.refresh_token_reuse_grace`: must be at most 5m"),
            "{error}"
        );
        let client = "[[clients]]\nclient_id = \"c\"\nrefresh_token_reuse_grace = ";
        assert!(Config::from_toml(&format!("{client}\"30s\"")).is_ok());
        let error = error_of(&format!("{client}\"6m\""));
        assert!(
            error.contains("`clients[0]`") && error.contains("`refresh_token_reuse_grace`"),
            "{error}"
        );
    }

    #[test]
    fn a_zero_sliding_lifetime_matters_only_when_expiration_slides() {
        let absolute = "[[clients]]\nclient_id = \"c\"\nsliding_refresh_token_lifetime = \"0s\"\nrefresh_token_expiration = \"absolute\"";
        assert!(Config::from_toml(absolute).is_ok());
        let sliding = "[[clients]]\nclient_id = \"c\"\nsliding_refresh_token_lifetime = \"0s\"\nrefresh_token_expiration = \"sliding\"";
        let error = error_of(sliding);
        assert!(
            error.contains("`clients[0].sliding_refresh_token_lifetime`"),
            "{error}"
        );
    }
}
