"""The review page in a real browser: headless Chromium driven by selenium counts groups, ticks files,
exports the plan, and `dupbench apply --dry-run` accepts it.

Needs Debian's `chromium` and `chromium-driver` and the `selenium` package (the `test` extra); .ci/run
installs them in CI, where a missing browser fails the test instead of skipping it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hostile import build_hostile_folder

from dupbench.cli import main

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)


def missing_browser() -> str | None:
    """Why no browser test can run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        return "chromium is not installed (Debian package 'chromium')"
    if not shutil.which("chromedriver"):
        return "chromedriver is not installed (Debian package 'chromium-driver')"
    return None


@pytest.fixture
def browser(tmp_path: Path):
    reason = missing_browser()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser test, but {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The driver's path is given, so selenium's driver manager never looks anything up on the network.
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def scan_and_review(root: Path, tmp_path: Path) -> tuple[Path, dict, Path]:
    report = tmp_path / "r.json"
    assert main(["run", str(root), "--mode", "serial", "--no-cache", "--quiet", "--output", str(report)]) == 0
    out = tmp_path / "page"
    assert main(["review", str(report), "--out", str(out)]) == 0
    return report, json.loads(report.read_text()), out / "index.html"


def cards(driver, group: int) -> dict:
    from selenium.webdriver.common.by import By

    return {c.get_attribute("data-path"): c for c in driver.find_elements(By.CSS_SELECTOR, f"[data-group='{group}'] [data-path]")}


def errors(driver) -> list:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_tick_export_and_apply_the_plan(browser, planted_folder, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    source, expected = planted_folder
    root = tmp_path / "photos"
    shutil.copytree(source, root)
    report, data, index = scan_and_review(root, tmp_path)
    browser.get(index.as_uri())
    assert len(browser.find_elements(By.CSS_SELECTOR, "[data-group]")) == len(data["groups"]) == len(expected)
    assert len(browser.find_elements(By.CSS_SELECTOR, "[data-path]")) == sum(len(g) for g in expected)
    assert browser.execute_script("return [...document.images].filter(i => i.complete && i.naturalWidth > 0).length") > 0
    first, second = data["groups"][0], data["groups"][1]
    ticked_first = [m["path"] for m in first["members"][:2]]
    for path in ticked_first:
        cards(browser, 0)[path].find_element(By.CSS_SELECTOR, "input.remove").click()
    new_keeper = second["members"][0]["path"]  # the person prefers another copy in group 1 and drops the detector's keeper
    cards(browser, 1)[new_keeper].find_element(By.CSS_SELECTOR, "input.keep").click()
    cards(browser, 1)[second["keeper"]].find_element(By.CSS_SELECTOR, "input.remove").click()
    assert not cards(browser, 1)[new_keeper].find_element(By.CSS_SELECTOR, "input.remove").is_enabled()
    Select(browser.find_element(By.ID, "action")).select_by_value("move")
    browser.find_element(By.ID, "export").click()
    plan = browser.execute_script("return window.dupbenchPlan")
    assert json.loads(browser.find_element(By.ID, "plan-json").get_attribute("textContent")) == plan
    assert plan["format"] == "dupbench-plan" and plan["action"] == "move" and plan["roots"] == data["roots"]
    assert plan["report"]["path"] == str(report.resolve())
    digest = {path: info["digest"] for path, info in data["files"].items()}
    assert plan["groups"] == [
        {
            "group": 0,
            "kind": first["kind"],
            "keeper": {"path": first["keeper"], "digest": digest[first["keeper"]]},
            "remove": [{"path": p, "digest": digest[p]} for p in ticked_first],
        },
        {
            "group": 1,
            "kind": second["kind"],
            "keeper": {"path": new_keeper, "digest": digest[new_keeper]},
            "remove": [{"path": second["keeper"], "digest": digest[second["keeper"]]}],
        },
    ]
    assert errors(browser) == []
    saved = tmp_path / "dupbench-plan.json"
    saved.write_text(json.dumps(plan))
    dry = subprocess.run(
        [sys.executable, "-m", "dupbench", "apply", str(saved), "--dry-run", "--to", str(tmp_path / "dupes")], capture_output=True, text=True, timeout=120
    )
    assert dry.returncode == 0, dry.stderr
    assert all(f"move     {p} -> " in dry.stdout for p in [*ticked_first, second["keeper"]])
    assert "move: 3 to move" in dry.stdout and "dry run: nothing was changed" in dry.stdout
    assert all(Path(p).exists() for g in data["groups"] for p in [g["keeper"], *(m["path"] for m in g["members"])])


def test_clicking_a_thumbnail_opens_the_full_image(browser, planted_folder, tmp_path):
    from selenium.webdriver.common.by import By

    root, _ = planted_folder
    report, data, index = scan_and_review(root, tmp_path)
    browser.get(index.as_uri())
    keeper = data["groups"][0]["keeper"]
    link = cards(browser, 0)[keeper].find_element(By.CSS_SELECTOR, ".thumb a")
    assert link.get_attribute("href") == Path(keeper).as_uri()
    link.find_element(By.TAG_NAME, "img").click()
    assert len(browser.window_handles) == 2
    browser.switch_to.window(browser.window_handles[1])
    assert browser.current_url == Path(keeper).as_uri()


def test_hostile_file_names_show_as_text_and_run_nothing(browser, tmp_path):
    from selenium.webdriver.common.by import By

    paths = build_hostile_folder(tmp_path / "hostile")
    report, data, index = scan_and_review(tmp_path / "hostile", tmp_path)
    browser.get(index.as_uri())
    assert browser.execute_script("return window.pwned === undefined")
    shown = {c.get_attribute("data-path") for c in browser.find_elements(By.CSS_SELECTOR, "[data-path]")}
    assert shown == set(paths)
    names = {n.get_attribute("textContent") for n in browser.find_elements(By.CSS_SELECTOR, ".name")}
    assert {os.path.basename(p) for p in paths} <= names
    assert browser.find_elements(By.CSS_SELECTOR, "main img[src='x']") == []
    assert errors(browser) == []


def synthetic_report(folder: Path, groups: int) -> Path:
    """A report of `groups` groups (every third near) over files that do not exist: the page must page them."""
    rows, files = [], {}
    for n in range(groups):
        keeper, copy, near = (str(folder / f"g{n:05d}-{role}.jpg") for role in ("a", "b", "c"))
        members = [{"path": copy, "ssim": 1.0, "match": "bytes", "same_as": keeper}]
        if n % 3 == 0:
            members.append({"path": near, "ssim": 0.80 + (n % 100) / 1000, "match": "ssim", "same_as": None})
        rows.append({"kind": "near" if n % 3 == 0 else "exact", "keeper": keeper, "members": members})
        for i, path in enumerate([keeper, *(m["path"] for m in members)]):
            files[path] = {"size": 1000 + n * 10 + i, "width": 64, "height": 48, "digest": f"{n:028x}{i:04x}"}
    report = {
        "version": 1,
        "roots": [str(folder)],
        "settings": {},
        "groups": rows,
        "skipped": [],
        "stages": {},
        "mode": "serial",
        "workers": 1,
        "counts": {},
        "stage_bounds": {},
        "files": files,
    }
    path = folder.parent / "big.json"
    path.write_text(json.dumps(report))
    return path


def test_ten_thousand_groups_are_paged_filtered_and_sorted(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    total = 10_000
    report = synthetic_report(tmp_path / "gone", total)
    assert main(["review", str(report), "--out", str(tmp_path / "page")]) == 0
    browser.get((tmp_path / "page" / "index.html").as_uri())

    def shown() -> list[int]:
        return [int(g.get_attribute("data-group")) for g in browser.find_elements(By.CSS_SELECTOR, "[data-group]")]

    def label() -> str:
        return browser.find_element(By.ID, "page-label").text

    data = json.loads(report.read_text())
    saved = [sum(data["files"][m["path"]]["size"] for m in g["members"]) for g in data["groups"]]
    by_saved = sorted(range(total), key=lambda g: (-saved[g], g))
    assert shown() == by_saved[:50] and f"of {total} (page 1 of 200)" in label()
    browser.find_element(By.ID, "next").click()
    assert shown() == by_saved[50:100] and "page 2 of 200" in label()
    Select(browser.find_element(By.ID, "kind")).select_by_value("near")
    near = len(range(0, total, 3))
    assert f"of {near} " in label() and all(g % 3 == 0 for g in shown())
    score = browser.find_element(By.ID, "min-score")
    score.clear()
    score.send_keys("0.895")
    assert all(0.80 + (g % 100) / 1000 >= 0.895 for g in shown())
    at_least = sum(1 for g in range(0, total, 3) if 0.80 + (g % 100) / 1000 >= 0.895)
    assert f"of {at_least} " in label()
    browser.find_element(By.ID, "tick-filtered").click()
    browser.find_element(By.ID, "export").click()
    plan = browser.execute_script("return window.dupbenchPlan")
    assert len(plan["groups"]) == at_least and all(len(g["remove"]) == 2 for g in plan["groups"])
    assert errors(browser) == []


def test_the_readme_screenshot_script_still_runs(browser, tmp_path):
    """docs/review_screenshot.py at a small size: the README's picture must stay reproducible."""
    from PIL import Image

    script = Path(__file__).resolve().parents[2] / "docs" / "review_screenshot.py"
    png = tmp_path / "shot.png"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, str(script), "--out", str(png), "--size", "640x480"], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert Image.open(png).size == (640, 480)
    record = png.with_suffix(".txt").read_text()
    assert "dupbench review" in record and "at commit" in record
