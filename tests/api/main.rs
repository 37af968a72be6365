//! Integration tests: each test spawns a real server on port 0 (SQLite file or a fresh
//! PostgreSQL database) and speaks HTTP to it. Most tests run on both engines.

mod helpers;

/// Admin API: tenants, projects, clients, keys, audit, reach.
mod admin;
/// Malformed input at every route: a clear 4xx in the route's dialect, never a 5xx.
mod bad_input;
/// The real `tessera` binary: start-up defaults, SIGTERM, migrate, CLI.
mod binary;
/// README tables generated from the code.
mod docs;
/// Introspection and revocation.
mod introspection;
/// Signing keys, JWKS and rotation.
mod keys;
/// The browser login flow: authorize, the login page, sessions, consent, discovery.
mod login;
/// A scripted browser for the login tests.
mod login_helpers;
/// Codes, refresh tokens, revocation and userinfo of the login flow.
mod login_tokens;
/// Health, readiness, metrics, OpenAPI, discovery.
mod operations;
/// `/oauth/token` client_credentials and client authentication.
mod token_endpoint;
/// Tenant users, roles and upstream providers through the admin API.
mod users;
