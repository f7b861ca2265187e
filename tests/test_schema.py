"""Front-matter schemas: FM003's preset and rule packs of kind `schema`."""

from __future__ import annotations

import pytest

from tidymark.cli import main

PACK = """\
rules:
  - code: XS001
    name: vault-keys
    kind: schema
    message: Key outside the vault's schema
    preset: web-clipper
    map: {date: published, saved_from: source}
    fix: rename
    applicability: safe
"""

NOTE = "---\n# saved by a tool\nsaved_from: \"https://example.org/a\"  # kept\ndate: 2024-01-02\ntitle: T\n---\n\nText.\n"


@pytest.fixture
def proj(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_schema_pack_renames_keys_in_place(proj, capsys):
    (proj / "pack.yaml").write_text(PACK, encoding="utf-8")
    (proj / ".tidymark.yaml").write_text("rule-packs: [pack.yaml]\nextend-select: [XS]\n", encoding="utf-8")
    (proj / "n.md").write_text(NOTE, encoding="utf-8")
    assert main(["fix", "--no-cache", "--no-backup", "-q", "n.md"]) == 0
    assert (proj / "n.md").read_text(encoding="utf-8") == (
        "---\n# saved by a tool\nsource: \"https://example.org/a\"  # kept\npublished: 2024-01-02\ntitle: T\n---\n\n"
        "Text.\n")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("map", "[a, b]", "`map` must map front-matter keys to new key names"),
    ("preset", "hugo-ish", "`preset` must be one of web-clipper"),
])
def test_schema_pack_errors_name_the_field(proj, capsys, field, value, message):
    pack = PACK.replace("    preset: web-clipper\n", "").replace("    map: {date: published, saved_from: source}\n",
                                                                   f"    {field}: {value}\n")
    (proj / "pack.yaml").write_text(pack, encoding="utf-8")
    (proj / ".tidymark.yaml").write_text("rule-packs: [pack.yaml]\nextend-select: [XS]\n", encoding="utf-8")
    (proj / "n.md").write_text(NOTE, encoding="utf-8")
    code = main(["check", "--no-cache", "n.md"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "pack.yaml" in err


def test_fm003_is_opt_in(proj, capsys):
    (proj / "n.md").write_text("---\nurl: https://example.org/a\n---\n\nText.\n", encoding="utf-8")
    main(["check", "--no-cache", "n.md"])
    assert "FM003" not in capsys.readouterr().out
    main(["check", "--no-cache", "--extend-select", "FM003", "n.md"])
    assert "FM003 [*] `url` is `source` in the schema" in capsys.readouterr().out
