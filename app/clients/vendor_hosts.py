"""Where vendor calls may go: HTTPS to the vendors' own hosts, and only there.

A URL given to the control API (a GetResponse API base, a Salesforce My Domain) or named by a
vendor's answer (a token's `instance_url`) is checked here before anything calls it, so that a
token holder cannot turn the service into a client of any host it likes (a port scanner, a reader
of internal services). `SFGR_ALLOWED_VENDOR_HOSTS` adds hosts, over http too: the simulators of
the dev stack and of the tests on loopback.

URLs are read with yarl, the parser aiohttp itself uses, so that the host checked is the host
called (a second parser could read `https://a\\@b/` differently).
"""

from __future__ import annotations

from dataclasses import dataclass

import yarl

from app.clients.errors import Permanent, Vendor
from app.settings import Settings

GETRESPONSE_HOSTS = ("api.getresponse.com", "api3.getresponse360.com", "api3.getresponse360.pl")
SALESFORCE_HOSTS = (
    "login.salesforce.com",
    "test.salesforce.com",
    "*.my.salesforce.com",
    "*.sandbox.my.salesforce.com",
    "*.force.com",
    "*.salesforce.com",
)
VENDOR_HOSTS: dict[Vendor, tuple[str, ...]] = {
    "getresponse": GETRESPONSE_HOSTS,
    "salesforce": SALESFORCE_HOSTS,
}
_LABELS: dict[Vendor, str] = {"getresponse": "GetResponse", "salesforce": "Salesforce"}


def host_matches(host: str, patterns: tuple[str, ...]) -> bool:
    """`*.example.com` matches each subdomain of example.com (not example.com itself); any other
    pattern matches only itself."""
    for pattern in patterns:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


@dataclass(frozen=True)
class VendorHosts:
    """The vendors' hosts, and the extra hosts of SFGR_ALLOWED_VENDOR_HOSTS."""

    extra: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> VendorHosts:
        return cls(settings.extra_vendor_hosts)

    def refusal(self, vendor: Vendor, url: str) -> str | None:
        """Why `url` may not be called for `vendor` (a phrase that follows the URL's name), or None."""
        rule = self._rule(vendor)
        try:
            parsed = yarl.URL(url)
        except ValueError:
            return f"is not a URL; {rule}"
        host = (parsed.host or "").lower()
        if not parsed.is_absolute() or not host:
            return f"is not an absolute URL; {rule}"
        if parsed.user is not None or parsed.password is not None:
            return "must not carry a user name or password"
        if host_matches(host, self.extra):
            return None if parsed.scheme in ("https", "http") else f"must use https; {rule}"
        if parsed.scheme != "https":
            return f"must use https; {rule}"
        if parsed.explicit_port not in (None, 443):
            return f"must use the https port (443); {rule}"
        if not host_matches(host, VENDOR_HOSTS[vendor]):
            return f"names host {host!r}; {rule}"
        return None

    def check(self, vendor: Vendor, what: str, url: str) -> None:
        """Raises `Permanent` (nothing is called) when `url` is refused; `what` names it."""
        reason = self.refusal(vendor, url)
        if reason is not None:
            raise Permanent(f"{what} {reason}", vendor=vendor)

    def _rule(self, vendor: Vendor) -> str:
        allowed = ", ".join(VENDOR_HOSTS[vendor])
        extra = f"; also {', '.join(self.extra)}" if self.extra else ""
        return (
            f"only https to {_LABELS[vendor]}'s hosts is allowed ({allowed}{extra}); "
            "SFGR_ALLOWED_VENDOR_HOSTS adds hosts"
        )
