//! Criterion benchmark: validating an ES256 JWT access token whose key is cached, and a
//! reference token whose introspection answer is cached. See `bench/api-auth/README.md`.

use criterion::{Criterion, criterion_group, criterion_main};
use oxidp_api_auth::Validator;
use oxidp_api_auth::testing::{TestIssuer, bearer};
use std::hint::black_box;

fn validate(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let issuer = runtime.block_on(TestIssuer::start());
    let validator = Validator::new(issuer.validator_options()).expect("valid options");

    let jwt = bearer(&issuer.mint(&issuer.claims("orders.read")));
    runtime
        .block_on(validator.validate(&jwt))
        .expect("the token validates (and its key is now cached)");
    c.bench_function("validate_es256_jwt_cached_key", |b| {
        b.iter(|| runtime.block_on(validator.validate(black_box(&jwt))))
    });

    let reference = bearer(&issuer.issue_reference_token(issuer.claims("orders.read")));
    runtime
        .block_on(validator.validate(&reference))
        .expect("the token validates (and its answer is now cached)");
    c.bench_function("validate_reference_token_cached", |b| {
        b.iter(|| runtime.block_on(validator.validate(black_box(&reference))))
    });
}

criterion_group!(benches, validate);
criterion_main!(benches);
