//! The console's directory pages (SPEC §8) over HTTP: tenants, projects, users, roles, upstream
//! providers, services and their bindings. Each page: the happy path through the real pages,
//! a refusal shown next to its field, a form without its CSRF token changing nothing, the audit
//! actor being the signed-in e-mail, and a tenant administrator kept inside its tenant.

use crate::both_engines;
use crate::console::{csrf_of, page, signed_in_admin};
use crate::helpers::*;
use crate::login_helpers::*;
use serde_json::{json, Value};

const ROOT: &str = "root@example.com";
/// The audit actor of [`ROOT`]: its tenant and e-mail.
const ROOT_ACTOR: &str = "default/root@example.com";

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
        ROOT_ACTOR
    );
    assert_eq!(
        actor_of(&app, "tenant=acme", "admin.tenant.updated").await,
        ROOT_ACTOR
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
        ROOT_ACTOR
    );
}

async fn a_user_is_added_edited_disabled_and_given_a_password_that_is_never_shown(app: TestApp) {
    app.admin_post(
        "/admin/v1/tenants/default/roles",
        json!({"name": "reader", "scopes": ["read"]}),
    )
    .await;
    let (mut b, csrf) = root(&app).await;
    let (status, list) = page(&mut b, &app.url("/console/t/default/users")).await;
    assert_eq!(status, 200);
    assert!(list.contains("href=\"/console/t/default/users/new\""));
    let (status, form) = page(&mut b, &app.url("/console/t/default/users/new")).await;
    assert_eq!(status, 200);
    for role in ["admin", "reader"] {
        assert!(
            form.contains(&format!(
                "<input type=\"checkbox\" name=\"roles\" value=\"{role}\""
            )),
            "{role}: {form}"
        );
    }
    assert!(form.contains("type=\"password\" id=\"password\""));

    let password = "a long secret password";
    let r = submit(
        &mut b,
        &app,
        "/console/t/default/users",
        &[
            ("csrf", &csrf),
            ("email", "Bob@Example.com"),
            ("name", "Bob"),
            ("password", password),
            ("roles", "reader"),
            ("scopes", "write"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.html);
    assert!(r.location.starts_with("/console/t/default/users/"));
    let user_path = r.location.split('?').next().unwrap().to_string();
    let id = user_path.rsplit('/').next().unwrap().to_string();
    let (status, html) = page(&mut b, &app.url(&r.location)).await;
    assert_eq!(status, 200);
    assert!(html.contains("bob@example.com") && html.contains("added"));
    assert!(!html.contains(password) && !html.contains("argon2"));
    let (_, list) = page(&mut b, &app.url("/console/t/default/users")).await;
    assert!(list.contains("bob@example.com") && list.contains("reader"));

    let r = submit(
        &mut b,
        &app,
        &user_path,
        &[
            ("csrf", &csrf),
            ("name", "Bob B."),
            ("roles", "reader"),
            ("roles", "admin"),
            ("scopes", "write\nprint"),
            ("resources", "https://api.example"),
            ("groups", "ops"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let u: Value = app
        .admin_get(&format!("/admin/v1/tenants/default/users/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(u["name"], "Bob B.");
    assert_eq!(u["roles"], json!(["reader", "admin"]));
    assert_eq!(u["scopes"], json!(["write", "print"]));
    assert_eq!(u["resources"], json!(["https://api.example"]));
    assert_eq!(u["groups"], json!(["ops"]));

    let r = submit(
        &mut b,
        &app,
        &format!("{user_path}/status"),
        &[("csrf", &csrf), ("status", "disabled")],
    )
    .await;
    assert_eq!(r.status, 303);
    let (_, html) = page(&mut b, &app.url(&user_path)).await;
    assert!(html.contains("id=\"enable\""), "{html}");
    let new_password = "another long password";
    let r = submit(
        &mut b,
        &app,
        &format!("{user_path}/password"),
        &[("csrf", &csrf), ("password", new_password)],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let (_, html) = page(&mut b, &app.url(&r.location)).await;
    assert!(html.contains("Password set"));
    assert!(!html.contains(new_password) && !html.contains(password));

    for event in ["admin.user.created", "admin.user.updated"] {
        assert_eq!(
            actor_of(&app, &format!("tenant=default&subject={id}"), event).await,
            ROOT_ACTOR,
            "{event}"
        );
    }
}

async fn a_refused_user_change_shows_the_apis_message_next_to_its_field(app: TestApp) {
    let (mut b, csrf) = root(&app).await;
    let r = submit(
        &mut b,
        &app,
        "/console/t/default/users",
        &[
            ("csrf", &csrf),
            ("email", "not-an-address"),
            ("name", "Kept Name"),
            ("password", "short"),
        ],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.html);
    error_next_to(&r.html, "email", "email must be an e-mail address");
    error_next_to(
        &r.html,
        "password",
        "password must be at least 8 characters",
    );
    assert!(r.html.contains("value=\"Kept Name\""));
    assert!(
        !r.html.contains("short"),
        "a typed password is not shown again"
    );
    let r = submit(
        &mut b,
        &app,
        "/console/t/default/users",
        &[("csrf", &csrf), ("email", ROOT)],
    )
    .await;
    assert_eq!(r.status, 409);
    error_next_to(
        &r.html,
        "email",
        "a user (id or email) with this id already exists",
    );

    let id = create_user(&app, "default", "carol@example.com", json!({})).await;
    let path = format!("/console/t/default/users/{id}");
    let r = submit(
        &mut b,
        &app,
        &format!("{path}/password"),
        &[("csrf", &csrf), ("password", "tiny")],
    )
    .await;
    assert_eq!(r.status, 400);
    error_next_to(
        &r.html,
        "password",
        "password must be at least 8 characters",
    );
    assert!(!r.html.contains("tiny"));
    let r = submit(
        &mut b,
        &app,
        &path,
        &[
            ("csrf", &csrf),
            ("roles", "ghost"),
            ("groups", "kept-group"),
        ],
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.html.contains("unknown role ghost"), "{}", r.html);
    assert!(r.html.contains("kept-group</textarea>"));
    let u: Value = app
        .admin_get(&format!("/admin/v1/tenants/default/users/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(u["groups"], json!([]));
}

async fn roles_are_created_from_their_page(app: TestApp) {
    let (mut b, csrf) = root(&app).await;
    let (status, html) = page(&mut b, &app.url("/console/t/default/roles")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Only the built-in"), "empty state: {html}");
    let r = submit(
        &mut b,
        &app,
        "/console/t/default/roles",
        &[
            ("csrf", &csrf),
            ("name", "auditor"),
            ("scopes", "audit:read"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let (_, html) = page(&mut b, &app.url(&r.location)).await;
    assert!(html.contains("Role auditor created.") && html.contains("audit:read"));
    let r = submit(
        &mut b,
        &app,
        "/console/t/default/roles",
        &[("csrf", &csrf), ("name", "bad name"), ("scopes", "x")],
    )
    .await;
    assert_eq!(r.status, 400);
    error_next_to(&r.html, "name", "name must be 1-128 characters");
    let r = submit(
        &mut b,
        &app,
        "/console/t/default/roles",
        &[("csrf", &csrf), ("name", "auditor")],
    )
    .await;
    assert_eq!(r.status, 409);
    error_next_to(&r.html, "name", "a role with this id already exists");
    assert_eq!(
        actor_of(&app, "tenant=default&subject=auditor", "admin.role.created").await,
        ROOT_ACTOR
    );
}

async fn upstream_providers_are_registered_and_deleted_after_typing_their_id(app: TestApp) {
    let (mut b, csrf) = root(&app).await;
    let (status, html) = page(&mut b, &app.url("/console/t/default/upstreams")).await;
    assert_eq!(status, 200);
    assert!(html.contains("trusts no upstream"), "empty state: {html}");
    let r = submit(
        &mut b,
        &app,
        "/console/t/default/upstreams",
        &[
            ("csrf", &csrf),
            ("issuer", "ftp://idp/"),
            ("client_id", "me"),
        ],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.html);
    error_next_to(&r.html, "issuer", "issuer must be an http(s) URL");
    assert!(r.html.contains("value=\"me\""), "kept");
    let r = submit(
        &mut b,
        &app,
        "/console/t/default/upstreams",
        &[
            ("csrf", &csrf),
            ("id", "idp"),
            ("name", "Corporate IdP"),
            ("issuer", "https://idp.example"),
            ("client_id", "tessera-at-idp"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let (_, html) = page(&mut b, &app.url(&r.location)).await;
    assert!(html.contains("Corporate IdP") && html.contains("https://idp.example"));
    let (status, confirm) = page(&mut b, &app.url("/console/t/default/upstreams/idp/delete")).await;
    assert_eq!(status, 200);
    assert!(confirm.contains("Type idp to confirm"));
    let r = submit(
        &mut b,
        &app,
        "/console/t/default/upstreams/idp/delete",
        &[("csrf", &csrf), ("confirm", "id")],
    )
    .await;
    assert_eq!(r.status, 400);
    error_next_to(&r.html, "confirm", "That is not the provider's id");
    let list: Value = app
        .admin_get("/admin/v1/tenants/default/upstreams")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let r = submit(
        &mut b,
        &app,
        "/console/t/default/upstreams/idp/delete",
        &[("csrf", &csrf), ("confirm", "idp")],
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location, "/console/t/default/upstreams?deleted=idp");
    let list: Value = app
        .admin_get("/admin/v1/tenants/default/upstreams")
        .await
        .json()
        .await
        .unwrap();
    assert!(list["items"].as_array().unwrap().is_empty());
    for event in ["admin.upstream.created", "admin.upstream.deleted"] {
        assert_eq!(
            actor_of(&app, "tenant=default&subject=idp", event).await,
            ROOT_ACTOR,
            "{event}"
        );
    }
}

async fn a_service_is_registered_with_bindings_its_secret_shown_once_rotated_and_deleted(
    app: TestApp,
) {
    let (mut b, csrf) = root(&app).await;
    let (status, html) = page(&mut b, &app.url("/console/services")).await;
    assert_eq!(status, 200);
    assert!(html.contains("No services are registered yet"), "{html}");
    let arn = "arn:aws:sts::123456789012:assumed-role/orders/*";
    let r = submit(
        &mut b,
        &app,
        "/console/services",
        &[
            ("csrf", &csrf),
            ("name", "orders"),
            ("ttl", "600"),
            ("secret", "on"),
            ("gateway_arns", arn),
            ("mtls_sans", "spiffe://example.org/orders"),
        ],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.html);
    let marker = "<code id=\"secret\">";
    let start = r.html.find(marker).expect("the secret") + marker.len();
    let secret = r.html[start..start + r.html[start..].find('<').unwrap()].to_string();
    assert!(secret.len() >= 40, "{secret}");
    let token = app
        .http
        .post(app.url("/v1/auth/token"))
        .basic_auth("orders", Some(&secret))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);

    let (status, html) = page(&mut b, &app.url("/console/services/orders")).await;
    assert_eq!(status, 200);
    assert!(html.contains(arn) && html.contains("spiffe://example.org/orders"));
    assert!(html.contains("<code>secret</code>"));
    assert!(!html.contains(&secret), "never shown twice");
    let (_, list) = page(&mut b, &app.url("/console/services")).await;
    assert!(list.contains("href=\"/console/services/orders\"") && !list.contains(&secret));

    let r = submit(
        &mut b,
        &app,
        "/console/services/orders/rotate",
        &[("csrf", &csrf), ("grace_seconds", "0")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.html);
    assert!(r.html.contains("id=\"secret\"") && !r.html.contains(&secret));

    let r = submit(
        &mut b,
        &app,
        "/console/services/orders/delete",
        &[("csrf", &csrf), ("confirm", "order")],
    )
    .await;
    assert_eq!(r.status, 400);
    error_next_to(&r.html, "confirm", "That is not the service's name");
    assert_eq!(
        app.admin_get("/admin/v1/services/orders").await.status(),
        200
    );
    let r = submit(
        &mut b,
        &app,
        "/console/services/orders/delete",
        &[("csrf", &csrf), ("confirm", "orders")],
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location, "/console/services?deleted=orders");
    assert_eq!(
        app.admin_get("/admin/v1/services/orders").await.status(),
        404
    );
    for event in [
        "admin.service.created",
        "admin.service.secret_rotated",
        "admin.service.deleted",
    ] {
        assert_eq!(
            actor_of(&app, "subject=orders", event).await,
            ROOT_ACTOR,
            "{event}"
        );
    }
}

async fn a_refused_service_shows_each_binding_message_next_to_its_field(app: TestApp) {
    let (mut b, csrf) = root(&app).await;
    let r = submit(
        &mut b,
        &app,
        "/console/services",
        &[
            ("csrf", &csrf),
            ("name", "billing"),
            ("gateway_arns", "arn:aws:iam::1:role/ok"),
            ("aws_iam_arns", "not-an-arn"),
            ("ttl", "-5"),
        ],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.html);
    error_next_to(&r.html, "aws_iam_arns", "arn must be an ARN");
    error_next_to(&r.html, "ttl", "ttl must be a positive number");
    assert!(r.html.contains("not-an-arn</textarea>"), "kept");
    let r = submit(
        &mut b,
        &app,
        "/console/services",
        &[("csrf", &csrf), ("name", "billing")],
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.html
            .contains("id=\"bindings-error\">at least one binding is required"),
        "{}",
        r.html
    );
    assert_eq!(
        app.admin_get("/admin/v1/services/billing").await.status(),
        404
    );
}

async fn directory_forms_without_their_csrf_token_change_nothing(app: TestApp) {
    app.create_tenant("acme").await;
    let id = create_user(&app, "default", "dora@example.com", json!({})).await;
    app.admin_post(
        "/admin/v1/tenants/default/upstreams",
        json!({"id": "idp", "issuer": "https://idp.example", "client_id": "c"}),
    )
    .await;
    let (mut b, _) = root(&app).await;
    let user = format!("/console/t/default/users/{id}");
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/console/tenants".into(),
            vec![("id", "evil"), ("name", "Evil")],
        ),
        (
            "/console/tenants/acme/status".into(),
            vec![("status", "disabled")],
        ),
        (
            "/console/t/default/projects".into(),
            vec![("id", "evil"), ("name", "E")],
        ),
        (
            "/console/t/default/users".into(),
            vec![("email", "evil@example.com")],
        ),
        (user.clone(), vec![("groups", "evil")]),
        (format!("{user}/status"), vec![("status", "disabled")]),
        (
            format!("{user}/password"),
            vec![("password", "evil-password")],
        ),
        ("/console/t/default/roles".into(), vec![("name", "evil")]),
        (
            "/console/t/default/upstreams".into(),
            vec![("issuer", "https://evil.example"), ("client_id", "e")],
        ),
        (
            "/console/t/default/upstreams/idp/delete".into(),
            vec![("confirm", "idp")],
        ),
        (
            "/console/services".into(),
            vec![("name", "evil"), ("secret", "on")],
        ),
    ];
    for (path, form) in &posts {
        for csrf in [None, Some("forged")] {
            let mut f = form.clone();
            if let Some(c) = csrf {
                f.push(("csrf", c));
            }
            let r = submit(&mut b, &app, path, &f).await;
            assert_eq!(r.status, 403, "{path} {csrf:?}");
        }
    }
    let tenant: Value = app
        .admin_get("/admin/v1/tenants/acme")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tenant["status"], "active");
    for path in [
        "/admin/v1/tenants/evil",
        "/admin/v1/tenants/default/projects/evil",
        "/admin/v1/services/evil",
    ] {
        assert_eq!(app.admin_get(path).await.status(), 404, "{path}");
    }
    let u: Value = app
        .admin_get(&format!("/admin/v1/tenants/default/users/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (u["status"].as_str(), u["groups"].clone()),
        (Some("active"), json!([]))
    );
    let users: Value = app
        .admin_get("/admin/v1/tenants/default/users")
        .await
        .json()
        .await
        .unwrap();
    assert!(!users.to_string().contains("evil@example.com"));
    let roles: Value = app
        .admin_get("/admin/v1/tenants/default/roles")
        .await
        .json()
        .await
        .unwrap();
    assert!(!roles.to_string().contains("evil"));
    let ups: Value = app
        .admin_get("/admin/v1/tenants/default/upstreams")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ups["items"].as_array().unwrap().len(), 1);
    // Dora's password is unchanged: she still signs in with it.
    let mut dora = Browser::new();
    let r = crate::console::console_sign_in(&app, &mut dora, "default", "dora@example.com").await;
    assert_eq!(r.status(), 403, "signed in, but not an administrator");
}

async fn a_tenant_admin_gets_403_on_global_pages_and_on_another_tenants_directory(app: TestApp) {
    app.create_tenant("acme").await;
    app.create_tenant("other").await;
    let theirs = create_user(&app, "other", "them@other.example", json!({})).await;
    app.admin_post(
        "/admin/v1/tenants/other/upstreams",
        json!({"id": "idp", "issuer": "https://idp.example", "client_id": "c"}),
    )
    .await;
    app.admin_post(
        "/admin/v1/services",
        json!({"name": "orders", "bindings": [{"type": "secret"}]}),
    )
    .await;
    let mut b = signed_in_admin(&app, "acme", "boss@acme.example").await;
    // Its own tenant's pages open.
    for path in [
        "/console/t/acme/users",
        "/console/t/acme/users/new",
        "/console/t/acme/roles",
        "/console/t/acme/projects",
        "/console/t/acme/upstreams",
    ] {
        let (status, html) = page(&mut b, &app.url(path)).await;
        assert_eq!(status, 200, "{path}: {html}");
        assert!(
            !html.contains("href=\"/console/tenants\""),
            "no global navigation"
        );
    }
    let (_, html) = page(&mut b, &app.url("/console/t/acme/users")).await;
    let csrf = csrf_of(&html);
    let user = format!("/console/t/other/users/{theirs}");
    for path in [
        "/console/tenants",
        "/console/services",
        "/console/services/orders",
        "/console/t/other/users",
        "/console/t/other/users/new",
        user.as_str(),
        "/console/t/other/roles",
        "/console/t/other/projects",
        "/console/t/other/upstreams",
        "/console/t/other/upstreams/idp/delete",
    ] {
        let (status, _) = page(&mut b, &app.url(path)).await;
        assert_eq!(status, 403, "GET {path}");
    }
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/console/tenants".into(),
            vec![("id", "mine"), ("name", "Mine")],
        ),
        (
            "/console/tenants/other/status".into(),
            vec![("status", "disabled")],
        ),
        // Not even its own tenant's status (SPEC §7.1).
        (
            "/console/tenants/acme/status".into(),
            vec![("status", "disabled")],
        ),
        (
            "/console/t/other/projects".into(),
            vec![("id", "p"), ("name", "P")],
        ),
        (
            "/console/t/other/users".into(),
            vec![("email", "me@acme.example")],
        ),
        (user.clone(), vec![("roles", "admin")]),
        (format!("{user}/status"), vec![("status", "disabled")]),
        (
            format!("{user}/password"),
            vec![("password", "taken-over-now")],
        ),
        ("/console/t/other/roles".into(), vec![("name", "r")]),
        (
            "/console/t/other/upstreams".into(),
            vec![("issuer", "https://evil.example"), ("client_id", "e")],
        ),
        (
            "/console/t/other/upstreams/idp/delete".into(),
            vec![("confirm", "idp")],
        ),
        (
            "/console/services".into(),
            vec![("name", "mine"), ("secret", "on")],
        ),
        ("/console/services/orders/rotate".into(), vec![]),
        (
            "/console/services/orders/delete".into(),
            vec![("confirm", "orders")],
        ),
    ];
    for (path, form) in &posts {
        let mut f = form.clone();
        f.push(("csrf", &csrf));
        let r = submit(&mut b, &app, path, &f).await;
        assert_eq!(r.status, 403, "POST {path}");
    }
    for tenant in ["acme", "other"] {
        let v: Value = app
            .admin_get(&format!("/admin/v1/tenants/{tenant}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["status"], "active", "{tenant}");
    }
    let u: Value = app
        .admin_get(&format!("/admin/v1/tenants/other/users/{theirs}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (u["status"].as_str(), u["roles"].clone()),
        (Some("active"), json!([]))
    );
    assert_eq!(
        app.admin_get("/admin/v1/services/orders").await.status(),
        200
    );
    assert_eq!(app.admin_get("/admin/v1/services/mine").await.status(), 404);
    assert_eq!(app.admin_get("/admin/v1/tenants/mine").await.status(), 404);
    let ups: Value = app
        .admin_get("/admin/v1/tenants/other/upstreams")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ups["items"].as_array().unwrap().len(), 1);
}

async fn dots_alone_a_disabled_default_a_second_admin_role_and_control_characters_are_refused(
    app: TestApp,
) {
    for (path, body, status, pointer) in [
        (
            "/admin/v1/tenants",
            json!({"id": "..", "name": "Dots"}),
            400,
            "/id",
        ),
        (
            "/admin/v1/tenants/default/roles",
            json!({"name": "admin", "scopes": ["x"]}),
            409,
            "",
        ),
        (
            "/admin/v1/tenants/default/users",
            json!({"email": "a\u{1b}[31m@example.com", "password": "long enough"}),
            400,
            "/email",
        ),
    ] {
        let r = app.admin_post(path, body).await;
        let p = problem(r, status).await;
        if !pointer.is_empty() {
            assert_eq!(pointers(&p), vec![pointer], "{path}");
        }
    }
    let r = app
        .admin(
            reqwest::Method::PATCH,
            "/admin/v1/tenants/default",
            Some(json!({"status": "disabled"})),
        )
        .await;
    let p = problem(r, 400).await;
    assert_eq!(pointers(&p), vec!["/status"]);
    // An over-long path segment under /console is a console page too.
    let mut b = signed_in_admin(&app, "default", ROOT).await;
    let r = b
        .get(&app.url(&format!("/console/t/{}/users", "a".repeat(300))))
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
}

both_engines!(
    dots_alone_a_disabled_default_a_second_admin_role_and_control_characters_are_refused,
    a_global_admin_creates_disables_and_enables_a_tenant_through_the_tenants_page,
    a_refused_tenant_shows_the_apis_message_next_to_its_field_and_keeps_what_was_typed,
    projects_are_listed_and_created_from_their_page,
    a_user_is_added_edited_disabled_and_given_a_password_that_is_never_shown,
    a_refused_user_change_shows_the_apis_message_next_to_its_field,
    roles_are_created_from_their_page,
    upstream_providers_are_registered_and_deleted_after_typing_their_id,
    a_service_is_registered_with_bindings_its_secret_shown_once_rotated_and_deleted,
    a_refused_service_shows_each_binding_message_next_to_its_field,
    directory_forms_without_their_csrf_token_change_nothing,
    a_tenant_admin_gets_403_on_global_pages_and_on_another_tenants_directory,
);
