"""The review page and the HTML report in a real headless Chromium (Debian's), driven by Playwright.

Skipped, with the reason, only where Chromium or Playwright cannot be had (.ci/run installs both).
Screenshots are saved under the test's tmp dir for a person to look at.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import read_jsonl, run_cli
from review_fixtures import change_second_field, make_run
from test_review import start_server

CHROMIUM = os.environ.get("QAUG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser_factory():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed and could not be (apt-get install -y chromium fonts-noto-cjk)")
    pw = sync_playwright().start()
    yield pw
    pw.stop()


def _context(pw, tmp: Path, name: str):
    """A persistent context in a fresh profile folder: nothing from an earlier run, no first-run traffic."""
    ctx = pw.chromium.launch_persistent_context(str(tmp / f"profile-{name}"), executable_path=CHROMIUM, args=ARGS,
                                                headless=True, viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(15000)
    return ctx


class Watch:
    """Console errors and every request a page makes."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))


def _open_review(pw, tmp: Path, url: str, reviewer: str):
    """A fresh browser on the review page, ready: (context, page, watch)."""
    ctx = _context(pw, tmp, reviewer)
    page = ctx.new_page()
    watch = Watch(page)
    page.goto(url + f"?reviewer={reviewer}")
    page.wait_for_selector("body[data-ready='1']")
    return ctx, page, watch


def _card(page, item_id: str):
    return page.locator(f'section.card[data-id="{item_id}"]')


def _select(page, item_id: str) -> None:
    """Move the selection with j or k to the card (the keyboard path a reviewer takes)."""
    n = page.locator("section.card").count()
    order = [page.locator("section.card").nth(i).get_attribute("data-id") for i in range(n)]
    now = page.locator("section.card.selected").get_attribute("data-id")
    step = "j" if order.index(item_id) > order.index(now) else "k"
    for _ in range(abs(order.index(item_id) - order.index(now))):
        page.keyboard.press(step)
    page.wait_for_selector(f'section.card.selected[data-id="{item_id}"]')


def test_review_in_the_browser_by_keyboard_then_apply(browser_factory, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    out = make_run(tmp_path)
    proc, url = start_server(out)
    try:
        ctx, page, watch = _open_review(browser_factory, tmp_path, url, "alice")
        assert page.locator("section.card.original").count() == 1
        assert "e1" in page.locator("section.card.original").inner_text()
        # the kept variant first, its diff shows removed and added words
        first = page.locator("section.card").nth(1)
        assert first.get_attribute("data-id") == "e1/rewrite/0"
        assert first.locator("del").count() and first.locator("ins").count()
        page.keyboard.press("?")
        assert page.locator("#help").is_visible()
        page.screenshot(path=str(tmp_path / "review-help.png"))
        page.keyboard.press("Escape")
        assert not page.locator("#help").is_visible()
        page.screenshot(path=str(tmp_path / "review-en.png"))
        page.keyboard.press("a")  # accept the kept variant
        _card(page, "e1/rewrite/0").locator(".decision.accept").wait_for()
        _select(page, "e1/rewrite/r0")
        page.keyboard.press("r")  # confirm the judge's reject
        _card(page, "e1/rewrite/r0").locator(".decision.reject").wait_for()
        page.keyboard.press("n")  # the Chinese original
        page.wait_for_selector('section.card[data-id="z1/rewrite/0"].selected')
        page.keyboard.press("e")
        page.locator("textarea").fill("请写出三种常见的水果。")
        page.keyboard.press("Control+Enter")
        _card(page, "z1/rewrite/0").locator(".decision.edit").wait_for()
        _select(page, "z1/rewrite/r1")  # the judge's reject: promote it
        page.keyboard.press("a")
        _card(page, "z1/rewrite/r1").locator(".decision.promote").wait_for()
        _select(page, "z1/rewrite/r0")  # reject, then undo it
        page.keyboard.press("r")
        _card(page, "z1/rewrite/r0").locator(".decision.reject").wait_for()
        page.keyboard.press("u")
        _card(page, "z1/rewrite/r0").locator(".decision.muted").wait_for()
        page.screenshot(path=str(tmp_path / "review-zh.png"), full_page=True)
        logged = read_jsonl(out.with_name("out.review.jsonl"))
        assert [(e["id"], e["decision"]) for e in logged] == [
            ("e1/rewrite/0", "accept"), ("e1/rewrite/r0", "reject"), ("z1/rewrite/0", "edit"),
            ("z1/rewrite/r1", "promote"), ("z1/rewrite/r0", "reject"), ("z1/rewrite/r0", "undo")]
        # reload: it resumes at the last original decided on, with the decisions shown
        page.reload()
        page.wait_for_selector("body[data-ready='1']")
        assert "z1" in page.locator("section.card.original").inner_text()
        assert _card(page, "z1/rewrite/0").locator(".decision.edit").count() == 1
        assert "请写出三种常见的水果" in _card(page, "z1/rewrite/0").inner_text()
        page.keyboard.press("p")
        _card(page, "e1/rewrite/0").locator(".decision.accept").wait_for()
        # a second reviewer in another browser sees alice's decisions marked as another reviewer's
        ctx2, page2, watch2 = _open_review(browser_factory, tmp_path, url, "bob")
        page2.locator(".other").first.wait_for()
        assert "another reviewer: alice" in page2.locator(".other").first.inner_text()
        assert "z1" in page2.locator("section.card.original").inner_text()  # the review resumes for bob too
        page2.screenshot(path=str(tmp_path / "review-second-reviewer.png"))
        page2.locator('section.card[data-id="z1/rewrite/0"]').click()
        page2.keyboard.press("r")  # bob overrules alice's edit; alice's page learns of it by polling
        page2.locator('section.card[data-id="z1/rewrite/0"] .decision.reject').wait_for()
        page.keyboard.press("n")
        _card(page, "z1/rewrite/0").locator(".other").wait_for(timeout=8000)
        page.screenshot(path=str(tmp_path / "review-seen-from-alice.png"))
        # filters: a reject code, then free text as well
        page.select_option("#f-code", "judge_constraint_added")
        expect(page.locator("#pos")).to_have_text("original 1 / 2")
        page.select_option("#f-status", "flagged")
        page.wait_for_selector("p.empty")  # nothing is flagged in this run
        page.select_option("#f-status", "rejected")
        page.fill("#f-q", "香蕉")
        page.press("#f-q", "Enter")
        expect(page.locator("#pos")).to_have_text("original 1 / 1")
        assert "z1" in page.locator("section.card.original").inner_text()
        page.keyboard.press("j")  # keys work again once the search box is left
        assert page.locator("section.card.selected").get_attribute("data-id") == "z1/rewrite/r0"
        page.screenshot(path=str(tmp_path / "review-filtered.png"))
        for w in (watch, watch2):
            assert not w.errors, w.errors
            assert w.requests and all(u.startswith(url) for u in w.requests), w.requests
        ctx2.close()
        ctx.close()
    finally:
        proc.terminate()
        proc.wait(10)
    final = tmp_path / "final.jsonl"
    res = run_cli("review", str(out), "--apply", "-o", str(final))
    assert res.returncode == 0, res.stderr
    rows = read_jsonl(final)
    by_id = {r["_qaug"]["id"]: r for r in rows}
    assert list(by_id) == ["e1", "e1/rewrite/0", "z1", "z1/rewrite/r1"]  # bob's reject of z1/rewrite/0 won
    assert by_id["e1/rewrite/0"]["_qaug"]["review"] == "accepted"
    assert by_id["z1/rewrite/r1"]["instruction"] == "请举出三种常见水果的例子。"
    assert by_id["z1/rewrite/r1"]["_qaug"]["review"] == "promoted"
    again = tmp_path / "again.jsonl"
    assert run_cli("review", str(out), "--apply", "-o", str(again)).returncode == 0
    assert again.read_bytes() == final.read_bytes()


def test_editing_a_variant_that_changed_two_fields(browser_factory, tmp_path: Path) -> None:
    out = make_run(tmp_path)
    change_second_field(out)
    proc, url = start_server(out)
    try:
        ctx, page, watch = _open_review(browser_factory, tmp_path, url, "carol")
        page.wait_for_selector('section.card[data-id="e1/rewrite/0"].selected')
        page.keyboard.press("e")
        boxes = page.locator("textarea")
        assert boxes.count() == 2  # one box per changed field, instruction first
        assert boxes.nth(1).input_value() == "For a leaflet."
        boxes.nth(0).fill("Name three ways exercise helps people over 65.")
        boxes.nth(1).fill("For a clinic leaflet.")
        page.screenshot(path=str(tmp_path / "review-edit-two-fields.png"))
        page.keyboard.press("Control+Enter")
        card = _card(page, "e1/rewrite/0")
        card.locator(".decision.edit").wait_for()
        assert "For a clinic leaflet." in card.inner_text()
        assert not watch.errors, watch.errors
        ctx.close()
    finally:
        proc.terminate()
        proc.wait(10)
    final = tmp_path / "final.jsonl"
    assert run_cli("review", str(out), "--apply", "-o", str(final)).returncode == 0
    edited = next(r for r in read_jsonl(final) if r["_qaug"]["id"] == "e1/rewrite/0")
    assert edited["instruction"] == "Name three ways exercise helps people over 65."
    assert edited["input"] == "For a clinic leaflet."


def test_html_report_opens_from_disk_with_every_chart(browser_factory, tmp_path: Path) -> None:
    make_run(tmp_path)
    report = tmp_path / "out.report.html"
    ctx = _context(browser_factory, tmp_path, "r")
    page = ctx.new_page()
    watch = Watch(page)
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    for section in ("written", "lengths", "similarity", "chrf", "judge", "distinct", "speed"):
        charts = page.locator(f"h2#{section} ~ svg, h2#{section} + div svg")
        assert charts.count() >= 1, section
        box = charts.first.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 20, section
    assert page.locator("svg rect").count() > 20
    config = json.loads(page.locator("pre").inner_text())
    assert config["methods"] == ["rewrite"]
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert not watch.errors, watch.errors
    assert all(u.startswith("file://") for u in watch.requests), watch.requests
    ctx.close()
