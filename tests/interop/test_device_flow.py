"""Interop: the OAuth 2.0 device authorization grant (RFC 8628) against the real binary. The
device is Authlib's OAuth2Session polling the token endpoint found by discovery (honouring
`interval` and `slow_down`); the user's browser is a `requests` session posting the
`/device` forms, and — when Chromium is installed — a real headless browser. The tokens are
verified against the published JWKS. Screenshots of the code and consent pages are kept in
artifacts/."""

import html
import re
import time

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt

from conftest import admin
from test_browser_login import ARTIFACTS, browser  # noqa: F401  (the headless Chromium fixture)

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
PASSWORD = "correct horse battery"


def hidden(page, name):
    m = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert m, f"no hidden field {name} in {page}"
    return html.unescape(m.group(1))


def setup(base, tenant, client_id):
    """A tenant with a user and a public device client; returns the user's id."""
    admin(base, "POST", "/admin/v1/tenants", {"id": tenant, "name": tenant})
    user = admin(base, "POST", f"/admin/v1/tenants/{tenant}/users",
                 {"email": "ann@example.com", "name": "Ann Example", "password": PASSWORD})
    admin(base, "POST", f"/admin/v1/tenants/{tenant}/clients",
          {"client_id": client_id, "name": "Living-room TV", "grant_types": [DEVICE_GRANT],
           "scopes": ["openid", "offline_access"], "token_endpoint_auth_method": "none"})
    return user["id"]


def start(base, client_id):
    """The device's first request: discovery, then RFC 8628 §3.1."""
    meta = requests.get(f"{base}/.well-known/openid-configuration").json()
    assert DEVICE_GRANT in meta["grant_types_supported"]
    r = requests.post(meta["device_authorization_endpoint"],
                      data={"client_id": client_id, "scope": "openid offline_access"})
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    auth = r.json()
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", auth["user_code"])
    assert auth["verification_uri"] == f"{base}/device"
    assert auth["verification_uri_complete"] == f"{base}/device?user_code={auth['user_code']}"
    assert (auth["expires_in"], auth["interval"]) == (600, 5)
    return meta, auth


def poll_once(meta, client_id, device_code):
    """One RFC 8628 §3.4 request through Authlib: the token, or the error code."""
    session = OAuth2Session(client_id, token_endpoint_auth_method="none")
    try:
        return session.fetch_token(meta["token_endpoint"], grant_type=DEVICE_GRANT,
                                   device_code=device_code), None
    except OAuthError as e:
        return None, e.error


def poll_until_done(meta, client_id, auth):
    """Polls as a well-behaved device: waits `interval`, adds 5 s on `slow_down`."""
    interval = auth["interval"]
    deadline = time.time() + 60
    while time.time() < deadline:
        time.sleep(interval)
        token, error = poll_once(meta, client_id, auth["device_code"])
        if token:
            return token
        if error == "slow_down":
            interval += 5
        else:
            assert error == "authorization_pending", error
    raise AssertionError("the device was never given a token")


def verify(base, token):
    meta = requests.get(f"{base}/.well-known/openid-configuration").json()
    jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"]).json())
    claims = jwt.decode(token, jwks, claims_options={"iss": {"essential": True, "value": meta["issuer"]}})
    claims.validate()
    return claims


def test_the_device_flow_with_a_browser_posting_the_forms(server):
    user_id = setup(server, "den", "tv")
    meta, auth = start(server, "tv")
    assert poll_once(meta, "tv", auth["device_code"]) == (None, "authorization_pending")
    # Polling again at once is too fast.
    assert poll_once(meta, "tv", auth["device_code"]) == (None, "slow_down")

    b = requests.Session()
    page = b.get(auth["verification_uri_complete"])
    assert page.status_code == 200 and page.headers["X-Frame-Options"] == "DENY"
    assert f'value="{auth["user_code"]}"' in page.text
    # The user types the code in lower case without the dash.
    typed = auth["user_code"].replace("-", "").lower()
    login = b.post(f"{server}/device", data={"csrf": hidden(page.text, "csrf"), "user_code": typed},
                   allow_redirects=False)
    assert login.status_code == 200 and 'action="/login"' in login.text, login.text
    consent = b.post(f"{server}/login", allow_redirects=False, data={
        "email": "ann@example.com", "password": PASSWORD,
        "csrf": hidden(login.text, "csrf"), "request": hidden(login.text, "request")})
    assert consent.status_code == 200 and "Living-room TV" in consent.text, consent.text
    assert auth["user_code"] in consent.text
    done = b.post(f"{server}/device", allow_redirects=False, data={
        "csrf": hidden(consent.text, "csrf"), "user_code": hidden(consent.text, "user_code"),
        "decision": "allow"})
    assert done.status_code == 200 and "Device connected" in done.text

    token = poll_until_done(meta, "tv", {**auth, "interval": 10})
    assert token["token_type"] == "Bearer"
    assert set(token["scope"].split()) == {"openid", "offline_access"}
    claims = verify(server, token["access_token"])
    assert (claims["token_use"], claims["sub"], claims["client_id"]) == ("user", user_id, "tv")
    id_claims = verify(server, token["id_token"])
    assert (id_claims["sub"], id_claims["aud"]) == (user_id, "tv")
    assert token["refresh_token"]
    # Redeemed once.
    assert poll_once(meta, "tv", auth["device_code"]) == (None, "invalid_grant")


def test_a_denied_device_hears_access_denied(server):
    setup(server, "den2", "tv2")
    meta, auth = start(server, "tv2")
    b = requests.Session()
    page = b.get(f"{server}/device")
    login = b.post(f"{server}/device", data={"csrf": hidden(page.text, "csrf"), "user_code": auth["user_code"]})
    consent = b.post(f"{server}/login", data={
        "email": "ann@example.com", "password": PASSWORD,
        "csrf": hidden(login.text, "csrf"), "request": hidden(login.text, "request")})
    done = b.post(f"{server}/device", data={
        "csrf": hidden(consent.text, "csrf"), "user_code": hidden(consent.text, "user_code"),
        "decision": "deny"})
    assert "Access denied" in done.text
    assert poll_once(meta, "tv2", auth["device_code"]) == (None, "access_denied")


def test_a_real_browser_approves_a_device(server, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    user_id = setup(server, "den3", "tv3")
    meta, auth = start(server, "tv3")
    browser.get(auth["verification_uri_complete"])
    assert browser.find_element(By.ID, "user_code").get_attribute("value") == auth["user_code"]
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "device-code-page.png"))
    wait = WebDriverWait(browser, 20)
    browser.find_element(By.ID, "continue").click()
    wait.until(EC.presence_of_element_located((By.ID, "email"))).send_keys("ann@example.com")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "submit").click()
    # Each click starts a navigation: wait for the next page rather than read the old one.
    wait.until(EC.presence_of_element_located((By.ID, "allow")))
    assert auth["user_code"] in browser.page_source
    browser.save_screenshot(str(ARTIFACTS / "device-consent-page.png"))
    browser.find_element(By.ID, "allow").click()
    wait.until(lambda d: "Device connected" in d.find_element(By.TAG_NAME, "h1").text)
    token = poll_until_done(meta, "tv3", auth)
    assert verify(server, token["access_token"])["sub"] == user_id
