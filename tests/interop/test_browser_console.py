"""A real browser (headless Chromium through chromedriver/WebDriver) walks the web admin console
(SPEC §8) end to end against the real binary: the first-run sign-in page, the first
administrator made with the CLI, sign-in through Tessera's own login page, a tenant, a client
created with its secret shown once, a token with that secret, rotation without grace,
disabling, the audit trail with the administrator as actor, and sign-out.

Screenshots of each main page are kept in artifacts/console-*.png (desktop 1280x900, and the
clients list also at 390x844)."""

import re
import shlex
import subprocess

import pytest
import requests

from conftest import ADMIN_TOKEN, BIN, admin, cli, start_tessera, stop_tessera
from test_browser_login import ARTIFACTS, browser  # noqa: F401  (the browser fixture)

ADMIN_EMAIL = "root@example.com"
ADMIN_PASSWORD = "correct horse battery staple"
DESKTOP = (1280, 900)
NARROW = (390, 844)
WAIT = 20


def token(base, client_id, secret):
    """A client_credentials token request with client_secret_basic."""
    return requests.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                         auth=(client_id, secret), timeout=10)


def first_run_command(pre_text):
    """The command the sign-in page prints for the first administrator, as argv."""
    return shlex.split(pre_text.replace("\\\n", " "))


class Console:
    """The browser on the console: navigation with explicit waits, and screenshots."""

    def __init__(self, driver, base):
        from selenium.webdriver.support.ui import WebDriverWait

        self.d, self.base = driver, base
        self.wait = WebDriverWait(driver, WAIT)
        self.shots = []

    def get(self, path):
        self.d.get(self.base + path)

    def el(self, css):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC

        return self.wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def els(self, css):
        from selenium.webdriver.common.by import By

        return self.d.find_elements(By.CSS_SELECTOR, css)

    def at(self, path):
        """Waits until the browser shows `path` (no query), then for the page to be loaded."""
        self.wait.until(lambda d: d.current_url.split("?")[0] == self.base + path,
                        f"expected {self.base + path}")
        self.wait.until(lambda d: d.execute_script("return document.readyState") == "complete")

    def submit(self, css):
        """Clicks `css` and waits until the page it was on is gone."""
        from selenium.webdriver.support import expected_conditions as EC

        page = self.el("html")
        self.el(css).click()
        self.wait.until(EC.staleness_of(page), f"clicking {css} did not load a page")
        self.wait.until(lambda d: d.execute_script("return document.readyState") == "complete")

    def fill(self, css, text):
        e = self.el(css)
        e.clear()
        e.send_keys(text)

    def text(self):
        return self.el("body").text

    def h1(self):
        return self.el("h1").text

    def viewport(self, size):
        """Sets the page's viewport to exactly `size` (a phone's, with its viewport meta, when
        narrow), whatever the browser window around it."""
        width, height = size
        self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})

    def shot(self, name, size=DESKTOP, top=False):
        """Saves artifacts/console-{name}.png at `size`, scrolled to the top when `top`."""
        if size != DESKTOP:
            self.viewport(size)
        if top:
            self.d.execute_script("window.scrollTo(0, 0)")
        path = ARTIFACTS / f"console-{name}.png"
        self.d.save_screenshot(str(path))
        self.shots.append(path.name)
        if size != DESKTOP:
            self.viewport(DESKTOP)


def test_an_operator_signs_in_creates_a_client_rotates_and_disables_it_and_finds_it_in_the_audit(
        server, browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    ARTIFACTS.mkdir(exist_ok=True)
    c = Console(browser, server)
    c.viewport(DESKTOP)

    # 1. No administrator yet: / leads to the console's sign-in page, which says so and prints
    #    the command that makes the first one.
    c.get("/")
    c.at("/console")
    c.el("form#signin")
    assert "No administrator exists yet" in c.text()
    printed = first_run_command(c.el(".notice pre").text)
    assert printed[:3] == ["tessera", "user", "add"], printed
    assert printed[printed.index("--tenant") + 1] == "default"
    assert printed[printed.index("--role") + 1] == "admin"
    assert "--password" in printed
    c.shot("signin-first-run")
    # The command exactly as the page prints it (SPEC 8), with this test's e-mail and password.
    made = cli(server, "user", "add", "--tenant", "default", "--email", ADMIN_EMAIL,
               "--password", ADMIN_PASSWORD, "--role", "admin")
    assert made["email"] == ADMIN_EMAIL and "admin" in made["roles"]
    c.get("/console")
    c.el("form#signin")
    assert "No administrator exists yet" not in c.text()

    # 2. Sign in: tenant -> Tessera's login page -> the console overview.
    c.fill("#tenant", "default")
    c.submit("#continue")
    c.el("#email")
    assert not c.d.current_url.startswith(server + "/console"), c.d.current_url
    assert "Sign in" in c.d.title, c.d.title
    c.shot("login")
    c.fill("#email", ADMIN_EMAIL)
    c.fill("#password", ADMIN_PASSWORD)
    c.el("#submit").click()
    c.at("/console/t/default")
    assert c.h1() == "Tenant default"
    assert ADMIN_EMAIL in c.el("header.top").text
    assert c.el("#count-clients").text.isdigit()
    cookies = {k["name"]: k for k in c.d.get_cookies()}
    assert cookies["tessera_console"]["httpOnly"] is True
    assert cookies["tessera_console"]["sameSite"] == "Strict"
    c.shot("overview")

    # 3. Tenant acme, through the Tenants page.
    c.submit("nav a[href='/console/tenants']")
    c.at("/console/tenants")
    c.fill("#tenant-form #id", "acme")
    c.fill("#tenant-form #name", "Acme Corporation")
    c.shot("tenants")
    c.submit("#create-tenant")
    c.at("/console/t/acme")
    assert admin(server, "GET", "/admin/v1/tenants/acme")["status"] == "active"

    # 4. In acme: Clients -> Create client -> the secret, once, with a Copy button.
    c.get("/console/t/acme")
    c.at("/console/t/acme")
    assert c.h1() == "Tenant acme"
    c.submit("nav a[href='/console/t/acme/clients']")
    c.at("/console/t/acme/clients")
    assert c.h1() == "Clients"
    assert "This tenant has no clients yet." in c.text()
    c.shot("clients-empty")
    c.submit("#new-client")
    c.at("/console/t/acme/clients/new")
    c.el("form#client-form")
    c.fill("#client_id", "billing")
    c.fill("#name", "Billing service")
    grant = c.el("input[name=grant_types][value=client_credentials]")
    if not grant.is_selected():
        grant.click()
    assert grant.is_selected()
    c.fill("#scopes", "read")
    c.shot("create-form", top=True)
    c.submit("#save")
    c.at("/console/t/acme/clients")
    assert c.h1() == "Client created"
    assert "Client billing created." in c.text()
    first = c.el("code#secret").text.strip()
    assert len(first) >= 16, first
    copy = c.el("button.copy")
    assert copy.text == "Copy"
    copy.click()
    c.wait.until(lambda d: copy.text == "Copied", "the Copy button did not say Copied")
    c.shot("secret-once")

    # 5. The secret gets a token.
    r = token(server, "billing", first)
    assert r.status_code == 200, r.text
    assert r.json()["token_type"].lower() == "bearer"
    assert r.json()["access_token"]

    # 6. The client page never shows the secret again; rotate with no grace.
    c.submit("#open-client")
    c.at("/console/t/acme/clients/billing")
    assert c.h1() == "Client billing"
    assert c.el("#client-status").text == "active"
    assert first not in c.d.page_source
    assert not c.els("code#secret")
    c.shot("client")
    c.fill("#grace_seconds", "0")
    c.submit("#rotate")
    c.at("/console/t/acme/clients/billing/rotate")
    assert c.h1() == "Secret rotated"
    second = c.el("code#secret").text.strip()
    assert second and second != first
    c.shot("secret-rotated")
    r = token(server, "billing", second)
    assert r.status_code == 200, r.text
    r = token(server, "billing", first)
    assert r.status_code == 401, f"the old secret still works after a rotation with no grace: {r.text}"

    # 7. Disable: its secret no longer gets tokens.
    c.submit("#back")
    c.at("/console/t/acme/clients/billing")
    assert second not in c.d.page_source
    c.submit("#disable")
    c.at("/console/t/acme/clients/billing")
    assert "Status changed." in c.text()
    assert c.el("#client-status").text == "disabled"
    assert c.els("#enable") and not c.els("#disable")
    r = token(server, "billing", second)
    assert r.status_code == 401, f"a disabled client got an answer other than 401: {r.text}"

    # The clients list with the client, at desktop and phone width.
    c.get("/console/t/acme/clients")
    c.at("/console/t/acme/clients")
    row = c.el("table tbody tr")
    assert "billing" in row.text and "disabled" in row.text
    c.shot("clients")
    c.shot("clients-narrow", NARROW)

    # 8. The audit, filtered by client: the rotation and the update, by the administrator.
    c.submit("nav a[href='/console/t/acme/audit']")
    c.at("/console/t/acme/audit")
    c.fill("#client", "billing")
    c.submit("#filter")
    c.at("/console/t/acme/audit")
    assert "client=billing" in c.d.current_url
    c.el("table.audit")
    rows = []
    for tr in c.els("table.audit tbody tr"):
        cells = [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
        rows.append(dict(zip(["at", "event", "outcome", "actor", "client", "subject", "remote"], cells)))
    assert rows and all(r["client"] == "billing" for r in rows), rows
    by_admin = {r["event"] for r in rows if r["actor"] == f"default/{ADMIN_EMAIL}" and r["outcome"] == "success"}
    assert {"admin.client.created", "admin.client.secret_rotated", "admin.client.updated"} <= by_admin, rows
    c.shot("audit")

    # 9. Sign out: the console is closed to this browser again.
    c.submit("#signout")
    assert c.h1() == "Signed out"
    c.el("#again")
    c.shot("signed-out")
    assert not any(k["name"] == "tessera_console" for k in c.d.get_cookies())
    c.get("/console/t/acme")
    c.at("/console")
    c.el("form#signin")
    assert c.h1() == "Sign in to the console"
    assert "No administrator exists yet" not in c.text()

    # Nothing the pages did tripped the browser (CSP violations, script errors).
    log = c.d.get_log("browser")
    print("browser log:", log)
    errors = [e for e in log if e["level"] == "SEVERE" and "favicon.ico" not in e["message"]]
    assert not errors, errors
    print("screenshots:", ", ".join(c.shots))


def test_the_first_run_command_printed_on_the_sign_in_page_works_as_printed():
    base, proc = start_tessera()
    try:
        page = requests.get(f"{base}/console", timeout=10).text
        pre = re.search(r"<pre>(.*?)</pre>", page, re.S)
        assert pre, "the sign-in page prints no first-run command"
        argv = first_run_command(pre.group(1).replace("&amp;", "&"))
        argv[argv.index("--password") + 1] = ADMIN_PASSWORD
        if "--email" in argv:
            argv[argv.index("--email") + 1] = ADMIN_EMAIL
        env = {"PATH": "/usr/bin:/bin", "TESSERA_URL": base, "TESSERA_ADMIN_TOKEN": ADMIN_TOKEN}
        out = subprocess.run([BIN, *argv[1:]], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert "No administrator exists yet" not in requests.get(f"{base}/console", timeout=10).text
    finally:
        stop_tessera(proc)
