# SPDX-License-Identifier: ISC
"""The web dashboard at / of the cluster port, in a real browser.

Focus of this file: what an operator with a browser sees and does — a real
encore-main and real workers, the page loaded from the main node into
headless Chromium driven by Debian's python3-selenium and chromium-driver:
the device grid (a worker that joins shows within 5 s), a task's live
output, cancelling a task after the operator token is entered, a 360 px
wide phone screen, and no script error or Content-Security-Policy
violation in the browser's console.  Screenshots at 360x740 and 1280x800
are saved into build/screenshots/ for people to look at.

ENCORE_WEB_STANDIN=1 points the browser at tests/integration/http_standin.py
instead (a Python stand-in for the HTTP side, to develop the page before
the main node served it); the real test is without it.
"""

import os
import time

import pytest

from conftest import ROOT, free_port, wait_for
from encore_client import get_task as get, submit

try:
    from selenium import webdriver
    from selenium.common.exceptions import (NoSuchElementException,
                                            StaleElementReferenceException,
                                            WebDriverException)
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:  # pragma: no cover - reported as a skip
    webdriver = None

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = os.path.join(ROOT, "build", "screenshots")
FINAL = ("completed", "failed", "timed_out", "cancelled")


@pytest.fixture
def browser(tmp_path):
    if webdriver is None:
        pytest.skip("python3-selenium is not installed (make test installs "
                    "it via packaging/deps.sh)")
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            pytest.skip("%s is not installed (Debian's chromium and "
                        "chromium-driver; make test installs them)" % path)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
              "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", "--window-size=1280,800",
              "--user-data-dir=" + str(tmp_path / "chromium")):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    svc = Service(CHROMEDRIVER, log_path=str(tmp_path / "chromedriver.log"))
    try:
        d = webdriver.Chrome(service=svc, options=opts)
    except WebDriverException as e:
        pytest.fail("headless Chromium did not start: %s" % e.msg)
    d.set_page_load_timeout(30)
    yield d
    d.quit()


def page_url(cluster):
    """The dashboard's address: the main node's port, or the stand-in's."""
    if os.environ.get("ENCORE_WEB_STANDIN"):
        if getattr(cluster, "standin_url", None) is None:
            import http_standin
            port = free_port()
            srv = http_standin.serve(cluster.port, port, cluster.operator_token)
            cluster.procs.append(_Stopper(srv))
            cluster.standin_url = "http://127.0.0.1:%d/" % port
        return cluster.standin_url
    return "http://127.0.0.1:%d/" % cluster.port


class _Stopper:
    """Lets the cluster fixture stop the stand-in like a process."""

    argv = ["http_standin"]

    def __init__(self, srv):
        self.srv = srv

    def alive(self):
        return self.srv is not None

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()
        self.srv = None

    def output(self):
        return ""

    class log:
        closed = True


def start(cluster, *ids):
    cluster.start_main()
    for i in ids:
        cluster.start_worker(i)
    for i in ids:
        cluster.wait_state(i, "online")


# The page redraws the grid and the task list as events arrive, so an
# element found a moment ago may be gone (stale); on a busy machine that
# moment is long.  These helpers then answer None and wait_for asks again.

def tile(driver, dev_id):
    try:
        for t in driver.find_elements(By.CSS_SELECTOR, "#grid li.tile"):
            if t.get_attribute("data-id") == dev_id:
                return t
    except StaleElementReferenceException:
        pass
    return None


def tile_text(driver, dev_id):
    try:
        t = tile(driver, dev_id)
        return t.text if t is not None else None
    except StaleElementReferenceException:
        return None


def task_rows(driver):
    """The ids of the task list's rows, or None while it is redrawn."""
    try:
        return [r.get_attribute("data-id") for r in driver.find_elements(
            By.CSS_SELECTOR, "#task-rows tr")]
    except StaleElementReferenceException:
        return None


def click_in_tile(driver, dev_id, act):
    """Click the tile's button for act, again if the tile was redrawn."""
    def click():
        try:
            tile(driver, dev_id).find_element(
                By.CSS_SELECTOR, "button[data-act=%s]" % act).click()
            return True
        except (AttributeError, NoSuchElementException,
                StaleElementReferenceException):
            return False
    wait_for(click, 30, what="the %s button of %s" % (act, dev_id))


def screenshot(driver, name, width, height, scroll_to=None):
    """Save the page at width x height (CSS pixels) as a phone or desktop
    shows it; prints the path."""
    os.makedirs(SHOTS, exist_ok=True)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1,
        "mobile": width < 600})
    time.sleep(0.3)  # let the layout settle before the capture
    if scroll_to:
        driver.execute_script("document.getElementById(arguments[0])"
                              ".scrollIntoView()", scroll_to)
    path = os.path.join(SHOTS, "%s-%dx%d.png" % (name, width, height))
    driver.save_screenshot(path)
    print("screenshot: %s" % path)
    return path


def console_errors(driver):
    """Script errors and CSP violations the browser logged (a 401 is
    expected where the test sends a wrong token)."""
    return [e for e in driver.get_log("browser")
            if e.get("level") == "SEVERE" and not (
                e.get("source") == "network" and "status of 401" in e.get("message", ""))]


def sign_in(driver, token, expect_ok=True):
    box = driver.find_element(By.CSS_SELECTOR, "input[type=password][name=token]")
    box.send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#auth button[type=submit]").click()
    if expect_ok:
            wait_for(lambda: not driver.find_element(By.ID, "signed").get_attribute("hidden"),
                 30, what="the page to take the token")


def test_grid_shows_workers_and_one_that_joins(cluster, browser):
    start(cluster, "w1", "w2")
    browser.get(page_url(cluster))
    assert browser.title == "encore"
    for i in ("w1", "w2"):
        wait_for(lambda: (tile_text(browser, i) or "").find("online") >= 0, 30,
                 what="the tile of %s showing online" % i)
    t = tile_text(browser, "w1")
    # State as text, the bars' numbers, running/slots.
    assert "CPU" in t and "Mem" in t and "Tasks 0/" in t, t
    assert "%" in t, t

    cluster.start_worker("w3")
    joined = wait_for(lambda: cluster.device_state("w3") == "online" and time.monotonic(),
                      30, interval=0.02, what="w3 to join")
    shown = wait_for(lambda: tile(browser, "w3") is not None and time.monotonic(),
                     30, interval=0.05, what="the tile of w3")
    print("w3 shown %.2fs after it joined" % (shown - joined))
    assert shown - joined <= 5.0

    screenshot(browser, "devices", 1280, 800)
    screenshot(browser, "devices", 360, 740)
    # Usable at 360 px: nothing wider than the screen.
    assert browser.execute_script(
        "return document.documentElement.scrollWidth") <= 360
    assert console_errors(browser) == []


def test_task_output_and_cancel_after_token(cluster, browser):
    start(cluster, "w1", "w2")
    op = cluster.operator()
    tid = submit(op, ["sh", "-c", "echo hello-from-web; echo to-stderr >&2; "
                      "i=0; while [ $i -lt 600 ]; do echo tick $i; i=$((i+1)); sleep 0.2; done"],
                 name="web-demo")
    wait_for(lambda: get(op, tid)["state"] == "running", 30, what="task running")
    url = page_url(cluster)
    browser.get(url + "#task/" + tid)

    # Without the token: the task is listed, its details ask for the token
    # and no action is offered.
    wait_for(lambda: browser.find_elements(
        By.CSS_SELECTOR, "#task-rows tr[data-id='%s']" % tid), 30,
        what="task %s listed" % tid)
    row = browser.find_element(By.CSS_SELECTOR, "#task-rows tr[data-id='%s']" % tid)
    assert "running" in row.text and "web-demo" in row.text, row.text
    assert browser.find_element(By.ID, "d-locked").is_displayed()
    assert browser.find_elements(By.CSS_SELECTOR, "#d-actions button") == []
    assert browser.find_elements(By.CSS_SELECTOR, "#grid button") == []

    # A wrong token is refused and forgotten.
    sign_in(browser, "not-the-token", expect_ok=False)
    wait_for(lambda: "refused" in browser.find_element(By.ID, "message").text, 30,
             what="the wrong token refused")
    assert browser.find_element(By.ID, "auth").is_displayed()
    assert browser.execute_script(
        "return sessionStorage.getItem('encore.operator_token')") is None

    sign_in(browser, cluster.operator_token)
    assert browser.execute_script(
        "return sessionStorage.getItem('encore.operator_token')") == cluster.operator_token
    assert browser.execute_script("return localStorage.length") == 0
    wait_for(lambda: "live" == browser.find_element(By.ID, "live-text").text, 30,
             what="the event stream to be live")
    out = lambda: browser.find_element(By.ID, "d-output").text  # noqa: E731
    wait_for(lambda: "hello-from-web" in out() and "to-stderr" in out(), 30,
             what="the task's output in the page (now %r)" % out()[-200:])
    # It follows: more lines arrive without reloading.
    n0 = out().count("tick")
    wait_for(lambda: out().count("tick") > n0 + 2, 30, what="more output")

    screenshot(browser, "task", 1280, 800)
    screenshot(browser, "task", 360, 740, scroll_to="detail")
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    # Cancel: the button asks once more, then the task ends cancelled.
    btn = browser.find_element(By.CSS_SELECTOR, "#d-actions button[data-act=cancel]")
    btn.click()
    assert "Really" in btn.text
    btn.click()
    wait_for(lambda: get(op, tid)["state"] == "cancelled", 30, what="task cancelled")
    wait_for(lambda: "cancelled" in browser.find_element(By.ID, "d-state").text, 30,
             what="the page to show the task cancelled")
    wait_for(lambda: "(ended)" in browser.find_element(By.ID, "d-follow").text, 30,
             what="the output to stop following")
    # Cancelled is not a "not ended" task: it leaves the default list.
    wait_for(lambda: not browser.find_elements(
        By.CSS_SELECTOR, "#task-rows tr[data-id='%s']" % tid), 30,
        what="the cancelled task to leave the list")
    op.close()
    assert console_errors(browser) == []


def test_filters_and_device_actions(cluster, browser):
    start(cluster, "w1")
    op = cluster.operator()
    done = submit(op, ["echo", "finished-one"], name="alpha")
    wait_for(lambda: get(op, done)["state"] == "completed", 30, what="task completed")
    held = submit(op, ["true"], name="beta", requirements={"device": "nowhere"})
    r = op.request("hold", {"task_id": held})
    assert r["data"]["ok"] is True, r
    browser.get(page_url(cluster))
    rows = lambda: task_rows(browser) or []  # noqa: E731
    wait_for(lambda: rows() == [held], 30, what="only the open task listed")

    # State filter (server side) and text filter (in the page).
    from selenium.webdriver.support.ui import Select
    Select(browser.find_element(By.ID, "f-state")).select_by_value("all")
    wait_for(lambda: sorted(rows()) == sorted([done, held]), 30, what="all tasks")
    browser.find_element(By.ID, "f-text").send_keys("alph")
    wait_for(lambda: rows() == [done], 30, what="the text filter")
    browser.find_element(By.ID, "f-text").clear()
    Select(browser.find_element(By.ID, "f-state")).select_by_value("completed")
    wait_for(lambda: rows() == [done], 30, what="the completed filter")

    # Drain and undrain from the tile, and release the held task.
    sign_in(browser, cluster.operator_token)
    click_in_tile(browser, "w1", "drain")
    wait_for(lambda: cluster.device_state("w1") == "draining", 30, what="w1 draining")
    wait_for(lambda: "draining" in (tile_text(browser, "w1") or ""), 30,
             what="the tile showing draining")
    click_in_tile(browser, "w1", "undrain")
    wait_for(lambda: cluster.device_state("w1") == "online", 30, what="w1 online")

    browser.get(page_url(cluster) + "#task/" + held)
    wait_for(lambda: browser.find_elements(
        By.CSS_SELECTOR, "#d-actions button[data-act=release]"), 30,
        what="the release button")
    browser.find_element(By.CSS_SELECTOR, "#d-actions button[data-act=release]").click()
    wait_for(lambda: get(op, held)["state"] == "queued", 30, what="task released")
    op.close()
    assert console_errors(browser) == []
