"""Playwright driving Debian's Chromium (/usr/bin/chromium); never a downloaded browser.

The `browser` and `page` fixtures live in tests/conftest.py: one Playwright per session for every
folder (its sync API runs an event loop in this thread, and a second instance cannot start).
"""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
