//! JWT access tokens (RFC 9068 §4): header checks before any key is looked up, the signature
//! through `oxidp_jose::verify` (asymmetric algorithms only, no `oct` or private keys, no
//! `crit`), then the claims.

use crate::claims::Claims;
use crate::error::{ErrorKind, InvalidToken};
use crate::http_client::IssuerClient;
use crate::keys::KeyCache;
use crate::options::ValidatorOptions;
use oxidp_jose::verify::VerifyError;
use serde::Deserialize;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// Validates a JWT access token and returns its claims.
pub(crate) async fn validate(
    options: &ValidatorOptions,
    client: &IssuerClient,
    keys: &KeyCache,
    token: &str,
) -> Result<Claims, ErrorKind> {
    let header = header(token)?;
    // RFC 9068 §4: `at+jwt`, or its full media type; media types are case-insensitive.
    let typ = header.typ.as_deref().unwrap_or_default();
    if !typ.eq_ignore_ascii_case("at+jwt") && !typ.eq_ignore_ascii_case("application/at+jwt") {
        return Err(InvalidToken::WrongType.into());
    }
    // Refused before the key lookup, so such tokens never cause a JWKS request.
    if header.alg == "none" || header.alg.starts_with("HS") || header.crit.is_some() {
        return Err(InvalidToken::AlgorithmNotAllowed.into());
    }
    let snapshot = keys.keys_for(client, header.kid.as_deref()).await?;
    let raw = snapshot
        .verifier
        .verify(token)
        .map_err(|error| match error {
            VerifyError::Malformed => InvalidToken::Malformed,
            VerifyError::AlgorithmNotAllowed | VerifyError::CriticalHeader => {
                InvalidToken::AlgorithmNotAllowed
            }
            VerifyError::NoMatchingKey => InvalidToken::UnknownKey,
            VerifyError::InvalidSignature => InvalidToken::BadSignature,
        })?;
    let claims = Claims::from_map(raw)?;
    check_claims(options, &claims, true)?;
    Ok(claims)
}

/// The claim checks shared by JWTs and introspection responses. A JWT must carry `iss`, `aud`
/// and `exp` (RFC 9068 §4); an introspection response (`strict = false`) is checked on what it
/// carries, since the issuer already answered for this API.
pub(crate) fn check_claims(
    options: &ValidatorOptions,
    claims: &Claims,
    strict: bool,
) -> Result<(), InvalidToken> {
    match claims.issuer() {
        Some(iss) if iss == options.issuer => {}
        None if !strict => {}
        _ => return Err(InvalidToken::WrongIssuer),
    }
    let audiences = claims.audiences();
    let lenient_absent = !strict && audiences.is_empty();
    if !audiences.contains(&options.audience) && !lenient_absent {
        return Err(InvalidToken::WrongAudience);
    }
    let now = now();
    let skew = i64::try_from(options.clock_skew.as_secs()).unwrap_or(i64::MAX);
    match claims.expires_at() {
        Some(exp) if now < exp.saturating_add(skew) => {}
        None if !strict => {}
        Some(_) => return Err(InvalidToken::Expired),
        None => return Err(InvalidToken::Malformed),
    }
    if claims
        .not_before()
        .is_some_and(|nbf| nbf > now.saturating_add(skew))
    {
        return Err(InvalidToken::NotYetValid);
    }
    Ok(())
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

fn header(token: &str) -> Result<Header, InvalidToken> {
    let encoded = token.split('.').next().unwrap_or_default();
    let bytes = oxidp_jose::b64url_decode(encoded).ok_or(InvalidToken::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| InvalidToken::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn options() -> ValidatorOptions {
        ValidatorOptions::new("https://idp.test", "api").clock_skew(Duration::from_secs(5))
    }

    fn claims(value: serde_json::Value) -> Claims {
        Claims::from_json(value).unwrap()
    }

    #[test]
    fn jwt_claims_need_issuer_audience_and_expiry() {
        let now = now();
        let ok = serde_json::json!({"iss": "https://idp.test", "aud": "api", "exp": now + 60});
        assert_eq!(check_claims(&options(), &claims(ok.clone()), true), Ok(()));
        let mut no_exp = ok.clone();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert_eq!(
            check_claims(&options(), &claims(no_exp.clone()), true),
            Err(InvalidToken::Malformed)
        );
        assert_eq!(check_claims(&options(), &claims(no_exp), false), Ok(()));
    }

    #[test]
    fn expiry_and_not_before_allow_the_clock_skew() {
        let now = now();
        let at = |exp: i64, nbf: i64| {
            check_claims(
                &options(),
                &claims(serde_json::json!({
                    "iss": "https://idp.test", "aud": ["x", "api"], "exp": exp, "nbf": nbf
                })),
                true,
            )
        };
        assert_eq!(at(now - 3, now - 60), Ok(()));
        assert_eq!(at(now - 6, now - 60), Err(InvalidToken::Expired));
        assert_eq!(at(now + 60, now + 3), Ok(()));
        assert_eq!(at(now + 60, now + 30), Err(InvalidToken::NotYetValid));
    }

    #[test]
    fn issuer_and_audience_must_match_exactly() {
        let exp = now() + 60;
        let check = |iss: &str, aud: &str| {
            check_claims(
                &options(),
                &claims(serde_json::json!({"iss": iss, "aud": aud, "exp": exp})),
                false,
            )
        };
        assert_eq!(
            check("https://idp.test/", "api"),
            Err(InvalidToken::WrongIssuer)
        );
        assert_eq!(
            check("https://idp.test", "apix"),
            Err(InvalidToken::WrongAudience)
        );
    }
}
