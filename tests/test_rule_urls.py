"""Each diagnostic of a built-in rule links to the rule's page in docs/rules/: `url` in JSON,
`helpUri` in SARIF, derived from the Repository URL of the package metadata."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tidymark import docs
from tidymark.cli import main

ROOT = Path(__file__).resolve().parent.parent
BASE = "https://git.example.org/x"  # stands in for the published repository's page folder


@pytest.fixture
def linked(monkeypatch):
    monkeypatch.setattr(docs, "_rule_page_base", lambda: f"{BASE}/docs/rules")


@pytest.fixture
def notes(tmp_path, monkeypatch):
    (tmp_path / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("---\ntitle: A\ndraft: true\n---\n# A\n\nText.\n", encoding="utf-8")
    (tmp_path / "bad.md").write_bytes("---\ntitle: café\n---\n".encode("latin-1"))  # TM001: no page
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_json_and_sarif_link_each_rule_to_its_page(linked, notes, capsys):
    main(["check", "--no-cache", "--output-format", "json", "."])
    items = json.loads(capsys.readouterr().out)
    codes = {i["code"] for i in items}
    assert {"PB001", "DM002", "TM001"} <= codes
    for i in items:
        if i["code"] == "TM001":
            assert i["url"] is None  # engine diagnostics are not rules with a page
        else:
            assert i["url"] == f"{BASE}/docs/rules/{i['code']}.md"
            assert (ROOT / "docs" / "rules" / f"{i['code']}.md").is_file()
    main(["check", "--no-cache", "--output-format", "sarif", "."])
    rules = json.loads(capsys.readouterr().out)["runs"][0]["tool"]["driver"]["rules"]
    by_id = {r["id"]: r for r in rules}
    assert by_id["PB001"]["helpUri"] == f"{BASE}/docs/rules/PB001.md"
    assert by_id["DM002"]["helpUri"] == f"{BASE}/docs/rules/DM002.md"
    assert "helpUri" not in by_id["TM001"]


def test_no_repository_no_url(monkeypatch, notes, capsys):
    monkeypatch.setattr(docs, "_rule_page_base", lambda: None)
    main(["check", "--no-cache", "--output-format", "json", "."])
    items = json.loads(capsys.readouterr().out)
    assert items and all(i["url"] is None for i in items)


@pytest.mark.parametrize("urls, expected", [
    (["Repository, https://github.com/me/tidymark"], "https://github.com/me/tidymark/blob/v1.2.0/docs/rules"),
    (["Homepage, https://x.org", "Source, https://gitlab.com/me/tidymark.git/"],
     "https://gitlab.com/me/tidymark/-/blob/v1.2.0/docs/rules"),
    (["Repository, https://example.org/me/tidymark"], None),  # a host whose page layout is unknown
    (["Repository, http://github.com/me/tidymark"], None),
    (["Homepage, https://github.com/me/tidymark"], None),
    ([], None),
])
def test_page_base_from_project_urls(urls, expected):
    assert docs.page_base(urls, "1.2.0") == expected


def test_pyproject_names_a_repository_the_links_can_use():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    urls = [f"{label}, {url}" for label, url in project.get("urls", {}).items()]
    base = docs.page_base(urls, project["version"])
    assert base is not None and base.endswith(f"/v{project['version']}/docs/rules")
