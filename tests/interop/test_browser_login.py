"""A real browser (headless Chromium through chromedriver/WebDriver) walks the login flow
against the real binary: authorize -> login page -> redirect with a code -> token exchange,
and the ID token is verified. A screenshot of the login page is kept in artifacts/."""

import base64
import hashlib
import http.server
import os
import pathlib
import secrets
import shutil
import tempfile
import threading
import time
import urllib.parse

import pytest
import requests
from authlib.jose import JsonWebKey, jwt

from conftest import admin, free_port

ARTIFACTS = pathlib.Path(__file__).parent.parent.parent / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


class Callback(http.server.BaseHTTPRequestHandler):
    """The relying party's redirect target: records the query string it is sent."""
    queries = []

    def do_GET(self):
        Callback.queries.append(urllib.parse.urlparse(self.path).query)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"signed in")

    def log_message(self, *args):
        pass


@pytest.fixture
def callback():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Callback)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    Callback.queries.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/cb"
    httpd.shutdown()


@pytest.fixture
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("CI") == "true":
            pytest.fail("chromium and chromedriver are required when CI=true (scripts/test installs them)")
        pytest.skip("chromium/chromedriver not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="tessera-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1000,800", f"--user-data-dir={profile}"]:
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def test_a_real_browser_logs_in_and_the_code_yields_a_verified_id_token(server, callback, browser):
    from selenium.webdriver.common.by import By

    admin(server, "POST", "/admin/v1/tenants", {"id": "shop", "name": "Shop"})
    user = admin(server, "POST", "/admin/v1/tenants/shop/users",
                 {"email": "ann@example.com", "name": "Ann Example", "password": "correct horse battery"})
    admin(server, "POST", "/admin/v1/tenants/shop/clients", {
        "client_id": "browser-spa", "name": "Shop web app", "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code"], "scopes": ["openid", "profile", "email"],
        "redirect_uris": [callback]})
    meta = requests.get(f"{server}/.well-known/openid-configuration").json()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    url = meta["authorization_endpoint"] + "?" + urllib.parse.urlencode({
        "response_type": "code", "client_id": "browser-spa", "redirect_uri": callback,
        "scope": "openid profile email", "state": state, "nonce": nonce,
        "code_challenge": challenge, "code_challenge_method": "S256"})

    browser.get(url)
    assert "Sign in" in browser.title
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "login-page.png"))
    browser.find_element(By.ID, "email").send_keys("ann@example.com")
    browser.find_element(By.ID, "password").send_keys("correct horse battery")
    browser.find_element(By.ID, "submit").click()
    deadline = time.time() + 20
    while not Callback.queries and time.time() < deadline:
        time.sleep(0.1)

    assert Callback.queries, f"no redirect to the client; the browser shows {browser.current_url}"
    q = urllib.parse.parse_qs(Callback.queries[0])
    assert q["state"] == [state]
    assert q["iss"] == [meta["issuer"]]
    r = requests.post(meta["token_endpoint"], data={
        "grant_type": "authorization_code", "client_id": "browser-spa", "code": q["code"][0],
        "redirect_uri": callback, "code_verifier": verifier})
    assert r.status_code == 200, r.text
    tokens = r.json()
    jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"]).json())
    claims = jwt.decode(tokens["id_token"], jwks, claims_options={
        "iss": {"essential": True, "value": meta["issuer"]},
        "aud": {"essential": True, "value": "browser-spa"},
        "nonce": {"essential": True, "value": nonce}})
    claims.validate()
    assert claims.header["typ"] == "JWT"
    assert claims["sub"] == user["id"]
    assert claims["email"] == "ann@example.com"
    assert claims["name"] == "Ann Example"
    at_hash = base64.urlsafe_b64encode(
        hashlib.sha256(tokens["access_token"].encode()).digest()[:16]).rstrip(b"=").decode()
    assert claims["at_hash"] == at_hash
    # The browser keeps the session cookie, HttpOnly (not visible to scripts).
    cookies = {c["name"]: c for c in browser.get_cookies()}
    assert cookies["tessera_session"]["httpOnly"] is True
    assert cookies["tessera_session"]["sameSite"] == "Lax"
