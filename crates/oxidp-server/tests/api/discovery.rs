//! Discovery and JWKS documents.

use crate::helpers::*;
use serde_json::Value;

#[tokio::test]
async fn the_discovery_document_advertises_what_is_implemented() {
    let app = TestApp::spawn().await;
    let response = app.get("/.well-known/openid-configuration").await;
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    insta::assert_json_snapshot!("discovery_document", document);
}

#[tokio::test]
async fn the_jwks_publishes_public_keys_only() {
    let app = TestApp::spawn_with(None, |config| {
        config.keys.algorithms = oxidp_jose::SigningAlgorithm::ALL.to_vec();
    })
    .await;
    let response = app.get("/.well-known/openid-configuration/jwks").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/jwk-set+json"
    );
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 4);
    for key in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "{private} published");
        }
        assert_eq!(key["use"], "sig");
        assert!(key["kid"].is_string());
    }
    let mut shapes: Vec<Value> = keys
        .iter()
        .map(|k| {
            let mut k = k.clone();
            for field in ["kid", "x", "y", "n"] {
                if k.get(field).is_some() {
                    k[field] = Value::String(format!("[{field}]"));
                }
            }
            k
        })
        .collect();
    shapes.sort_by_key(|k| k["alg"].as_str().unwrap_or_default().to_owned());
    insta::assert_json_snapshot!("jwks_shape", shapes);
}
