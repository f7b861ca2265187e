"""``--report FILE.html``: a self-contained HTML report, tested in a real headless browser.

The report of a ``check`` run and of a ``fix`` run is written together with
``--output-format json`` in the same run; the numbers on the rendered page (the cards, the
table, the removed blocks and the embedded ``#tidymark-data`` JSON) must match that JSON.
The browser is Debian's chromium (``.ci/run`` installs it when it can): it loads the page
with no console errors and no requests, ``--dump-dom`` shows the rendered document and
``--screenshot`` gives a PNG.  DevTools is driven over ``--remote-debugging-pipe``, so no
websocket library is needed.
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import struct
import subprocess
import time
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tidymark.cli import main

PROXY = "https://proxy-prod.omnivore-image-cache.app/0x0,sAbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdE"
ODD_FOLDER = "a<!--b&c"                   # ends up as a key of the embedded JSON
ODD_FILE = f"{ODD_FOLDER}/odd <script> & name.md"

NOTES = {
    "clips/2024/omnivore.md": f"""---
title: |
  How the bridge was built
author: Ana Lima
---

# How the bridge was built

#Omnivore

Author: Ana Lima

The first pier went in during the dry season.

![pier]({PROXY}/https://img.example.org/pier.png)

Thanks for reading The Slow Compiler! Subscribe for free to receive new posts and support my work.

The second pier followed a year later.
""",
    "clips/2024/draft.md": "---\ntitle: Release notes\ndraft: true\n---\nBody with <script>alert(\"x\")</script> text & more.\n",
    ODD_FILE: f"---\ntitle: Café “naïve”\n---\n<!-- tidymark-disable-next-line PB001 -->\nText 日本語.\n\n"
              f"![]({PROXY}/https://img.example.org/x.png)\n",
    "notes/crlf.md": "---\r\ntitle: Notes\r\n---\r\n# Notes\r\n\r\nBody.\r\n",
    "notes/clean.md": "---\ntitle: Clean\n---\nBody.\n",
}
# rules whose safe fixes remove text (the report lists those as removed blocks)
REMOVING = {"AD001", "AD002", "AD003", "AD004", "DM001", "DM002", "DM003", "TM100"}


def _chromium() -> str | None:
    for cand in (shutil.which("chromium"), "/usr/bin/chromium", shutil.which("chromium-browser")):
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    path = _chromium()
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is required in CI (.ci/run installs it with apt-get when run as root)")
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium); "
                    "the report is still checked without a browser by the other tests")
    return path


BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars"]


def browser(chrome: str, profile: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([chrome, *BROWSER_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def make_project(root: Path) -> Path:
    write(root / ".tidymark.yaml", "# defaults\n")
    for rel, text in NOTES.items():
        write(root / rel, text)
    return root


# -- reading a report ------------------------------------------------------------------------

class Page(HTMLParser):
    """What the tests need from the report: cards, embedded data, tables, blocks, links."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.cards: dict[str, str] = {}
        self.data_text = ""
        self.rows = 0
        self.removed = 0
        self.rects = 0
        self.fetching: list[tuple[str, str, str]] = []  # (tag, attribute, value) that load something
        self.tags: Counter = Counter()
        self.style = ""
        self._card = None
        self._in_b = False
        self._in_data = False
        self._in_tbody = False
        self._in_style = False
        self.feed(text)
        self.close()
        self.data = json.loads(self.data_text) if self.data_text else None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] += 1
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "srcset", "action", "formaction", "poster", "data",
                        "background", "ping", "manifest", "codebase", "archive"):
                self.fetching.append((tag, name, value or ""))
            if name == "style" and value and re.search(r"url\(|@import", value):
                self.fetching.append((tag, name, value))
        cls = (a.get("class") or "").split()
        if tag == "div" and "card" in cls:
            self._card = a.get("id")
        elif tag == "b" and self._card:
            self._in_b = True
        elif tag == "script" and a.get("id") == "tidymark-data":
            assert a.get("type") == "application/json"
            self._in_data = True
        elif tag == "tbody":
            self._in_tbody = True
        elif tag == "tr" and self._in_tbody:
            self.rows += 1
        elif tag == "pre" and "removed" in cls:
            self.removed += 1
        elif tag == "rect":
            self.rects += 1
        elif tag == "style":
            self._in_style = True

    def handle_endtag(self, tag):
        if tag == "b":
            self._in_b = False
        elif tag == "div":
            self._card = None if not self._in_b else self._card
        elif tag == "script":
            self._in_data = False
        elif tag == "tbody":
            self._in_tbody = False
        elif tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_b and self._card:
            self.cards[self._card] = self.cards.get(self._card, "") + data
        if self._in_data:
            self.data_text += data
        if self._in_style:
            self.style += data

    def card(self, cid: str) -> int:
        return int(self.cards[cid].replace(",", ""))


# -- the runs --------------------------------------------------------------------------------

def expected_removals(items: list[dict]) -> int:
    return sum(1 for i in items if i["code"] in REMOVING and i["fix"] and i["fix"]["applicability"] == "safe"
               and any(e["content"] == "" for e in i["fix"]["edits"]))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A check run and a fix run of the same project, each with --report and JSON output."""
    base = tmp_path_factory.mktemp("report")
    check_root = make_project(base / "check")
    fix_root = make_project(base / "fix")
    out = {}
    cwd = os.getcwd()
    import contextlib
    import io

    def cli(root: Path, *argv: str) -> tuple[int, str, str]:
        os.chdir(root)
        o, e = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
                code = main([*argv, "--no-cache"])
        finally:
            os.chdir(cwd)
        return code, o.getvalue(), e.getvalue()

    code, stdout, err = cli(check_root, "check", "--report", "report.html", "--output-format", "json", ".")
    assert code == 1, err
    out["check"] = {"root": check_root, "json": json.loads(stdout), "html": (check_root / "report.html"),
                    "before": json.loads(stdout)}
    before_bytes = {p: p.read_bytes() for p in fix_root.rglob("*.md")}
    code, stdout, err = cli(fix_root, "check", "--output-format", "json", ".")
    before = json.loads(stdout)
    code, stdout, err = cli(fix_root, "fix", "--report", "report.html", "--output-format", "json", ".")
    assert code == 1, err  # the draft flag needs --unsafe-fixes
    changed = [p for p, b in before_bytes.items() if p.read_bytes() != b]
    removed_bytes = sum(len(before_bytes[p]) - len(p.read_bytes()) for p in changed)
    out["fix"] = {"root": fix_root, "json": json.loads(stdout), "html": fix_root / "report.html",
                  "before": before, "changed": len(changed), "bytes_removed": removed_bytes}
    return out


def md_files(root: Path) -> int:
    return sum(1 for _ in root.rglob("*.md"))


# -- without a browser -----------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["check", "fix"])
def test_report_is_self_contained(runs, mode):
    html = runs[mode]["html"].read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    page = Page(html)
    assert page.fetching == [], f"the report must not load anything: {page.fetching}"
    for tag in ("link", "iframe", "object", "embed", "img", "base", "frame", "audio", "video", "source"):
        assert page.tags[tag] == 0, tag
    assert page.tags["script"] == 1  # the JSON data block, which is not executed
    assert not re.search(r"url\(|@import", page.style)
    # no text can break out of the data block or the markup
    assert "<script>alert" not in html and "odd <script>" not in html
    assert html.count("</script>") == 1


def _check_numbers(page: Page, run: dict, mode: str) -> None:
    items, before, root = run["json"], run["before"], run["root"]
    data = page.data
    assert data["mode"] == mode
    assert data["files"] == md_files(root) == page.card("files")
    assert data["per_rule"] == dict(Counter(i["code"] for i in items))
    assert data["problems_remaining"] == len(items) == page.card("remaining")
    assert data["removed_blocks"] == expected_removals(before) == page.card("removed") == page.removed
    assert page.rows == len({i["path"] for i in items} | ({i["path"] for i in before} if mode == "fix" else set()))
    if mode == "check":
        fixable = sum(1 for i in items if i["fix"] and i["fix"]["applicability"] == "safe")
        assert data["fixable"] == fixable == page.card("fixable")
        assert data["fixed_per_rule"] == {} and data["problems_fixed"] == 0
        assert data["per_folder"] == dict(Counter(i["path"].rsplit("/", 1)[0] for i in items))
        assert ODD_FOLDER in data["per_folder"]
    else:
        fixed = Counter(i["code"] for i in before if i["fix"] and i["fix"]["applicability"] == "safe")
        assert data["fixed_per_rule"] == dict(fixed)
        assert data["problems_fixed"] == sum(fixed.values()) == page.card("fixed")
        assert data["changed_files"] == run["changed"] == page.card("changed")
        assert data["bytes_removed"] == run["bytes_removed"] == page.card("bytes")
        folders = Counter(i["path"].rsplit("/", 1)[0] for i in items)
        folders.update(i["path"].rsplit("/", 1)[0] for i in before if i["fix"] and i["fix"]["applicability"] == "safe")
        assert data["per_folder"] == dict(folders)


@pytest.mark.parametrize("mode", ["check", "fix"])
def test_report_numbers_match_the_json_output(runs, mode):
    page = Page(runs[mode]["html"].read_text(encoding="utf-8"))
    _check_numbers(page, runs[mode], mode)


def test_fix_report_lists_removed_text_with_context(runs):
    html = runs["fix"]["html"].read_text(encoding="utf-8")
    assert "Thanks for reading The Slow Compiler!" in html          # an AD002 block
    assert "#Omnivore" in html and "Author: Ana Lima" in html         # DM003, DM001
    assert "tidymark-disable-next-line PB001" in html                 # the unused suppression (escaped)
    assert "The first pier went in during the dry season." in html  # context
    assert "odd &lt;script&gt; &amp; name.md" in html


def test_report_of_a_diff_run_writes_nothing_else(tmp_path, capsys, monkeypatch):
    root = make_project(tmp_path / "p")
    monkeypatch.chdir(root)
    before = {p: p.read_bytes() for p in root.rglob("*.md")}
    code, _, _ = run_cli(capsys, "fix", "--diff", "--no-cache", "--report", "r.html", ".")
    assert code == 1
    assert all(p.read_bytes() == b for p, b in before.items())
    page = Page((root / "r.html").read_text(encoding="utf-8"))
    assert page.data["mode"] == "diff" and page.data["problems_fixed"] == 9 and page.fetching == []


def test_report_of_an_empty_run(tmp_path, capsys, monkeypatch):
    write(tmp_path / ".tidymark.yaml", "# defaults\n")
    monkeypatch.chdir(tmp_path)
    code, _, _ = run_cli(capsys, "check", "--no-cache", "--report", "r.html", ".")
    assert code == 0
    page = Page((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert page.data["files"] == 0 and page.data["per_rule"] == {} and page.card("remaining") == 0


def test_report_into_a_missing_folder_is_an_error(tmp_path, capsys, monkeypatch):
    make_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "check", "--no-cache", "--report", "no/such/r.html", ".")
    assert code == 2 and "no/such/r.html" in err


# -- in a browser ----------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["check", "fix"])
def test_report_renders_in_chromium(runs, mode, chromium, tmp_path):
    """--dump-dom: the document chromium built from the file carries the same numbers."""
    url = runs[mode]["html"].resolve().as_uri()
    proc = browser(chromium, tmp_path / "profile", "--enable-logging=stderr", "--v=0", "--dump-dom", url)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    dom = proc.stdout.decode("utf-8")
    assert "<h1>tidymark report</h1>" in dom
    page = Page(dom)
    _check_numbers(page, runs[mode], mode)
    console = [ln for ln in proc.stderr.decode(errors="replace").splitlines() if ":CONSOLE" in ln]
    assert console == [], "console output while loading the report:\n" + "\n".join(console)


@pytest.mark.parametrize("mode", ["check", "fix"])
def test_report_screenshot_is_a_png(runs, mode, chromium, tmp_path):
    shot = tmp_path / f"{mode}.png"
    proc = browser(chromium, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,1600",
                   runs[mode]["html"].resolve().as_uri())
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1280, 1600)
    assert len(png) > 20_000  # a page with text and charts, not a blank image


class DevTools:
    """The Chrome DevTools protocol over --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-separated)."""

    def __init__(self, chrome: str, profile: Path):
        to_r, self._w = os.pipe()
        self._r, from_w = os.pipe()

        def child_fds():
            a, b = os.dup(to_r), os.dup(from_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen([chrome, *BROWSER_FLAGS, f"--user-data-dir={profile}",
                                      "--remote-debugging-pipe", "--window-size=1280,1024", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=child_fds, pass_fds=(3, 4))
        os.close(to_r)
        os.close(from_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        reply = self.wait(lambda m, i=self._id: m.get("id") == i, timeout)
        assert "error" not in reply, reply
        return reply.get("result", {})

    def wait(self, pred, timeout: float = 60) -> dict:
        end = time.monotonic() + timeout
        while True:
            while b"\0" not in self._buf:
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no answer from chromium")
                ready, _, _ = select.select([self._r], [], [], left)
                if ready:
                    chunk = os.read(self._r, 1 << 20)
                    if not chunk:
                        raise EOFError("chromium closed the DevTools pipe")
                    self._buf += chunk
            raw, self._buf = self._buf.split(b"\0", 1)
            msg = json.loads(raw)
            if pred(msg):
                return msg
            if "method" in msg:
                self.events.append(msg)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (OSError, TimeoutError, EOFError, AssertionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)


READ_PAGE = """(() => {
  const cards = {};
  for (const c of document.querySelectorAll('.card')) cards[c.id] = c.querySelector('b').textContent;
  return {
    data: JSON.parse(document.getElementById('tidymark-data').textContent),
    cards,
    removed: document.querySelectorAll('pre.removed').length,
    rows: document.querySelectorAll('tbody tr').length,
    charts: document.querySelectorAll('svg').length,
    bars: Array.from(document.querySelectorAll('svg rect')).filter(r => r.getBBox().width > 0).length,
    overflow: document.documentElement.scrollWidth > window.innerWidth,
    title: document.title,
    images: document.images.length,
    stylesheets: document.styleSheets.length,
  };
})()"""


@pytest.mark.parametrize("mode", ["check", "fix"])
def test_report_in_devtools_has_no_console_errors_and_loads_nothing(runs, mode, chromium, tmp_path):
    url = runs[mode]["html"].resolve().as_uri()
    dt = DevTools(chromium, tmp_path / "profile")
    try:
        target = dt.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = dt.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            dt.send(f"{domain}.enable", session=session)
        dt.send("Page.navigate", {"url": url}, session=session)
        dt.wait(lambda m: m.get("method") == "Page.loadEventFired")
        time.sleep(0.5)  # let late console messages arrive
        dt.send("Runtime.evaluate", {"expression": "1"}, session=session)
        result = dt.send("Runtime.evaluate", {"expression": READ_PAGE, "returnByValue": True}, session=session)
        assert "exceptionDetails" not in result, result
        seen = result["result"]["value"]
        shot = dt.send("Page.captureScreenshot", {"format": "png"}, session=session)
    finally:
        dt.close()

    problems = []
    requests = []
    for e in dt.events:
        m, p = e["method"], e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
            problems.append(f"console.{p['type']}: {p.get('args')}")
        elif m == "Runtime.exceptionThrown":
            problems.append(f"exception: {p['exceptionDetails']}")
        elif m == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
            problems.append(f"log {p['entry']['level']}: {p['entry']['text']} ({p['entry'].get('url')})")
        elif m == "Network.requestWillBeSent":
            requests.append(p["request"]["url"])
        elif m == "Network.loadingFailed":
            problems.append(f"failed to load: {p}")
    assert problems == [], "\n".join(problems)
    assert requests == [url], f"the report must load nothing but itself: {requests}"

    assert seen["images"] == 0 and seen["stylesheets"] == 1 and seen["title"].startswith("tidymark report")
    assert not seen["overflow"], "the report is wider than a 1280 px window"
    assert seen["charts"] == 2 and seen["bars"] >= 2
    # the numbers the browser sees are the numbers of the JSON output
    items = runs[mode]["json"]
    assert seen["data"] == Page(runs[mode]["html"].read_text(encoding="utf-8")).data
    assert int(seen["cards"]["remaining"]) == len(items) == seen["data"]["problems_remaining"]
    assert int(seen["cards"]["files"]) == md_files(runs[mode]["root"])
    assert seen["removed"] == seen["data"]["removed_blocks"] == expected_removals(runs[mode]["before"])
    assert Counter(i["code"] for i in items) == Counter(seen["data"]["per_rule"])
    png = base64.b64decode(shot["data"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
