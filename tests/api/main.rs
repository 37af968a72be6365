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
/// README tables generated from the code.
mod docs;
/// Introspection and revocation.
mod introspection;
/// Signing keys, JWKS and rotation.
mod keys;
/// Health, readiness, metrics, OpenAPI, discovery.
mod operations;
/// `/oauth/token` client_credentials and client authentication.
mod token_endpoint;
