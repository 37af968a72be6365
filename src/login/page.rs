//! Server-rendered pages of the login flow: plain HTML from maud templates (every inserted
//! value escaped), no script. Forms post back with the original authorization request in a
//! hidden field, so no per-request state is kept between the page and the post.

use maud::{html, Markup, PreEscaped, DOCTYPE};

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f3f4f6;\
margin:0;color:#111827}main{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;\
border-radius:.75rem;box-shadow:0 1px 3px rgba(0,0,0,.15)}h1{font-size:1.4rem;margin:0 0 .25rem}\
p.sub{color:#6b7280;margin:0 0 1.5rem}label{display:block;font-weight:600;margin:1rem 0 .3rem}\
input[type=email],input[type=password],input[type=text]{width:100%;box-sizing:border-box;padding:.6rem;\
border:1px solid #d1d5db;border-radius:.4rem;font-size:1rem}button{margin-top:1.5rem;width:100%;\
padding:.7rem;border:0;border-radius:.4rem;background:#1d4ed8;color:#fff;font-size:1rem;cursor:pointer}\
button.secondary{background:#e5e7eb;color:#111827;margin-top:.5rem}.error{background:#fee2e2;\
color:#991b1b;padding:.6rem .8rem;border-radius:.4rem;margin-bottom:1rem}ul{padding-left:1.2rem}\
.code{font-family:ui-monospace,monospace;font-size:1.3rem;letter-spacing:.15em}";

fn document(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { main { (body) } }
        }
    }
    .into_string()
}

fn hidden(name: &str, value: &str) -> Markup {
    html! { input type="hidden" name=(name) value=(value); }
}

/// What the login page shows.
#[derive(Debug, Clone, Default)]
pub struct LoginPage<'a> {
    /// The client's display name.
    pub client_name: &'a str,
    /// The tenant the user logs into.
    pub tenant: &'a str,
    /// The original authorization request (query string), posted back.
    pub request: &'a str,
    /// The CSRF token.
    pub csrf: &'a str,
    /// The e-mail typed before (re-rendered after a failure).
    pub email: &'a str,
    /// A message shown above the form.
    pub error: Option<&'a str>,
    /// Trusted upstream providers: (id, label), one "Sign in with" button each.
    pub upstreams: &'a [(String, String)],
}

/// The e-mail + password form; posts to `/login`.
pub fn login(p: &LoginPage<'_>) -> String {
    document(
        "Sign in",
        html! {
            h1 { "Sign in" }
            p.sub { "to continue to " strong { (p.client_name) } " (" (p.tenant) ")" }
            @if let Some(e) = p.error { div.error role="alert" { (e) } }
            form method="post" action="/login" id="login" {
                (hidden("csrf", p.csrf))
                (hidden("request", p.request))
                label for="email" { "E-mail" }
                input type="email" id="email" name="email" value=(p.email) autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input type="password" id="password" name="password" autocomplete="current-password" required;
                button type="submit" id="submit" { "Sign in" }
            }
            @for (id, label) in p.upstreams {
                form.upstream method="post" action="/login/upstream" {
                    (hidden("csrf", p.csrf))
                    (hidden("request", p.request))
                    (hidden("upstream", id))
                    button.secondary type="submit" { "Sign in with " (label) }
                }
            }
        },
    )
}

/// The consent screen; posts `decision=allow|deny` to `/login/consent`.
pub fn consent(client_name: &str, scopes: &[String], request: &str, csrf: &str) -> String {
    document(
        "Allow access?",
        html! {
            h1 { "Allow access?" }
            p.sub { strong { (client_name) } " asks for:" }
            @if scopes.is_empty() {
                p { "No specific permissions." }
            } @else {
                ul { @for s in scopes { li { (s) } } }
            }
            form method="post" action="/login/consent" id="consent" {
                (hidden("csrf", csrf))
                (hidden("request", request))
                button type="submit" name="decision" value="allow" id="allow" { "Allow" }
                button.secondary type="submit" name="decision" value="deny" id="deny" { "Deny" }
            }
        },
    )
}

/// What the device page's first step shows (RFC 8628 §3.3).
#[derive(Debug, Clone, Default)]
pub struct DeviceCodePage<'a> {
    /// The CSRF token.
    pub csrf: &'a str,
    /// The code typed before, or the one `verification_uri_complete` carried.
    pub user_code: &'a str,
    /// A message shown above the form.
    pub error: Option<&'a str>,
}

/// Asks for the code a device shows; posts `user_code` to `/device`.
pub fn device_code(p: &DeviceCodePage<'_>) -> String {
    document(
        "Connect a device",
        html! {
            h1 { "Connect a device" }
            p.sub { "Enter the code shown on your device." }
            @if let Some(e) = p.error { div.error role="alert" { (e) } }
            form method="post" action="/device" id="device" {
                (hidden("csrf", p.csrf))
                label for="user_code" { "Code" }
                input.code type="text" id="user_code" name="user_code" value=(p.user_code)
                    placeholder="XXXX-XXXX" maxlength="64" autocomplete="off"
                    autocapitalize="characters" spellcheck="false" required autofocus;
                button type="submit" id="continue" { "Continue" }
            }
        },
    )
}

/// What the device consent screen names.
#[derive(Debug, Clone, Default)]
pub struct DeviceConsentPage<'a> {
    /// The client's display name.
    pub client_name: &'a str,
    /// Its tenant.
    pub tenant: &'a str,
    /// The signed-in user's e-mail.
    pub email: &'a str,
    /// The user code, as shown (`XXXX-XXXX`).
    pub user_code: &'a str,
    /// The scopes approval grants.
    pub scopes: &'a [String],
    /// The CSRF token.
    pub csrf: &'a str,
}

/// Asks the signed-in user to approve or deny a device (RFC 8628 §5.4: the code is shown
/// again, so the user can check it is their device's); posts `decision=allow|deny` with the
/// user code to `/device`.
pub fn device_consent(p: &DeviceConsentPage<'_>) -> String {
    document(
        "Allow the device?",
        html! {
            h1 { "Allow the device?" }
            p.sub { strong { (p.client_name) } " (" (p.tenant) ") asks to act as "
                strong { (p.email) } " on the device showing:" }
            p.code { (p.user_code) }
            p { "Only allow it if you started this on your own device and the codes match." }
            @if p.scopes.is_empty() {
                p { "No specific permissions." }
            } @else {
                p { "It asks for:" }
                ul { @for s in p.scopes { li { (s) } } }
            }
            form method="post" action="/device" id="device-consent" {
                (hidden("csrf", p.csrf))
                (hidden("user_code", p.user_code))
                button type="submit" name="decision" value="allow" id="allow" { "Allow" }
                button.secondary type="submit" name="decision" value="deny" id="deny" { "Deny" }
            }
        },
    )
}

/// Said after the decision: the device may continue, or was refused.
pub fn device_done(client_name: &str, approved: bool) -> String {
    let title = if approved {
        "Device connected"
    } else {
        "Access denied"
    };
    document(
        title,
        html! {
            h1 { (title) }
            @if approved {
                p { strong { (client_name) } " may continue on your device. You may close this window." }
            } @else {
                p { strong { (client_name) } " was not given access. You may close this window." }
            }
        },
    )
}

/// Asks the user to confirm signing out (RP-Initiated Logout without a valid
/// `id_token_hint`); posts `fields` and the CSRF token to `/logout`.
pub fn logout_confirm(csrf: &str, fields: &[(&str, &str)]) -> String {
    document(
        "Sign out?",
        html! {
            h1 { "Sign out?" }
            p.sub { "You will be signed out of this identity provider." }
            form method="post" action="/logout" id="logout" {
                (hidden("csrf", csrf))
                @for (k, v) in fields { (hidden(k, v)) }
                button type="submit" id="signout" { "Sign out" }
            }
        },
    )
}

/// Said after signing out when there is nowhere to return to.
pub fn signed_out() -> String {
    document(
        "Signed out",
        html! {
            h1 { "Signed out" }
            p { "You have been signed out. You may close this window." }
        },
    )
}

/// An error page (no redirect: used when the client or redirect URI cannot be trusted).
pub fn error(title: &str, detail: &str) -> String {
    document(
        title,
        html! {
            h1 { (title) }
            div.error role="alert" { (detail) }
            p { "Return to the application and try again." }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_inserted_value_is_escaped() {
        let html = login(&LoginPage {
            client_name: "<script>x</script>",
            tenant: "t",
            request: "a=\"b\"&c='d'",
            csrf: "tok",
            email: "\"><img>",
            error: Some("<b>"),
            upstreams: &[("u1".into(), "<Corp>".into())],
        });
        assert!(!html.contains("<script>x"));
        assert!(!html.contains("\"><img>"));
        assert!(html.contains("a=&quot;b&quot;&amp;c='d'"));
        assert!(html.contains("&lt;b&gt;"));
        assert!(html.contains("Sign in with &lt;Corp&gt;"));
        let html = device_code(&DeviceCodePage {
            csrf: "tok",
            user_code: "\"><script>",
            error: Some("<i>"),
        });
        assert!(!html.contains("\"><script>") && html.contains("&lt;i&gt;"));
        let scopes = ["<s>".to_string()];
        let html = device_consent(&DeviceConsentPage {
            client_name: "<TV>",
            tenant: "t",
            email: "<e>",
            user_code: "BCDF-GHJK",
            scopes: &scopes,
            csrf: "tok",
        });
        assert!(!html.contains("<TV>") && !html.contains("<e>") && !html.contains("<s>"));
        assert!(!device_done("<TV>", true).contains("<TV>"));
    }
}
