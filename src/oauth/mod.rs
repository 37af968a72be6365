//! The OAuth 2.0 protocol core: client authentication (with the failed-authentication limits
//! and the argon2 permits every credential check goes through), scopes and audiences, grants,
//! introspection and revocation, upstream ID tokens and user tokens, the authorization request
//! and userinfo, pushed authorization requests. No HTTP types beyond the parsed parameters.

pub mod authorize;
pub mod client_auth;
pub mod device;
pub mod dpop;
pub mod grant;
pub mod hashing;
pub mod introspect;
pub mod limits;
pub mod mtls;
pub mod par;
pub mod pending;
pub mod replay;
pub mod scope;
pub mod upstream;
pub mod user_token;
pub mod userinfo;
