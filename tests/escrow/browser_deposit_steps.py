"""Chromium steps of test_browser_deposit, run in their own process.

Playwright's sync API allows one instance per thread, and tests/browser keeps its session
browser open in the test process, so this test drives its own Chromium from here.
Usage: python browser_deposit_steps.py URL USERNAME PASSWORD SECTION PAYER ACCOUNT; prints one JSON line.
"""

import json
import sys

from playwright.sync_api import sync_playwright

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"]


def main(url, username, password, section, payer, account) -> dict:
    seen = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai").new_page()
        page.set_default_timeout(20_000)
        page.goto(url + "/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.get_by_test_id("signin").click()
        page.wait_for_url("**/workspace/")
        page.goto(f"{url}/sections/{section}/deposit/")
        seen["virtual_account"] = page.get_by_test_id("virtual-account").text_content()
        seen["status_before"] = page.get_by_test_id("deposit-status-label").text_content()
        page.get_by_test_id("pay").click()
        page.wait_for_url("**/sim-gateway/pay/**")
        seen["provider_page"] = page.url
        seen["provider_shows_account"] = seen["virtual_account"] in page.content()
        page.fill("#id_payer_name", payer)
        page.fill("#id_payer_account", account)
        page.get_by_test_id("sim-confirm").click()
        page.wait_for_url(f"**/sections/{section}/deposit/")
        page.wait_for_function("document.querySelector('[data-testid=deposit-status]').dataset.status === 'paid'")
        seen["status_after"] = page.get_by_test_id("deposit-status-label").text_content()
        seen["payer_shown"] = payer in page.content() or account in page.content()
        browser.close()
    return seen


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:7]), ensure_ascii=False))
