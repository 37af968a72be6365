//! Contract cases for device codes (RFC 8628): one decision, one redemption, polls timed
//! atomically, purge an hour after expiry, live codes counted per client and per address.

use super::fixtures::tenant;
use crate::store::{
    DeviceCode, DeviceDecision, DevicePoll, DeviceStatus, Pending, Store, StoreError,
};

fn pending(created_at: i64) -> DeviceCode {
    DeviceCode {
        tenant_id: "t1".into(),
        client_id: "tv".into(),
        remote: "203.0.113.9".into(),
        scope: "openid offline_access".into(),
        status: DeviceStatus::Pending,
        user_id: None,
        granted_scope: None,
        auth_time: None,
        poll_interval: 5,
        last_poll_at: None,
        used_at: None,
        created_at,
        expires_at: created_at + 600,
    }
}

fn approval() -> DeviceDecision {
    DeviceDecision {
        status: DeviceStatus::Approved,
        user_id: "u1".into(),
        granted_scope: Some("openid".into()),
        auth_time: Some(1_010),
    }
}

pub async fn a_device_code_is_decided_once_and_redeemed_once(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    store
        .insert_device_code(&[1; 32], &[2; 32], &pending(1_000))
        .await
        .unwrap();
    assert!(
        matches!(
            store
                .insert_device_code(&[3; 32], &[2; 32], &pending(1_000))
                .await,
            Err(StoreError::Conflict)
        ),
        "a user code is unique"
    );
    assert_eq!(
        store.pending_device_code(&[2; 32], 1_001).await.unwrap(),
        Some(pending(1_000))
    );
    assert_eq!(
        store
            .count_pending(Pending::DeviceCodes, "tv", None, 1_001)
            .await
            .unwrap(),
        1
    );
    assert!(
        !store.redeem_device_code(&[1; 32], 1_002).await.unwrap(),
        "not approved yet"
    );
    assert!(store
        .decide_device_code(&[2; 32], &approval(), 1_020)
        .await
        .unwrap());
    let deny = DeviceDecision {
        status: DeviceStatus::Denied,
        user_id: "u2".into(),
        granted_scope: None,
        auth_time: None,
    };
    assert!(
        !store
            .decide_device_code(&[2; 32], &deny, 1_021)
            .await
            .unwrap(),
        "decided once"
    );
    assert_eq!(
        store.pending_device_code(&[2; 32], 1_021).await.unwrap(),
        None
    );
    assert!(store.redeem_device_code(&[1; 32], 1_030).await.unwrap());
    assert!(!store.redeem_device_code(&[1; 32], 1_031).await.unwrap());
    match store
        .poll_device_code(&[1; 32], "tv", 1_040, 5)
        .await
        .unwrap()
    {
        DevicePoll::NotCounted(Some(d)) => {
            assert_eq!(d.status, DeviceStatus::Approved);
            assert_eq!(d.user_id.as_deref(), Some("u1"));
            assert_eq!(d.granted_scope.as_deref(), Some("openid"));
            assert_eq!(d.auth_time, Some(1_010));
            assert_eq!(d.used_at, Some(1_030));
        }
        other => panic!("{other:?}"),
    }
    // An expired code can be neither found nor decided.
    store
        .insert_device_code(&[4; 32], &[5; 32], &pending(1_000))
        .await
        .unwrap();
    assert_eq!(
        store.pending_device_code(&[5; 32], 1_600).await.unwrap(),
        None
    );
    assert!(!store
        .decide_device_code(&[5; 32], &approval(), 1_600)
        .await
        .unwrap());
}

pub async fn polls_are_on_time_too_soon_or_not_counted(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    store
        .insert_device_code(&[1; 32], &[2; 32], &pending(1_000))
        .await
        .unwrap();
    let poll = |at: i64, client: &'static str| {
        let store = store.clone();
        async move {
            store
                .poll_device_code(&[1; 32], client, at, 5)
                .await
                .unwrap()
        }
    };
    assert!(
        matches!(poll(1_000, "tv").await, DevicePoll::OnTime(d) if d.last_poll_at == Some(1_000))
    );
    assert!(matches!(poll(1_004, "tv").await, DevicePoll::TooSoon(d) if d.poll_interval == 10));
    assert!(matches!(poll(1_013, "tv").await, DevicePoll::TooSoon(d) if d.poll_interval == 15));
    assert!(matches!(poll(1_028, "tv").await, DevicePoll::OnTime(d) if d.poll_interval == 15));
    // Another client's poll changes nothing.
    assert!(
        matches!(poll(1_029, "other").await, DevicePoll::NotCounted(Some(d)) if d.last_poll_at == Some(1_028))
    );
    assert!(
        matches!(poll(1_600, "tv").await, DevicePoll::NotCounted(Some(_))),
        "expired"
    );
    assert_eq!(
        store
            .poll_device_code(&[9; 32], "tv", 1_000, 5)
            .await
            .unwrap(),
        DevicePoll::NotCounted(None)
    );
}

pub async fn purging_drops_device_codes_an_hour_after_they_expire(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    store
        .insert_device_code(&[1; 32], &[2; 32], &pending(1_000))
        .await
        .unwrap();
    assert_eq!(store.purge_expired_login(1_600 + 3_600).await.unwrap(), 0);
    assert_eq!(
        store
            .count_pending(Pending::DeviceCodes, "tv", None, 1_600)
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.purge_expired_login(1_601 + 3_600).await.unwrap(), 1);
    assert_eq!(
        store
            .poll_device_code(&[1; 32], "tv", 5_000, 5)
            .await
            .unwrap(),
        DevicePoll::NotCounted(None)
    );
}

pub async fn ending_a_users_logins_drops_the_device_codes_it_approved(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    store
        .insert_device_code(&[1; 32], &[2; 32], &pending(1_000))
        .await
        .unwrap();
    store
        .insert_device_code(&[3; 32], &[4; 32], &pending(1_000))
        .await
        .unwrap();
    assert!(store
        .decide_device_code(&[2; 32], &approval(), 1_010)
        .await
        .unwrap());
    store.end_user_logins("t1", "u1", 1_020).await.unwrap();
    assert!(!store.redeem_device_code(&[1; 32], 1_030).await.unwrap());
    assert!(store
        .pending_device_code(&[4; 32], 1_030)
        .await
        .unwrap()
        .is_some());
}

pub async fn live_device_codes_are_counted_per_client_and_per_address(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    let from = |client: &str, remote: &str, created_at: i64| DeviceCode {
        client_id: client.into(),
        remote: remote.into(),
        ..pending(created_at)
    };
    let rows = [
        from("tv", "203.0.113.9", 1_000),
        from("tv", "203.0.113.9", 1_100),
        from("tv", "2001:db8:0:1::/64", 1_000),
        from("radio", "203.0.113.9", 1_000),
    ];
    for (i, row) in (0u8..).zip(&rows) {
        store
            .insert_device_code(&[i; 32], &[i + 100; 32], row)
            .await
            .unwrap();
    }
    let count = |client: &'static str, remote: &'static str, now: i64| {
        let store = store.clone();
        async move {
            store
                .count_pending(Pending::DeviceCodes, client, Some(remote), now)
                .await
                .unwrap()
        }
    };

    assert_eq!(count("tv", "203.0.113.9", 1_200).await, 2);
    assert_eq!(count("tv", "2001:db8:0:1::/64", 1_200).await, 1);
    assert_eq!(count("radio", "203.0.113.9", 1_200).await, 1);
    assert_eq!(count("tv", "203.0.113.10", 1_200).await, 0);
    assert_eq!(
        store
            .count_pending(Pending::DeviceCodes, "tv", None, 1_200)
            .await
            .unwrap(),
        3
    );
    // The address is stored as given and read back.
    assert_eq!(
        store.pending_device_code(&[102; 32], 1_200).await.unwrap(),
        Some(rows[2].clone())
    );
    // Expired codes no longer count (600 s after each was made).
    assert_eq!(count("tv", "203.0.113.9", 1_600).await, 1);
    assert_eq!(count("tv", "203.0.113.9", 1_700).await, 0);
}
