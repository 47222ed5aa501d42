"""Vendor URLs: https to the vendors' own hosts only, unless SFGR_ALLOWED_VENDOR_HOSTS adds one."""

from __future__ import annotations

import pytest

from app.clients.errors import Permanent
from app.clients.vendor_hosts import VendorHosts

VENDORS_ONLY = VendorHosts()
WITH_LOOPBACK = VendorHosts(("127.0.0.1",))


@pytest.mark.parametrize(
    ("vendor", "url"),
    [
        ("getresponse", "https://api.getresponse.com/v3"),
        ("getresponse", "https://api3.getresponse360.com/v3"),
        ("getresponse", "https://API3.GetResponse360.pl:443/v3"),
        ("salesforce", "https://login.salesforce.com"),
        ("salesforce", "https://test.salesforce.com"),
        ("salesforce", "https://acme.my.salesforce.com"),
        ("salesforce", "https://acme--uat.sandbox.my.salesforce.com"),
        ("salesforce", "https://acme.lightning.force.com"),
        ("salesforce", "https://na42.salesforce.com"),
    ],
)
def test_the_vendors_own_hosts_over_https_are_allowed(vendor: str, url: str) -> None:
    assert VENDORS_ONLY.refusal(vendor, url) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("vendor", "url", "words"),
    [
        ("getresponse", "http://api.getresponse.com/v3", "must use https"),
        ("getresponse", "https://api.getresponse.com:8443/v3", "port"),
        ("getresponse", "https://api.getresponse.com.evil.example/v3", "names host"),
        ("getresponse", "https://evil.example#@api.getresponse.com", "names host 'evil.example'"),
        ("getresponse", "https://user:pw@api.getresponse.com/v3", "user name or password"),
        ("getresponse", "https://api.getresponse.com\\@evil.example/v3", "is not a URL"),
        ("getresponse", "https://acme.my.salesforce.com", "names host"),
        ("salesforce", "https://salesforce.com", "names host"),
        ("salesforce", "https://evilsalesforce.com", "names host"),
        ("salesforce", "https://169.254.169.254/latest/meta-data", "names host"),
        ("salesforce", "http://127.0.0.1:8080", "must use https"),
        ("salesforce", "file:///etc/passwd", "absolute URL"),
        ("salesforce", "acme.my.salesforce.com", "absolute URL"),
    ],
)
def test_anything_else_is_refused_with_the_rule(vendor: str, url: str, words: str) -> None:
    reason = VENDORS_ONLY.refusal(vendor, url)  # type: ignore[arg-type]
    assert reason is not None and words in reason
    assert "user name" in reason or "SFGR_ALLOWED_VENDOR_HOSTS" in reason


def test_an_allowed_extra_host_may_be_called_over_http_on_any_port() -> None:
    assert WITH_LOOPBACK.refusal("getresponse", "http://127.0.0.1:5123/v3") is None
    assert WITH_LOOPBACK.refusal("salesforce", "https://127.0.0.1:5124") is None
    assert WITH_LOOPBACK.refusal("salesforce", "http://127.0.0.2:5124") is not None


def test_check_raises_a_permanent_error_naming_the_url() -> None:
    with pytest.raises(Permanent, match=r"instance_url names host 'evil\.example'"):
        VENDORS_ONLY.check("salesforce", "instance_url", "https://evil.example")
