"""Times the first render of velo serve's backups page in headless Chromium (Debian's chromium and chromium-driver,
selenium from PyPI), for Benchmarks/backups-page.sh: signs in through the page once, then loads the page RUNS times
with the token already in sessionStorage and reads, in the page, the milliseconds from the start of navigation
until the overview shows SOURCES rows. Prints one JSON object: {"runs_ms": [...], "median_ms": ...}.

    overview_render.py BASE_URL IDENTITY PASSWORD SOURCES RUNS
"""
import json
import os
import statistics
import sys

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

base, identity, password, sources, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
options = Options()
options.binary_location = os.environ.get("VELO_CHROMIUM", "/usr/bin/chromium")
for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"):
    options.add_argument(argument)
driver = webdriver.Chrome(service=Service(os.environ.get("VELO_CHROMEDRIVER", "/usr/bin/chromedriver")), options=options)
wait = WebDriverWait(driver, 60)
try:
    driver.get(base + "/_/backups")
    wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
    driver.find_element(By.ID, "identity").send_keys(identity)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-button").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#overview-body tr")) == sources)
    times = []
    for _ in range(runs):
        driver.get(base + "/_/backups")
        # Polled inside the page on every animation frame, so the time is the page's own, not the driver's.
        ms = driver.execute_async_script(
            """const [n, done] = arguments;
            const tick = () => document.querySelectorAll('#overview-body tr').length === n ? done(performance.now()) : requestAnimationFrame(tick);
            tick();""",
            sources)
        times.append(round(ms, 1))
    print(json.dumps({"runs_ms": times, "median_ms": statistics.median(times)}))
finally:
    driver.quit()
