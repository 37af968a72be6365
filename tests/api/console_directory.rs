//! The console's directory pages (SPEC §8) over HTTP: tenants, projects, users, roles, upstream
//! providers, services and their bindings. Each page: the happy path through the real pages,
//! a refusal shown next to its field, a form without its CSRF token changing nothing, the audit
//! actor being the signed-in e-mail, and a tenant administrator kept inside its tenant.

use crate::both_engines;
use crate::console::{csrf_of, page, signed_in_admin};
use crate::helpers::*;
use crate::login_helpers::*;
use serde_json::Value;

const ROOT: &str = "root@example.com";

/// What a console POST answered: status, `Location`, page.
struct Answered {
    status: u16,
    location: String,
    html: String,
}

async fn submit(b: &mut Browser, app: &TestApp, path: &str, form: &[(&str, &str)]) -> Answered {
    let r = b.post(&app.url(path), form).await;
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    Answered {
        status,
        location,
        html: r.text().await.unwrap(),
    }
}

/// A global administrator signed in, and the CSRF token of its session.
async fn root(app: &TestApp) -> (Browser, String) {
    let mut b = signed_in_admin(app, "default", ROOT).await;
    let (_, html) = page(&mut b, &app.url("/console/t/default")).await;
    let csrf = csrf_of(&html);
    (b, csrf)
}

/// Asserts `message` is shown as the error of field `name`, right after that field's input.
fn error_next_to(html: &str, name: &str, message: &str) {
    let input = html
        .find(&format!("id=\"{name}\""))
        .unwrap_or_else(|| panic!("no field {name} in {html}"));
    let marker = format!("id=\"{name}-error\">");
    let error = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no error for {name} in {html}"));
    assert!(error > input, "the error of {name} follows its field");
    let shown = &html[error + marker.len()..];
    assert!(
        shown.starts_with(message),
        "{name}: {}",
        &shown[..shown.len().min(200)]
    );
    // Nothing but the field's own markup in between: no other input.
    assert!(
        !html[input..error].contains("<input type=\"text\" id="),
        "{name}"
    );
}

/// The actor of the first audit event `event` matching `query`.
async fn actor_of(app: &TestApp, query: &str, event: &str) -> Value {
    let events = app.audit_events(&format!("{query}&event={event}")).await;
    let e = events
        .first()
        .unwrap_or_else(|| panic!("no {event} event for {query}"));
    e["actor"].clone()
}

async fn a_global_admin_creates_disables_and_enables_a_tenant_through_the_tenants_page(
    app: TestApp,
) {
    let (mut b, csrf) = root(&app).await;
    let (status, html) = page(&mut b, &app.url("/console/tenants")).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(r#"<form id="tenant-form" method="post" action="/console/tenants">"#),
        "{html}"
    );
    assert!(html.contains(r#"id="id" name="id""#) && html.contains(r#"id="name" name="name""#));
    assert!(html.contains(r#"id="create-tenant""#));
    assert!(html.contains(r#"<label for="id">"#), "labelled fields");

    let r = submit(
        &mut b,
        &app,
        "/console/tenants",
        &[("csrf", &csrf), ("id", "acme"), ("name", "Acme Inc")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.html);
    assert_eq!(r.location, "/console/t/acme");
    let (status, _) = page(&mut b, &app.url("/console/t/acme")).await;
    assert_eq!(status, 200);
    let (_, list) = page(&mut b, &app.url("/console/tenants")).await;
    assert!(list.contains("href=\"/console/t/acme\"") && list.contains("Acme Inc"));

    let r = submit(
        &mut b,
        &app,
        "/console/tenants/acme/status",
        &[("csrf", &csrf), ("status", "disabled")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.html);
    assert_eq!(r.location, "/console/tenants?saved=status");
    let v: Value = app
        .admin_get("/admin/v1/tenants/acme")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "disabled");
    let (_, list) = page(&mut b, &app.url("/console/tenants")).await;
    assert!(list.contains("id=\"enable-acme\""), "{list}");
    let r = submit(
        &mut b,
        &app,
        "/console/tenants/acme/status",
        &[("csrf", &csrf), ("status", "active")],
    )
    .await;
    assert_eq!(r.status, 303);
    let v: Value = app
        .admin_get("/admin/v1/tenants/acme")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "active");

    assert_eq!(
        actor_of(&app, "tenant=acme", "admin.tenant.created").await,
        ROOT
    );
    assert_eq!(
        actor_of(&app, "tenant=acme", "admin.tenant.updated").await,
        ROOT
    );
}

async fn a_refused_tenant_shows_the_apis_message_next_to_its_field_and_keeps_what_was_typed(
    app: TestApp,
) {
    let (mut b, csrf) = root(&app).await;
    let r = submit(
        &mut b,
        &app,
        "/console/tenants",
        &[("csrf", &csrf), ("id", "no spaces"), ("name", "Typed name")],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.html);
    error_next_to(&r.html, "id", "id must be 1-128 characters");
    assert!(r.html.contains("value=\"Typed name\""), "kept");
    let r = submit(
        &mut b,
        &app,
        "/console/tenants",
        &[("csrf", &csrf), ("id", "default"), ("name", "Again")],
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.html);
    error_next_to(&r.html, "id", "a tenant with this id already exists");
    let r = submit(
        &mut b,
        &app,
        "/console/tenants",
        &[("csrf", &csrf), ("id", "fine")],
    )
    .await;
    assert_eq!(r.status, 400);
    error_next_to(&r.html, "name", "name is required");
    assert_eq!(app.admin_get("/admin/v1/tenants/fine").await.status(), 404);
}

async fn projects_are_listed_and_created_from_their_page(app: TestApp) {
    let (mut b, csrf) = root(&app).await;
    let (status, html) = page(&mut b, &app.url("/console/t/default/projects")).await;
    assert_eq!(status, 200);
    assert!(html.contains("no projects yet"), "empty state: {html}");
    let r = submit(
        &mut b,
        &app,
        "/console/t/default/projects",
        &[("csrf", &csrf), ("id", "web"), ("name", "Web shop")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.html);
    assert_eq!(r.location, "/console/t/default/projects?created=web");
    let (_, html) = page(&mut b, &app.url(&r.location)).await;
    assert!(html.contains("Project web created.") && html.contains("Web shop"));
    let r = submit(
        &mut b,
        &app,
        "/console/t/default/projects",
        &[("csrf", &csrf), ("id", "web"), ("name", "Twice")],
    )
    .await;
    assert_eq!(r.status, 409);
    error_next_to(&r.html, "id", "a project with this id already exists");
    let r = submit(
        &mut b,
        &app,
        "/console/t/default/projects",
        &[("csrf", &csrf), ("id", "mobile")],
    )
    .await;
    assert_eq!(r.status, 400);
    error_next_to(&r.html, "name", "name is required");
    assert!(r.html.contains("value=\"mobile\""), "kept");
    assert_eq!(
        actor_of(&app, "tenant=default&subject=web", "admin.project.created").await,
        ROOT
    );
}

both_engines!(
    a_global_admin_creates_disables_and_enables_a_tenant_through_the_tenants_page,
    a_refused_tenant_shows_the_apis_message_next_to_its_field_and_keeps_what_was_typed,
    projects_are_listed_and_created_from_their_page,
);
