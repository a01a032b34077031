//! Conformance checks for [`ResourceStore`]: round trips, upserts, listing order and deletion.

use super::{assert_sorted, now, unique};
use crate::model::{ApiResource, HashedSecret};
use crate::store::ResourceStore;
use time::Duration;

/// A resource with every field set to a non-default value.
fn full_resource(name: &str) -> ApiResource {
    ApiResource {
        name: name.to_owned(),
        display_name: Some("Kit API".to_owned()),
        enabled: false,
        scopes: vec!["kit.read".to_owned(), "kit.write".to_owned()],
        secrets: vec![HashedSecret {
            sha256: HashedSecret::from_plaintext("introspect").sha256,
            description: Some("introspection".to_owned()),
            expires: Some(now() + Duration::days(7)),
        }],
    }
}

/// A resource with every field set reads back equal, and so does one with only defaults; an
/// unknown name reads back as `None`.
pub async fn api_resources_round_trip_every_field<S: ResourceStore + ?Sized>(store: &S) {
    let resource = full_resource(&format!("kit-api-{}", unique()));
    store
        .upsert_api_resource(&resource)
        .await
        .expect("upsert_api_resource");
    let found = store
        .find_api_resource(&resource.name)
        .await
        .expect("find_api_resource");
    assert_eq!(
        found.as_ref(),
        Some(&resource),
        "full resource read back differs"
    );

    let minimal = ApiResource::new(format!("kit-api-{}", unique()));
    store
        .upsert_api_resource(&minimal)
        .await
        .expect("upsert_api_resource");
    let found = store
        .find_api_resource(&minimal.name)
        .await
        .expect("find_api_resource");
    assert_eq!(
        found.as_ref(),
        Some(&minimal),
        "minimal resource read back differs"
    );

    let missing = store
        .find_api_resource(&format!("kit-missing-{}", unique()))
        .await
        .expect("find_api_resource");
    assert_eq!(
        missing, None,
        "an unknown resource name must read back as None"
    );
}

/// Upserting a resource with an existing name replaces every field, and leaves one resource.
pub async fn api_resource_upsert_replaces<S: ResourceStore + ?Sized>(store: &S) {
    let name = format!("kit-api-{}", unique());
    store
        .upsert_api_resource(&full_resource(&name))
        .await
        .expect("upsert_api_resource");
    let mut replacement = ApiResource::new(&name);
    replacement.scopes = vec!["only.this".to_owned()];
    store
        .upsert_api_resource(&replacement)
        .await
        .expect("upsert_api_resource (replace)");

    let found = store
        .find_api_resource(&name)
        .await
        .expect("find_api_resource");
    assert_eq!(found.as_ref(), Some(&replacement), "upsert did not replace");
    let listed = store
        .list_api_resources()
        .await
        .expect("list_api_resources");
    let copies = listed.iter().filter(|r| r.name == name).count();
    assert_eq!(
        copies, 1,
        "upsert must leave exactly one resource with the name"
    );
}

/// Resources are listed in byte order of their name (upper case before lower case).
pub async fn api_resources_are_listed_in_name_order<S: ResourceStore + ?Sized>(store: &S) {
    let prefix = format!("kit-order-{}-", unique());
    for suffix in ["b", "a0", "B", "a"] {
        store
            .upsert_api_resource(&ApiResource::new(format!("{prefix}{suffix}")))
            .await
            .expect("upsert_api_resource");
    }
    let listed = store
        .list_api_resources()
        .await
        .expect("list_api_resources");
    assert_sorted(&listed, |r| r.name.clone(), "resources");
    let ours: Vec<String> = listed
        .iter()
        .filter_map(|r| r.name.strip_prefix(&prefix).map(str::to_owned))
        .collect();
    assert_eq!(
        ours,
        ["B", "a", "a0", "b"],
        "resources are not ordered by name"
    );
}
