from django import template

from trading.rules import yuan as fen_to_yuan

register = template.Library()


@register.filter
def yuan(fen) -> str:
    """Integer fen to a yuan string with thousands separators: 123456 -> 1,234.56."""
    return "—" if fen is None else fen_to_yuan(int(fen))
