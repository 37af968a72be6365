//! The AWS IAM proof (SPEC §4), as HashiCorp Vault's AWS auth method takes it: the caller
//! signs an `sts:GetCallerIdentity` request with its own AWS credentials and sends it instead
//! of sending it to AWS — body fields `iam_http_request_method` (`POST`), `iam_request_url`,
//! `iam_request_body` and `iam_request_headers` (the last three base64; headers as a JSON
//! object of name → value or list of values). Tessera sends that request, unchanged, to
//! `s2s.sts_endpoint`; STS checks the signature and answers the caller's ARN, which maps to a
//! service by its `aws_iam` binding. Tessera never holds AWS credentials of its own.
//!
//! Only a `GetCallerIdentity` body is ever forwarded, so a proof cannot make Tessera call any
//! other AWS action. With `s2s.aws_iam_server_id` set, the signed headers must include
//! `X-Tessera-AWS-IAM-Server-ID` with that value, so a proof made for another service that
//! trusts the same STS (Vault, another Tessera) cannot be replayed here.

use crate::failure::Failure;
use crate::params::Params;
use crate::service::Tessera;
use serde_json::Value;

/// The header that binds a proof to this deployment when `s2s.aws_iam_server_id` is set.
pub const SERVER_ID_HEADER: &str = "x-tessera-aws-iam-server-id";

/// Largest accepted size of each decoded part (a real proof is under 2 KiB).
const MAX_PART: usize = 8 * 1024;

/// A presigned `sts:GetCallerIdentity` request, decoded from the body.
#[derive(Clone)]
pub struct Proof {
    /// `iam_request_body`, e.g. `Action=GetCallerIdentity&Version=2011-06-15`.
    body: String,
    /// `iam_request_headers`, lower-case names (the signature and date among them).
    headers: Vec<(String, String)>,
}

/// Written by hand: the headers carry a signature.
impl std::fmt::Debug for Proof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proof").finish_non_exhaustive()
    }
}

impl Proof {
    /// The proof in `params`, `None` when the body has none of its fields. A proof that is
    /// present but malformed is a 400 with a pointer to the bad field.
    pub fn from_params(params: &Params) -> Result<Option<Proof>, Failure> {
        const FIELDS: [&str; 4] = [
            "iam_http_request_method",
            "iam_request_url",
            "iam_request_body",
            "iam_request_headers",
        ];
        if FIELDS.iter().all(|f| params.get(f).is_none()) {
            return Ok(None);
        }
        let field = |name: &str| params.get(name).ok_or_else(|| Failure::missing(name));
        let decoded = |name: &str| -> Result<String, Failure> {
            let text = field(name)?;
            crate::crypto::b64_decode(text.trim())
                .filter(|b| b.len() <= MAX_PART)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| Failure::invalid(name, format!("{name} must be base64 text")))
        };
        if !field("iam_http_request_method")?.eq_ignore_ascii_case("POST") {
            return Err(Failure::invalid(
                "iam_http_request_method",
                "iam_http_request_method must be POST",
            ));
        }
        decoded("iam_request_url")?;
        let body = decoded("iam_request_body")?;
        if !is_get_caller_identity(&body) {
            return Err(Failure::invalid(
                "iam_request_body",
                "iam_request_body must be an sts:GetCallerIdentity request",
            ));
        }
        let headers = parse_headers(&decoded("iam_request_headers")?).ok_or_else(|| {
            Failure::invalid(
                "iam_request_headers",
                "iam_request_headers must be a JSON object of header names to values",
            )
        })?;
        Ok(Some(Proof { body, headers }))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// True if the SigV4 `Authorization` header lists `name` among its signed headers.
    fn signs(&self, name: &str) -> bool {
        self.header("authorization")
            .and_then(|a| a.split("SignedHeaders=").nth(1))
            .and_then(|rest| rest.split([',', ' ']).next())
            .is_some_and(|list| list.split(';').any(|h| h.eq_ignore_ascii_case(name)))
    }
}

/// `Action=GetCallerIdentity` and `Version=…`, nothing else.
fn is_get_caller_identity(body: &str) -> bool {
    let Ok(pairs) = crate::params::parse_form(body.as_bytes()) else {
        return false;
    };
    let has = |k: &str, ok: &dyn Fn(&str) -> bool| pairs.iter().any(|(n, v)| n == k && ok(v));
    pairs.len() == 2
        && has("Action", &|v| v == "GetCallerIdentity")
        && has("Version", &|v| !v.is_empty())
}

fn parse_headers(json: &str) -> Option<Vec<(String, String)>> {
    let Value::Object(map) = serde_json::from_str::<Value>(json).ok()? else {
        return None;
    };
    let mut out = Vec::new();
    for (name, value) in map {
        let value = match value {
            Value::String(s) => s,
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()?
                .join(","),
            _ => return None,
        };
        // Refused here (400) rather than failing later as if STS were down.
        let valid = http::HeaderName::from_bytes(name.as_bytes()).is_ok()
            && http::HeaderValue::from_str(&value).is_ok();
        if !valid {
            return None;
        }
        out.push((name.to_ascii_lowercase(), value));
    }
    Some(out)
}

/// Sends the proof to STS: `Some(arn)` when STS vouches for it, `None` when it refuses (bad
/// or expired signature, wrong server id). STS unreachable is a 503, never a pass.
pub async fn caller_arn(t: &Tessera, proof: &Proof) -> Result<Option<String>, Failure> {
    let server_id = t.settings.s2s.aws_iam_server_id.as_str();
    let bound = proof.header(SERVER_ID_HEADER) == Some(server_id) && proof.signs(SERVER_ID_HEADER);
    if !server_id.is_empty() && !bound {
        return Ok(None);
    }
    let mut request = t
        .sts_http
        .post(t.settings.s2s.sts_endpoint.as_str())
        .body(proof.body.clone());
    for (name, value) in &proof.headers {
        // Hop-by-hop and length headers are the transport's; the signed Host is STS's own.
        if matches!(
            name.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            continue;
        }
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.send().await.map_err(|e| {
        tracing::warn!(error = %e, "STS unreachable");
        Failure::unavailable("STS is unreachable")
    })?;
    let status = response.status();
    if status.is_server_error() {
        return Err(Failure::unavailable("STS is unavailable"));
    }
    let text = response
        .text()
        .await
        .map_err(|_| Failure::unavailable("STS answer could not be read"))?;
    if !status.is_success() {
        return Ok(None);
    }
    Ok(arn_in(&text))
}

/// The `Arn` of a `GetCallerIdentity` answer, XML (the default) or JSON.
fn arn_in(answer: &str) -> Option<String> {
    let from_xml = answer
        .split_once("<Arn>")
        .and_then(|(_, rest)| rest.split_once("</Arn>"))
        .map(|(arn, _)| arn.trim().to_string());
    from_xml
        .or_else(|| {
            let v: Value = serde_json::from_str(answer).ok()?;
            v.pointer("/GetCallerIdentityResponse/GetCallerIdentityResult/Arn")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .filter(|a| a.starts_with("arn:"))
}

/// The ARNs a binding may name for `arn`: itself and, for an assumed role
/// (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`), the role
/// (`arn:aws:iam::ACCOUNT:role/ROLE`), as Vault matches them.
pub fn arns_to_match(arn: &str) -> Vec<String> {
    let mut out = vec![arn.to_string()];
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if let [_, partition, "sts", _, account, resource] = parts.as_slice() {
        if let Some(rest) = resource.strip_prefix("assumed-role/") {
            if let Some((role, _session)) = rest.rsplit_once('/') {
                out.push(format!("arn:{partition}:iam::{account}:role/{role}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assumed_role_also_matches_its_role() {
        assert_eq!(
            arns_to_match("arn:aws:sts::123456789012:assumed-role/orders/i-0abc"),
            vec![
                "arn:aws:sts::123456789012:assumed-role/orders/i-0abc".to_string(),
                "arn:aws:iam::123456789012:role/orders".to_string()
            ]
        );
        assert_eq!(
            arns_to_match("arn:aws:iam::123456789012:user/ci"),
            vec!["arn:aws:iam::123456789012:user/ci".to_string()]
        );
    }

    #[test]
    fn only_a_get_caller_identity_body_is_forwarded() {
        assert!(is_get_caller_identity(
            "Action=GetCallerIdentity&Version=2011-06-15"
        ));
        assert!(!is_get_caller_identity(
            "Action=AssumeRole&Version=2011-06-15"
        ));
        assert!(!is_get_caller_identity(
            "Action=GetCallerIdentity&Version=2011-06-15&RoleArn=x"
        ));
    }

    #[test]
    fn the_arn_is_read_from_xml_or_json_answers() {
        let xml = "<GetCallerIdentityResponse><GetCallerIdentityResult>\
                   <Arn>arn:aws:iam::1:user/ci</Arn><UserId>A</UserId>\
                   </GetCallerIdentityResult></GetCallerIdentityResponse>";
        assert_eq!(arn_in(xml).as_deref(), Some("arn:aws:iam::1:user/ci"));
        let json = r#"{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{"Arn":"arn:aws:iam::1:user/ci"}}}"#;
        assert_eq!(arn_in(json).as_deref(), Some("arn:aws:iam::1:user/ci"));
        assert_eq!(arn_in("<Error>nope</Error>"), None);
    }

    #[test]
    fn headers_that_http_cannot_carry_are_refused_up_front() {
        assert!(parse_headers(r#"{"X-Amz-Date":["20261123T000000Z"]}"#).is_some());
        assert!(parse_headers(r#"{"Bad Name":["x"]}"#).is_none());
        assert!(parse_headers("{\"X-Ok\":[\"line\\nbreak\"]}").is_none());
        assert!(parse_headers(r#"["not", "an object"]"#).is_none());
    }

    #[test]
    fn signed_headers_are_read_from_the_sigv4_authorization() {
        let proof = Proof {
            body: String::new(),
            headers: vec![(
                "authorization".into(),
                "AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/sts/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-tessera-aws-iam-server-id, \
                 Signature=abc"
                    .into(),
            )],
        };
        assert!(proof.signs(SERVER_ID_HEADER));
        assert!(proof.signs("host"));
        assert!(!proof.signs("x-amz-security-token"));
    }
}
