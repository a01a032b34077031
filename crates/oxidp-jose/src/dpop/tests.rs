use super::*;
use serde_json::json;

const HTU: &str = "https://id.example/connect/token";
const NOW: i64 = 1_700_000_000;

fn key() -> SigningKey {
    SigningKey::generate(SigningAlgorithm::ES256).unwrap()
}

fn expect() -> ProofExpectation<'static> {
    ProofExpectation::new("POST", HTU, NOW)
}

/// A proof with an arbitrary header and claims, signed by `key` (for the rejections the
/// builder cannot produce).
fn forge(key: &SigningKey, header: Value, claims: Value) -> String {
    key.sign_with_header(&header, &claims).unwrap()
}

fn header(key: &SigningKey) -> Value {
    json!({"typ": "dpop+jwt", "alg": key.algorithm().as_str(), "jwk": key.bare_public_jwk()})
}

fn claims() -> Value {
    json!({"jti": "id-1", "htm": "POST", "htu": HTU, "iat": NOW})
}

fn with(mut value: Value, name: &str, member: Value) -> Value {
    value[name] = member;
    value
}

fn without(mut value: Value, name: &str) -> Value {
    value.as_object_mut().unwrap().remove(name);
    value
}

#[test]
fn a_proof_from_the_builder_verifies_for_every_key_type() {
    for alg in SigningAlgorithm::ALL {
        let key = SigningKey::generate(alg).unwrap();
        let proof = DpopProofBuilder::new("POST", HTU, NOW).sign(&key).unwrap();
        let verified = DpopProof::verify(&proof, &expect()).unwrap();
        assert_eq!(verified.jkt, key.thumbprint(), "{alg}");
        assert_eq!(verified.algorithm, signing_algorithm(alg));
        assert_eq!(verified.jti.len(), 43);
        assert_eq!(verified.iat, NOW);
        assert_eq!(verified.nonce, None);
    }
}

#[test]
fn the_thumbprint_matches_jsonwebtoken_for_the_proof_key() {
    let key = key();
    let proof = DpopProofBuilder::new("POST", HTU, NOW).sign(&key).unwrap();
    let verified = DpopProof::verify(&proof, &expect()).unwrap();
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(serde_json::to_value(key.bare_public_jwk()).unwrap()).unwrap();
    assert_eq!(
        verified.jkt,
        jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
            .unwrap()
    );
}

#[test]
fn htu_ignores_query_fragment_case_and_default_port() {
    let key = key();
    for htu in [
        "https://id.example/connect/token?x=1",
        "https://id.example/connect/token#frag",
        "HTTPS://ID.EXAMPLE:443/connect/token",
    ] {
        let proof = forge(&key, header(&key), with(claims(), "htu", json!(htu)));
        assert!(DpopProof::verify(&proof, &expect()).is_ok(), "{htu}");
    }
    let proof = forge(&key, header(&key), claims());
    let expected = ProofExpectation::new("POST", "https://id.example/connect/token?a=b", NOW);
    assert!(DpopProof::verify(&proof, &expected).is_ok());
}

#[test]
fn a_proof_for_another_url_or_method_is_refused() {
    let key = key();
    for htu in [
        "https://id.example/connect/userinfo",
        "https://other.example/connect/token",
        "http://id.example/connect/token",
        "https://id.example:8443/connect/token",
        "/connect/token",
    ] {
        let proof = forge(&key, header(&key), with(claims(), "htu", json!(htu)));
        assert_eq!(
            DpopProof::verify(&proof, &expect()),
            Err(DpopError::HtuMismatch),
            "{htu}"
        );
    }
    let proof = forge(&key, header(&key), with(claims(), "htm", json!("GET")));
    assert_eq!(
        DpopProof::verify(&proof, &expect()),
        Err(DpopError::HtmMismatch)
    );
}

#[test]
fn malformed_proofs_are_refused() {
    for proof in [
        "",
        "garbage",
        "a.b",
        "a.b.c.d",
        "!!!.e30.sig",
        &format!("{}.e30.sig", b64url_encode("not json")),
        &"a".repeat(MAX_PROOF_LENGTH + 1),
    ] {
        assert_eq!(
            DpopProof::verify(proof, &expect()),
            Err(DpopError::Malformed),
            "{proof:.20}"
        );
    }
}

#[test]
fn the_type_must_be_dpop_jwt() {
    let key = key();
    for typ in [json!("JWT"), json!("DPOP+JWT"), json!(1)] {
        let proof = forge(&key, with(header(&key), "typ", typ.clone()), claims());
        assert_eq!(
            DpopProof::verify(&proof, &expect()),
            Err(DpopError::WrongType),
            "{typ}"
        );
    }
    let proof = forge(&key, without(header(&key), "typ"), claims());
    assert_eq!(
        DpopProof::verify(&proof, &expect()),
        Err(DpopError::WrongType)
    );
}

#[test]
fn none_hmac_and_unlisted_algorithms_are_refused() {
    let key = key();
    for alg in ["none", "HS256", "HS512", "RS512", ""] {
        let proof = forge(&key, with(header(&key), "alg", json!(alg)), claims());
        assert_eq!(
            DpopProof::verify(&proof, &expect()),
            Err(DpopError::AlgorithmNotAllowed),
            "{alg}"
        );
    }
    let proof = forge(&key, header(&key), claims());
    let only_eddsa = [DpopAlgorithm::EdDSA];
    assert_eq!(
        DpopProof::verify(&proof, &expect().with_algorithms(&only_eddsa)),
        Err(DpopError::AlgorithmNotAllowed)
    );
}

#[test]
fn an_hmac_proof_with_a_symmetric_jwk_is_refused() {
    // A real HS256 proof whose key travels as an `oct` JWK: both the algorithm and the key
    // must be refused, whichever is checked first.
    let secret = b"a shared secret of enough length!!";
    let jwk = json!({"kty": "oct", "k": b64url_encode(secret)});
    let hs_header = json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": jwk});
    let mut jwt_header = jsonwebtoken::Header::new(Algorithm::HS256);
    jwt_header.typ = Some("dpop+jwt".into());
    crate::install_crypto_provider();
    let token = jsonwebtoken::encode(
        &jwt_header,
        &claims(),
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap();
    let body = token.split_once('.').unwrap().1;
    let proof = format!("{}.{body}", b64url_encode(hs_header.to_string()));
    assert_eq!(
        DpopProof::verify(&proof, &expect()),
        Err(DpopError::AlgorithmNotAllowed)
    );
    let key = key();
    let oct_without_k = forge(
        &key,
        with(header(&key), "jwk", json!({"kty": "oct"})),
        claims(),
    );
    assert_eq!(
        DpopProof::verify(&oct_without_k, &expect()),
        Err(DpopError::SymmetricKey)
    );
}

#[test]
fn a_private_key_in_the_header_is_refused() {
    let key = key();
    for member in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        let mut jwk = serde_json::to_value(key.bare_public_jwk()).unwrap();
        jwk[member] = json!("AAAA");
        let proof = forge(&key, with(header(&key), "jwk", jwk), claims());
        assert_eq!(
            DpopProof::verify(&proof, &expect()),
            Err(DpopError::PrivateKey),
            "{member}"
        );
    }
}

#[test]
fn crit_and_missing_or_broken_jwk_are_refused() {
    let key = key();
    let proof = forge(&key, with(header(&key), "crit", json!(["exp"])), claims());
    assert_eq!(
        DpopProof::verify(&proof, &expect()),
        Err(DpopError::CriticalHeader)
    );
    let proof = forge(&key, without(header(&key), "jwk"), claims());
    assert_eq!(
        DpopProof::verify(&proof, &expect()),
        Err(DpopError::MissingJwk)
    );
    for jwk in [
        json!("string"),
        json!({"kty": "EC", "crv": "P-256", "x": "AA"}),
        json!({"kty": "XYZ"}),
        json!({"kty": "EC", "crv": "P-256", "x": "!!", "y": "!!"}),
    ] {
        let proof = forge(&key, with(header(&key), "jwk", jwk.clone()), claims());
        assert!(
            matches!(
                DpopProof::verify(&proof, &expect()),
                Err(DpopError::InvalidJwk | DpopError::MissingJwk | DpopError::InvalidSignature)
            ),
            "{jwk}"
        );
    }
}

#[test]
fn a_proof_signed_by_another_key_than_its_jwk_is_refused() {
    let key = key();
    let other = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let proof = forge(&key, header(&other), claims());
    assert_eq!(
        DpopProof::verify(&proof, &expect()),
        Err(DpopError::InvalidSignature)
    );
    // A tampered payload.
    let good = forge(&key, header(&key), claims());
    let mut parts: Vec<&str> = good.split('.').collect();
    let tampered = b64url_encode(with(claims(), "htm", json!("POST ")).to_string());
    parts[1] = &tampered;
    assert_eq!(
        DpopProof::verify(&parts.join("."), &expect()),
        Err(DpopError::InvalidSignature)
    );
}

#[test]
fn jti_is_required_and_bounded() {
    let key = key();
    for bad in [
        without(claims(), "jti"),
        with(claims(), "jti", json!("")),
        with(claims(), "jti", json!(7)),
    ] {
        let proof = forge(&key, header(&key), bad);
        assert_eq!(
            DpopProof::verify(&proof, &expect()),
            Err(DpopError::MissingClaim("jti"))
        );
    }
    let long = forge(
        &key,
        header(&key),
        with(claims(), "jti", json!("x".repeat(257))),
    );
    assert_eq!(
        DpopProof::verify(&long, &expect()),
        Err(DpopError::JtiTooLong)
    );
    let limit = forge(
        &key,
        header(&key),
        with(claims(), "jti", json!("x".repeat(256))),
    );
    assert!(DpopProof::verify(&limit, &expect()).is_ok());
}

#[test]
fn htm_htu_and_iat_are_required() {
    let key = key();
    for (claim, name) in [("htm", "htm"), ("htu", "htu"), ("iat", "iat")] {
        let proof = forge(&key, header(&key), without(claims(), claim));
        assert_eq!(
            DpopProof::verify(&proof, &expect()),
            Err(DpopError::MissingClaim(name))
        );
    }
    let proof = forge(
        &key,
        header(&key),
        with(claims(), "iat", json!("1700000000")),
    );
    assert_eq!(
        DpopProof::verify(&proof, &expect()),
        Err(DpopError::MissingClaim("iat"))
    );
}

#[test]
fn iat_must_be_within_the_window() {
    let key = key();
    let at = |iat: i64| forge(&key, header(&key), with(claims(), "iat", json!(iat)));
    assert!(DpopProof::verify(&at(NOW - 60), &expect()).is_ok());
    assert!(DpopProof::verify(&at(NOW + 5), &expect()).is_ok());
    assert_eq!(
        DpopProof::verify(&at(NOW - 61), &expect()),
        Err(DpopError::TooOld)
    );
    assert_eq!(
        DpopProof::verify(&at(NOW - 600), &expect()),
        Err(DpopError::TooOld)
    );
    assert_eq!(
        DpopProof::verify(&at(NOW + 6), &expect()),
        Err(DpopError::IssuedInFuture)
    );
    assert!(DpopProof::verify(&at(NOW - 600), &expect().with_window(900, 0)).is_ok());
}

#[test]
fn ath_is_required_and_compared_when_a_token_is_presented() {
    let key = key();
    let expected = expect().with_access_token("the-token");
    let without_ath = DpopProofBuilder::new("POST", HTU, NOW).sign(&key).unwrap();
    assert_eq!(
        DpopProof::verify(&without_ath, &expected),
        Err(DpopError::MissingAth)
    );
    let other = DpopProofBuilder::new("POST", HTU, NOW)
        .access_token("another-token")
        .sign(&key)
        .unwrap();
    assert_eq!(
        DpopProof::verify(&other, &expected),
        Err(DpopError::AthMismatch)
    );
    let right = DpopProofBuilder::new("POST", HTU, NOW)
        .access_token("the-token")
        .sign(&key)
        .unwrap();
    assert!(DpopProof::verify(&right, &expected).is_ok());
}

#[test]
fn ath_is_the_rfc9449_hash() {
    // RFC 9449 §7.1, figure 13: the access token and its ath.
    assert_eq!(
        access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
}

#[test]
fn nonce_is_returned_and_compared_when_expected() {
    let key = key();
    let with_nonce = DpopProofBuilder::new("POST", HTU, NOW)
        .nonce("n-1")
        .jti("fixed")
        .sign(&key)
        .unwrap();
    let verified = DpopProof::verify(&with_nonce, &expect()).unwrap();
    assert_eq!(verified.nonce.as_deref(), Some("n-1"));
    assert_eq!(verified.jti, "fixed");
    assert!(DpopProof::verify(&with_nonce, &expect().with_nonce("n-1")).is_ok());
    let error = DpopProof::verify(&with_nonce, &expect().with_nonce("n-2")).unwrap_err();
    assert_eq!(error, DpopError::NonceMismatch);
    assert!(error.is_nonce_error());
    let no_nonce = DpopProofBuilder::new("POST", HTU, NOW).sign(&key).unwrap();
    let error = DpopProof::verify(&no_nonce, &expect().with_nonce("n-1")).unwrap_err();
    assert_eq!(error, DpopError::MissingNonce);
    assert!(error.is_nonce_error());
    assert!(!DpopError::TooOld.is_nonce_error());
    let bad_type = forge(&key, header(&key), with(claims(), "nonce", json!(5)));
    assert_eq!(
        DpopProof::verify(&bad_type, &expect()),
        Err(DpopError::MissingClaim("nonce"))
    );
}

#[test]
fn create_proof_matches_the_builder() {
    let key = key();
    let proof = create_proof(
        &key,
        "GET",
        "https://api.example/data?page=2#top",
        NOW,
        Some("j"),
        Some("n"),
        Some("tok"),
    )
    .unwrap();
    let expected = ProofExpectation::new("GET", "https://api.example/data", NOW)
        .with_access_token("tok")
        .with_nonce("n");
    let verified = DpopProof::verify(&proof, &expected).unwrap();
    assert_eq!(verified.htu, "https://api.example/data");
    assert_eq!(verified.jti, "j");
}

#[test]
fn error_messages_do_not_echo_the_proof() {
    let key = key();
    let proof = forge(
        &key,
        header(&key),
        with(claims(), "jti", json!("x".repeat(300))),
    );
    let message = DpopProof::verify(&proof, &expect())
        .unwrap_err()
        .to_string();
    assert!(!message.contains("xxxx"));
}

#[test]
fn an_es384_proof_verifies() {
    // SigningKey has no P-384 keys, so this proof is signed with jsonwebtoken directly.
    use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    crate::install_crypto_provider();
    let pair = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let jwk = json!({
        "kty": "EC", "crv": "P-384",
        "x": b64url_encode(&point[1..49]), "y": b64url_encode(&point[49..97])
    });
    let mut jwt_header = jsonwebtoken::Header::new(Algorithm::ES384);
    jwt_header.typ = Some("dpop+jwt".into());
    jwt_header.jwk = Some(serde_json::from_value(jwk.clone()).unwrap());
    let encoding = jsonwebtoken::EncodingKey::from_ec_der(pair.to_pkcs8v1().unwrap().as_ref());
    let proof = jsonwebtoken::encode(&jwt_header, &claims(), &encoding).unwrap();
    let verified = DpopProof::verify(&proof, &expect()).unwrap();
    assert_eq!(verified.algorithm, DpopAlgorithm::ES384);
    let ours: Jwk = serde_json::from_value(jwk).unwrap();
    assert_eq!(Some(verified.jkt), ours.thumbprint());
}
