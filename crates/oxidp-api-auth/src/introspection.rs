//! Reference tokens through RFC 7662 introspection, with a short-lived cache of the answers.
//!
//! The cache is keyed by the SHA-256 of the token, so the tokens themselves never sit in memory
//! longer than the request. Both answers are cached: "active, with these claims" until the
//! earlier of the cache duration and the token's `exp`, and "inactive" for the cache duration.
//! Failures to get an answer are not cached. When the cache is full, expired entries are
//! dropped, and if that frees nothing the cache starts over: a flood of random tokens cannot
//! grow it without bound.

use crate::claims::Claims;
use crate::error::{ErrorKind, InvalidToken};
use crate::http_client::IssuerClient;
use crate::jwt::{check_claims, now};
use crate::options::{IntrospectionCredentials, ValidatorOptions};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

type Answer = Result<Claims, InvalidToken>;

struct Entry {
    answer: Answer,
    until: Instant,
}

/// The introspection client and its cache.
pub(crate) struct Introspector {
    credentials: IntrospectionCredentials,
    cache: Mutex<HashMap<[u8; 32], Entry>>,
    cache_duration: Duration,
    capacity: usize,
}

impl std::fmt::Debug for Introspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspector")
            .field("client_id", &self.credentials.client_id)
            .field("cache_duration", &self.cache_duration)
            .finish_non_exhaustive()
    }
}

impl Introspector {
    pub(crate) fn new(options: &ValidatorOptions) -> Option<Self> {
        Some(Self {
            credentials: options.introspection.clone()?,
            cache: Mutex::new(HashMap::new()),
            cache_duration: options.introspection_cache_duration,
            capacity: options.introspection_cache_capacity,
        })
    }

    /// The claims of the reference token `token`, if the issuer says it is active and it is for
    /// this API.
    pub(crate) async fn validate(
        &self,
        options: &ValidatorOptions,
        client: &IssuerClient,
        token: &str,
    ) -> Result<Claims, ErrorKind> {
        let key = oxidp_jose::sha256(token);
        if let Some(answer) = self.cached(&key) {
            return Ok(answer?);
        }
        let endpoint = client
            .metadata()
            .await?
            .introspection_endpoint
            .clone()
            .ok_or_else(|| {
                tracing::error!("the issuer's metadata has no introspection_endpoint");
                ErrorKind::IssuerUnavailable
            })?;
        let response = client
            .post_form(
                &endpoint,
                &self.credentials.client_id,
                &self.credentials.secret,
                &[("token", token), ("token_type_hint", "access_token")],
            )
            .await?;
        let answer = interpret(options, response);
        self.remember(key, &answer);
        Ok(answer?)
    }

    fn cached(&self, key: &[u8; 32]) -> Option<Answer> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(key)
            .filter(|entry| entry.until > Instant::now())
            .map(|entry| entry.answer.clone())
    }

    fn remember(&self, key: [u8; 32], answer: &Answer) {
        let mut lifetime = self.cache_duration;
        if let Ok(claims) = answer
            && let Some(exp) = claims.expires_at()
        {
            let left = u64::try_from(exp.saturating_sub(now())).unwrap_or(0);
            lifetime = lifetime.min(Duration::from_secs(left));
        }
        if lifetime.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= self.capacity {
            cache.retain(|_, entry| entry.until > now);
            if cache.len() >= self.capacity {
                cache.clear();
            }
        }
        cache.insert(
            key,
            Entry {
                answer: answer.clone(),
                until: now + lifetime,
            },
        );
    }
}

/// Reads an introspection response: inactive, or claims that pass the checks.
fn interpret(
    options: &ValidatorOptions,
    response: serde_json::Map<String, serde_json::Value>,
) -> Answer {
    if response.get("active").and_then(serde_json::Value::as_bool) != Some(true) {
        return Err(InvalidToken::Inactive);
    }
    let claims = Claims::from_map(response)?;
    check_claims(options, &claims, false)?;
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn options() -> ValidatorOptions {
        ValidatorOptions::new("https://idp.test", "api").introspection_secret("s")
    }

    fn map(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn only_active_answers_for_this_api_are_accepted() {
        let exp = now() + 60;
        assert_eq!(
            interpret(&options(), map(json!({"active": false}))),
            Err(InvalidToken::Inactive)
        );
        assert_eq!(
            interpret(&options(), map(json!({"active": "true"}))),
            Err(InvalidToken::Inactive)
        );
        assert_eq!(
            interpret(
                &options(),
                map(json!({"active": true, "aud": "other", "exp": exp}))
            ),
            Err(InvalidToken::WrongAudience)
        );
        let claims = interpret(
            &options(),
            map(json!({"active": true, "aud": "api", "iss": "https://idp.test", "exp": exp})),
        )
        .unwrap();
        assert_eq!(claims.expires_at(), Some(exp));
    }

    #[test]
    fn answers_are_cached_by_hash_and_never_past_expiry() {
        let introspector = Introspector::new(&options()).unwrap();
        let key = oxidp_jose::sha256("token");
        introspector.remember(key, &Err(InvalidToken::Inactive));
        assert_eq!(introspector.cached(&key), Some(Err(InvalidToken::Inactive)));

        let expired_key = oxidp_jose::sha256("expired");
        let expired = Claims::from_json(json!({"exp": now() - 1})).unwrap();
        introspector.remember(expired_key, &Ok(expired));
        assert_eq!(introspector.cached(&expired_key), None);
    }

    #[test]
    fn a_full_cache_starts_over_instead_of_growing() {
        let mut options = options();
        options.introspection_cache_capacity = 4;
        let introspector = Introspector::new(&options).unwrap();
        for i in 0..10u8 {
            introspector.remember([i; 32], &Err(InvalidToken::Inactive));
        }
        assert!(introspector.cache.lock().unwrap().len() <= 4);
    }
}
