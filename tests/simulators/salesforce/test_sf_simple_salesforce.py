"""The real third-party client `simple-salesforce`, unchanged but for its URLs, against the simulator.

simple-salesforce always speaks https (it builds `https://{instance}/services/data/v59.0/...`), so
the simulator runs here behind TLS with a throwaway self-signed certificate that the client's
`requests` session trusts.
"""

from __future__ import annotations

import datetime
import ipaddress
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from simple_salesforce import Salesforce, SalesforceMalformedRequest, SalesforceResourceNotFound
from simple_salesforce.api import DEFAULT_API_VERSION

from devstack.ports import free_port
from simulators.salesforce import SalesforceSimConfig, create_app
from tests.fixtures.simulators import SF_CLIENT_ID, SF_CLIENT_SECRET


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@pytest.fixture(scope="module")
def tls_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    cert_file, key_file = _self_signed(tmp_path_factory.mktemp("tls"))
    port = free_port()
    # uvicorn does not notice a client closing a TLS keep-alive connection, so it would wait for it
    # at shutdown: keep that wait short.
    config = uvicorn.Config(
        create_app(SalesforceSimConfig()),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ssl_certfile=str(cert_file),
        ssl_keyfile=str(key_file),
        timeout_graceful_shutdown=0.2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "TLS simulator did not start"
        time.sleep(0.01)
    yield f"https://127.0.0.1:{port}", cert_file
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def sf(tls_sim: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Salesforce]:
    url, cert_file = tls_sim
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # requests lets these override session.verify
        monkeypatch.delenv(name, raising=False)
    session = requests.Session()
    session.verify = str(cert_file)
    token = session.post(
        f"{url}/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": SF_CLIENT_ID, "client_secret": SF_CLIENT_SECRET},
    ).json()
    assert token["instance_url"] == url
    yield Salesforce(instance_url=token["instance_url"], session_id=token["access_token"], session=session)
    session.close()


def test_simple_salesforce_uses_a_version_the_simulator_serves() -> None:
    assert float(DEFAULT_API_VERSION) >= 50.0


def test_simple_salesforce_creates_reads_updates_and_deletes_a_lead(sf: Salesforce) -> None:
    leads = sf.Lead
    created = leads.create({"LastName": "Lee", "Company": "Acme", "Email": "pat@example.com"})
    assert created["success"] is True
    lead_id = created["id"]
    lead = leads.get(lead_id)
    assert lead["Email"] == "pat@example.com" and lead["attributes"]["type"] == "Lead"
    assert leads.update(lead_id, {"FirstName": "Pat"}) == 204
    assert leads.get(lead_id)["Name"] == "Pat Lee"
    assert leads.delete(lead_id) == 204
    used, limit = leads.api_usage["api-usage"]  # parsed from Sforce-Limit-Info
    assert used >= 5 and limit == 100_000
    with pytest.raises(SalesforceResourceNotFound) as gone:
        leads.get(lead_id)
    assert gone.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_simple_salesforce_query_all_follows_next_records_url(sf: Salesforce) -> None:
    records = [
        {"attributes": {"type": "Lead"}, "LastName": f"Q{i:03d}", "Company": "Paging"} for i in range(200)
    ]
    for _ in range(2):
        sf.restful("composite/sobjects", method="POST", json={"records": records})
    result = sf.query_all(
        "SELECT Id, LastName FROM Lead WHERE Company = 'Paging'",
        headers={"Sforce-Query-Options": "batchSize=200"},
    )
    assert result["totalSize"] == 400 and len({r["Id"] for r in result["records"]}) == 400
    deleted = sf.query_all("SELECT Id FROM Lead WHERE IsDeleted = true", include_deleted=True)
    assert isinstance(deleted["records"], list)


def test_simple_salesforce_surfaces_salesforce_errors(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.create({"LastName": "Lee"})
    assert caught.value.content == [
        {
            "message": "Required fields are missing: [Company]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["Company"],
        }
    ]
    describe = sf.Lead.describe()
    assert {"LastName", "Company", "GRdeleted__c"} <= {f["name"] for f in describe["fields"]}
