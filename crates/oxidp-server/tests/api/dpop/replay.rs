//! A proof is honoured once: on one instance, and across two instances on one PostgreSQL
//! database (the seen proofs live in the store, not in a process).

use super::*;
use oxidp_core::store::Stores;
use oxidp_store::testing::{drop_test_schema, postgres_test_store};
use std::sync::Arc;

#[tokio::test]
async fn a_replayed_proof_is_refused() {
    let app = spawn().await;
    let holder = Holder::new();
    let proof = holder.token_proof(&app);
    let client = ("m2m", "m2m-secret");
    assert_eq!(
        client_credentials(&app, client, &[&proof]).await.status(),
        200
    );
    let replay = client_credentials(&app, client, &[&proof]).await;
    let body = assert_oauth_error(replay, 400, "invalid_dpop_proof").await;
    assert_eq!(body["error_description"], "the DPoP proof was used before");
    // A new proof of the same key works as usual.
    assert_eq!(
        client_credentials(&app, client, &[&holder.token_proof(&app)])
            .await
            .status(),
        200
    );
}

/// Two servers over one PostgreSQL schema, as two instances behind a load balancer.
async fn two_instances(adjust: fn(&mut Config)) -> (TestApp, TestApp, oxidp_store::PostgresStore) {
    let store = postgres_test_store().await;
    let stores = || Some(Stores::from_backend(Arc::new(store.clone())));
    let with_clients = move |config: &mut Config| {
        config.clients.extend(dpop_clients());
        adjust(config);
    };
    let one = TestApp::spawn_on(stores(), None, with_clients).await;
    let two = TestApp::spawn_on(stores(), None, with_clients).await;
    assert_ne!(one.address, two.address);
    (one, two, store)
}

#[tokio::test]
async fn a_proof_replayed_on_another_instance_is_refused_on_postgres() {
    let (one, two, store) = two_instances(|_| {}).await;
    let holder = Holder::new();
    let client = ("dpop-m2m", "dpop-secret");
    let proof = holder.token_proof(&one);
    let first = client_credentials(&one, client, &[&proof]).await;
    assert_eq!(first.status(), 200);
    let replay = client_credentials(&two, client, &[&proof]).await;
    assert_oauth_error(replay, 400, "invalid_dpop_proof").await;
    // The second instance takes fresh proofs of the same key.
    let fresh = client_credentials(&two, client, &[&holder.token_proof(&two)]).await;
    assert_eq!(fresh.status(), 200);
    drop((one, two));
    drop_test_schema(store).await;
}

#[tokio::test]
async fn concurrent_uses_of_one_proof_on_two_instances_succeed_once_on_postgres() {
    let (one, two, store) = two_instances(|_| {}).await;
    let holder = Holder::new();
    let client = ("m2m", "m2m-secret");
    let proof = holder.token_proof(&one);
    let proofs = [proof.as_str()];
    let attempts = (0..6).map(|n| {
        let app = if n % 2 == 0 { &one } else { &two };
        client_credentials(app, client, &proofs)
    });
    let mut statuses = Vec::new();
    for response in futures_join(attempts).await {
        statuses.push(response.status().as_u16());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400, 400, 400, 400, 400]);
    drop((one, two));
    drop_test_schema(store).await;
}

#[tokio::test]
async fn a_nonce_from_one_instance_is_accepted_by_another_on_postgres() {
    let (one, two, store) = two_instances(|config| config.dpop.require_nonce = true).await;
    let holder = Holder::new();
    let client = ("m2m", "m2m-secret");
    let demanded = client_credentials(&one, client, &[&holder.token_proof(&one)]).await;
    let nonce = nonce_of(&demanded).expect("a nonce");
    assert_oauth_error(demanded, 400, "use_dpop_nonce").await;
    let proof = holder.proof(&two, "POST", TOKEN_URL, Some(&nonce), None);
    let response = client_credentials(&two, client, &[&proof]).await;
    assert_eq!(response.status(), 200);
    drop((one, two));
    drop_test_schema(store).await;
}

/// Runs the futures concurrently and returns their outputs in order.
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.map(|f| Some(Box::pin(f))).collect();
    let mut results: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (slot, result) in pending.iter_mut().zip(results.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => {
                        *result = Some(value);
                        *slot = None;
                    }
                    std::task::Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().flatten().collect()
}
