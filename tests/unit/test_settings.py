"""Settings refuse unsafe defaults in production, naming each setting."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.settings import EXAMPLE_DATABASE_URL, Environment, Settings

SAFE = {
    "environment": Environment.PRODUCTION,
    "database_url": "postgresql+asyncpg://sync:real@db.internal:5432/sfgr",
    "encryption_key": "x" * 44,
}


def test_production_without_an_encryption_key_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValidationError, match="SFGR_ENCRYPTION_KEY is required in production"):
        Settings(**{**SAFE, "encryption_key": None})


def test_production_with_the_example_database_url_is_refused() -> None:
    with pytest.raises(ValidationError, match="SFGR_DATABASE_URL is still the example value"):
        Settings(**{**SAFE, "database_url": EXAMPLE_DATABASE_URL})


def test_production_with_the_example_kafka_password_is_refused() -> None:
    with pytest.raises(ValidationError, match="SFGR_KAFKA_SASL_PASSWORD is still the example value"):
        Settings(**SAFE, kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="PLAIN",
                 kafka_sasl_password="change-me")


def test_production_with_sasl_but_no_mechanism_is_refused() -> None:
    with pytest.raises(ValidationError, match="SFGR_KAFKA_SASL_MECHANISM is required"):
        Settings(**SAFE, kafka_security_protocol="SASL_SSL")


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(environment=Environment.PRODUCTION)
    assert "SFGR_ENCRYPTION_KEY" in str(refused.value) and "SFGR_DATABASE_URL" in str(refused.value)


def test_development_runs_on_the_embedded_defaults() -> None:
    settings = Settings(environment=Environment.DEVELOPMENT)
    assert settings.kafka_enable_idempotence is True  # production's default, turned off only for Tansu


def test_settings_come_from_sfgr_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFGR_KAFKA_TOPIC_PARTITIONS", "12")
    monkeypatch.setenv("SFGR_KAFKA_ENABLE_IDEMPOTENCE", "false")
    settings = Settings()
    assert (settings.kafka_topic_partitions, settings.kafka_enable_idempotence) == (12, False)
