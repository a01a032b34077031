//! Keys survive restarts and are shared through the database.

use crate::helpers::*;
use oxidp_core::clock::SystemClock;
use oxidp_server::Server;
use oxidp_server::config::Config;
use serde_json::Value;
use std::sync::Arc;

async fn kids(address: &str) -> Vec<String> {
    let jwks: Value = reqwest::get(format!(
        "http://{address}/.well-known/openid-configuration/jwks"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn two_instances_on_one_database_publish_the_same_keys() {
    let dir = tempfile::TempDir::new().unwrap();
    let key = oxidp_jose::SigningKey::generate(oxidp_jose::SigningAlgorithm::ES256).unwrap();
    let config = Config::from_toml(&test_config(&dir, &key)).unwrap();
    let mut addresses = Vec::new();
    let mut stops = Vec::new();
    for _ in 0..2 {
        let stores = oxidp_server::open_stores(&config.store.url, 2)
            .await
            .expect("store");
        let server = Server::build_with(config.clone(), stores, Arc::new(SystemClock))
            .await
            .unwrap();
        addresses.push(server.address().to_string());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        tokio::spawn(server.run_until_stopped(async move {
            let _ = stopped.await;
        }));
    }
    let first = kids(&addresses[0]).await;
    assert_eq!(first.len(), 2, "one ES256 and one RS256 key by default");
    assert_eq!(first, kids(&addresses[1]).await);
}

#[tokio::test]
async fn keys_are_kept_across_restarts() {
    let dir = tempfile::TempDir::new().unwrap();
    let key = oxidp_jose::SigningKey::generate(oxidp_jose::SigningAlgorithm::ES256).unwrap();
    let config = Config::from_toml(&test_config(&dir, &key)).unwrap();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let stores = oxidp_server::open_stores(&config.store.url, 2)
            .await
            .expect("store");
        let server = Server::build_with(config.clone(), stores, Arc::new(SystemClock))
            .await
            .unwrap();
        let address = server.address().to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(server.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        seen.push(kids(&address).await);
        stop.send(()).unwrap();
        running.await.unwrap().unwrap();
    }
    assert_eq!(seen[0], seen[1]);
}
