"""A strict Salesforce simulator (Leads, Contacts, OAuth, REST, SOQL, Outbound Messages, CDC)."""

from simulators.salesforce.app import create_app
from simulators.salesforce.config import SalesforceSimConfig

__all__ = ["SalesforceSimConfig", "create_app"]
