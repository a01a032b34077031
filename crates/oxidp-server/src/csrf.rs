//! CSRF protection for the server's own HTML forms (login, consent, logout).
//!
//! Stateless double-submit bound to a cookie: the browser holds a random 256-bit value in an
//! `HttpOnly`, `SameSite=Strict` cookie, and every form carries
//! `HMAC-SHA256(server key, cookie value)` in its [`CSRF_FIELD`] field. A cross-site attacker can
//! neither read the cookie nor compute the MAC, so it cannot produce a matching pair; a pair it
//! obtained for itself does not help either, because over https the cookie carries the
//! `__Host-` prefix and so cannot be planted from a sibling subdomain.

use aws_lc_rs::hmac;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use oxidp_jose::{b64url_decode, b64url_encode, constant_time_eq, random_bytes};

/// Name of the hidden form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf_token";

/// Cookie name over https: the `__Host-` prefix makes browsers insist on `Secure`, `Path=/` and no
/// `Domain`, so a sibling subdomain cannot overwrite it.
const SECURE_COOKIE: &str = "__Host-oxidp.csrf";
/// Cookie name over plain http (development), where browsers refuse `__Host-` cookies.
const PLAIN_COOKIE: &str = "oxidp.csrf";
/// Domain separation for the MAC, so this key's tags mean nothing elsewhere.
const MAC_CONTEXT: &[u8] = b"oxidp csrf v1\0";

/// Issues and checks CSRF tokens; holds the server key. Share one behind an `Arc`.
pub struct Csrf {
    key: hmac::Key,
    secure: bool,
}

impl std::fmt::Debug for Csrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Csrf")
            .field("key", &"[redacted]")
            .field("secure", &self.secure)
            .finish()
    }
}

impl Csrf {
    /// A CSRF guard keyed with 32 secret bytes (random per process is fine: a restart only
    /// invalidates forms that were open). `secure` is true when the issuer is https; it sets the
    /// cookie's `Secure` flag and `__Host-` prefix.
    pub fn new(key: [u8; 32], secure: bool) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
            secure,
        }
    }

    /// The cookie's name: `__Host-oxidp.csrf` when secure, `oxidp.csrf` otherwise.
    pub fn cookie_name(&self) -> &'static str {
        if self.secure {
            SECURE_COOKIE
        } else {
            PLAIN_COOKIE
        }
    }

    /// The token to put in a form for this browser. When the request carries no well-formed
    /// CSRF cookie, a new value is drawn and the cookie to set is returned as well: add it to
    /// the response's jar (`jar.add(cookie)`), or the form will not verify.
    pub fn token_for(&self, jar: &CookieJar) -> (String, Option<Cookie<'static>>) {
        if let Some(existing) = jar.get(self.cookie_name())
            && well_formed(existing.value())
        {
            return (self.mac(existing.value()), None);
        }
        let value = b64url_encode(random_bytes::<32>());
        let token = self.mac(&value);
        let cookie = Cookie::build((self.cookie_name(), value))
            .http_only(true)
            .same_site(SameSite::Strict)
            .path("/")
            .secure(self.secure)
            .build();
        (token, Some(cookie))
    }

    /// Whether `form_token` is the token for `cookie_value`. Missing or malformed values fail;
    /// the comparison takes constant time.
    pub fn verify(&self, cookie_value: Option<&str>, form_token: Option<&str>) -> bool {
        let (Some(cookie_value), Some(form_token)) = (cookie_value, form_token) else {
            return false;
        };
        if !well_formed(cookie_value) {
            return false;
        }
        let Some(given) = b64url_decode(form_token) else {
            return false;
        };
        let expected = hmac::sign(&self.key, &mac_input(cookie_value));
        constant_time_eq(expected.as_ref(), &given)
    }

    /// [`Csrf::verify`] with the cookie read from the request's jar.
    pub fn verify_jar(&self, jar: &CookieJar, form_token: Option<&str>) -> bool {
        let cookie = jar.get(self.cookie_name()).map(Cookie::value);
        self.verify(cookie, form_token)
    }

    fn mac(&self, cookie_value: &str) -> String {
        b64url_encode(hmac::sign(&self.key, &mac_input(cookie_value)))
    }
}

fn mac_input(cookie_value: &str) -> Vec<u8> {
    [MAC_CONTEXT, cookie_value.as_bytes()].concat()
}

/// A cookie value we could have issued: 32 bytes, base64url.
fn well_formed(value: &str) -> bool {
    value.len() == 43 && b64url_decode(value).is_some_and(|bytes| bytes.len() == 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Csrf {
        Csrf::new([7; 32], true)
    }

    fn issue(csrf: &Csrf) -> (String, String) {
        let (token, cookie) = csrf.token_for(&CookieJar::new());
        let cookie = cookie.expect("a fresh jar gets a cookie");
        (cookie.value().to_owned(), token)
    }

    #[test]
    fn valid_pair_passes() {
        let csrf = guard();
        let (cookie, token) = issue(&csrf);
        assert!(csrf.verify(Some(&cookie), Some(&token)));
    }

    #[test]
    fn missing_cookie_or_token_fails() {
        let csrf = guard();
        let (cookie, token) = issue(&csrf);
        assert!(!csrf.verify(None, Some(&token)));
        assert!(!csrf.verify(Some(&cookie), None));
        assert!(!csrf.verify(None, None));
        assert!(!csrf.verify(Some(""), Some("")));
    }

    #[test]
    fn token_from_another_cookie_fails() {
        let csrf = guard();
        let (cookie_a, _) = issue(&csrf);
        let (_, token_b) = issue(&csrf);
        assert!(!csrf.verify(Some(&cookie_a), Some(&token_b)));
    }

    #[test]
    fn tampered_token_or_cookie_fails() {
        let csrf = guard();
        let (cookie, token) = issue(&csrf);
        let mut bad_token = token.clone().into_bytes();
        bad_token[0] = if bad_token[0] == b'A' { b'B' } else { b'A' };
        let bad_token = String::from_utf8(bad_token).expect("ascii");
        assert!(!csrf.verify(Some(&cookie), Some(&bad_token)));
        assert!(!csrf.verify(Some(&cookie), Some(&token[..token.len() - 1])));
        let bad_cookie =
            cookie.replacen(&cookie[..1], if &cookie[..1] == "A" { "B" } else { "A" }, 1);
        assert!(!csrf.verify(Some(&bad_cookie), Some(&token)));
    }

    #[test]
    fn another_server_key_rejects_the_token() {
        let (cookie, token) = issue(&guard());
        assert!(!Csrf::new([8; 32], true).verify(Some(&cookie), Some(&token)));
    }

    #[test]
    fn existing_cookie_is_reused_and_verifies_from_the_jar() {
        let csrf = guard();
        let (cookie, token) = issue(&csrf);
        let jar = CookieJar::new().add(Cookie::new(csrf.cookie_name(), cookie));
        let (again, set) = csrf.token_for(&jar);
        assert!(set.is_none());
        assert_eq!(again, token);
        assert!(csrf.verify_jar(&jar, Some(&token)));
    }

    #[test]
    fn malformed_cookie_is_replaced() {
        let csrf = guard();
        let jar = CookieJar::new().add(Cookie::new(csrf.cookie_name(), "short"));
        assert!(csrf.token_for(&jar).1.is_some());
    }

    #[test]
    fn cookie_attributes_follow_the_secure_flag() {
        let (_, secure) = guard().token_for(&CookieJar::new());
        let secure = secure.expect("cookie");
        assert_eq!(secure.name(), "__Host-oxidp.csrf");
        assert_eq!(secure.secure(), Some(true));
        assert_eq!(secure.http_only(), Some(true));
        assert_eq!(secure.same_site(), Some(SameSite::Strict));
        assert_eq!(secure.path(), Some("/"));
        assert_eq!(secure.domain(), None);

        let (_, plain) = Csrf::new([7; 32], false).token_for(&CookieJar::new());
        let plain = plain.expect("cookie");
        assert_eq!(plain.name(), "oxidp.csrf");
        assert_ne!(plain.secure(), Some(true));
    }
}
