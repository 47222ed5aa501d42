"""OAuth 2.0 against the simulator (api-contracts A4, C7)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fixtures.simulators import SF_CLIENT_ID, SF_CLIENT_SECRET
from tests.simulators.salesforce.harness import SalesforceSim

REDIRECT = "https://sync.example/oauth/callback"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _authorize(sim: SalesforceSim, **params: str) -> httpx.Response:
    query = {"response_type": "code", "client_id": SF_CLIENT_ID, "redirect_uri": REDIRECT, **params}
    return sim.http.get("/services/oauth2/authorize", params=query)


def _code(response: httpx.Response) -> dict[str, list[str]]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return parse_qs(urlparse(location).query)


def _token(sim: SalesforceSim, **form: str) -> httpx.Response:
    return sim.http.post("/services/oauth2/token", data=form)


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _assert_token_shape(sim: SalesforceSim, body: dict[str, Any]) -> None:
    assert body["token_type"] == "Bearer"
    assert body["instance_url"] == sim.url
    org_id = sim.http.get("/_sim/config").json()["org_id"]
    assert body["id"].startswith(f"{sim.url}/id/{org_id}/005")
    assert body["issued_at"].isdigit() and len(body["issued_at"]) == 13  # epoch milliseconds, as a string
    expected = hmac.new(SF_CLIENT_SECRET.encode(), (body["id"] + body["issued_at"]).encode(), hashlib.sha256)
    assert body["signature"] == base64.b64encode(expected.digest()).decode()
    assert isinstance(body["scope"], str)


def test_authorization_code_with_pkce_gives_a_refresh_token_and_a_working_session(sim: SalesforceSim) -> None:
    verifier = "v" * 64
    params = _code(_authorize(sim, state="xyz", code_challenge=_s256(verifier), code_challenge_method="S256"))
    assert params["state"] == ["xyz"]
    form = {
        "grant_type": "authorization_code",
        "code": params["code"][0],
        "client_id": SF_CLIENT_ID,
        "client_secret": SF_CLIENT_SECRET,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    response = _token(sim, **form)
    assert response.status_code == 200, response.text
    body = response.json()
    _assert_token_shape(sim, body)
    assert body["refresh_token"]
    api = sim.http.get(
        "/services/data/v62.0/limits", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert api.status_code == 200
    again = _token(sim, **form)  # a code is single-use
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant", "error_description": "invalid authorization code"}


def test_a_wrong_code_verifier_is_an_invalid_grant(sim: SalesforceSim) -> None:
    params = _code(_authorize(sim, code_challenge=_s256("right-verifier")))
    response = _token(
        sim,
        grant_type="authorization_code",
        code=params["code"][0],
        client_id=SF_CLIENT_ID,
        client_secret=SF_CLIENT_SECRET,
        redirect_uri=REDIRECT,
        code_verifier="wrong-verifier",
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_authorize_refuses_plain_pkce_and_unknown_clients(sim: SalesforceSim) -> None:
    assert _code(_authorize(sim, code_challenge="abc", code_challenge_method="plain"))["error"] == [
        "invalid_request"
    ]
    unknown = sim.http.get(
        "/services/oauth2/authorize",
        params={"response_type": "code", "client_id": "nope", "redirect_uri": REDIRECT},
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_client_id"


def test_the_code_must_be_redeemed_with_the_same_redirect_uri_and_secret(sim: SalesforceSim) -> None:
    code = _code(_authorize(sim))["code"][0]
    wrong_secret = _token(
        sim,
        grant_type="authorization_code",
        code=code,
        client_id=SF_CLIENT_ID,
        client_secret="nope",
        redirect_uri=REDIRECT,
    )
    assert wrong_secret.json() == {
        "error": "invalid_client",
        "error_description": "invalid client credentials",
    }
    code = _code(_authorize(sim))["code"][0]
    wrong_uri = _token(
        sim,
        grant_type="authorization_code",
        code=code,
        client_id=SF_CLIENT_ID,
        client_secret=SF_CLIENT_SECRET,
        redirect_uri="https://elsewhere.example/cb",
    )
    assert wrong_uri.json()["error"] == "redirect_uri_mismatch"


def test_refresh_gives_a_new_access_token_without_a_new_refresh_token(sim: SalesforceSim) -> None:
    code = _code(_authorize(sim))["code"][0]
    first = _token(
        sim,
        grant_type="authorization_code",
        code=code,
        client_id=SF_CLIENT_ID,
        client_secret=SF_CLIENT_SECRET,
        redirect_uri=REDIRECT,
    ).json()
    refreshed = _token(
        sim,
        grant_type="refresh_token",
        refresh_token=first["refresh_token"],
        client_id=SF_CLIENT_ID,
        client_secret=SF_CLIENT_SECRET,
    )
    assert refreshed.status_code == 200
    body = refreshed.json()
    _assert_token_shape(sim, body)
    assert "refresh_token" not in body
    assert body["access_token"] != first["access_token"]


def test_client_credentials_and_jwt_give_no_refresh_token(sim: SalesforceSim) -> None:
    body = _token(
        sim, grant_type="client_credentials", client_id=SF_CLIENT_ID, client_secret=SF_CLIENT_SECRET
    ).json()
    _assert_token_shape(sim, body)
    assert "refresh_token" not in body
    assertion = jwt.encode(_claims(), _private_key()[0], algorithm="RS256")
    body = _token(sim, grant_type=JWT_GRANT, assertion=assertion).json()
    assert "refresh_token" not in body
    assert body["access_token"]


def _private_key() -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def _claims(**overrides: Any) -> dict[str, Any]:
    claims = {
        "iss": SF_CLIENT_ID,
        "sub": "integration@sfgr-sim.example",
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 170,
    }
    return claims | overrides


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"iss": "someone-else"}, "invalid_client_id"),
        ({"sub": "nobody@example.com"}, "invalid_grant"),
        ({"aud": "https://test.salesforce.com"}, "invalid_grant"),  # production org: login host only
        # Expiries as offsets from the moment of the call: a value computed at import would drift by
        # however long the run took before this test.
        ({"exp_in": -5}, "invalid_grant"),
        ({"exp_in": 600}, "invalid_grant"),  # "a short expiry": at most 3 minutes
    ],
)
def test_jwt_bearer_checks_every_claim(sim: SalesforceSim, overrides: dict[str, Any], error: str) -> None:
    overrides = dict(overrides)
    if "exp_in" in overrides:
        overrides["exp"] = int(time.time()) + overrides.pop("exp_in")
    private, public = _private_key()
    sim.configure(jwt_public_key=public)
    response = _token(
        sim, grant_type=JWT_GRANT, assertion=jwt.encode(_claims(**overrides), private, algorithm="RS256")
    )
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_jwt_bearer_verifies_the_signature_when_a_key_is_configured(sim: SalesforceSim) -> None:
    private, public = _private_key()
    other_private, _ = _private_key()
    sim.configure(jwt_public_key=public, environment="sandbox")
    good = _token(
        sim,
        grant_type=JWT_GRANT,
        assertion=jwt.encode(_claims(aud="https://test.salesforce.com"), private, algorithm="RS256"),
    )
    assert good.status_code == 200, good.text
    forged = _token(
        sim,
        grant_type=JWT_GRANT,
        assertion=jwt.encode(_claims(aud="https://test.salesforce.com"), other_private, algorithm="RS256"),
    )
    assert forged.json() == {"error": "invalid_grant", "error_description": "invalid assertion"}
    hs256 = _token(
        sim,
        grant_type=JWT_GRANT,
        assertion=jwt.encode(_claims(aud="https://test.salesforce.com"), "k" * 32, algorithm="HS256"),
    )
    assert hs256.json()["error"] == "invalid_grant"


def test_unknown_grant_types_and_json_bodies_are_unsupported(sim: SalesforceSim) -> None:
    assert (
        _token(sim, grant_type="password", username="u", password="p").json()["error"]
        == "unsupported_grant_type"
    )
    as_json = sim.http.post("/services/oauth2/token", json={"grant_type": "client_credentials"})
    assert as_json.status_code == 400
    assert as_json.json()["error"] == "unsupported_grant_type"


def test_revoked_and_expired_tokens_get_invalid_session_id(sim: SalesforceSim) -> None:
    expected = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    assert sim.api.get("/limits").status_code == 200
    assert sim.http.post("/services/oauth2/revoke", data={"token": sim.token}).status_code == 200
    revoked = sim.api.get("/limits")
    assert revoked.status_code == 401
    assert revoked.json() == expected
    assert (
        sim.http.post("/services/oauth2/revoke", data={"token": sim.token}).json()["error"]
        == "unsupported_token_type"
    )
    missing = sim.http.get("/services/data/v62.0/limits")
    assert missing.status_code == 401 and missing.json() == expected
    garbage = sim.http.get("/services/data/v62.0/limits", headers={"Authorization": "Bearer nope"})
    assert garbage.status_code == 401 and garbage.json() == expected


def test_revoking_a_refresh_token_ends_its_sessions(sim: SalesforceSim) -> None:
    code = _code(_authorize(sim))["code"][0]
    body = _token(
        sim,
        grant_type="authorization_code",
        code=code,
        client_id=SF_CLIENT_ID,
        client_secret=SF_CLIENT_SECRET,
        redirect_uri=REDIRECT,
    ).json()
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    assert sim.http.get("/services/data/v62.0/limits", headers=auth).status_code == 200
    assert sim.http.post("/services/oauth2/revoke", data={"token": body["refresh_token"]}).status_code == 200
    assert sim.http.get("/services/data/v62.0/limits", headers=auth).status_code == 401
    again = _token(sim, grant_type="refresh_token", refresh_token=body["refresh_token"], client_id=SF_CLIENT_ID)
    assert again.json()["error"] == "invalid_grant"


def test_expiring_sessions_through_the_control_api_forces_a_refresh(sim: SalesforceSim) -> None:
    assert sim.http.post("/_sim/sessions/expire").json()["expired"] >= 1
    assert sim.api.get("/limits").status_code == 401


def test_the_identity_url_describes_the_user_and_org(sim: SalesforceSim) -> None:
    body = _token(
        sim, grant_type="client_credentials", client_id=SF_CLIENT_ID, client_secret=SF_CLIENT_SECRET
    ).json()
    identity = sim.http.get(
        body["id"].removeprefix(sim.url), headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert identity.status_code == 200
    assert identity.json()["organization_id"] == body["id"].split("/")[-2]
    assert identity.json()["urls"]["rest"].endswith("/services/data/v{version}/")
    assert sim.http.get(body["id"].removeprefix(sim.url)).status_code == 403
