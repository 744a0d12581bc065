"""Drives velo serve's backups page in a real headless Chromium (Debian's chromium and chromium-driver, through
selenium from PyPI), as an operator would, and checks what the page shows at each step. A test helper, not part of
the product: BackupsPageBrowserTests starts `velo serve` on loopback over a repository of three tenants (one
stale), runs this script and checks the database afterwards.

    backups_page.py BASE_URL IDENTITY PASSWORD DATABASE REPOSITORY SCREENSHOTS

BASE_URL is the server's root (http://127.0.0.1:PORT); DATABASE the served database file (the script changes rows
in it with Python's sqlite3 between steps, as an application would); REPOSITORY the repository's folder (the
script locks it as another velo process would, to see the page's 409); SCREENSHOTS the folder the screenshots
are written to. Prints one line per step; exits non-zero with the failed step's reason.
"""
import json
import os
import socket
import sqlite3
import sys
import time
from datetime import datetime, timezone

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

base, identity, password, database, repository, shots = sys.argv[1:7]
os.makedirs(shots, exist_ok=True)

options = Options()
options.binary_location = os.environ.get("VELO_CHROMIUM", "/usr/bin/chromium")
for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"):
    options.add_argument(argument)
driver = webdriver.Chrome(service=Service(os.environ.get("VELO_CHROMEDRIVER", "/usr/bin/chromedriver")), options=options)
# The page re-renders its tables and messages as answers arrive: an element found a moment ago may be gone, and a
# wait then looks again instead of failing.
wait = WebDriverWait(driver, 60, ignored_exceptions=[StaleElementReferenceException])
# Downloads are saved here (headless Chromium saves none unless told where).
downloads = os.path.join(shots, "downloads")
os.makedirs(downloads, exist_ok=True)
for old in os.listdir(downloads):
    os.remove(os.path.join(downloads, old))
driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads, "eventsEnabled": True})


def step(text):
    print("step:", text, flush=True)


def check(condition, reason):
    if not condition:
        raise AssertionError(reason)


def message():
    return driver.find_element(By.ID, "message")


def wait_message(fragment, kind=None):
    def seen(_):
        box = message()
        return fragment in box.text and (kind is None or kind in box.get_attribute("class"))
    try:
        wait.until(seen)
    except Exception:
        raise AssertionError(f"no message with {fragment!r} ({kind}); the page says {message().text!r}")
    text = message().text
    check("\n" not in text.strip(), f"the message is one line: {text!r}")
    check("{" not in text and "Traceback" not in text and " at " not in text.split(":")[0], f"the message is a sentence: {text!r}")
    return text


def click(element_id):
    fresh(lambda: driver.find_element(By.ID, element_id).click())


def type_into(element_id, text, clear=False):
    """Types into the field, once it is shown and usable (see `fresh`)."""
    def typing():
        field = driver.find_element(By.ID, element_id)
        if clear:
            field.clear()
        field.send_keys(text)
    fresh(typing)


def fresh(action):
    """Runs `action`, finding its elements again when the page re-rendered them meanwhile, or waiting while an
    element is not yet shown or usable (a section still rendering on a loaded machine): up to 20 s."""
    for _ in range(200):
        try:
            return action()
        except (StaleElementReferenceException, ElementNotInteractableException, ElementClickInterceptedException):
            time.sleep(0.1)
    return action()


def shot(name):
    driver.save_screenshot(os.path.join(shots, name))


def overview_rows():
    return driver.find_elements(By.CSS_SELECTOR, "#overview-body tr")


def snapshot_rows():
    return driver.find_elements(By.CSS_SELECTOR, "#snapshots-body tr")


def sign_in(secret):
    type_into("identity", identity, clear=True)
    type_into("password", secret, clear=True)
    click("login-button")


def signed_in():
    """Waits until the sign-in has loaded the page: the app shown, the overview's three rows, and no action running
    (`working`). The rows of an earlier session stay in the hidden app, so they alone do not say the page is loaded,
    and a token changed while it still loads would sign out the new session."""
    wait.until(lambda d: d.find_element(By.ID, "app").is_displayed() and len(overview_rows()) == 3
               and "working" not in (d.find_element(By.TAG_NAME, "body").get_attribute("class") or ""))


def scalar(sql):
    with sqlite3.connect(database, timeout=10) as db:
        return db.execute(sql).fetchone()[0]


try:
    step("/ leads to the page, which asks for a sign-in")
    started = time.monotonic()
    driver.get(base + "/")
    check(driver.current_url.endswith("/_/backups"), f"/ redirects to /_/backups, not {driver.current_url}")
    wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
    for field in driver.find_elements(By.CSS_SELECTOR, "input, select, textarea"):
        named = field.get_attribute("aria-label") or driver.find_elements(By.CSS_SELECTOR, f"label[for='{field.get_attribute('id')}']")
        check(named, f"the field {field.get_attribute('id')} has a label")

    step("a wrong password is one clear line")
    sign_in("not the password")
    wait_message("Invalid credentials.", "error")
    check(driver.find_element(By.ID, "login").is_displayed(), "still signed out")

    step("the overview: three sources, one stale")
    sign_in(password)
    signed_in()
    check(driver.find_element(By.ID, "app").is_displayed(), "signed in")
    states = {row.find_element(By.CSS_SELECTOR, "th button").text: row.find_element(By.CSS_SELECTOR, ".badge").text.lower() for row in overview_rows()}
    check(states.get("c.sqlite") == "critical", f"c.sqlite is stale (critical): {states}")
    check(all(state != "critical" for name, state in states.items() if name != "c.sqlite"), f"only c.sqlite is stale: {states}")
    tenants = {row.find_element(By.CSS_SELECTOR, "th button").text: row.find_element(By.CSS_SELECTOR, "th .tenant").text for row in overview_rows()}
    check(tenants == {"a.sqlite": "A · 127.0.0.1", "b.sqlite": "B · b.localhost", "c.sqlite": "C · c.localhost"},
          f"each source shows its tenant's name and domain: {tenants}")
    stale = [row for row in overview_rows() if row.text.startswith("c.sqlite")][0]
    check("older than" in stale.text or "old" in stale.text, f"the stale source says why: {stale.text!r}")
    check(driver.find_element(By.CSS_SELECTOR, "#chart svg").is_displayed(), "the size chart is drawn")
    token = driver.execute_script("return sessionStorage.getItem('velo.token')")
    check(token and token not in driver.current_url and token not in driver.page_source, "the token is in no URL and not in the page")
    shot("overview.png")

    step("back up now, its progress shown from the backup's server-sent events")
    before = len(snapshot_rows())
    driver.execute_script("""
        window.veloProgress = [];
        const detail = document.getElementById("backup-detail");
        new MutationObserver(() => window.veloProgress.push(detail.textContent)).observe(detail, { childList: true, characterData: true, subtree: true });
    """)
    click("backup")
    wait_message("taken", "ok")
    wait.until(lambda d: len(snapshot_rows()) == before + 1)
    seen = driver.execute_script("return window.veloProgress")
    check(any(text.endswith(" rows") and "of about" in text for text in seen), f"the backup's progress was shown: {seen}")
    check(not driver.find_element(By.ID, "backup-progress").is_displayed(), "the progress bar is gone once the backup ended")

    step("verify all")
    click("verify-all")
    text = wait_message("verified: ok", "ok")
    check("snapshots verified" in text or "snapshot verified" in text, text)
    wait.until(lambda d: "ok" in d.find_element(By.ID, "verify-results").text)

    step("download a snapshot as one self-contained archive, streamed to disk by the page's download worker")
    page_url = driver.current_url
    fresh(lambda: snapshot_rows()[0].find_element(By.XPATH, ".//button[text()='Download']").click())
    text = wait_message("Downloading velo-", "ok")
    check(".tar.zst" in text and "as it arrives" in text, text)
    check(driver.current_url == page_url, f"the page stays where it was: {driver.current_url}")

    def saved(_):
        done = [name for name in os.listdir(downloads) if name.endswith(".tar.zst")]
        return done[0] if done and not any(name.endswith(".crdownload") for name in os.listdir(downloads)) else None
    name = wait.until(saved)
    with open(os.path.join(downloads, name), "rb") as f:
        head = f.read(4)
    check(head == b"\x28\xb5\x2f\xfd", f"{name} is a zstd file (it starts {head!r})")
    check(name in text, f"the message names the file saved: {text!r}, {name}")
    saved_archive = os.path.join(downloads, name)
    print("downloaded:", saved_archive, flush=True)
    token = driver.execute_script("return sessionStorage.getItem('velo.token')")
    fetched = driver.execute_script("return performance.getEntries().map((entry) => String(entry.name))")
    check(token and all(token not in url for url in fetched), f"no URL the page fetched holds the token: {fetched}")

    step("a snapshot's inspection and its change since the one before")
    fresh(lambda: snapshot_rows()[0].find_element(By.XPATH, ".//button[text()='Open']").click())
    wait.until(lambda d: d.find_element(By.ID, "detail").is_displayed() and "posts" in d.find_element(By.ID, "detail-body").text)
    check("this snapshot" in driver.find_element(By.ID, "detail-body").text, "the diff table is shown")

    step("a plan that blocks: a unique collision")
    tagged = [row for row in snapshot_rows() if "before-change" in row.text]
    check(len(tagged) == 1, "the snapshot tagged before-change is listed")
    fresh(lambda: tagged[0].find_element(By.XPATH, ".//button[starts-with(text(), 'Restore')]").click())
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#restore-body .blockers"))
    blockers = driver.find_element(By.CSS_SELECTOR, "#restore-body .blockers").text
    check("unique" in blockers.lower() or "email" in blockers.lower(), f"the blocker names the collision: {blockers!r}")
    check(not driver.find_elements(By.ID, "restore-button"), "a blocked plan offers no restore")
    shot("plan-blocked.png")

    step("a plan that passes, with a strategy chosen per collection")
    with sqlite3.connect(database, timeout=10) as db:
        db.execute("UPDATE _velo_posts SET title = 'changed by the app' WHERE rowid <= 5")
    fresh(lambda: snapshot_rows()[0].find_element(By.XPATH, ".//button[starts-with(text(), 'Restore')]").click())
    wait.until(lambda d: d.find_elements(By.ID, "restore-button") and not d.find_elements(By.CSS_SELECTOR, "#restore-body .blockers"))
    posts = [row for row in driver.find_elements(By.CSS_SELECTOR, "#restore-body tbody tr") if row.text.startswith("posts\n_velo_posts")]
    check(posts and " 5 " in " " + posts[0].text.replace("\n", " ") + " ", f"the plan shows 5 conflicting posts: {[p.text for p in posts]}")
    Select(posts[0].find_element(By.TAG_NAME, "select")).select_by_value("overwrite")
    wait.until(lambda d: d.find_elements(By.ID, "restore-button"))
    time.sleep(0.5)
    wait.until(lambda d: Select(d.find_element(By.CSS_SELECTOR, "select[aria-label='On conflict in posts']")).first_selected_option.get_attribute("value") == "overwrite")
    go = driver.find_element(By.ID, "restore-button")
    check(not go.is_enabled(), "restore waits for the typed name")
    name = driver.find_element(By.CSS_SELECTOR, "label[for='confirm-name'] strong").text
    type_into("confirm-name", name + "x")
    check(not driver.find_element(By.ID, "restore-button").is_enabled(), "a wrong name does not restore")
    type_into("confirm-name", name, clear=True)
    shot("plan.png")
    wait.until(lambda d: d.find_element(By.ID, "restore-button").is_enabled())
    click("restore-button")
    wait_message("Restored snapshot", "ok")
    result = driver.find_element(By.ID, "restore-result").text
    check("Safety snapshot" in result and "To undo" in result, f"the safety snapshot and the undo are shown: {result!r}")
    check("overwrote 5," in result, f"the result counts the 5 posts overwritten: {result!r}")
    changed = scalar("SELECT count(*) FROM _velo_posts WHERE title = 'changed by the app'")
    check(changed == 0, f"the restore overwrote the 5 posts as planned ({changed} still changed)")

    step("an expired token signs out with one line")
    driver.execute_script("sessionStorage.setItem('velo.token', 'expired-or-revoked')")
    click("refresh")
    wait_message("session has ended", "error")
    wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
    sign_in(password)
    signed_in()

    step("an expired token met by the download worker: the same line, and the page stays")
    driver.execute_script("sessionStorage.setItem('velo.token', 'expired-or-revoked')")
    page_url = driver.current_url
    fresh(lambda: snapshot_rows()[0].find_element(By.XPATH, ".//button[text()='Download']").click())
    wait_message("session has ended", "error")
    check(driver.current_url == page_url, f"the page stays where it was: {driver.current_url}")
    wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
    sign_in(password)
    signed_in()

    step("a 409 while another velo holds the repository")
    lock = os.path.join(repository, "locks", "exclusive.json")
    os.makedirs(os.path.dirname(lock), exist_ok=True)
    with open(lock, "w") as f:
        json.dump({"pid": os.getpid(), "host": socket.gethostname(), "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "command": "velo prune"}, f)
    try:
        click("backup")
        text = wait_message("velo prune", "error")
        check("locked" in text.lower() or "holds" in text.lower() or "busy" in text.lower(), f"the 409 says the repository is busy: {text!r}")
    finally:
        os.remove(lock)

    step("retention: a dry run with its reasons, then a refused policy")
    type_into("policy", '{"keep_last": 1, "keep_tags": ["pre-restore"]}', clear=True)
    click("dry-run")
    wait.until(lambda d: "Keeps" in d.find_element(By.ID, "retention-result").text)
    result = driver.find_element(By.ID, "retention-result").text
    check("keep: " in result and "last" in result and "tag" in result and "remove" in result, f"reasons shown: {result!r}")
    check(driver.find_element(By.ID, "prune").is_enabled(), "prune is offered after a dry run that removes something")
    shot("retention.png")
    type_into("policy", '{"keep_last": "two"}', clear=True)
    click("dry-run")
    wait_message("keep_last", "error")

    step("point in time: a post deleted after capture started comes back from the moment before")
    check(driver.find_element(By.ID, "moments").is_displayed(), "the point-in-time section shows while velo replicate captures")
    before = datetime.now(timezone.utc)
    time.sleep(0.3)
    gone = scalar("SELECT id FROM _velo_posts ORDER BY rowid LIMIT 1 OFFSET 6")
    with sqlite3.connect(database, timeout=10) as db:
        db.execute("DELETE FROM _velo_posts WHERE id = ?", (gone,))
    time.sleep(2.5)  # velo replicate stores the delete within a second
    click("refresh")
    wait.until(lambda d: "Restorable: " in d.find_element(By.ID, "moments-window").text)
    # The overview shows each source's capture: the served one's restorable span, the others not captured.
    def capture_cells():
        return {row.find_element(By.CSS_SELECTOR, "th button").text: row.find_elements(By.TAG_NAME, "td")[3].text for row in overview_rows()}
    served = os.path.basename(database)
    try:
        wait.until(lambda d: "restorable, to" in capture_cells().get(served, ""))
    except Exception:
        raise AssertionError(f"the overview shows no restorable span for {served}: {fresh(capture_cells)}")
    captures = fresh(capture_cells)
    check(all(text == "not captured" for source, text in captures.items() if source != served), f"only {served} is captured: {captures}")
    driver.execute_script("document.getElementById('moment').value = arguments[0]", before.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d" % (before.microsecond // 1000))
    click("plan-moment")
    wait.until(lambda d: d.find_elements(By.ID, "restore-button") and "the moment" in d.find_element(By.ID, "restore-title").text)
    posts = [row for row in driver.find_elements(By.CSS_SELECTOR, "#restore-body tbody tr") if row.text.startswith("posts\n_velo_posts")]
    check(posts and posts[0].text.replace("\n", " ").split(" ")[3] == "1", f"the plan inserts the deleted post: {[p.text for p in posts]}")
    name = driver.find_element(By.CSS_SELECTOR, "label[for='confirm-name'] strong").text
    type_into("confirm-name", name)
    wait.until(lambda d: d.find_element(By.ID, "restore-button").is_enabled())
    click("restore-button")
    wait_message("Restored the moment", "ok")
    check(scalar("SELECT count(*) FROM _velo_posts WHERE id = '%s'" % gone) == 1, "the deleted post is back")

    step("a phone's width")
    driver.set_window_size(390, 844)
    driver.refresh()
    wait.until(lambda d: len(overview_rows()) == 3)
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    check(overflow <= 1, f"nothing wider than the screen ({overflow} px too wide)")
    shot("phone.png")
    print(f"ok: {time.monotonic() - started:.1f} s", flush=True)
except Exception as error:
    try:
        shot("failure.png")
    except Exception:
        pass
    print(f"FAILED: {error}", flush=True)
    sys.exit(1)
finally:
    driver.quit()
