//! Grants of the token endpoint, one file each.

pub mod client_credentials;

use crate::tokens::IssuedToken;
use serde_json::{json, Value};

/// The RFC 6749 §5.1 success body.
pub fn token_response(t: &IssuedToken) -> Value {
    let mut body = json!({
        "access_token": t.token,
        "token_type": "Bearer",
        "expires_in": t.expires_in,
    });
    if !t.scope.is_empty() {
        body["scope"] = Value::String(t.scope.clone());
    }
    body
}
