"""Readable names for stored codes: audit events, roles, transaction types (in the page's language)."""

from django import template

from trading.audit.events import event_label
from trading.models import Role, TransactionType

register = template.Library()


@register.filter
def audit_event(event) -> str:
    return event_label(event)


@register.filter
def role_label(role) -> str:
    try:
        return str(Role(role).label)
    except ValueError:
        return role or ""


@register.filter
def transaction_type_label(value) -> str:
    try:
        return str(TransactionType(value).label)
    except ValueError:
        return value or ""
