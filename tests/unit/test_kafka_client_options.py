"""The options every Kafka client of ours gets: its client id, and a client certificate for mTLS."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from app.bus import client_options
from app.settings import Settings


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sfgr-sync")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())
    )
    certfile, keyfile = directory / "user.crt", directory / "user.key"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    return certfile, keyfile


def test_every_client_names_itself_with_the_client_id() -> None:
    assert client_options(Settings(kafka_client_id="crm-sync-prod"))["client_id"] == "crm-sync-prod"
    assert client_options(Settings())["client_id"] == "sfgr-sync"


def test_a_client_certificate_is_loaded_for_mtls(tmp_path: Path) -> None:
    certfile, keyfile = _certificate(tmp_path)
    options = client_options(Settings(
        kafka_security_protocol="SSL", kafka_ssl_certfile=str(certfile), kafka_ssl_keyfile=str(keyfile)
    ))
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_a_key_that_is_not_the_certificates_is_refused(tmp_path: Path) -> None:
    certfile, _ = _certificate(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _, wrong_key = _certificate(other)
    with pytest.raises(ssl.SSLError):
        client_options(Settings(
            kafka_security_protocol="SSL", kafka_ssl_certfile=str(certfile), kafka_ssl_keyfile=str(wrong_key)
        ))


def test_a_certificate_without_its_key_is_refused_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="go together"):
        Settings(kafka_ssl_certfile=str(tmp_path / "user.crt"))
