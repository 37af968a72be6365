//! Property tests of every parser that takes bytes from outside (SPEC §6: no panic on any
//! input): form and JSON bodies, HTTP Basic credentials, cookies, Envoy's XFCC, and the
//! `Forwarded` / `X-Forwarded-For` headers. Random input must never panic, and what the
//! parsers accept keeps the caps (100 parameters, 255-character identifiers).

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use std::collections::BTreeMap;
use tessera::http::body::{parse_params, Accept};
use tessera::params::{parse_form, parse_json_object, IDENTIFIER_PARAMS};

fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_bytes(v) {
            h.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), v);
        }
    }
    h
}

/// Bytes that look like a form body often enough to reach the decoder's corners.
fn form_like() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            Just(b'&'),
            Just(b'='),
            Just(b'%'),
            Just(b'+'),
            any::<u8>(),
            prop::sample::select(b"0123456789abcdefABCDEF".to_vec()),
        ],
        0..600,
    )
}

proptest! {
    // Bounded so the suite stays fast in debug builds (generation dominates the cost).
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_form_body_parses_or_is_refused_without_panic(body in form_like()) {
        if let Ok(pairs) = parse_form(&body) {
            prop_assert!(pairs.len() <= 100);
        }
        for ct in ["application/x-www-form-urlencoded", "application/json"] {
            let h = headers(&[("content-type", ct.as_bytes())]);
            if let Ok(p) = parse_params(&h, &body, Accept::FormOrJson) {
                for name in IDENTIFIER_PARAMS {
                    prop_assert!(p.get(name).is_none_or(|v| v.chars().count() <= 255));
                }
            }
        }
    }

    #[test]
    fn any_json_body_parses_or_is_refused_without_panic(body in "[{}\\[\\]\",:a-c0-9 nul\\\\]{0,300}") {
        let _ = parse_json_object(body.as_bytes());
    }

    #[test]
    fn forms_and_json_objects_of_strings_round_trip(
        map in prop::collection::btree_map("[a-z_]{1,12}", "\\PC{0,40}", 0..100)
    ) {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &map {
            ser.append_pair(k, v);
        }
        let form = parse_form(ser.finish().as_bytes()).unwrap();
        let json = parse_json_object(&serde_json::to_vec(&map).unwrap()).unwrap();
        let expected: Vec<(String, String)> = map.into_iter().collect();
        prop_assert_eq!(&form.into_iter().collect::<BTreeMap<_, _>>().into_iter().collect::<Vec<_>>(), &expected);
        prop_assert_eq!(&json.into_iter().collect::<BTreeMap<_, _>>().into_iter().collect::<Vec<_>>(), &expected);
    }

    #[test]
    fn any_basic_credentials_decode_or_are_refused_without_panic(raw in "\\PC{0,300}", bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = tessera::oauth::client_auth::decode_basic(&raw);
        let _ = tessera::oauth::client_auth::basic_credentials(Some(&raw));
        let encoded = tessera::crypto::b64(&bytes);
        if let Ok((id, _)) = tessera::oauth::client_auth::decode_basic(&encoded) {
            prop_assert!(id.chars().count() <= 255);
        }
    }

    #[test]
    fn basic_credentials_round_trip(id in "[!-~]{1,255}", secret in "\\PC{0,80}") {
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let value = tessera::crypto::b64(format!("{}:{}", enc(&id), enc(&secret)).as_bytes());
        let (got_id, got_secret) = tessera::oauth::client_auth::decode_basic(&value).unwrap();
        prop_assert_eq!(got_id, id);
        prop_assert_eq!(got_secret, secret);
    }

    #[test]
    fn any_cookie_header_is_read_without_panic(value in prop::collection::vec(any::<u8>(), 0..400), name in "[a-z_]{1,16}") {
        let h = headers(&[("cookie", &value)]);
        if let Some(v) = tessera::login::cookie(&h, &name) {
            prop_assert!(v.len() <= 128);
        }
    }

    #[test]
    fn any_xfcc_header_is_read_without_panic(value in "[A-Za-z=;,\"\\\\: /.]{0,300}") {
        for uri in tessera::s2s::cert_uris(&value) {
            prop_assert!(!uri.is_empty());
        }
    }

    #[test]
    fn any_forwarded_header_yields_the_peer_or_a_listed_address(
        xff in "[0-9a-f.:, \\[\\]unk]{0,200}",
        fwd in "[0-9a-f.:,; =\"\\[\\]forFOR]{0,200}",
        use_fwd in any::<bool>(),
    ) {
        let trusted = tessera::config::TrustedProxies::try_from(&["127.0.0.0/8", "::1/128"][..]).unwrap();
        let peer: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let h = if use_fwd {
            headers(&[("forwarded", fwd.as_bytes())])
        } else {
            headers(&[("x-forwarded-for", xff.as_bytes())])
        };
        let got = tessera::http::forwarded::client_ip(&trusted, peer, &h);
        let text = if use_fwd { &fwd } else { &xff };
        let listed = text
            .split([',', ';', '=', '"'])
            .filter_map(tessera::http::forwarded::parse_node)
            .any(|ip| ip == got);
        prop_assert!(got == peer || listed, "{got} from {text:?}");
    }
}
