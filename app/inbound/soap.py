"""SOAP 1.1 names and the two replies an Outbound Message listener gives (api-contracts A1, C1).

Salesforce counts a message as delivered only on `notificationsResponse/Ack=true`; any other answer
(a fault, an HTTP error, a bare 200) makes it deliver the message again later.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SOAP_REPLY_MEDIA_TYPE = "text/xml; charset=utf-8"

_ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}">'
    "<soapenv:Body>"
    f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body>"
    "</soapenv:Envelope>"
).encode()


def ack_envelope() -> bytes:
    return _ACK


def fault_envelope(*, server_fault: bool, faultstring: str) -> bytes:
    """`soapenv:Client` when the message itself is wrong, `soapenv:Server` when we failed."""
    code = "soapenv:Server" if server_fault else "soapenv:Client"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV_NS}">'
        "<soapenv:Body><soapenv:Fault>"
        f"<faultcode>{code}</faultcode><faultstring>{escape(faultstring)}</faultstring>"
        "</soapenv:Fault></soapenv:Body>"
        "</soapenv:Envelope>"
    ).encode()
