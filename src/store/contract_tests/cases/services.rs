//! Contract cases for registered services (global, keyed by name).

use crate::s2s::{Binding, Service};
use crate::store::{Store, StoreError};
use crate::tenants::{ClientSecrets, SecretHash};

fn service(name: &str) -> Service {
    Service {
        name: name.to_owned(),
        audiences: vec![],
        ttl: None,
        bindings: vec![Binding::Gateway {
            arn: format!("arn:aws:iam::1:role/{name}-*"),
        }],
        secrets: ClientSecrets::default(),
        created_at: 1_700_000_000,
        updated_at: 1_700_000_000,
    }
}

/// A service with every field set, both secrets included.
fn full_service(name: &str) -> Service {
    Service {
        audiences: vec!["pouch-services".into(), "urn:x".into()],
        ttl: Some(300),
        bindings: vec![
            Binding::Secret,
            Binding::Gateway {
                arn: "arn:aws:sts::1:assumed-role/orders/*".into(),
            },
            Binding::AwsIam {
                arn: "arn:aws:iam::1:role/orders".into(),
            },
            Binding::Mtls {
                san: "spiffe://example.org/orders".into(),
            },
        ],
        secrets: ClientSecrets {
            current: Some(SecretHash::Hmac(vec![0, 1, 2, 254, 255])),
            previous: Some(SecretHash::Hmac(vec![9; 32])),
            previous_expires_at: Some(1_700_086_400),
            vault: None,
        },
        updated_at: 1_700_000_300,
        ..service(name)
    }
}

pub async fn a_service_round_trips_every_field_and_services_list_in_name_order(store: Store) {
    store.create_service(&service("zeta")).await.unwrap();
    store.create_service(&full_service("alpha")).await.unwrap();

    assert_eq!(
        store.get_service("alpha").await.unwrap(),
        Some(full_service("alpha"))
    );
    assert_eq!(store.get_service("missing").await.unwrap(), None);
    assert_eq!(
        store.list_services().await.unwrap(),
        vec![full_service("alpha"), service("zeta")]
    );
}

pub async fn registering_a_service_name_twice_is_a_conflict(store: Store) {
    store.create_service(&service("orders")).await.unwrap();

    assert_err!(
        store.create_service(&full_service("orders")).await,
        StoreError::Conflict
    );
    assert_eq!(
        store.get_service("orders").await.unwrap(),
        Some(service("orders"))
    );
}

pub async fn updating_a_service_replaces_its_fields_but_keeps_created_at(store: Store) {
    store.create_service(&service("orders")).await.unwrap();

    let changed = Service {
        created_at: 1,
        ..full_service("orders")
    };
    store.update_service(&changed).await.unwrap();

    let stored = store.get_service("orders").await.unwrap().unwrap();
    assert_eq!(
        stored,
        Service {
            created_at: service("orders").created_at,
            ..full_service("orders")
        }
    );
}

pub async fn updating_or_deleting_a_missing_service_is_not_found(store: Store) {
    assert_err!(
        store.update_service(&service("ghost")).await,
        StoreError::NotFound
    );
    assert_err!(store.delete_service("ghost").await, StoreError::NotFound);
}

pub async fn deleting_a_service_removes_it(store: Store) {
    store.create_service(&service("orders")).await.unwrap();
    store.create_service(&service("billing")).await.unwrap();

    store.delete_service("orders").await.unwrap();

    assert_eq!(store.get_service("orders").await.unwrap(), None);
    assert_eq!(
        store.list_services().await.unwrap(),
        vec![service("billing")]
    );
}

pub async fn an_argon2_service_secret_is_refused_before_any_sql(store: Store) {
    let s = Service {
        secrets: ClientSecrets {
            current: Some(SecretHash::Argon2("$argon2id$x".into())),
            ..ClientSecrets::default()
        },
        ..service("orders")
    };
    assert_err!(store.create_service(&s).await, StoreError::Corrupt(_));
    assert_eq!(store.get_service("orders").await.unwrap(), None);
}
