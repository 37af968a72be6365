//! Typed reading of a JSON object body with a pointer for every bad field, so one 400 can
//! list all of them (`karmoErrors`). Unknown fields are refused (typos do not pass silently).

use crate::config::Profile;
use crate::failure::{Failure, FieldError};
use crate::reasons;
use serde_json::Value;

/// The fields of a JSON object body, consumed one by one.
#[derive(Debug)]
pub struct Fields {
    /// Entries not read yet.
    entries: Vec<(String, Value)>,
    /// Problems found so far.
    errors: Vec<FieldError>,
    /// True if any required field was missing (picks the reason).
    missing: bool,
}

impl Fields {
    /// Wraps parsed entries.
    pub fn new(entries: Vec<(String, Value)>) -> Fields {
        Fields {
            entries,
            errors: Vec::new(),
            missing: false,
        }
    }

    /// True once any field was refused.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Adds a member (the console builds a body from a form).
    pub fn push(&mut self, name: &str, value: Value) {
        self.entries.push((name.to_string(), value));
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        let i = self.entries.iter().position(|(k, _)| k == name)?;
        let (_, v) = self.entries.remove(i);
        (!v.is_null()).then_some(v)
    }

    /// True if the field is present (not null).
    pub fn has(&self, name: &str) -> bool {
        self.entries.iter().any(|(k, v)| k == name && !v.is_null())
    }

    /// Records a problem with a field.
    pub fn error(&mut self, name: &str, detail: impl Into<String>) {
        self.errors.push(FieldError {
            detail: detail.into(),
            pointer: format!("/{name}"),
        });
    }

    fn required(&mut self, name: &str) {
        self.missing = true;
        self.error(name, format!("{name} is required"));
    }

    /// A string field (max 1024 chars; an identifier, see
    /// [`IDENTIFIER_PARAMS`](crate::params::IDENTIFIER_PARAMS), max 255).
    pub fn string(&mut self, name: &str, required: bool) -> Option<String> {
        match self.take(name) {
            Some(Value::String(s))
                if crate::params::IDENTIFIER_PARAMS.contains(&name)
                    && crate::failure::identifier_too_long(&s) =>
            {
                self.error(
                    name,
                    format!(
                        "{name} is longer than {} characters",
                        crate::failure::MAX_IDENTIFIER
                    ),
                );
                None
            }
            Some(Value::String(s)) if s.len() <= 1024 => Some(s),
            Some(Value::String(_)) => {
                self.error(name, format!("{name} is longer than 1024 characters"));
                None
            }
            Some(_) => {
                self.error(name, format!("{name} must be a string"));
                None
            }
            None => {
                if required {
                    self.required(name);
                }
                None
            }
        }
    }

    /// A list of strings (max 256 items).
    pub fn strings(&mut self, name: &str, required: bool) -> Option<Vec<String>> {
        match self.take(name) {
            Some(Value::Array(items)) => {
                let all: Option<Vec<String>> = items
                    .iter()
                    .map(|v| v.as_str().filter(|s| s.len() <= 1024).map(str::to_string))
                    .collect();
                match all {
                    Some(list) if list.len() <= 256 => Some(list),
                    _ => {
                        self.error(
                            name,
                            format!("{name} must be an array of at most 256 strings"),
                        );
                        None
                    }
                }
            }
            Some(_) => {
                self.error(name, format!("{name} must be an array of strings"));
                None
            }
            None => {
                if required {
                    self.required(name);
                }
                None
            }
        }
    }

    /// An integer.
    pub fn int(&mut self, name: &str) -> Option<i64> {
        match self.take(name) {
            Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
            Some(_) => {
                self.error(name, format!("{name} must be an integer"));
                None
            }
            None => None,
        }
    }

    /// A boolean.
    pub fn bool(&mut self, name: &str) -> Option<bool> {
        match self.take(name) {
            Some(Value::Bool(b)) => Some(b),
            Some(_) => {
                self.error(name, format!("{name} must be true or false"));
                None
            }
            None => None,
        }
    }

    /// A JSON array of any values (max 64 items), checked item by item by the caller.
    pub fn array(&mut self, name: &str, required: bool) -> Option<Vec<Value>> {
        match self.take(name) {
            Some(Value::Array(items)) if items.len() <= 64 => Some(items),
            Some(Value::Array(_)) => {
                self.error(name, format!("{name} may hold at most 64 items"));
                None
            }
            Some(_) => {
                self.error(name, format!("{name} must be an array"));
                None
            }
            None => {
                if required {
                    self.required(name);
                }
                None
            }
        }
    }

    /// Profile rules (SPEC terms): a caller may narrow, never widen, its profile's lifetime
    /// (`ttl_field`), and a profile with a fixed audience admits no other `audiences`.
    pub fn check_profile(
        &mut self,
        profile_name: &str,
        p: &Profile,
        ttl_field: &str,
        ttl: Option<i64>,
        audiences: &[String],
    ) {
        if ttl.is_some_and(|ttl| ttl > p.ttl) {
            self.error(
                ttl_field,
                format!(
                    "{ttl_field} may not exceed the {profile_name} profile's {} s",
                    p.ttl
                ),
            );
        }
        if let Some(fixed) = &p.audience {
            if audiences.iter().any(|a| a != fixed) {
                self.error(
                    "audiences",
                    format!("the {profile_name} profile's audience is fixed to {fixed}"),
                );
            }
        }
    }

    /// A JSON object.
    pub fn object(&mut self, name: &str) -> Option<Value> {
        match self.take(name) {
            Some(v @ Value::Object(_)) => Some(v),
            Some(_) => {
                self.error(name, format!("{name} must be an object"));
                None
            }
            None => None,
        }
    }

    /// Ends reading: unknown fields and collected problems become one 400.
    pub fn finish(mut self) -> Result<(), Failure> {
        let unknown: Vec<String> = self.entries.iter().map(|(k, _)| k.clone()).collect();
        for k in unknown {
            self.error(&k, format!("unknown field {k}"));
        }
        self.finish_ignoring_unknown()
    }

    /// Ends reading like [`Fields::finish`] but lets unknown fields pass: the compatible APIs
    /// keep their callers' wire contract, and a caller that sends one field more than the
    /// contract names is not refused for it.
    pub fn finish_ignoring_unknown(self) -> Result<(), Failure> {
        if self.errors.is_empty() {
            return Ok(());
        }
        let reason = if self.missing {
            reasons::FIELD_MISSING
        } else {
            reasons::FIELD_INVALID
        };
        let detail = self
            .errors
            .iter()
            .map(|e| e.detail.clone())
            .collect::<Vec<_>>()
            .join("; ");
        let mut f = Failure::new(reason, detail);
        f.errors = self.errors;
        Err(f)
    }

    /// True if no problem was found so far.
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }
}
