"""Settings refuse unsafe defaults in production, naming each setting."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from app.settings import EXAMPLE_DATABASE_URL, Environment, Settings

SAFE = {
    "environment": Environment.PRODUCTION,
    "database_url": "postgresql+asyncpg://sync:real@db.internal:5432/sfgr",
    "encryption_key": Fernet.generate_key().decode(),
}


def test_production_without_an_encryption_key_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValidationError, match="SFGR_ENCRYPTION_KEY is required unless SFGR_ENVIRONMENT is"):
        Settings(**{**SAFE, "encryption_key": None})


def test_an_unset_environment_is_production_and_needs_an_encryption_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SFGR_ENVIRONMENT", raising=False)
    with pytest.raises(ValidationError, match="SFGR_ENCRYPTION_KEY is required"):
        Settings(database_url=SAFE["database_url"])
    assert Settings(database_url=SAFE["database_url"], encryption_key=SAFE["encryption_key"]).environment == "production"


@pytest.mark.parametrize("environment", [Environment.DEVELOPMENT, Environment.TEST])
def test_development_and_test_run_without_an_encryption_key(environment: Environment) -> None:
    assert Settings(environment=environment).encryption_key is None


@pytest.mark.parametrize("environment", list(Environment))
def test_an_encryption_key_that_is_not_a_fernet_key_is_a_start_up_error_naming_the_setting(
    environment: Environment,
) -> None:
    with pytest.raises(ValidationError, match="SFGR_ENCRYPTION_KEY is not a Fernet key"):
        Settings(**{**SAFE, "environment": environment, "encryption_key": "x" * 44})


def test_a_previous_key_that_is_not_a_fernet_key_is_a_start_up_error_naming_the_setting() -> None:
    good = Fernet.generate_key().decode()
    with pytest.raises(ValidationError, match="SFGR_ENCRYPTION_PREVIOUS_KEYS: key 2 is not a Fernet key"):
        Settings(**SAFE, encryption_previous_keys=f"{good}, not-a-key")
    assert Settings(**SAFE, encryption_previous_keys=f" {good} ,").previous_encryption_keys == (good,)


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


def test_topics_are_created_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().kafka_create_topics is True
    monkeypatch.setenv("SFGR_KAFKA_CREATE_TOPICS", "false")
    assert Settings().kafka_create_topics is False


@pytest.mark.parametrize(("replication_factor", "min_insync"), [(1, 1), (2, 1), (3, 2), (5, 2)])
def test_min_insync_replicas_defaults_to_two_from_a_replication_factor_of_three(
    replication_factor: int, min_insync: int
) -> None:
    settings = Settings(kafka_replication_factor=replication_factor)
    assert settings.kafka_min_insync_replicas == min_insync


def test_min_insync_replicas_given_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFGR_KAFKA_REPLICATION_FACTOR", "5")
    monkeypatch.setenv("SFGR_KAFKA_MIN_INSYNC_REPLICAS", "3")
    assert Settings().kafka_min_insync_replicas == 3
    assert Settings(kafka_replication_factor=3, kafka_min_insync_replicas=3).kafka_min_insync_replicas == 3


def test_min_insync_replicas_above_the_replication_factor_is_refused_naming_both_settings() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(kafka_replication_factor=2, kafka_min_insync_replicas=3)
    message = str(refused.value)
    assert "SFGR_KAFKA_MIN_INSYNC_REPLICAS (3) is above SFGR_KAFKA_REPLICATION_FACTOR (2)" in message
    assert "NOT_ENOUGH_REPLICAS" in message


def test_min_insync_replicas_below_one_is_refused() -> None:
    with pytest.raises(ValidationError, match="kafka_min_insync_replicas"):
        Settings(kafka_min_insync_replicas=0)


@pytest.mark.parametrize("prefix", ["sfgr prod", "sfgr/prod", "", "x" * 230])
def test_a_topic_prefix_kafka_would_refuse_as_a_topic_name_is_refused(prefix: str) -> None:
    with pytest.raises(ValidationError, match="kafka_topic_prefix"):
        Settings(kafka_topic_prefix=prefix)


def test_a_topic_prefix_of_legal_characters_is_kept() -> None:
    assert Settings(kafka_topic_prefix="acme_prod-2.sfgr").kafka_topic_prefix == "acme_prod-2.sfgr"
