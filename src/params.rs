//! Request parameters as the protocol code sees them: flat name/value pairs decoded from a
//! form or JSON body (or a query string), each name at most once (RFC 6749 §3.2), at most
//! [`MAX_PARAMS`] of them, identifiers at most [`MAX_IDENTIFIER`](crate::failure::MAX_IDENTIFIER)
//! characters. Pure functions over bytes, below the protocol code: reading the body, its
//! size limit and its content type stay in the HTTP layer (`http::body`), which calls these.

use crate::failure::{Failure, MAX_PARAMS};
use crate::reasons;
use serde_json::Value;

/// Parameter names that hold identifiers (SPEC §7.2): at most
/// [`MAX_IDENTIFIER`](crate::failure::MAX_IDENTIFIER) characters each.
pub const IDENTIFIER_PARAMS: &[&str] = &[
    "client_id",
    "tenant_id",
    "project_id",
    "email_id",
    "email",
    "username",
    "id",
];

/// Flat string parameters of a form or JSON body, each name at most once.
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// Name/value pairs in body order (at most [`MAX_PARAMS`]).
    pairs: Vec<(String, String)>,
    /// True when the body was JSON (pointers are then exact).
    pub json: bool,
}

impl Params {
    /// The value of `name`, if present and non-empty (RFC 6749 §3.1: empty = omitted).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Builds params from pairs (tests, query strings): more than [`MAX_PARAMS`], a name
    /// given twice or an over-long identifier is refused.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Params, Failure> {
        Params::checked(pairs, false)
    }

    /// Parses an `application/x-www-form-urlencoded` body ([`parse_form`]) into params.
    pub fn from_form(bytes: &[u8]) -> Result<Params, Failure> {
        Params::checked(parse_form(bytes)?, false)
    }

    /// Parses a JSON object of strings ([`parse_json_object`]) into params.
    pub fn from_json(bytes: &[u8]) -> Result<Params, Failure> {
        Params::checked(parse_json_object(bytes)?, true)
    }

    fn checked(pairs: Vec<(String, String)>, json: bool) -> Result<Params, Failure> {
        if pairs.len() > MAX_PARAMS {
            return Err(Failure::too_many_params());
        }
        check_duplicates(&pairs)?;
        for (k, v) in &pairs {
            if IDENTIFIER_PARAMS.contains(&k.as_str()) {
                Failure::check_identifier(k, v)?;
            }
        }
        Ok(Params { pairs, json })
    }
}

/// Refuses a name given twice (RFC 6749 §3.2), in one pass.
fn check_duplicates(pairs: &[(String, String)]) -> Result<(), Failure> {
    let mut seen = std::collections::HashSet::with_capacity(pairs.len());
    for (k, _) in pairs {
        if !seen.insert(k.as_str()) {
            return Err(duplicate(k));
        }
    }
    Ok(())
}

fn duplicate(k: &str) -> Failure {
    Failure::new(
        reasons::DUPLICATE_PARAMETER,
        format!("parameter {k} is given more than once"),
    )
    .with_field(&format!("/{k}"), "given more than once")
}

/// Decodes `application/x-www-form-urlencoded` (a body or a query string) strictly: invalid
/// UTF-8 is an error, and so are more than [`MAX_PARAMS`] parameters, counted before any is
/// decoded.
pub fn parse_form(bytes: &[u8]) -> Result<Vec<(String, String)>, Failure> {
    let parts = || bytes.split(|b| *b == b'&').filter(|p| !p.is_empty());
    if parts().nth(MAX_PARAMS).is_some() {
        return Err(Failure::too_many_params());
    }
    let mut out = Vec::new();
    for part in parts() {
        let mut kv = part.splitn(2, |b| *b == b'=');
        let k = form_decode(kv.next().unwrap_or(&[]))?;
        let v = form_decode(kv.next().unwrap_or(&[]))?;
        out.push((k, v));
    }
    Ok(out)
}

/// The byte two hex digits stand for (`from_str_radix` alone would take a sign: `%+f`).
fn hex_byte(pair: Option<&[u8]>) -> Option<u8> {
    let pair = pair.filter(|p| p.iter().all(u8::is_ascii_hexdigit))?;
    u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()
}

/// Percent-decodes leniently (a path segment): an invalid escape is kept as it is.
pub fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        let hex = (b == b'%')
            .then(|| hex_byte(input.get(i + 1..i + 3)))
            .flatten();
        match hex {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Form-url-decodes one component (`+` is a space, `%XX` a byte); the result must be UTF-8.
pub fn form_decode(input: &[u8]) -> Result<String, Failure> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => match hex_byte(input.get(i + 1..i + 3)) {
                Some(v) => {
                    out.push(v);
                    i += 2;
                }
                None => return Err(Failure::malformed("invalid percent-encoding in the body")),
            },
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| Failure::malformed("the body is not valid UTF-8"))
}

/// Parses a JSON object whose values are all strings, as a form body's are: a number, array,
/// object or `null` is `invalid_request` with a pointer to it (SPEC §7.2). Duplicate keys
/// and more than [`MAX_PARAMS`] members are refused.
pub fn parse_json_object(bytes: &[u8]) -> Result<Vec<(String, String)>, Failure> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Failure::malformed("the body is not valid UTF-8"))?;
    parse_json_entries(text)?
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            _ => Err(Failure::invalid(&k, format!("{k} must be a string"))),
        })
        .collect()
}

/// Top-level entries of a JSON object in order, refusing duplicate keys (serde_json would
/// silently keep the last) and more than [`MAX_PARAMS`] members, in one pass.
pub fn parse_json_entries(text: &str) -> Result<Vec<(String, Value)>, Failure> {
    use serde::de::{Deserializer, MapAccess, Visitor};
    struct Entries;
    impl<'de> Visitor<'de> for Entries {
        type Value = Vec<(String, Value)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out: Vec<(String, Value)> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            while let Some(k) = map.next_key::<String>()? {
                if out.len() == MAX_PARAMS {
                    return Err(serde::de::Error::custom(TOO_MANY));
                }
                if !seen.insert(k.clone()) {
                    return Err(serde::de::Error::custom(format!("{DUPLICATE}{k}")));
                }
                let v = map.next_value::<Value>()?;
                out.push((k, v));
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let entries = (&mut de)
        .deserialize_map(Entries)
        .map_err(|e| json_failure(&e))?;
    de.end().map_err(|e| json_failure(&e))?;
    Ok(entries)
}

/// Messages of the visitor's own errors, told apart from serde_json's by their prefix.
const DUPLICATE: &str = "duplicate key ";
const TOO_MANY: &str = "too many members";

fn json_failure(e: &serde_json::Error) -> Failure {
    let msg = e.to_string();
    if let Some(rest) = msg.strip_prefix(DUPLICATE) {
        let key = rest.rsplit_once(" at line").map_or(rest, |(k, _)| k);
        return duplicate(key);
    }
    if msg.starts_with(TOO_MANY) {
        return Failure::too_many_params();
    }
    Failure::malformed(format!(
        "the body is not a valid JSON object (line {}, column {})",
        e.line(),
        e.column()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding_handles_plus_and_percent() {
        let p = parse_form(b"a=b+c&d=%2Fx%3D").unwrap();
        assert_eq!(
            p,
            vec![("a".into(), "b c".into()), ("d".into(), "/x=".into())]
        );
    }

    #[test]
    fn invalid_utf8_in_a_form_is_malformed() {
        assert!(parse_form(b"a=%ff%fe").is_err());
        assert!(parse_form(b"a=%zz").is_err());
    }

    #[test]
    fn duplicate_json_keys_are_refused_with_a_pointer() {
        let f = parse_json_object(br#"{"a":"1","a":"2"}"#).unwrap_err();
        assert_eq!(f.reason, reasons::DUPLICATE_PARAMETER);
        assert_eq!(f.errors[0].pointer, "/a");
    }

    #[test]
    fn more_than_100_parameters_are_refused_before_decoding() {
        let form: Vec<String> = (0..101).map(|i| format!("p{i}=v")).collect();
        let f = parse_form(form.join("&").as_bytes()).unwrap_err();
        assert_eq!(f.reason, reasons::MALFORMED_BODY);
        assert_eq!(
            parse_form(form[..100].join("&").as_bytes()).unwrap().len(),
            100
        );
        let json: Vec<String> = (0..101).map(|i| format!("\"p{i}\":\"v\"")).collect();
        let f = parse_json_object(format!("{{{}}}", json.join(",")).as_bytes()).unwrap_err();
        assert_eq!(f.reason, reasons::MALFORMED_BODY);
    }

    #[test]
    fn an_identifier_over_255_characters_is_refused_with_its_pointer() {
        let long = "é".repeat(256);
        let f = Params::from_pairs(vec![("client_id".into(), long)]).unwrap_err();
        assert_eq!(f.errors[0].pointer, "/client_id");
        assert!(Params::from_pairs(vec![("client_id".into(), "é".repeat(255))]).is_ok());
        assert!(Params::from_pairs(vec![("scope".into(), "a".repeat(300))]).is_ok());
    }

    #[test]
    fn a_sign_is_not_a_hex_digit() {
        assert!(form_decode(b"%+f").is_err());
        assert_eq!(percent_decode(b"%41%+f%"), b"A%+f%");
    }

    #[test]
    fn json_objects_of_wrong_types_are_field_errors() {
        for bad in ["5", "null", "[\"a\"]", "true"] {
            let f = parse_json_object(format!("{{\"grant_type\":{bad}}}").as_bytes()).unwrap_err();
            assert_eq!(f.errors[0].pointer, "/grant_type", "{bad}");
            assert_eq!(f.oauth_error, "invalid_request");
        }
        let f = parse_json_object(br#"{"scope":{"x":1}}"#).unwrap_err();
        assert_eq!(f.errors[0].pointer, "/scope");
        assert!(parse_json_object(b"[1]").is_err());
        assert!(parse_json_object(b"{").is_err());
        assert!(parse_json_object(br#"{"a":"b"} x"#).is_err());
    }
}
