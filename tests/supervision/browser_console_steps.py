"""Chromium steps of test_browser_console, run in their own process (Playwright's sync API: one instance per thread,
and tests/browser keeps its session browser in the test process).

Usage: python browser_console_steps.py URL SESSIONID RULE [RULE ...]
Prints "ready" once the console's feed is live, then one JSON line with what the page showed for each rule.
"""

import json
import sys
from urllib.parse import urlparse

from playwright.sync_api import sync_playwright

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"]


def main(url: str, session: str, rules: list[str]) -> dict:
    seen = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
        context.add_cookies([{"name": "sessionid", "value": session, "domain": urlparse(url).hostname, "path": "/"}])
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(url + "/supervision/")
        page.wait_for_function("document.querySelector('[data-testid=feed-state]').textContent === 'live'")
        seen["rows_before"] = page.locator("#feed li.alert").count()
        print("ready", flush=True)
        for rule in rules:
            item = page.locator(f"#feed li.alert[data-rule='{rule}']").first
            item.wait_for()
            seen[rule] = item.text_content()
        seen["state"] = page.get_by_test_id("feed-state").text_content()
        page.reload()  # the replay: a fresh page shows the same alerts from the stream's history
        page.wait_for_function("document.querySelector('[data-testid=feed-state]').textContent === 'live'")
        seen["replayed"] = sorted(
            {
                page.locator("#feed li.alert").nth(i).get_attribute("data-rule")
                for i in range(page.locator("#feed li.alert").count())
            }
        )
        seen["table"] = page.get_by_test_id("alerts").text_content()
        browser.close()
    return seen


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], sys.argv[3:]), ensure_ascii=False), flush=True)
