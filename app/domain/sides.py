"""Small types shared by the whole domain: the two systems, the Salesforce objects we sync, values."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    SALESFORCE = "salesforce"
    GETRESPONSE = "getresponse"

    @property
    def other(self) -> Side:
        return Side.GETRESPONSE if self is Side.SALESFORCE else Side.SALESFORCE


class ObjectType(StrEnum):
    """The Salesforce objects a sync can feed from; values are the sObject API names."""

    LEAD = "Lead"
    CONTACT = "Contact"


# A canonical field value. Both systems' values are normalised to this before any comparison, so
# that a value we wrote and its echo coming back compare equal. An empty value is always None,
# never "" (Salesforce returns null where GetResponse returns "" or leaves the field out).
Value = str | bool | None


class DomainError(Exception):
    """A problem with the data itself: retrying the same input can never succeed."""


class MissingEmail(DomainError):
    """A person without a usable email can be neither linked nor written to GetResponse."""
