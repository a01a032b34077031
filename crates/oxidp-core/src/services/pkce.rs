//! PKCE (RFC 7636), in one place: the challenge the authorization request must carry, and the
//! verifier the code redemption must match.

use crate::error::{ErrorCode, OAuthError};
use crate::model::Client;
use crate::params::Parameters;
use oxidp_jose::{b64url_decode, b64url_encode, constant_time_eq, sha256};

/// The `code_challenge` of an authorization request, checked: only S256 (RFC 9700 §2.1.1),
/// well formed, and required for public clients and clients registered with `require_pkce`.
/// The error goes back to the client (`invalid_request`).
pub(crate) fn challenge_of(
    params: &Parameters,
    client: &Client,
) -> Result<Option<String>, OAuthError> {
    let refuse = OAuthError::invalid_request;
    match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (Some(challenge), Some("S256")) => {
            if !(43..=128).contains(&challenge.len()) || b64url_decode(challenge).is_none() {
                return Err(refuse("code_challenge is malformed"));
            }
            Ok(Some(challenge.to_owned()))
        }
        (Some(_), None | Some("plain")) => Err(refuse("code_challenge_method must be S256")),
        (Some(_), Some(_)) => Err(refuse("unsupported code_challenge_method")),
        (None, _) if client.require_pkce || client.is_public() => {
            Err(refuse("code_challenge is required"))
        }
        (None, _) => Ok(None),
    }
}

/// RFC 7636 §4.6: `BASE64URL(SHA256(code_verifier)) == code_challenge`. A verifier without a
/// challenge is refused too (RFC 9700 §2.1.1), so a downgrade cannot go unnoticed. The error
/// is `invalid_grant`.
pub(crate) fn verify(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), OAuthError> {
    let refuse = |description| OAuthError::new(ErrorCode::InvalidGrant, description);
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(refuse(
            "code_verifier sent, but the authorization request had no code_challenge",
        )),
        (Some(_), None) => Err(refuse("code_verifier is missing")),
        (Some(challenge), Some(verifier)) => {
            let well_formed = (43..=128).contains(&verifier.len())
                && verifier
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            let matches = constant_time_eq(
                b64url_encode(sha256(verifier)).as_bytes(),
                challenge.as_bytes(),
            );
            if well_formed && matches {
                Ok(())
            } else {
                Err(refuse("code_verifier does not match the code_challenge"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_accepts_the_rfc7636_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verify(Some(challenge), Some(verifier)).is_ok());
    }

    #[test]
    fn verify_refuses_wrong_missing_and_unexpected_verifiers() {
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX";
        assert!(verify(Some(challenge), Some(wrong)).is_err());
        assert!(verify(Some(challenge), None).is_err());
        let right = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(verify(None, Some(right)).is_err());
        assert!(verify(Some(challenge), Some("short")).is_err());
    }

    fn client(public: bool, require_pkce: bool) -> Client {
        let mut client = Client::new("c");
        client.require_pkce = require_pkce;
        client.require_client_secret = !public;
        client
    }

    #[test]
    fn challenge_rules() {
        let params = |body: &[u8]| Parameters::from_form(body).expect("form");
        let good = b"code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
        assert!(challenge_of(&params(good), &client(true, false)).is_ok_and(|c| c.is_some()));
        let plain = b"code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=plain";
        assert!(challenge_of(&params(plain), &client(false, false)).is_err());
        let short = b"code_challenge=abc&code_challenge_method=S256";
        assert!(challenge_of(&params(short), &client(false, false)).is_err());
        assert!(challenge_of(&params(b""), &client(true, false)).is_err());
        assert!(challenge_of(&params(b""), &client(false, true)).is_err());
        assert!(challenge_of(&params(b""), &client(false, false)).is_ok_and(|c| c.is_none()));
    }
}
