"""Signing in and out of the console in a real browser, for the console's browser tests."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from tests.functional.test_console_signin import PASSWORD
from tests.functional.test_notice_browser import BrowserPages, wait_for


class ConsolePages(BrowserPages):
    """A browser test's fixture that signs in through the real sign-in (and TOTP) pages."""

    def sign_in(self, login: str, code: str | None = None) -> None:
        """Sign in as ``login`` (the tests' password), with the TOTP ``code`` if given."""
        d = self.driver
        self.open("/console/sign-in")
        d.find_element(By.ID, "login").send_keys(login)
        d.find_element(By.ID, "password").send_keys(PASSWORD)
        d.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        if code is not None:
            wait_for(d, "the TOTP page", lambda x: x.find_elements(By.ID, "code"))
            d.find_element(By.ID, "code").send_keys(code)
            d.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait_for(d, "the console home", lambda x: x.find_elements(By.ID, "role"))

    def sign_out(self) -> None:
        """Sign out and wait for the signed-out page."""
        self.open("/console/")
        self.driver.find_element(By.CSS_SELECTOR,
                                 "form[action='/console/sign-out'] button").click()
        wait_for(self.driver, "the signed-out page",
                 lambda x: x.find_elements(By.CSS_SELECTOR, "p[role=status]"))
