//! The raw limit for `bench/run`: signatures per second with aws-lc-rs on N threads (all
//! cores by default), and process CPU seconds per 1,000 signatures, for RS256, ES256 and
//! EdDSA. The input is the size of a typical access-token signing input.
//!
//! `cargo run --release --example sign_rate -- [SECONDS] [THREADS]`; prints one line per
//! algorithm: `SIGN <alg> <signatures> <wall_s> <signatures_per_s> <cpu_s_per_1000>`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera::keys::signer::{Alg, SigningKey};

/// utime + stime of this process, seconds (all threads), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let ticks = std::env::var("CLK_TCK")
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .unwrap_or(100.0);
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (n(11) + n(12)) / ticks
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let threads: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // header.payload of a typical client_credentials token (~370 bytes).
    let input = vec![b'x'; 370];
    for alg in [Alg::RS256, Alg::ES256, Alg::EdDSA] {
        let (key, _) = SigningKey::generate("bench".into(), alg).expect("key generation");
        let key = Arc::new(key);
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let cpu0 = cpu_seconds();
        let started = Instant::now();
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (key, stop, count, input) =
                    (key.clone(), stop.clone(), count.clone(), input.clone());
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let sig = key.sign(&input).expect("signing");
                        std::hint::black_box(sig);
                        n += 1;
                    }
                    count.fetch_add(n, Ordering::Relaxed);
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs_f64(seconds));
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().expect("worker");
        }
        let wall = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        let n = count.load(Ordering::Relaxed);
        println!(
            "SIGN {} {} {:.3} {:.0} {:.4}",
            alg.as_str(),
            n,
            wall,
            n as f64 / wall,
            cpu / (n as f64 / 1000.0)
        );
    }
}
