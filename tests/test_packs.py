"""Custom rules without forking: YAML rule packs, local rule files, plugin packages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tidymark.cli import main

MINIMAL_PACK = """\
rules:
  - code: XX001
    name: company-banner
    kind: phrase
    message: Internal banner left in a published note
    patterns: ["INTERNAL USE ONLY"]
    fix: remove
    applicability: safe
"""


@pytest.fixture
def proj(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys, *argv):
    code = main([*argv, "--no-cache"] if argv[0] in ("check", "fix") else list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_minimal_pack_as_written(proj, capsys):
    (proj / "pack.yaml").write_text(MINIMAL_PACK, encoding="utf-8")
    (proj / "pyproject.toml").write_text('[tool.tidymark]\nrule-packs = ["pack.yaml"]\nextend-select = ["XX"]\n',
                                         encoding="utf-8")
    note = proj / "note.md"
    note.write_text("Intro that says INTERNAL USE ONLY in a sentence.\n\nINTERNAL USE ONLY\n\nThe end.\n",
                    encoding="utf-8")
    code, out, _ = run(capsys, "check", "note.md")
    assert code == 1
    assert out.splitlines()[0] == "note.md:3:1: XX001 [*] Internal banner left in a published note (line 3)"
    code, out, _ = run(capsys, "fix", "note.md")
    assert note.read_text(encoding="utf-8") == "Intro that says INTERNAL USE ONLY in a sentence.\n\nThe end.\n"


def test_pack_rules_need_selection(proj, capsys):
    (proj / "pack.yaml").write_text(MINIMAL_PACK, encoding="utf-8")
    (proj / ".tidymark.yaml").write_text("rule-packs: [pack.yaml]\n", encoding="utf-8")
    (proj / "n.md").write_text("INTERNAL USE ONLY\n", encoding="utf-8")
    assert run(capsys, "check", "n.md")[0] == 0
    code, out, _ = run(capsys, "rules")
    assert "XX001  company-banner" in out and " off " in out.split("XX001")[1].splitlines()[0]


@pytest.mark.parametrize(("pack", "needle"), [
    ("rules:\n  - code: XX1\n    name: a\n    kind: phrase\n    message: m\n    patterns: [x]\n", ":2: `code`"),
    ("rules:\n  - code: XX001\n    name: Bad Name\n    kind: phrase\n    message: m\n    patterns: [x]\n", ":3: `name`"),
    ("rules:\n  - code: XX001\n    name: a\n    kind: weird\n    message: m\n", ":4: `kind`"),
    ("rules:\n  - code: XX001\n    name: a\n    kind: phrase\n    message: m\n    patterns: [x]\n    colour: red\n",
     ":7: unknown field `colour`"),
    ("rules:\n  - code: XX001\n    name: a\n    kind: phrase\n    message: m\n    patterns: [{regex: '('}]\n",
     ":6: `patterns` has an invalid regex"),
    ("rules:\n  - code: XX001\n    name: a\n    kind: link\n    message: m\n    url-pattern: x\n    fix: rewrite\n",
     ":7: `fix: rewrite` needs `replacement`"),
    ("prefix: AB\nrules:\n  - code: XX001\n    name: a\n    kind: phrase\n    message: m\n    patterns: [x]\n",
     ":3: `code` 'XX001' must start with the pack's prefix"),
    ("rules: 3\n", "needs a `rules:` list"),
])
def test_pack_validation_names_file_line_and_field(proj, capsys, pack, needle):
    (proj / "pack.yaml").write_text(pack, encoding="utf-8")
    (proj / ".tidymark.yaml").write_text("rule-packs: [pack.yaml]\nextend-select: [XX]\n", encoding="utf-8")
    (proj / "n.md").write_text("x\n", encoding="utf-8")
    code, out, err = run(capsys, "check", "n.md")
    assert code == 2
    assert "pack.yaml" in err and needle in err, err
    assert "Traceback" not in err


KINDS_PACK = r"""
prefix: SF
rules:
  - code: SF001
    name: newsletter-signoff
    kind: block
    message: Newsletter sign-off block
    patterns: ["More from the newsroom"]
    until: links
    fix: remove
    applicability: safe
  - code: SF002
    name: needs-source
    kind: front-matter
    message: Note has no source
    key: source
    required: true
    default: unknown
    fix: add
    applicability: safe
  - code: SF003
    name: no-tracking
    kind: link
    message: Tracking parameter in link
    url-pattern: '\?utm_source=[^)#\s]*'
    replacement: ''
    fix: rewrite
    applicability: safe
  - code: SF004
    name: spell-brand
    kind: substitution
    message: Brand is spelled Tidymark
    pattern: '\btidy mark\b'
    replacement: Tidymark
    ignore-case: true
    fix: replace
    applicability: unsafe
  - code: SF005
    name: forbid-private
    kind: front-matter
    message: Private key must not be published
    key: private
    forbidden: true
    fix: remove
    applicability: safe
"""


def test_every_kind(proj, capsys):
    (proj / "pack.yaml").write_text(KINDS_PACK, encoding="utf-8")
    (proj / ".tidymark.yaml").write_text("rule-packs: [pack.yaml]\nselect: [SF]\n", encoding="utf-8")
    note = proj / "n.md"
    note.write_text(textwrap.dedent("""\
        ---
        title: T
        private: yes
        ---

        Read [the post](https://example.org/p?utm_source=feed) about tidy mark.

        `tidy mark` in code stays.

        More from the newsroom

        - [One](https://example.org/1)
        - [Two](https://example.org/2)
        """), encoding="utf-8")
    code, out, _ = run(capsys, "check", "n.md", "--output-format", "json")
    got = sorted((d["code"], d["line"]) for d in json.loads(out))
    assert got == [("SF001", 10), ("SF002", 1), ("SF003", 6), ("SF004", 6), ("SF005", 3)]
    run(capsys, "fix", "n.md", "--unsafe-fixes")
    assert note.read_text(encoding="utf-8") == textwrap.dedent("""\
        ---
        title: T
        source: unknown
        ---

        Read [the post](https://example.org/p) about Tidymark.

        `tidy mark` in code stays.
        """)


LOCAL_RULE = '''
from tidymark import Rule, Fix, Edit, FixAvailability
from tidymark.source import Span


class NoTodo(Rule):
    """A TODO marker was left in the note.

    ## What it does
    Finds `TODO:` at the start of a line.

    ## Why is this bad?
    Published notes should not carry work markers.

    ## Example
    ```markdown
    TODO: finish
    ```

    ## Fix safety
    Unsafe: the rest of the line may matter.
    """

    code = "LOC001"
    name = "no-todo"
    summary = "TODO marker left in the note"
    fix_availability = FixAvailability.ALWAYS
    fix_safety = "unsafe"

    def check(self, doc):
        i = doc.text.find("TODO:")
        if i != -1:
            yield self.diagnostic(Span(i, i + 5), fix=Fix.unsafe("Drop the marker", Edit(Span(i, i + 6), "")))
'''


def test_local_rule_file_loaded_without_sys_path(proj, capsys):
    d = proj / "tidymark_rules"
    d.mkdir()
    (d / "my_rule.py").write_text(LOCAL_RULE, encoding="utf-8")
    (proj / ".tidymark.yaml").write_text("local-rules: [./tidymark_rules/my_rule.py]\nextend-select: [LOC]\n",
                                         encoding="utf-8")
    (proj / "n.md").write_text("TODO: finish\n", encoding="utf-8")
    before = list(sys.path)
    code, out, _ = run(capsys, "check", "n.md")
    assert code == 1 and "n.md:1:1: LOC001 TODO marker left in the note" in out
    assert sys.path == before and str(d) not in sys.path
    assert not any(m == "my_rule" for m in sys.modules)
    run(capsys, "fix", "n.md", "--unsafe-fixes")
    assert (proj / "n.md").read_text(encoding="utf-8") == "finish\n"


def test_broken_local_rule_is_a_config_error(proj, capsys):
    (proj / "bad.py").write_text("raise RuntimeError('boom')\n", encoding="utf-8")
    (proj / ".tidymark.yaml").write_text("local-rules: [bad.py]\n", encoding="utf-8")
    (proj / "n.md").write_text("x\n", encoding="utf-8")
    code, _, err = run(capsys, "check", "n.md")
    assert code == 2 and "bad.py" in err and "RuntimeError: boom" in err and "Traceback" not in err


PLUGIN_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "acme-tidymark-rules"
version = "1.0"

[project.entry-points."tidymark.rules"]
ACME = "acme_rules"

[tool.setuptools]
py-modules = ["acme_rules"]
"""


@pytest.mark.slow
def test_plugin_package_in_a_virtualenv(tmp_path, offline_pip):
    """A plain virtualenv (nothing from the base interpreter) with tidymark, its dependencies and
    the plugin's build backend installed from wheels of the running test environment, offline."""
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "pyproject.toml").write_text(PLUGIN_PYPROJECT, encoding="utf-8")
    (plugin / "acme_rules.py").write_text(LOCAL_RULE.replace("LOC001", "ACME001").replace("no-todo", "acme-no-todo"),
                                          encoding="utf-8")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    pip_env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "PYTHONPATH"}
    pip_env.update(offline_pip)

    def pip(*args):
        proc = subprocess.run([str(py), "-m", "pip", *args], env=pip_env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    pip("install", "-q", "tidymark")
    pip("install", "-q", "--no-deps", str(plugin))
    work = tmp_path / "work"
    work.mkdir()
    (work / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    (work / "n.md").write_text("TODO: finish\n", encoding="utf-8")

    def tm(*args):
        return subprocess.run([str(py), "-m", "tidymark", *args], cwd=work, capture_output=True, text=True)

    listed = tm("rules")
    assert "ACME001  acme-no-todo" in listed.stdout, listed.stdout + listed.stderr
    assert tm("check", "n.md", "--no-cache").returncode == 0  # installed is not enabled
    sel = tm("check", "n.md", "--no-cache", "--extend-select", "ACME")
    assert sel.returncode == 1 and "ACME001" in sel.stdout
    doc = tm("rule", "ACME001")
    assert doc.returncode == 0 and "## What it does" in doc.stdout and "plugin:acme-tidymark-rules" in doc.stdout
    fixed = tm("fix", "n.md", "--no-cache", "--extend-select", "ACME", "--unsafe-fixes")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert (work / "n.md").read_text(encoding="utf-8") == "finish\n"

    # with the cache, the plugin scan is kept, and scanned again when the plugin goes or comes back
    (work / "n.md").write_text("TODO: finish\n", encoding="utf-8")
    assert tm("check", "n.md", "--extend-select", "ACME").returncode == 1
    assert list((work / ".tidymark_cache").glob("entry-points-*.json"))
    assert tm("check", "n.md", "--extend-select", "ACME").returncode == 1
    pip("uninstall", "-q", "-y", "acme-tidymark-rules")
    gone = tm("check", "n.md", "--extend-select", "ACME")
    assert gone.returncode == 2 and "ACME" in gone.stderr and "Traceback" not in gone.stderr
    pip("install", "-q", "--no-deps", str(plugin))
    assert tm("check", "n.md", "--extend-select", "ACME").returncode == 1


def test_new_rule_scaffold_python_and_yaml(proj, capsys):
    code, out, _ = run(capsys, "new-rule", "XY001", "company-banner", "--phrase", "INTERNAL USE ONLY")
    assert code == 0 and "created tidymark_rules/xy001_company_banner.py" in out
    (proj / ".tidymark.yaml").write_text("local-rules: [tidymark_rules/]\nextend-select: [XY]\n", encoding="utf-8")
    (proj / "n.md").write_text("A.\n\nINTERNAL USE ONLY\n\nB.\n", encoding="utf-8")
    code, out, _ = run(capsys, "check", "n.md")
    assert code == 1 and "n.md:3:1: XY001 [*]" in out
    # the scaffolded tests pass with the public harness
    from tidymark.local_rules import load
    from tidymark.testing import assert_rule_contract, cases_for, run_case

    (cls,) = load(proj / "tidymark_rules" / "xy001_company_banner.py")
    assert_rule_contract(cls)
    for case in cases_for(cls):
        run_case(cls, case)
    code, out, _ = run(capsys, "new-rule", "XY002", "footer-line", "--kind", "yaml", "--phrase", "Sent from my phone")
    assert code == 0
    (proj / ".tidymark.yaml").write_text("rule-packs: [tidymark_rules/xy002_footer_line.yaml]\nextend-select: [XY]\n",
                                         encoding="utf-8")
    (proj / "m.md").write_text("Hello.\n\nSent from my phone\n", encoding="utf-8")
    code, out, _ = run(capsys, "check", "m.md")
    assert code == 1 and "m.md:3:1: XY002 [*] Footer line" in out
    assert run(capsys, "new-rule", "XY002", "footer-line", "--kind", "yaml")[0] == 2  # never overwrites
    assert run(capsys, "new-rule", "bad", "footer-line")[0] == 2
