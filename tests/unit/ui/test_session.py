"""The admin UI's session cookie: signed, bound to the encryption key, and carrying the CSRF token
the forms must send back."""

from __future__ import annotations

from pydantic import SecretStr

from app.settings import Settings
from app.ui.session import SessionSigner, UiSession, csrf_matches, new_session

OTHER_KEY = "b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktMDA="


def test_a_session_reads_back_as_it_was_signed() -> None:
    signer = SessionSigner(Settings())
    session = new_session("5b0c4f8e-3c0e-4a8e-9d55-0d7f3c1f2a10")
    assert signer.loads(signer.dumps(session)) == session


def test_a_tampered_or_foreign_cookie_is_no_session() -> None:
    signer = SessionSigner(Settings())
    signed = signer.dumps(UiSession(csrf="abc", token_id="t1"))
    assert signer.loads(signed[:-2] + ("A" if signed[-2] != "A" else "B") + signed[-1]) is None
    assert signer.loads("not-a-cookie") is None
    assert signer.loads(None) is None
    elsewhere = SessionSigner(Settings(encryption_key=SecretStr(OTHER_KEY)))
    assert elsewhere.loads(signed) is None


def test_a_form_must_send_the_sessions_own_csrf_token() -> None:
    session = new_session()
    assert csrf_matches(session, session.csrf)
    assert not csrf_matches(session, None)
    assert not csrf_matches(session, "")
    assert not csrf_matches(session, new_session().csrf)
