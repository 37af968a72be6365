//! Server-rendered pages of the login flow: plain HTML, no script, every inserted value
//! escaped. Forms post back with the original authorization request in a hidden field, so
//! no per-request state is kept between the page and the post.

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f3f4f6;\
margin:0;color:#111827}main{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;\
border-radius:.75rem;box-shadow:0 1px 3px rgba(0,0,0,.15)}h1{font-size:1.4rem;margin:0 0 .25rem}\
p.sub{color:#6b7280;margin:0 0 1.5rem}label{display:block;font-weight:600;margin:1rem 0 .3rem}\
input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:.6rem;\
border:1px solid #d1d5db;border-radius:.4rem;font-size:1rem}button{margin-top:1.5rem;width:100%;\
padding:.7rem;border:0;border-radius:.4rem;background:#1d4ed8;color:#fff;font-size:1rem;cursor:pointer}\
button.secondary{background:#e5e7eb;color:#111827;margin-top:.5rem}.error{background:#fee2e2;\
color:#991b1b;padding:.6rem .8rem;border-radius:.4rem;margin-bottom:1rem}ul{padding-left:1.2rem}";

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>\n",
        escape(title)
    )
}

fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        escape(name),
        escape(value)
    )
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
    let error = p
        .error
        .map(|e| format!("<div class=\"error\" role=\"alert\">{}</div>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in</h1><p class=\"sub\">to continue to <strong>{client}</strong> ({tenant})</p>{error}\
         <form method=\"post\" action=\"/login\" id=\"login\">{csrf}{request}\
         <label for=\"email\">E-mail</label>\
         <input type=\"email\" id=\"email\" name=\"email\" value=\"{email}\" autocomplete=\"username\" required autofocus>\
         <label for=\"password\">Password</label>\
         <input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\" id=\"submit\">Sign in</button></form>{upstreams}",
        client = escape(p.client_name),
        tenant = escape(p.tenant),
        csrf = hidden("csrf", p.csrf),
        request = hidden("request", p.request),
        email = escape(p.email),
        upstreams = p
            .upstreams
            .iter()
            .map(|(id, label)| format!(
                "<form method=\"post\" action=\"/login/upstream\" class=\"upstream\">{}{}{}\
                 <button type=\"submit\" class=\"secondary\">Sign in with {}</button></form>",
                hidden("csrf", p.csrf),
                hidden("request", p.request),
                hidden("upstream", id),
                escape(label)
            ))
            .collect::<String>(),
    );
    document("Sign in", &body)
}

/// The consent screen; posts `decision=allow|deny` to `/login/consent`.
pub fn consent(client_name: &str, scopes: &[String], request: &str, csrf: &str) -> String {
    let items: String = scopes
        .iter()
        .map(|s| format!("<li>{}</li>", escape(s)))
        .collect();
    let list = if items.is_empty() {
        "<p>No specific permissions.</p>".to_string()
    } else {
        format!("<ul>{items}</ul>")
    };
    let body = format!(
        "<h1>Allow access?</h1><p class=\"sub\"><strong>{client}</strong> asks for:</p>{list}\
         <form method=\"post\" action=\"/login/consent\" id=\"consent\">{csrf}{request}\
         <button type=\"submit\" name=\"decision\" value=\"allow\" id=\"allow\">Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\" class=\"secondary\">Deny</button>\
         </form>",
        client = escape(client_name),
        csrf = hidden("csrf", csrf),
        request = hidden("request", request),
    );
    document("Allow access?", &body)
}

/// Asks the user to confirm signing out (RP-Initiated Logout without a valid
/// `id_token_hint`); posts `fields` and the CSRF token to `/logout`.
pub fn logout_confirm(csrf: &str, fields: &[(&str, &str)]) -> String {
    let hidden_fields: String = fields.iter().map(|(k, v)| hidden(k, v)).collect();
    let body = format!(
        "<h1>Sign out?</h1><p class=\"sub\">You will be signed out of this identity provider.</p>\
         <form method=\"post\" action=\"/logout\" id=\"logout\">{csrf}{hidden_fields}\
         <button type=\"submit\" id=\"signout\">Sign out</button></form>",
        csrf = hidden("csrf", csrf),
    );
    document("Sign out?", &body)
}

/// Said after signing out when there is nowhere to return to.
pub fn signed_out() -> String {
    document(
        "Signed out",
        "<h1>Signed out</h1><p>You have been signed out. You may close this window.</p>",
    )
}

/// An error page (no redirect: used when the client or redirect URI cannot be trusted).
pub fn error(title: &str, detail: &str) -> String {
    let body = format!(
        "<h1>{}</h1><div class=\"error\" role=\"alert\">{}</div>\
         <p>Return to the application and try again.</p>",
        escape(title),
        escape(detail)
    );
    document(title, &body)
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
        assert!(html.contains("a=&quot;b&quot;&amp;c=&#x27;d&#x27;"));
        assert!(html.contains("&lt;b&gt;"));
        assert!(html.contains("Sign in with &lt;Corp&gt;"));
    }
}
