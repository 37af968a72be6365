//! Tessera: a self-hosted, multi-tenant OAuth 2.0 / OpenID Connect token service.
//!
//! # Layout
//! - `config`: typed settings (defaults → TOML → `TESSERA_*` env), one table of them.
//! - `clock`: time as a parameter; tests inject a manual clock.
//! - `secret`, `crypto`: secret wrappers, keyed hashing, argon2id, encryption at rest.
//! - `reasons`, `failure`: the reason catalogue and the one failure type every dialect renders.
//! - `tenants`: domain types (tenants, projects, clients).
//! - `store`: the only module that speaks SQL (SQLite and PostgreSQL).
//! - `keys`: signing keys, rotation, JWKS, JWS verification.
//! - `tokens`: access-token claims and issuing.
//! - `oauth`: the protocol core (client authentication, scopes, grants, introspection, the
//!   authorization request, userinfo).
//! - `login`: the login page's sessions, CSRF tokens, password check and HTML.
//! - `audit`: batched audit events off the request path.
//! - `service`: the shared core handlers work on.
//! - `http`: axum router, dialects, body reading, admin API, discovery, operations.
//! - `app`: bootstrap, serve, graceful shutdown.
//! - `cli`: the command line.
#![recursion_limit = "256"]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod app;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod failure;
pub mod http;
pub mod keys;
pub mod login;
pub mod oauth;
pub mod reasons;
pub mod secret;
pub mod service;
pub mod store;
pub mod tenants;
pub mod tokens;
