"""Row locks in one place; call inside a transaction (SQLite ignores them, PostgreSQL doesn't)."""

from trading.models import Section


def lock_section(pk: int) -> Section:
    return Section.objects.select_for_update(of=("self",)).select_related("project").get(pk=pk)
