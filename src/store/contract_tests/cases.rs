//! Contract cases: Arrange / Act / Assert against a fresh, migrated store.

use super::fixtures::{event, full_client, key, minimal_client, project, tenant};
use crate::store::{AuditFilter, AuditRecord, Store, StoreError};
use crate::tenants::{AuthMethod, Client, SecretHash, Status, Tenant, VaultRef};

mod services;
pub use services::*;

pub async fn migrating_twice_is_harmless_and_the_store_answers_pings(store: Store) {
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
}

// --- tenants ---

pub async fn a_tenant_round_trips_and_tenants_list_in_id_order(store: Store) {
    let b = tenant("b-tenant");
    let a = Tenant {
        status: Status::Disabled,
        ..tenant("a-tenant")
    };
    store.create_tenant(&b).await.unwrap();
    store.create_tenant(&a).await.unwrap();

    assert_eq!(store.get_tenant("a-tenant").await.unwrap(), Some(a.clone()));
    assert_eq!(store.get_tenant("missing").await.unwrap(), None);
    assert_eq!(store.list_tenants().await.unwrap(), vec![a, b]);
}

pub async fn creating_a_tenant_twice_is_a_conflict(store: Store) {
    store.create_tenant(&tenant("acme")).await.unwrap();

    let again = Tenant {
        name: "Other".into(),
        ..tenant("acme")
    };
    assert_err!(store.create_tenant(&again).await, StoreError::Conflict);
    assert_eq!(
        store.get_tenant("acme").await.unwrap(),
        Some(tenant("acme"))
    );
}

pub async fn ensuring_a_tenant_creates_it_only_once(store: Store) {
    assert!(store.ensure_tenant(&tenant("default")).await.unwrap());

    let renamed = Tenant {
        name: "Renamed".into(),
        ..tenant("default")
    };
    assert!(!store.ensure_tenant(&renamed).await.unwrap());
    assert_eq!(
        store.get_tenant("default").await.unwrap(),
        Some(tenant("default"))
    );
}

pub async fn updating_a_tenant_changes_its_name_and_status(store: Store) {
    store.create_tenant(&tenant("acme")).await.unwrap();

    let changed = Tenant {
        name: "Acme Corp".into(),
        status: Status::Disabled,
        created_at: 1,
        ..tenant("acme")
    };
    store.update_tenant(&changed).await.unwrap();

    let stored = store.get_tenant("acme").await.unwrap().unwrap();
    assert_eq!(stored.name, "Acme Corp");
    assert_eq!(stored.status, Status::Disabled);
    assert_eq!(stored.created_at, tenant("acme").created_at);
}

pub async fn updating_a_missing_tenant_is_not_found(store: Store) {
    assert_err!(
        store.update_tenant(&tenant("ghost")).await,
        StoreError::NotFound
    );
}

// --- projects ---

pub async fn projects_round_trip_and_list_per_tenant_in_id_order(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    store.create_tenant(&tenant("t2")).await.unwrap();
    for p in [
        project("t1", "web"),
        project("t1", "api"),
        project("t2", "zeta"),
    ] {
        store.create_project(&p).await.unwrap();
    }

    assert_eq!(
        store.get_project("t1", "api").await.unwrap(),
        Some(project("t1", "api"))
    );
    assert_eq!(store.get_project("t2", "api").await.unwrap(), None);
    assert_eq!(
        store.list_projects("t1").await.unwrap(),
        vec![project("t1", "api"), project("t1", "web")]
    );
    assert_eq!(store.list_projects("none").await.unwrap(), vec![]);
}

pub async fn a_project_id_is_unique_inside_a_tenant_only(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    store.create_tenant(&tenant("t2")).await.unwrap();
    store.create_project(&project("t1", "web")).await.unwrap();

    store.create_project(&project("t2", "web")).await.unwrap();
    assert_err!(
        store.create_project(&project("t1", "web")).await,
        StoreError::Conflict
    );
}

pub async fn a_project_in_a_missing_tenant_is_not_found(store: Store) {
    assert_err!(
        store.create_project(&project("ghost", "web")).await,
        StoreError::NotFound
    );
}

// --- clients ---

pub async fn a_client_round_trips_every_field(store: Store) {
    store.create_tenant(&tenant("acme")).await.unwrap();
    store.create_project(&project("acme", "web")).await.unwrap();
    let c = full_client("acme", "acme-app", "web");

    store.create_client(&c).await.unwrap();

    assert_eq!(
        store.get_client("acme", "acme-app").await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(
        store.find_client("acme-app").await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(store.list_clients("acme").await.unwrap(), vec![c]);
}

pub async fn a_minimal_client_round_trips_with_empty_optionals(store: Store) {
    store.create_tenant(&tenant("acme")).await.unwrap();
    let c = minimal_client("acme", "public-app");

    store.create_client(&c).await.unwrap();

    assert_eq!(store.find_client("public-app").await.unwrap(), Some(c));
}

pub async fn a_vault_held_secret_round_trips(store: Store) {
    store.create_tenant(&tenant("acme")).await.unwrap();
    let mut c = minimal_client("acme", "vaulted");
    c.auth_method = AuthMethod::ClientSecretPost;
    c.secrets.vault = Some(VaultRef {
        mount: "secret".into(),
        path: "tessera/clients/vaulted".into(),
        field: "client_secret".into(),
    });

    store.create_client(&c).await.unwrap();

    assert_eq!(store.get_client("acme", "vaulted").await.unwrap(), Some(c));
}

pub async fn a_client_id_is_unique_across_tenants(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    store.create_tenant(&tenant("t2")).await.unwrap();
    store
        .create_client(&minimal_client("t1", "shared"))
        .await
        .unwrap();

    assert_err!(
        store.create_client(&minimal_client("t2", "shared")).await,
        StoreError::Conflict
    );
    assert_err!(
        store.create_client(&minimal_client("t1", "shared")).await,
        StoreError::Conflict
    );
    assert_eq!(store.list_clients("t2").await.unwrap(), vec![]);
}

pub async fn a_client_is_invisible_through_another_tenant(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    store.create_tenant(&tenant("t2")).await.unwrap();
    store
        .create_client(&minimal_client("t1", "app"))
        .await
        .unwrap();

    assert_eq!(store.get_client("t2", "app").await.unwrap(), None);
    let mut moved = minimal_client("t2", "app");
    moved.name = "hijacked".into();
    assert_err!(store.update_client(&moved).await, StoreError::NotFound);
    assert_err!(store.delete_client("t2", "app").await, StoreError::NotFound);
    assert_eq!(
        store.find_client("app").await.unwrap(),
        Some(minimal_client("t1", "app"))
    );
}

pub async fn clients_list_per_tenant_in_client_id_order(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    store.create_tenant(&tenant("t2")).await.unwrap();
    for c in [
        minimal_client("t1", "b"),
        minimal_client("t2", "c"),
        minimal_client("t1", "a"),
    ] {
        store.create_client(&c).await.unwrap();
    }

    let ids: Vec<String> = store
        .list_clients("t1")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(ids, ["a", "b"]);
}

pub async fn a_client_in_a_missing_tenant_or_project_is_not_found(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    store.create_tenant(&tenant("t2")).await.unwrap();
    store.create_project(&project("t2", "web")).await.unwrap();

    assert_err!(
        store.create_client(&minimal_client("ghost", "app")).await,
        StoreError::NotFound
    );
    // The project exists, but in another tenant.
    let mut c = minimal_client("t1", "app");
    c.project_id = Some("web".into());
    assert_err!(store.create_client(&c).await, StoreError::NotFound);
    assert_eq!(store.find_client("app").await.unwrap(), None);
}

pub async fn updating_a_client_replaces_its_fields_but_keeps_created_at(store: Store) {
    store.create_tenant(&tenant("acme")).await.unwrap();
    store.create_project(&project("acme", "web")).await.unwrap();
    let original = full_client("acme", "app", "web");
    store.create_client(&original).await.unwrap();

    // Every mutable field changes, including secrets rotated and optionals cleared.
    let mut changed = minimal_client("acme", "app");
    changed.name = "Renamed".into();
    changed.profile = "service".into();
    changed.grant_types = vec!["client_credentials".into()];
    changed.auth_method = AuthMethod::PrivateKeyJwt;
    changed.jwks = Some(serde_json::json!({"keys": []}));
    changed.status = Status::Active;
    changed.secrets.current = Some(SecretHash::Hmac(vec![42; 32]));
    changed.secrets.previous = Some(SecretHash::Hmac(vec![0, 1, 2, 254, 255]));
    changed.secrets.previous_expires_at = Some(1_800_000_000);
    changed.created_at = 5;
    changed.updated_at = 1_800_000_000;
    store.update_client(&changed).await.unwrap();

    let stored = store.get_client("acme", "app").await.unwrap().unwrap();
    let expected = Client {
        created_at: original.created_at,
        ..changed
    };
    assert_eq!(stored, expected);
}

pub async fn updating_or_deleting_a_missing_client_is_not_found(store: Store) {
    store.create_tenant(&tenant("acme")).await.unwrap();

    assert_err!(
        store.update_client(&minimal_client("acme", "ghost")).await,
        StoreError::NotFound
    );
    assert_err!(
        store.delete_client("acme", "ghost").await,
        StoreError::NotFound
    );
}

pub async fn deleting_a_client_removes_it(store: Store) {
    store.create_tenant(&tenant("acme")).await.unwrap();
    store
        .create_client(&minimal_client("acme", "app"))
        .await
        .unwrap();

    store.delete_client("acme", "app").await.unwrap();

    assert_eq!(store.find_client("app").await.unwrap(), None);
    assert_err!(
        store.delete_client("acme", "app").await,
        StoreError::NotFound
    );
    // The id is free again.
    store
        .create_client(&minimal_client("acme", "app"))
        .await
        .unwrap();
}

// --- meta ---

pub async fn meta_insert_if_absent_lets_the_first_writer_win(store: Store) {
    assert_eq!(store.meta_get("bootstrap").await.unwrap(), None);

    // Many writers at once, as several nodes starting together: exactly one wins.
    let attempts = (0u8..8).map(|i| {
        let store = store.clone();
        async move { store.meta_insert_if_absent("bootstrap", &[i, 0, 255]).await }
    });
    let results = futures::future::join_all(attempts).await;
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| *r.as_ref().unwrap())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(winners.len(), 1);

    let winner = u8::try_from(winners[0]).unwrap();
    assert_eq!(
        store.meta_get("bootstrap").await.unwrap(),
        Some(vec![winner, 0, 255])
    );
    assert!(!store
        .meta_insert_if_absent("bootstrap", b"late")
        .await
        .unwrap());
}

// --- signing keys ---

pub async fn keys_list_oldest_first_and_a_duplicate_kid_is_a_conflict(store: Store) {
    let newer = key("k2", "RS256", "next", 200);
    let older = key("k1", "RS256", "active", 100);
    store.insert_key(&newer).await.unwrap();
    store.insert_key(&older).await.unwrap();

    assert_err!(
        store.insert_key(&key("k1", "ES256", "next", 300)).await,
        StoreError::Conflict
    );
    assert_eq!(store.list_keys().await.unwrap(), vec![older, newer]);
}

pub async fn a_second_active_key_of_one_alg_is_a_conflict(store: Store) {
    store
        .insert_key(&key("rs-1", "RS256", "active", 100))
        .await
        .unwrap();
    store
        .insert_key(&key("es-1", "ES256", "active", 100))
        .await
        .unwrap();

    assert_err!(
        store.insert_key(&key("rs-2", "RS256", "active", 200)).await,
        StoreError::Conflict
    );
}

pub async fn rotating_keys_retires_the_active_promotes_the_next_and_adds_a_new_next(store: Store) {
    store
        .insert_key(&key("a", "RS256", "active", 100))
        .await
        .unwrap();
    store
        .insert_key(&key("n", "RS256", "next", 110))
        .await
        .unwrap();
    store
        .insert_key(&key("es", "ES256", "active", 120))
        .await
        .unwrap();
    // The status the caller sets on the new key does not matter: it becomes `next`.
    let new_next = key("n2", "RS256", "active", 1_000);

    store
        .rotate_keys("RS256", "n", &new_next, 1_000, 5_000)
        .await
        .unwrap();

    let keys = store.list_keys().await.unwrap();
    let by_kid = |kid: &str| keys.iter().find(|k| k.kid == kid).unwrap().clone();
    let a = by_kid("a");
    assert_eq!(
        (a.status.as_str(), a.retired_at, a.expires_at),
        ("retired", Some(1_000), Some(5_000))
    );
    let n = by_kid("n");
    assert_eq!((n.status.as_str(), n.activated_at), ("active", Some(1_000)));
    assert_eq!(by_kid("n2").status, "next");
    assert_eq!(by_kid("es"), key("es", "ES256", "active", 120));
    assert_eq!(keys.len(), 4);
}

pub async fn rotating_to_a_key_that_is_not_next_changes_nothing(store: Store) {
    store
        .insert_key(&key("a", "RS256", "active", 100))
        .await
        .unwrap();
    store
        .insert_key(&key("es-next", "ES256", "next", 110))
        .await
        .unwrap();
    let before = store.list_keys().await.unwrap();

    let new_next = key("n2", "RS256", "next", 1_000);
    assert_err!(
        store
            .rotate_keys("RS256", "missing", &new_next, 1_000, 5_000)
            .await,
        StoreError::NotFound
    );
    // A `next` key of another algorithm is not promotable either.
    assert_err!(
        store
            .rotate_keys("RS256", "es-next", &new_next, 1_000, 5_000)
            .await,
        StoreError::NotFound
    );
    // The active key itself is not `next`.
    assert_err!(
        store
            .rotate_keys("RS256", "a", &new_next, 1_000, 5_000)
            .await,
        StoreError::NotFound
    );

    assert_eq!(store.list_keys().await.unwrap(), before);
}

pub async fn purging_keys_removes_only_retired_keys_past_their_expiry(store: Store) {
    let mut expired = key("old", "RS256", "retired", 10);
    expired.expires_at = Some(499);
    let mut retiring = key("recent", "RS256", "retired", 20);
    retiring.expires_at = Some(500);
    let mut active = key("live", "RS256", "active", 30);
    active.expires_at = Some(1);
    for k in [&expired, &retiring, &active] {
        store.insert_key(k).await.unwrap();
    }

    assert_eq!(store.purge_expired_keys(500).await.unwrap(), 1);

    assert_eq!(store.list_keys().await.unwrap(), vec![retiring, active]);
    assert_eq!(store.purge_expired_keys(500).await.unwrap(), 0);
}

// --- revocation and replay ---

pub async fn a_revoked_jti_is_remembered_until_purged(store: Store) {
    store.revoke_jti("jti-1", 100).await.unwrap();
    store.revoke_jti("jti-1", 100).await.unwrap();
    store.revoke_jti("jti-2", 300).await.unwrap();
    // Revoking again with a later exp keeps it longer; an earlier one does not shorten it.
    store.revoke_jti("jti-1", 250).await.unwrap();
    store.revoke_jti("jti-1", 50).await.unwrap();

    assert!(store.is_jti_revoked("jti-1").await.unwrap());
    assert!(!store.is_jti_revoked("jti-3").await.unwrap());
    assert_eq!(store.purge_expired_jtis(200).await.unwrap(), 0);
    assert_eq!(store.purge_expired_jtis(260).await.unwrap(), 1);
    assert!(!store.is_jti_revoked("jti-1").await.unwrap());
    assert!(store.is_jti_revoked("jti-2").await.unwrap());
}

pub async fn replaying_an_assertion_jti_returns_false(store: Store) {
    assert!(store.record_assertion_jti("app", "a-1", 100).await.unwrap());

    assert!(!store.record_assertion_jti("app", "a-1", 100).await.unwrap());
    // Another client may use the same jti.
    assert!(store
        .record_assertion_jti("other", "a-1", 100)
        .await
        .unwrap());

    store.revoke_jti("r-1", 500).await.unwrap();
    assert_eq!(store.purge_expired_jtis(101).await.unwrap(), 2);
    assert!(store.record_assertion_jti("app", "a-1", 200).await.unwrap());
    assert!(store.is_jti_revoked("r-1").await.unwrap());
}

pub async fn a_batch_of_jtis_is_new_only_where_neither_stored_nor_repeated_in_the_batch(
    store: Store,
) {
    assert!(store
        .record_assertion_jti("#dpop:k", "old", 100)
        .await
        .unwrap());
    let claims = [
        ("#dpop:k", "new", 100),
        ("#dpop:k", "old", 100),
        ("#dpop:other", "old", 100),
        ("#dpop:k", "new", 100),
        ("app", "x", 100),
    ];
    assert_eq!(
        store.record_jtis(&claims).await.unwrap(),
        [true, false, true, false, true]
    );
    // More than one statement's worth: every value is new once.
    let many: Vec<String> = (0..crate::store::JTI_ROWS_PER_INSERT + 3)
        .map(|i| format!("j-{i}"))
        .collect();
    let claims: Vec<(&str, &str, i64)> = many.iter().map(|j| ("app", j.as_str(), 100)).collect();
    let fresh = store.record_jtis(&claims).await.unwrap();
    assert!(fresh.iter().all(|f| *f));
    let again = store.record_jtis(&claims).await.unwrap();
    assert!(again.iter().all(|f| !*f));
}

// --- audit ---

pub async fn audit_events_list_newest_first_with_filters_and_limit(store: Store) {
    let events = vec![
        event(100, "token.issued", "t1", "c1"),
        event(200, "auth.failed", "t1", "c2"),
        event(200, "token.issued", "t2", "c3"),
        event(300, "admin.client.created", "t1", "c1"),
        AuditRecord {
            actor: None,
            tenant_id: None,
            client_id: None,
            subject: None,
            jti: None,
            remote: None,
            outcome: "failure:bad_secret".into(),
            ..event(400, "auth.failed", "-", "-")
        },
    ];
    store.insert_audit(&events).await.unwrap();
    store.insert_audit(&[]).await.unwrap();
    let list = |f: AuditFilter| {
        let store = store.clone();
        async move { store.list_audit(&f).await.unwrap() }
    };

    let all = list(AuditFilter::default()).await;
    // Newest first; equal times in reverse insertion order.
    let expected: Vec<_> = [4, 3, 2, 1, 0].iter().map(|&i| events[i].clone()).collect();
    assert_eq!(all, expected);

    let t1 = list(AuditFilter {
        tenant_id: Some("t1".into()),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(
        t1,
        vec![events[3].clone(), events[1].clone(), events[0].clone()]
    );

    let c1_since = list(AuditFilter {
        tenant_id: Some("t1".into()),
        client_id: Some("c1".into()),
        since: Some(200),
        limit: 0,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(c1_since, vec![events[3].clone()]);

    let since = list(AuditFilter {
        since: Some(200),
        limit: 2,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(since, vec![events[4].clone(), events[3].clone()]);

    let client = list(AuditFilter {
        client_id: Some("c3".into()),
        limit: -5,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(client, vec![events[2].clone()]);
}

pub async fn audit_events_filter_by_subject_event_outcome_and_time_and_page_and_count(
    store: Store,
) {
    let mut events: Vec<AuditRecord> = (0..10)
        .map(|i| event(i * 10, "token.issued", "t1", "c1"))
        .collect();
    events[3].subject = Some("ann".into());
    events[4].event = "auth.failed".into();
    events[4].outcome = "failure:bad_secret".into();
    events[5].outcome = "failure".into();
    events[5].event = "auth.failed".into();
    events[6].outcome = "failures_are_not_a_prefix".into();
    store.insert_audit(&events).await.unwrap();
    let both = |f: AuditFilter| {
        let store = store.clone();
        async move {
            let listed = store.list_audit(&f).await.unwrap();
            let counted = store.count_audit(&f).await.unwrap();
            (listed.iter().map(|e| e.at).collect::<Vec<_>>(), counted)
        }
    };
    let f = |edit: fn(&mut AuditFilter)| {
        let mut f = AuditFilter::default();
        edit(&mut f);
        f
    };
    assert_eq!(
        both(f(|f| f.subject = Some("ann".into()))).await,
        (vec![30], 1)
    );
    assert_eq!(
        both(f(|f| f.event = Some("auth.failed".into()))).await,
        (vec![50, 40], 2)
    );
    // `failure` takes every `failure:…` and `failure` itself, nothing merely starting so.
    assert_eq!(
        both(f(|f| f.outcome = Some("failure".into()))).await,
        (vec![50, 40], 2)
    );
    assert_eq!(both(f(|f| f.outcome = Some("success".into()))).await.1, 7);
    assert_eq!(
        both(f(|f| {
            f.since = Some(20);
            f.until = Some(50);
        }))
        .await,
        (vec![40, 30, 20], 3)
    );
    // Paging: the count ignores limit and offset.
    assert_eq!(
        both(f(|f| {
            f.limit = 3;
            f.offset = 3;
        }))
        .await,
        (vec![60, 50, 40], 10)
    );
    assert_eq!(
        both(f(|f| {
            f.tenant_id = Some("t1".into());
            f.offset = 9;
        }))
        .await,
        (vec![0], 10)
    );
}

pub async fn a_large_audit_batch_is_stored_whole(store: Store) {
    let events: Vec<AuditRecord> = (0..1_250)
        .map(|i| event(i, "token.issued", "t1", "c1"))
        .collect();

    store.insert_audit(&events).await.unwrap();

    let default_limit = store.list_audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(default_limit.len(), 100);
    assert_eq!(default_limit[0].at, 1_249);
    let capped = store
        .list_audit(&AuditFilter {
            limit: 5_000,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(capped.len(), 1_000);
    assert_eq!(capped[999].at, 250);
}

pub async fn purging_audit_deletes_only_events_before_the_cutoff(store: Store) {
    let events: Vec<AuditRecord> = (0..25)
        .map(|i| event(i * 10, "auth.failed", "t1", "c1"))
        .collect();
    store.insert_audit(&events).await.unwrap();

    assert_eq!(store.purge_audit_before(100).await.unwrap(), 10);
    assert_eq!(store.purge_audit_before(100).await.unwrap(), 0);

    let left = store
        .list_audit(&AuditFilter {
            limit: 1_000,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(left.len(), 15);
    assert!(left.iter().all(|e| e.at >= 100));
}

pub async fn a_recorded_change_commits_its_event_once_and_a_missed_write_none(store: Store) {
    let all = |store: Store| async move {
        store
            .list_audit(&AuditFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect::<Vec<_>>()
    };
    let created = event(100, "admin.tenant.created", "t1", "-");
    let recording = store.recording(created.clone());
    recording.create_tenant(&tenant("t1")).await.unwrap();
    // The event went with the change, once: a second write through the handle is plain.
    recording.create_tenant(&tenant("t2")).await.unwrap();
    assert_eq!(all(store.clone()).await, vec!["admin.tenant.created"]);

    // A refused write (duplicate) and an update that touches no row leave no event.
    let dup = store.recording(event(200, "admin.tenant.created", "t1", "-"));
    assert!(matches!(
        dup.create_tenant(&tenant("t1")).await,
        Err(StoreError::Conflict)
    ));
    let missing = store.recording(event(300, "admin.tenant.updated", "nope", "-"));
    assert!(matches!(
        missing.update_tenant(&tenant("nope")).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(all(store.clone()).await, vec!["admin.tenant.created"]);
}

pub use super::device_cases::*;
pub use super::login_cases::*;
pub use super::user_cases::*;
