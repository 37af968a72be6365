//! Contract cases for sessions, authorization codes, token families and refresh tokens.

use super::fixtures::tenant;
use crate::store::{AuthCode, CodeUse, Family, LoginSession, Pending, RefreshUse, Store};

fn code(family_id: &str, expires_at: i64) -> AuthCode {
    AuthCode {
        tenant_id: "t1".into(),
        client_id: "spa".into(),
        user_id: "u1".into(),
        redirect_uri: "https://app.example/cb?x=1".into(),
        scope: "openid offline_access".into(),
        nonce: Some("n".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        auth_time: 1_000,
        family_id: family_id.into(),
        expires_at,
        dpop_jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()),
    }
}

fn family(id: &str) -> Family {
    Family {
        id: id.into(),
        tenant_id: "t1".into(),
        client_id: "spa".into(),
        user_id: "u1".into(),
        scope: "openid".into(),
        auth_time: 1_000,
        revoked_at: None,
        expires_at: 1_000,
        dpop_jkt: None,
        x5t_s256: None,
    }
}

fn session() -> LoginSession {
    LoginSession {
        tenant_id: "t1".into(),
        user_id: "u1".into(),
        auth_time: 1_000,
        expires_at: 2_000,
    }
}

pub async fn a_login_session_is_found_by_its_hash_until_it_expires(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    let s = session();
    store.create_login_session(&[1, 2, 3], &s).await.unwrap();
    assert_eq!(
        store.get_login_session(&[1, 2, 3], 1_999).await.unwrap(),
        Some(s)
    );
    assert_eq!(
        store.get_login_session(&[1, 2, 3], 2_000).await.unwrap(),
        None
    );
    assert_eq!(store.get_login_session(&[9], 1_000).await.unwrap(), None);
    store.delete_login_session(&[1, 2, 3]).await.unwrap();
    assert_eq!(
        store.get_login_session(&[1, 2, 3], 1_000).await.unwrap(),
        None
    );
}

pub async fn a_code_is_fresh_once_then_replayed_and_unknown_codes_are_unknown(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    let c = code("f1", 1_060);
    store.insert_auth_code(&[7; 32], &c).await.unwrap();
    assert_eq!(
        store.redeem_auth_code(&[7; 32], 1_010).await.unwrap(),
        CodeUse::Fresh(c.clone())
    );
    assert_eq!(
        store.redeem_auth_code(&[7; 32], 1_020).await.unwrap(),
        CodeUse::Replayed(c)
    );
    assert_eq!(
        store.redeem_auth_code(&[8; 32], 1_020).await.unwrap(),
        CodeUse::Unknown
    );
}

pub async fn revoking_a_family_revokes_its_unexpired_jtis_and_refresh_tokens(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    store.create_family(&family("f1")).await.unwrap();
    store.add_family_jti("f1", "j1", 5_000).await.unwrap();
    store.add_family_jti("f1", "j0", 1_500).await.unwrap();
    store
        .insert_refresh_token(&[5; 32], "f1", "spa", 1_000, 9_000)
        .await
        .unwrap();
    assert_eq!(
        store.get_family("f1").await.unwrap().unwrap().expires_at,
        9_000
    );

    assert!(store.revoke_family("f1", 2_000).await.unwrap());
    assert!(!store.revoke_family("f1", 2_001).await.unwrap());

    assert!(store.is_jti_revoked("j1").await.unwrap());
    assert!(
        !store.is_jti_revoked("j0").await.unwrap(),
        "already expired"
    );
    match store.use_refresh_token(&[5; 32], 2_002).await.unwrap() {
        RefreshUse::Fresh { family, .. } => assert_eq!(family.revoked_at, Some(2_000)),
        other => panic!("{other:?}"),
    }
    assert!(store.add_family_jti("nope", "j", 1).await.is_err());
}

pub async fn a_refresh_token_is_fresh_once_then_reused(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    // What its refresh tokens are bound to (RFC 9449 §5, RFC 8705 §4) comes back with them.
    let bound = Family {
        dpop_jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()),
        x5t_s256: Some("bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2".into()),
        ..family("f1")
    };
    store.create_family(&bound).await.unwrap();
    store
        .insert_refresh_token(&[5; 32], "f1", "spa", 1_000, 9_000)
        .await
        .unwrap();
    // The family lives as long as its refresh token.
    let bound = Family {
        expires_at: 9_000,
        ..bound
    };
    assert_eq!(
        store.refresh_token_family(&[5; 32]).await.unwrap(),
        Some((bound.clone(), false))
    );
    match store.use_refresh_token(&[5; 32], 1_100).await.unwrap() {
        RefreshUse::Fresh {
            family,
            client_id,
            expires_at,
        } => {
            assert_eq!((client_id.as_str(), expires_at), ("spa", 9_000));
            assert_eq!(family, bound);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.use_refresh_token(&[5; 32], 1_200).await.unwrap(),
        RefreshUse::Reused(f) if f.id == "f1"
    ));
    assert_eq!(
        store.use_refresh_token(&[6; 32], 1_200).await.unwrap(),
        RefreshUse::Unknown
    );
    assert_eq!(
        store
            .refresh_token_family(&[5; 32])
            .await
            .unwrap()
            .map(|(f, used)| (f.id, used)),
        Some(("f1".to_string(), true))
    );
}

pub async fn purging_drops_expired_sessions_old_codes_and_expired_families(store: Store) {
    store.create_tenant(&tenant("t1")).await.unwrap();
    let s = session();
    store.create_login_session(&[1], &s).await.unwrap();
    store
        .insert_auth_code(&[2], &code("f1", 1_060))
        .await
        .unwrap();
    store.create_family(&family("f1")).await.unwrap();
    store.add_family_jti("f1", "j1", 3_000).await.unwrap();
    store
        .insert_refresh_token(&[3], "f1", "spa", 1_000, 4_000)
        .await
        .unwrap();
    assert_eq!(
        store.purge_expired_login(3_000).await.unwrap(),
        1,
        "only the session"
    );
    let later = 1_060 + 86_401;
    assert_eq!(store.purge_expired_login(later).await.unwrap(), 4);
    assert_eq!(
        store.redeem_auth_code(&[2], later).await.unwrap(),
        CodeUse::Unknown
    );
    assert_eq!(store.get_family("f1").await.unwrap(), None);
}

pub async fn a_pushed_request_opens_for_one_browser_is_consumed_once_and_purged(store: Store) {
    use crate::store::PushedRequest;
    store.create_tenant(&tenant("t1")).await.unwrap();
    let pushed = |expires_at| PushedRequest {
        tenant_id: "t1".into(),
        client_id: "spa".into(),
        remote: "203.0.113.9".into(),
        params: "response_type=code&client_id=spa".into(),
        expires_at,
    };
    store
        .insert_pushed_request(&[1], &pushed(1_060))
        .await
        .unwrap();
    store
        .insert_pushed_request(&[2], &pushed(1_060))
        .await
        .unwrap();
    let open = |id: u8, client: &'static str, browser: u8, now: i64| {
        let store = store.clone();
        async move {
            store
                .open_pushed_request("t1", &[id], client, &[browser], now, now + 600)
                .await
                .unwrap()
        }
    };

    assert_eq!(open(1, "other", 7, 1_000).await, None, "another client");
    assert_eq!(
        open(1, "spa", 7, 1_000).await.as_deref(),
        Some("response_type=code&client_id=spa")
    );
    assert_eq!(open(1, "spa", 8, 1_001).await, None, "another browser");
    // Opened, it lives 600 s after its last use, not 60 s after the push.
    assert!(open(1, "spa", 7, 1_500).await.is_some(), "the same browser");
    assert_eq!(open(2, "spa", 7, 1_060).await, None, "expired");
    assert_eq!(open(9, "spa", 7, 1_000).await, None, "unknown");

    assert!(!store
        .consume_pushed_request("t1", &[1], &[8], 1_501)
        .await
        .unwrap());
    assert!(store
        .consume_pushed_request("t1", &[1], &[7], 1_501)
        .await
        .unwrap());
    assert!(!store
        .consume_pushed_request("t1", &[1], &[7], 1_501)
        .await
        .unwrap());
    assert_eq!(open(1, "spa", 7, 1_502).await, None, "consumed");

    assert_eq!(store.purge_expired_login(1_059).await.unwrap(), 0);
    assert_eq!(store.purge_expired_login(1_060).await.unwrap(), 1);
}

pub async fn live_pushed_requests_are_counted_per_client_and_per_address(store: Store) {
    use crate::store::PushedRequest;
    store.create_tenant(&tenant("t1")).await.unwrap();
    let pushed = |client: &str, remote: &str, expires_at: i64| PushedRequest {
        tenant_id: "t1".into(),
        client_id: client.into(),
        remote: remote.into(),
        params: format!("response_type=code&client_id={client}"),
        expires_at,
    };
    let rows = [
        pushed("spa", "203.0.113.9", 1_060),
        pushed("spa", "203.0.113.9", 1_090),
        pushed("spa", "2001:db8:0:1::/64", 1_060),
        pushed("web", "203.0.113.9", 1_060),
    ];
    for (i, row) in (0u8..).zip(&rows) {
        store.insert_pushed_request(&[i], row).await.unwrap();
    }
    let count = |client: &'static str, remote: &'static str, now: i64| {
        let store = store.clone();
        async move {
            store
                .count_pending(Pending::PushedRequests, client, Some(remote), now)
                .await
                .unwrap()
        }
    };

    assert_eq!(count("spa", "203.0.113.9", 1_000).await, 2);
    assert_eq!(count("spa", "2001:db8:0:1::/64", 1_000).await, 1);
    assert_eq!(count("web", "203.0.113.9", 1_000).await, 1);
    assert_eq!(count("spa", "203.0.113.10", 1_000).await, 0);
    assert_eq!(
        store
            .count_pending(Pending::PushedRequests, "spa", None, 1_000)
            .await
            .unwrap(),
        3
    );
    // Expired requests no longer count.
    assert_eq!(count("spa", "203.0.113.9", 1_060).await, 1);
    assert_eq!(count("spa", "203.0.113.9", 1_090).await, 0);
}
