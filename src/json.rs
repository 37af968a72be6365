//! Small helpers for JSON objects built in code (`serde_json`'s `value["k"] = v` panics on a
//! non-object, which the crate's lints forbid outside tests).

use serde_json::Value;

/// Sets member `key` of `object`. Callers build `object` with `json!({…})`; on anything but an
/// object this does nothing.
pub fn set(object: &mut Value, key: &str, value: impl Into<Value>) {
    if let Some(o) = object.as_object_mut() {
        o.insert(key.to_string(), value.into());
    }
}
