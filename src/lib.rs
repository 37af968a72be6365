//! Tessera: a self-hosted, multi-tenant OAuth 2.0 / OpenID Connect token service.
//!
//! # Layout
//! - `config`: typed settings (defaults → TOML → `TESSERA_*` env), one table of them.
//! - `clock`: time as a parameter; tests inject a manual clock.
//! - `secret`, `crypto`: secret wrappers, keyed hashing, argon2id, encryption at rest.
//! - `reasons`, `failure`: the reason catalogue and the one failure type every dialect renders.
//! - `params`: form and JSON request parameters (`Params`), decoded strictly from bytes.
//! - `tenants`: domain types (tenants, projects, clients).
//! - `store`: the only module that speaks SQL (SQLite and PostgreSQL).
//! - `keys`: signing keys, rotation, JWKS, JWS verification.
//! - `tokens`: access-token claims and issuing.
//! - `oauth`: the protocol core (client authentication, failure limits, argon2 permits,
//!   scopes, grants, introspection, upstream OpenID provider ID tokens, user tokens, the
//!   authorization request and pushed authorization requests, the device authorization
//!   request, userinfo, and sender-constrained tokens: DPoP proofs and certificate bindings).
//! - `vault`: client secrets held in OpenBao/Vault KV v2.
//! - `outbound`: the shared outbound HTTP client builder and the guard that keeps requests
//!   to upstream providers off non-public addresses (SPEC §7.1).
//! - `tls`: Tessera's own TLS listener (rustls) and the client certificates of mutual TLS
//!   (RFC 8705): parsing, distinguished names, key comparison.
//! - `s2s`: registered services and how a calling service is authenticated (SPEC §4).
//! - `compat`: the compatible token APIs (internal, partner, identity, tenant; SPEC §3) on
//!   top of `oauth` and `s2s`.
//! - `login`: the login page's sessions, CSRF tokens, password check and HTML.
//! - `audit`: batched audit events off the request path.
//! - `cache`: node-local caches of hot-path reads and their cross-node invalidation.
//! - `service`: the shared core handlers work on.
//! - `http`: axum router, dialects, body reading, admin API, discovery, operations, the
//!   client address behind proxies (`forwarded`) and the bounded accept loop (`serve`).
//! - `app`: bootstrap, serve, graceful shutdown.
//! - `cli`: the command line.
#![recursion_limit = "256"]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod app;
pub mod audit;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod compat;
pub mod config;
pub mod crypto;
pub mod failure;
pub mod http;
pub mod json;
pub mod keys;
pub mod login;
pub mod oauth;
pub mod outbound;
pub mod params;
pub mod reasons;
pub mod s2s;
pub mod secret;
pub mod service;
pub mod store;
pub mod tenants;
pub mod tls;
pub mod tokens;
pub mod vault;
