//! Integration tests: each test spawns a real server on port 0 (SQLite file or a fresh
//! PostgreSQL database) and speaks HTTP to it. Most tests run on both engines.

mod helpers;

/// Admin API: tenants, projects, clients, keys, audit, reach.
mod admin;
/// Malformed input at every route: a clear 4xx in the route's dialect, never a 5xx.
mod bad_input;
/// The real `tessera` binary: start-up defaults, SIGTERM, migrate, CLI.
mod binary;
/// The real binary under hostile conditions: SIGTERM with a slow client, private files.
mod binary_faults;
/// Tenant and privilege boundaries (SPEC §7.1): attacks replayed and refused.
mod boundaries;
/// Two real nodes on one PostgreSQL database: cross-node cache invalidation.
mod cluster;
/// The compatible token APIs: internal, partner and identity (SPEC §3).
mod compat;
/// Connection limits: slow heads, idle connections, slow bodies, too many connections.
mod connections;
/// The web admin console (SPEC §8) over HTTP.
mod console;
/// The console's directory pages: tenants, projects, users, roles, upstream providers, services.
mod console_directory;
/// The device authorization grant (RFC 8628): the device's requests and the `/device` pages.
mod device;
/// The disk fills under the real binary on SQLite (SPEC §7.3): 503s, no lost event, recovery.
mod disk_full;
/// README tables generated from the code.
mod docs;
/// DPoP (RFC 9449): bound tokens, proofs, nonces and their refusals.
mod dpop;
/// Database outages and hangs (SPEC §7.3) on a PostgreSQL of the test's own.
mod faults;
/// A real upstream OpenID provider inside the test process.
mod idp;
/// Input caps: over-long identifiers, too many parameters, JSON members of the wrong type.
mod input_caps;
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
/// Mutual TLS (RFC 8705) on Tessera's own TLS listener: certificate client authentication,
/// certificate-bound tokens, service `mtls` bindings, discovery.
mod mtls;
/// Several nodes on one database; scheduled key rotation.
mod nodes;
/// A real OpenBao dev server for the Vault tests.
mod openbao;
/// Health, readiness, metrics, OpenAPI, discovery.
mod operations;
/// Pushed authorization requests (RFC 9126): push, use once, by the pushing client, in time.
mod par;
/// Property tests: no parser of outside bytes panics, and what they accept keeps the caps.
mod parsers;
/// Behind proxies: forwarded client addresses, repeated identity headers.
mod proxies;
/// Registered services: admin API, secret and trusted-gateway bindings (SPEC §4).
mod services;
/// The tenant token API: generateToken checks, claims and caller authorization.
mod tenant_api;
/// `/oauth/token` client_credentials and client authentication.
mod token_endpoint;
/// Upstream ID tokens: oidcToken, token exchange, key rotation, refused tokens.
mod upstream;
/// Upstream requests kept off non-public addresses (SPEC §7.1).
mod upstream_guard;
/// "Sign in with" an upstream provider on the login page.
mod upstream_login;
/// Tenant users, roles and upstream providers through the admin API.
mod users;
/// Client secrets held in OpenBao (real `bao server -dev`).
mod vault;
