//! Contract cases for users, roles and upstream providers.

use super::fixtures::tenant;
use crate::store::{Store, StoreError};
use crate::tenants::{Role, Status, Upstream, User};

fn user(tenant_id: &str, id: &str, email: &str) -> User {
    User {
        tenant_id: tenant_id.into(),
        id: id.into(),
        email: email.into(),
        name: Some("Ann".into()),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        roles: vec!["admin".into(), "reader".into()],
        scopes: vec!["a".into()],
        resources: vec!["r1".into()],
        groups: vec!["g1".into(), "g2".into()],
        status: Status::Active,
        created_at: 1_700_000_000,
        updated_at: 1_700_000_001,
    }
}

pub async fn a_user_round_trips_and_is_found_by_email_inside_its_tenant(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    store.create_tenant(&tenant("t2")).await.unwrap();
    let u = user("t1", "u1", "ann@example.com");
    store.create_user(&u).await.unwrap();
    assert_eq!(store.get_user("t1", "u1").await.unwrap(), Some(u.clone()));
    assert_eq!(
        store
            .find_user_by_email("t1", " ANN@example.com ")
            .await
            .unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        store
            .find_user_by_email("t2", "ann@example.com")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.list_users("t1").await.unwrap(), vec![u]);
}

pub async fn a_duplicate_user_email_in_a_tenant_is_a_conflict(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    store.create_tenant(&tenant("t2")).await.unwrap();
    store
        .create_user(&user("t1", "u1", "ann@example.com"))
        .await
        .unwrap();
    assert_err!(
        store
            .create_user(&user("t1", "u2", "ann@example.com"))
            .await,
        StoreError::Conflict
    );
    store
        .create_user(&user("t2", "u1", "ann@example.com"))
        .await
        .unwrap();
}

pub async fn updating_a_user_changes_its_fields_and_a_missing_one_is_not_found(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    let mut u = user("t1", "u1", "ann@example.com");
    store.create_user(&u).await.unwrap();
    u.status = Status::Disabled;
    u.roles = vec![];
    u.password_hash = None;
    store.update_user(&u).await.unwrap();
    assert_eq!(store.get_user("t1", "u1").await.unwrap(), Some(u.clone()));
    u.id = "ghost".into();
    assert_err!(store.update_user(&u).await, StoreError::NotFound);
}

pub async fn roles_list_per_tenant_and_a_duplicate_name_is_a_conflict(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    let r = Role {
        tenant_id: "t1".into(),
        name: "reader".into(),
        scopes: vec!["read".into()],
        created_at: 1,
    };
    store.create_role(&r).await.unwrap();
    assert_err!(store.create_role(&r).await, StoreError::Conflict);
    assert_eq!(store.list_roles("t1").await.unwrap(), vec![r]);
}

pub async fn upstreams_round_trip_and_delete(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    let u = Upstream {
        tenant_id: "t1".into(),
        id: "google".into(),
        issuer: "https://accounts.example".into(),
        client_id: "abc".into(),
        name: None,
        created_at: 5,
    };
    store.create_upstream(&u).await.unwrap();
    assert_err!(store.create_upstream(&u).await, StoreError::Conflict);
    assert_eq!(store.list_upstreams("t1").await.unwrap(), vec![u]);
    store.delete_upstream("t1", "google").await.unwrap();
    assert_err!(
        store.delete_upstream("t1", "google").await,
        StoreError::NotFound
    );
}
