"""A logged-in admin on the web app, with CSRF on as in production."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from crm_stub.web import create_app
from crm_webhooks.web.openapi import document

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app(crm) -> Flask:
    crm.users.create("Admin", "admin@example.com", is_admin=True, password=PASSWORD)
    crm.users.create("Seller", "seller@example.com", password=PASSWORD)
    return create_app(crm, secret_key="test-secret", TESTING=True)


@dataclass
class Browser:
    """A test client that keeps the CSRF token of the last page, as a browser's form would."""

    client: FlaskClient
    token: str = ""

    def get(self, url: str, **kw: Any) -> Any:
        response = self.client.get(url, **kw)
        found = _CSRF.search(response.get_data(as_text=True))
        if found:
            self.token = found[1]
        return response

    def post(self, url: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kw: Any) -> Any:
        if csrf and not self.token:
            self.get("/login")
        form = {**(data or {}), **({"csrf_token": self.token} if csrf else {})}
        response = self.client.post(url, data=form, **kw)
        found = _CSRF.search(response.get_data(as_text=True))
        if found:
            self.token = found[1]
        return response

    def login(self, email: str = "admin@example.com", password: str = PASSWORD, *, next: str = "") -> Any:
        self.get("/login")
        response = self.post(f"/login{next and '?next=' + next}", {"email": email, "password": password})
        if response.status_code == 302:
            # A fresh session begins at login: the next page carries its CSRF token.
            self.get(response.headers["Location"], follow_redirects=True)
        return response


@pytest.fixture
def browser(app: Flask) -> Browser:
    return Browser(app.test_client())


@pytest.fixture
def admin(browser: Browser) -> Browser:
    assert browser.login().status_code == 302
    return browser


@pytest.fixture
def api(app: Flask, crm):
    """A JSON client with a read+write token; ``api.token(scopes)`` makes others."""

    class Api:
        client = app.test_client()

        def token(self, scopes: str = "webhooks:read,webhooks:write") -> str:
            return crm.tokens.create("test", scopes)[1]

        def call(self, method: str, url: str, *, token: str | None = None, **kw: Any) -> Any:
            headers = kw.pop("headers", {})
            if token is not False:
                headers["Authorization"] = f"Bearer {token or self.default}"
            return self.client.open(url, method=method, headers=headers, **kw)

    api = Api()
    api.default = api.token()
    return api


@pytest.fixture
def disabled_in_outage(crm, webhooks, webhook_receiver, outage):
    """A hook on lead.created that failed for A, B and C, then was disabled with D not sent yet (held).

    For tests marked with no retries, so that each failure is a failed delivery."""
    hook = webhooks.create_hook(name="erp", event="lead.created", url=webhook_receiver.url)
    outage("A", "B", "C")
    crm.leads.create("D")
    return webhooks.disable_hook(hook.id)


@pytest.fixture(scope="session")
def openapi_document() -> dict[str, Any]:
    """The document /api/v1/openapi.json serves on http://localhost (test_openapi.py checks that it does)."""
    return json.loads(json.dumps(document("http://localhost/api/v1")))


@pytest.fixture(scope="session")
def schema_validator(openapi_document: dict[str, Any]) -> Callable[[str], Draft202012Validator]:
    """``schema_validator("#/components/schemas/Hook")``: a JSON Schema validator for that part of the document."""
    base = "urn:crm-webhooks:openapi"
    registry = Registry().with_resource(base, Resource.from_contents(openapi_document, DRAFT202012))

    def validator(ref: str) -> Draft202012Validator:
        return Draft202012Validator(
            {"$ref": base + ref}, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
        )

    return validator


@pytest.fixture(scope="session")
def envelope_validator(
    openapi_document: dict[str, Any], schema_validator: Callable[[str], Draft202012Validator]
) -> Callable[[str], Draft202012Validator]:
    """``envelope_validator(code)``: a JSON Schema validator for the envelope the document gives that event."""

    def validator(code: str) -> Draft202012Validator:
        body = openapi_document["webhooks"][code]["post"]["requestBody"]["content"]["application/json"]
        return schema_validator(body["schema"]["$ref"])

    return validator
