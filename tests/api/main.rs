//! Integration tests: each test spawns a real server on port 0 (SQLite file or a fresh
//! PostgreSQL database) and speaks HTTP to it. Most tests run on both engines.

mod helpers;

/// Admin API: tenants, projects, clients, keys, audit, reach.
mod admin;
/// Malformed input at every route: a clear 4xx in the route's dialect, never a 5xx.
mod bad_input;
/// The real `tessera` binary: start-up defaults, SIGTERM, migrate, CLI.
mod binary;
/// Two real nodes on one PostgreSQL database: cross-node cache invalidation.
mod cluster;
/// The compatible token APIs: internal, partner and identity (SPEC §3).
mod compat;
/// README tables generated from the code.
mod docs;
/// A real upstream OpenID provider inside the test process.
mod idp;
/// Introspection and revocation.
mod introspection;
/// Signing keys, JWKS and rotation.
mod keys;
/// Hostile traffic: atomic failure limits, argon2 permits, bounded audit (SPEC §7.2).
mod limits;
/// The browser login flow: authorize, the login page, sessions, consent, discovery.
mod login;
/// A scripted browser for the login tests.
mod login_helpers;
/// Codes, refresh tokens, revocation and userinfo of the login flow.
mod login_tokens;
/// Several nodes on one database; scheduled key rotation.
mod nodes;
/// A real OpenBao dev server for the Vault tests.
mod openbao;
/// Health, readiness, metrics, OpenAPI, discovery.
mod operations;
/// Registered services: admin API, secret and trusted-gateway bindings (SPEC §4).
mod services;
/// The tenant token API: generateToken checks, claims and caller authorization.
mod tenant_api;
/// `/oauth/token` client_credentials and client authentication.
mod token_endpoint;
/// Upstream ID tokens: oidcToken, token exchange, key rotation, refused tokens.
mod upstream;
/// "Sign in with" an upstream provider on the login page.
mod upstream_login;
/// Tenant users, roles and upstream providers through the admin API.
mod users;
/// Client secrets held in OpenBao (real `bao server -dev`).
mod vault;
