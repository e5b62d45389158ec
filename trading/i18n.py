"""The language of the record. What the platform writes down for good (announcements, signed reports, alerts) is
in its official language, settings.LANGUAGE_CODE, whatever the language of the screen of whoever clicked: a
tender's public notice is one text, not one per reader, and supervisors read alerts as they were raised."""

from django.conf import settings
from django.utils import translation


def official_language():
    return translation.override(settings.LANGUAGE_CODE)


def in_official_language() -> bool:
    return translation.get_language() in (None, settings.LANGUAGE_CODE)
