//! Tenant users, roles and trusted upstream OpenID providers (SPEC §3.3, §5).

use super::Status;

/// The role every tenant has; its holders may get admin tokens.
pub const ADMIN_ROLE: &str = "admin";

/// A person inside one tenant.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Owning tenant.
    pub tenant_id: String,
    /// Stable identifier (the `sub` of the user's tokens).
    pub id: String,
    /// E-mail address, unique inside the tenant (compared case-insensitively).
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// argon2id PHC string of the password, if the user has one.
    pub password_hash: Option<String>,
    /// Role names.
    pub roles: Vec<String>,
    /// Scopes held directly.
    pub scopes: Vec<String>,
    /// Resources the user may reach.
    pub resources: Vec<String>,
    /// Groups the user belongs to.
    pub groups: Vec<String>,
    /// Active or disabled.
    pub status: Status,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("tenant_id", &self.tenant_id)
            .field("id", &self.id)
            .field("email", &self.email)
            .field("roles", &self.roles)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A named set of scopes inside a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Owning tenant.
    pub tenant_id: String,
    /// Role name, unique inside the tenant.
    pub name: String,
    /// Scopes the role grants.
    pub scopes: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// An upstream OpenID provider whose ID tokens a tenant trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// Owning tenant.
    pub tenant_id: String,
    /// Identifier inside the tenant.
    pub id: String,
    /// The provider's issuer URL (discovery at `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    /// Our client id at the provider: the `aud` its ID tokens must carry.
    pub client_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// Normalizes an e-mail for lookups (trimmed, lower case).
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A plausible e-mail address: one `@` with text on both sides, no spaces, ≤ 254 chars.
pub fn valid_email(email: &str) -> bool {
    let e = email.trim();
    e.len() <= 254
        && !e.contains(|c: char| c.is_whitespace() || c.is_control())
        && matches!(e.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.contains('@'))
}

/// The scopes a user holds: direct ones, then those of its roles, without duplicates.
pub fn effective_scopes(user: &User, roles: &[Role]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let from_roles = roles
        .iter()
        .filter(|r| user.roles.contains(&r.name))
        .flat_map(|r| r.scopes.iter());
    for s in user.scopes.iter().chain(from_roles) {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(roles: &[&str], scopes: &[&str]) -> User {
        User {
            tenant_id: "t".into(),
            id: "u".into(),
            email: "a@b.c".into(),
            name: None,
            password_hash: Some("secret-hash".into()),
            roles: roles.iter().map(|s| s.to_string()).collect(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            resources: vec![],
            groups: vec![],
            status: Status::Active,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn effective_scopes_are_direct_then_role_scopes_without_duplicates() {
        let roles = vec![
            Role {
                tenant_id: "t".into(),
                name: "r1".into(),
                scopes: vec!["a".into(), "b".into()],
                created_at: 0,
            },
            Role {
                tenant_id: "t".into(),
                name: "r2".into(),
                scopes: vec!["z".into()],
                created_at: 0,
            },
        ];
        assert_eq!(
            effective_scopes(&user(&["r1"], &["b", "c"]), &roles),
            vec!["b", "c", "a"]
        );
    }

    #[test]
    fn user_debug_never_shows_the_password_hash() {
        assert!(!format!("{:?}", user(&[], &[])).contains("secret-hash"));
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert!(valid_email("ann@example.com"));
        assert!(!valid_email("ann@localhost"));
        assert!(!valid_email("@example.com"));
        assert!(!valid_email("a b@example.com"));
    }
}
