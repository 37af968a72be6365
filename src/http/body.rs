//! Reading request bodies ourselves so every refusal is in the route's dialect: the 64 KiB
//! limit (413) and content types here; invalid UTF-8, duplicate parameters (RFC 6749 §3.2)
//! and wrong JSON types in [`crate::params`], which decodes what is read here. All are
//! [`Failure`]s, never axum's plain-text rejections.

use crate::failure::Failure;
use crate::params::Params;
use crate::reasons;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use http_body_util::BodyExt;

/// Largest body accepted on any route (SPEC §2.1).
pub const MAX_BODY: usize = 64 * 1024;

/// How much of an oversized body is read and discarded before answering 413, so that a
/// client still sending it sees the answer rather than a reset connection.
const DRAIN_LIMIT: usize = 1024 * 1024;

/// Reads the whole body, refusing more than [`MAX_BODY`] bytes with 413.
pub async fn read_limited(headers: &HeaderMap, body: Body) -> Result<Bytes, Failure> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT as u64) {
        return Err(Failure::too_large());
    }
    let mut body = body;
    // A small body (a token request) usually arrives as one frame, and a body buffered by
    // the `buffer_body` middleware always does: keep that frame as it is, copy only when a
    // second one comes.
    let mut first: Option<Bytes> = None;
    let mut buf: Vec<u8> = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Failure::malformed("the request body could not be read"))?;
        if let Ok(data) = frame.into_data() {
            total += data.len();
            if total > DRAIN_LIMIT {
                break;
            }
            if total <= MAX_BODY {
                match first.take() {
                    None if buf.is_empty() => first = Some(data),
                    earlier => {
                        if let Some(earlier) = earlier {
                            buf.extend_from_slice(&earlier);
                        }
                        buf.extend_from_slice(&data);
                    }
                }
            }
        }
    }
    if total > MAX_BODY {
        return Err(Failure::too_large());
    }
    Ok(first.unwrap_or_else(|| Bytes::from(buf)))
}

/// The media type of the body, lower-cased, without parameters.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// Which body encodings a route accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// Form and JSON (SPEC §2.1, §3.1, §3.2).
    FormOrJson,
    /// Form only (identity API, RFC 7009/7662 strict callers).
    FormOnly,
}

/// Parses a body as form or JSON according to its content type.
pub fn parse_params(headers: &HeaderMap, bytes: &[u8], accept: Accept) -> Result<Params, Failure> {
    match media_type(headers).as_deref() {
        // No body at all (e.g. `curl -X POST -u svc:secret`, a service asking for its own
        // token, SPEC §3.1): no parameters, whatever the route then requires of them.
        None if bytes.is_empty() => Ok(Params::default()),
        Some("application/x-www-form-urlencoded") => Params::from_form(bytes),
        Some("application/json") if accept == Accept::FormOrJson => Params::from_json(bytes),
        _ => Err(Failure::new(
            reasons::UNSUPPORTED_MEDIA_TYPE,
            match accept {
                Accept::FormOrJson => {
                    "body must be application/x-www-form-urlencoded or application/json"
                }
                Accept::FormOnly => "body must be application/x-www-form-urlencoded",
            },
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_in_several_frames_is_read_whole() {
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b"a=1")),
            Ok(Bytes::from_static(b"&b=2")),
            Ok(Bytes::from_static(b"&c=3")),
        ];
        let body = Body::from_stream(futures::stream::iter(chunks));
        let bytes = read_limited(&HeaderMap::new(), body).await.unwrap();
        assert_eq!(&bytes[..], b"a=1&b=2&c=3");
        let one = read_limited(&HeaderMap::new(), Body::from("x=y"))
            .await
            .unwrap();
        assert_eq!(&one[..], b"x=y");
    }
}
