"""Secrets at rest: sealed under the current key, still opened with a previous one during a
rotation, and re-sealed under the current key by `reseal`."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from app.crypto import DEVELOPMENT_KEY, SecretBox
from app.settings import Environment, Settings

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def box(key: str | None, previous: str | None = None, environment: Environment = Environment.TEST) -> SecretBox:
    return SecretBox(Settings(environment=environment, encryption_key=key, encryption_previous_keys=previous))


def test_a_secret_sealed_under_the_old_key_opens_while_the_old_key_is_a_previous_key() -> None:
    sealed = box(OLD).seal({"api_key": "k"})
    assert box(NEW, previous=OLD).open(sealed) == {"api_key": "k"}
    with pytest.raises(ValueError, match="SFGR_ENCRYPTION_PREVIOUS_KEYS"):
        box(NEW).open(sealed)


def test_reseal_puts_a_secret_under_the_new_key_alone() -> None:
    sealed = box(OLD).seal({"api_key": "k"})
    resealed = box(NEW, previous=OLD).reseal(sealed)
    assert box(NEW).open(resealed) == {"api_key": "k"}
    with pytest.raises(ValueError):
        box(OLD).open(resealed)


def test_the_development_key_is_used_only_without_a_key_outside_production() -> None:
    sealed = box(None, environment=Environment.DEVELOPMENT).seal({"x": "y"})
    assert Fernet(DEVELOPMENT_KEY).decrypt(sealed) == b'{"x":"y"}'
    settings = Settings(environment=Environment.TEST).model_copy(update={"environment": Environment.PRODUCTION})
    with pytest.raises(ValueError, match="SFGR_ENCRYPTION_KEY is required"):
        SecretBox(settings)
