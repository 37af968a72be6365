//! Console: tenants, projects, users, roles, upstream providers, services and bindings.

use crate::http::Shared;
use axum::Router;

/// The routes of these pages.
pub fn routes() -> Router<Shared> {
    Router::new()
}
