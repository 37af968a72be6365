//! Connection limits (SPEC §7.2): slow heads, idle keep-alive connections, slow bodies and
//! too many connections, against a real server with short (1 s) timeouts.

use crate::helpers::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A server on SQLite with `server.*` adjusted.
async fn server(adjust: impl FnOnce(&mut tessera::config::Settings)) -> TestApp {
    spawn_app_with(Engine::Sqlite, adjust).await.unwrap()
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection (or `within` passes: `None`); returns what
/// was read.
async fn read_until_closed(conn: &mut TcpStream, within: Duration) -> Option<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&out).into_owned()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

/// Reads one whole response to a `GET /healthz` (its body is `ok`-sized and length-framed).
async fn read_response(conn: &mut TcpStream, within: Duration) -> Option<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let text = String::from_utf8_lossy(&out).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= len {
                return Some(text);
            }
        }
        match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_head_is_closed_after_the_header_timeout() {
    let app = server(|s| s.server.header_timeout = 1).await;
    let mut conn = connect(&app).await;
    conn.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut conn, Duration::from_secs(5)).await;
    assert!(answer.is_some(), "still open after 5 s");
    assert!(started.elapsed() >= Duration::from_millis(900));
    // A connection that sends nothing at all is closed the same way.
    let mut silent = connect(&app).await;
    assert!(read_until_closed(&mut silent, Duration::from_secs(5))
        .await
        .is_some());
    // Others are still served.
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let app = server(|s| {
        s.server.idle_timeout = 1;
        s.server.header_timeout = 30;
    })
    .await;
    let mut conn = connect(&app).await;
    for _ in 0..2 {
        conn.write_all(HEALTHZ).await.unwrap();
        let r = read_response(&mut conn, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    }
    let started = Instant::now();
    let rest = read_until_closed(&mut conn, Duration::from_secs(5)).await;
    assert_eq!(rest.as_deref(), Some(""), "closed without another answer");
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_still_trickling_after_the_request_timeout_is_answered_408_in_the_route_dialect() {
    let app = server(|s| s.server.request_timeout = 1).await;
    let mut conn = connect(&app).await;
    conn.write_all(
        b"POST /v1/oauth/token HTTP/1.1\r\nhost: t\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\ngrant_type",
    )
    .await
    .unwrap();
    let answer = read_until_closed(&mut conn, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains("\"karmoCode\":\"40800703\""), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_connections_a_new_connection_waits_until_one_closes() {
    let app = server(|s| s.server.max_connections = 2).await;
    let mut first = connect(&app).await;
    let second = connect(&app).await;
    // Both are accepted and served.
    first.write_all(HEALTHZ).await.unwrap();
    assert!(read_response(&mut first, Duration::from_secs(5))
        .await
        .is_some());
    let mut third = connect(&app).await; // in the listen backlog
    third.write_all(HEALTHZ).await.unwrap();
    assert!(
        read_response(&mut third, Duration::from_millis(800))
            .await
            .is_none(),
        "the third connection must wait"
    );
    drop(second);
    let r = read_response(&mut third, Duration::from_secs(5))
        .await
        .expect("served once a connection closed");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    drop(first);
}
