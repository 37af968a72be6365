//! The console's page frame and form widgets (maud: every inserted value is escaped).

use crate::failure::Failure;
use maud::{html, Markup, DOCTYPE};

/// Who is signed in and where the page is: the navigation around every page.
pub struct Frame<'a> {
    /// The signed-in user's e-mail.
    pub email: &'a str,
    /// The tenant the page is about.
    pub tenant: &'a str,
    /// True when the user administers every tenant.
    pub global: bool,
    /// The navigation entry to mark current (`clients`, `audit` …).
    pub section: &'static str,
    /// The session's CSRF token (the sign-out form).
    pub csrf: &'a str,
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Tessera console" }
            link rel="icon" href="/console/assets/favicon.svg" type="image/svg+xml";
            link rel="stylesheet" href="/console/assets/console.css";
            script src="/console/assets/console.js" defer {}
        }
    }
}

/// The navigation entries of a tenant's pages: (section, label, path under the tenant).
const TENANT_NAV: [(&str, &str, &str); 7] = [
    ("overview", "Overview", ""),
    ("clients", "Clients", "/clients"),
    ("users", "Users", "/users"),
    ("roles", "Roles", "/roles"),
    ("upstreams", "Upstream providers", "/upstreams"),
    ("projects", "Projects", "/projects"),
    ("audit", "Audit", "/audit"),
];

/// The navigation entries only a global administrator has.
const GLOBAL_NAV: [(&str, &str, &str); 3] = [
    ("tenants", "Tenants", "/console/tenants"),
    ("services", "Services", "/console/services"),
    ("keys", "Signing keys", "/console/keys"),
];

/// A signed-in page: header, navigation, `body`.
pub fn page(frame: &Frame<'_>, title: &str, body: Markup) -> Markup {
    let base = format!("/console/t/{}", encode(frame.tenant));
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header.top {
                    a.brand href="/console" { "Tessera" }
                    span.tenant { "tenant " strong { (frame.tenant) } }
                    span.spacer {}
                    span.who { (frame.email) }
                    form method="post" action="/console/signout" {
                        input type="hidden" name="csrf" value=(frame.csrf);
                        button.link type="submit" id="signout" { "Sign out" }
                    }
                }
                div.shell {
                    nav aria-label="Console" {
                        ul {
                            @for (section, label, path) in TENANT_NAV {
                                li {
                                    a href={ (base) (path) }
                                        aria-current=[(section == frame.section).then_some("page")] { (label) }
                                }
                            }
                        }
                        @if frame.global {
                            p.navhead { "Everything" }
                            ul {
                                @for (section, label, path) in GLOBAL_NAV {
                                    li {
                                        a href=(path)
                                            aria-current=[(section == frame.section).then_some("page")] { (label) }
                                    }
                                }
                            }
                        }
                    }
                    main id="main" {
                        h1 { (title) }
                        (body)
                    }
                }
            }
        }
    }
}

/// A page outside the signed-in frame (sign-in, 403, errors before sign-in).
pub fn bare(issuer: &str, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare {
                main.card {
                    p.brand { "Tessera" }
                    h1 { (title) }
                    (body)
                    @if !issuer.is_empty() { p.muted { (issuer) } }
                }
            }
        }
    }
}

/// What went wrong, with each field's message.
pub fn failure(f: &Failure) -> Markup {
    html! {
        div.error role="alert" {
            p { (f.detail) }
            @if !f.errors.is_empty() {
                ul {
                    @for e in &f.errors {
                        li { code { (e.pointer.trim_start_matches('/')) } ": " (e.detail) }
                    }
                }
            }
        }
    }
}

/// A notice above a page's content.
pub fn notice(text: &str) -> Markup {
    html! { div.notice role="status" { (text) } }
}

/// The hidden CSRF field of a form.
pub fn csrf(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// The message of field `name` among `errors`, if any.
fn error_of<'e>(errors: &'e [(String, String)], name: &str) -> Option<&'e str> {
    errors
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, m)| m.as_str())
}

/// A labelled text input with its hint and its error message (linked for screen readers).
pub fn text_field(
    name: &str,
    label: &str,
    value: &str,
    hint: &str,
    errors: &[(String, String)],
) -> Markup {
    field(name, label, hint, errors, |described, invalid| {
        html! {
            input type="text" id=(name) name=(name) value=(value)
                aria-describedby=[described] aria-invalid=[invalid];
        }
    })
}

/// A labelled text area (lists: one per line or separated by spaces).
pub fn area_field(
    name: &str,
    label: &str,
    value: &str,
    hint: &str,
    errors: &[(String, String)],
) -> Markup {
    field(name, label, hint, errors, |described, invalid| {
        html! {
            textarea id=(name) name=(name) rows="3"
                aria-describedby=[described] aria-invalid=[invalid] { (value) }
        }
    })
}

/// A labelled select of `options` (value, label).
pub fn select_field(
    name: &str,
    label: &str,
    value: &str,
    options: &[(&str, &str)],
    errors: &[(String, String)],
) -> Markup {
    field(name, label, "", errors, |described, invalid| {
        html! {
            select id=(name) name=(name) aria-describedby=[described] aria-invalid=[invalid] {
                @for (v, l) in options {
                    option value=(v) selected[*v == value] { (l) }
                }
            }
        }
    })
}

/// A checkbox with its label.
pub fn check_field(name: &str, label: &str, checked: bool, errors: &[(String, String)]) -> Markup {
    let error = error_of(errors, name);
    html! {
        div.field.check {
            label {
                input type="checkbox" name=(name) id=(name) checked[checked];
                " " (label)
            }
            @if let Some(e) = error { p.field-error { (e) } }
        }
    }
}

/// A group of checkboxes of one name, `checked` among `options`.
pub fn checks_field(
    name: &str,
    label: &str,
    options: &[&str],
    checked: &[String],
    errors: &[(String, String)],
) -> Markup {
    let error = error_of(errors, name);
    html! {
        fieldset.field {
            legend { (label) }
            @for o in options {
                label.inline {
                    input type="checkbox" name=(name) value=(o) checked[checked.iter().any(|c| c == o)];
                    " " code { (o) }
                }
            }
            @if let Some(e) = error { p.field-error role="alert" { (e) } }
        }
    }
}

fn field(
    name: &str,
    label: &str,
    hint: &str,
    errors: &[(String, String)],
    input: impl FnOnce(Option<String>, Option<&str>) -> Markup,
) -> Markup {
    let error = error_of(errors, name);
    let hint_id = format!("{name}-hint");
    let error_id = format!("{name}-error");
    let described = match (hint.is_empty(), error.is_some()) {
        (true, false) => None,
        (false, false) => Some(hint_id.clone()),
        (true, true) => Some(error_id.clone()),
        (false, true) => Some(format!("{hint_id} {error_id}")),
    };
    html! {
        div.field.invalid[error.is_some()] {
            label for=(name) { (label) }
            (input(described, error.map(|_| "true")))
            @if !hint.is_empty() { p.hint id=(hint_id) { (hint) } }
            @if let Some(e) = error { p.field-error id=(error_id) { (e) } }
        }
    }
}

/// A secret shown once, with a copy button (the script adds the copying).
pub fn secret_once(label: &str, secret: &str) -> Markup {
    html! {
        div.secret {
            p { strong { (label) } " — shown this once; Tessera keeps only a hash of it." }
            div.copyrow {
                code id="secret" { (secret) }
                button type="button" class="copy" data-copy="secret" { "Copy" }
            }
        }
    }
}

/// Percent-encodes a path segment (ids may hold `:` `@` `.`).
pub fn encode(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The "page N" links of a list: `base` plus `page=`.
pub fn pager(base: &str, page: usize, has_more: bool) -> Markup {
    let sep = if base.contains('?') { '&' } else { '?' };
    html! {
        @if page > 1 || has_more {
        nav.pager aria-label="Pages" {
            @if page > 1 {
                a href={ (base) (sep) "page=" (page - 1) } rel="prev" { "← Previous" }
            }
            span { "Page " (page) }
            @if has_more {
                a href={ (base) (sep) "page=" (page + 1) } rel="next" { "Next →" }
            }
        }
        }
    }
}
