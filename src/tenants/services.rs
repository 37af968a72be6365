//! Registered services and their bindings (SPEC §4): the domain types that storage, the
//! caches, the admin API and service-to-service authentication (`s2s`) share.

use crate::tenants::ClientSecrets;
use serde::{Deserialize, Serialize};

/// How a service may prove who it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Binding {
    /// HTTP Basic with the service's name and a Tessera-generated secret.
    Secret,
    /// The caller ARN in the gateway header (exact, or a `*` pattern), from a trusted proxy.
    Gateway {
        /// ARN or pattern.
        arn: String,
    },
    /// A presigned `sts:GetCallerIdentity` request whose ARN matches (exact or `*` pattern).
    AwsIam {
        /// ARN or pattern.
        arn: String,
    },
    /// A client certificate whose SAN URI matches, as verified and forwarded by a trusted
    /// TLS-terminating proxy (exact or `*` pattern).
    Mtls {
        /// SAN URI, e.g. a SPIFFE ID.
        san: String,
    },
}

/// A registered internal service. Global: it belongs to no tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Name: the `sub` and `client_id` of its tokens and its HTTP Basic user name.
    pub name: String,
    /// Audiences of its tokens; empty = the `service` profile's.
    pub audiences: Vec<String>,
    /// Token lifetime; narrows the `service` profile's, never widens it.
    pub ttl: Option<i64>,
    /// How it authenticates, in registration order.
    pub bindings: Vec<Binding>,
    /// Secret hashes (HMAC under the master key) for a `secret` binding; never Vault.
    pub secrets: ClientSecrets,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

impl Service {
    /// True if the service has a `secret` binding.
    pub fn has_secret_binding(&self) -> bool {
        self.bindings.contains(&Binding::Secret)
    }

    /// How well an ARN matches a binding of `kind`: `Some(true)` exact, `Some(false)` by
    /// pattern.
    pub fn arn_match(&self, kind: BindingKind, arn: &str) -> Option<bool> {
        let mut by_pattern = false;
        for pattern in self.bindings.iter().filter_map(|b| b.arn(kind)) {
            if pattern == arn {
                return Some(true);
            }
            by_pattern |= pattern.contains('*') && glob_match(pattern, arn);
        }
        by_pattern.then_some(false)
    }
}

/// The bindings matched by a name (an ARN or a certificate SAN), exactly or by `*` pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingKind {
    /// `gateway`: the ARN a trusted gateway passes in a header.
    Gateway,
    /// `aws_iam`: the ARN STS answers for a presigned `GetCallerIdentity`.
    AwsIam,
    /// `mtls`: a SAN URI of the client certificate a trusted TLS-terminating proxy verified.
    Mtls,
}

impl BindingKind {
    /// The binding type's name.
    pub fn as_str(self) -> &'static str {
        match self {
            BindingKind::Gateway => "gateway",
            BindingKind::AwsIam => "aws_iam",
            BindingKind::Mtls => "mtls",
        }
    }
}

impl Binding {
    /// The ARN or SAN (or pattern) of a binding of `kind`.
    pub fn arn(&self, kind: BindingKind) -> Option<&str> {
        match (self, kind) {
            (Binding::Gateway { arn }, BindingKind::Gateway) => Some(arn),
            (Binding::AwsIam { arn }, BindingKind::AwsIam) => Some(arn),
            (Binding::Mtls { san }, BindingKind::Mtls) => Some(san),
            _ => None,
        }
    }
}

/// `*` matches any run of characters (none included); every other character matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    // Position after the last `*` seen and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while let Some(tc) = t.get(ti) {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi + 1, ti));
                pi += 1;
            }
            Some(c) if c == tc => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((after, tried)) => {
                    pi = after;
                    ti = tried + 1;
                    star = Some((after, tried + 1));
                }
                None => return false,
            },
        }
    }
    p.iter().skip(pi).all(|c| *c == '*')
}
