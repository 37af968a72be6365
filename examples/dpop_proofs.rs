//! DPoP proofs for `bench/run`: COUNT fresh ES256 proofs (RFC 9449) for `POST HTU`, one per
//! line, all by one key, each with its own `jti`, `iat` = now + 4 s (so that they stay
//! within the server's 60 s window for the whole load run).
//!
//! `cargo run --release --example dpop_proofs -- HTU COUNT > proofs.txt`

use std::io::Write;
use tessera::crypto::{b64url, random_token};
use tessera::keys::signer::{Alg, SigningKey};

fn main() {
    let mut args = std::env::args().skip(1);
    let htu = args.next().expect("usage: dpop_proofs HTU COUNT");
    let count: usize = args.next().and_then(|c| c.parse().ok()).unwrap_or(1000);
    let (key, _) = SigningKey::generate("dpop".into(), Alg::ES256).expect("key generation");
    let mut jwk = key.public_jwk().clone();
    if let Some(m) = jwk.as_object_mut() {
        for k in ["kid", "use", "alg"] {
            m.remove(k);
        }
    }
    let header = b64url(
        serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk})
            .to_string()
            .as_bytes(),
    );
    let iat = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + 4;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = count.div_ceil(threads);
    let chunks: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    (0..per)
                        .map(|_| {
                            let claims = serde_json::json!({
                                "jti": random_token(12).expect("random"),
                                "htm": "POST",
                                "htu": htu,
                                "iat": iat,
                            });
                            let input =
                                format!("{header}.{}", b64url(claims.to_string().as_bytes()));
                            let sig = key.sign(input.as_bytes()).expect("signing");
                            format!("{input}.{}", b64url(&sig))
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for p in chunks.iter().flatten().take(count) {
        writeln!(out, "{p}").expect("stdout");
    }
}
