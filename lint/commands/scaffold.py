"""``tidymark new-rule``: scaffold a rule (Python or YAML) with its test cases."""

from __future__ import annotations

from pathlib import Path

from tidymark.rule import CODE_RE, NAME_RE

PY_TEMPLATE = '''from __future__ import annotations

from tidymark import Edit, Fix, FixAvailability, FixKind, Rule
from tidymark.edits import remove_lines


class {cls}(Rule):
    """{summary}

    ## What it does
    Finds paragraphs that are exactly `{phrase}`.

    ## Why is this bad?
    Explain what goes wrong for a reader or a tool when this is left in a note.

    ## Example
    ```markdown
    {phrase}
    ```

    Use instead:
    ```markdown
    The article text.
    ```

    ## Fix safety
    Safe: the fix removes only the matching paragraph.
    """

    code = "{code}"
    name = "{name}"
    summary = "{summary}"
    fix_availability = FixAvailability.ALWAYS
    fix_safety = "safe"
    needs_any = ("{phrase}",)   # cheap pre-filter: the rule only runs on notes containing it

    def check(self, doc):
        for block in doc.blocks:
            if block.kind == "paragraph" and doc.block_text(block).strip() == "{phrase}":
                fix = Fix.safe("Remove the paragraph", remove_lines(doc, block.line0, block.line1),
                               kind=FixKind.REMOVE_CONTENT)
                yield self.diagnostic(block.span, fix=fix)
'''

CASES_TEMPLATE = '''rule: {code}
cases:
  - name: unrelated_text_passes
    input: |
      A paragraph that mentions {phrase} in passing stays.
  - name: paragraph_is_removed
    input: |
      Before.

      {phrase}

      After.
    expect:
      - {{line: 3, column: 1}}
    output: |
      Before.

      After.
'''

TEST_TEMPLATE = '''import pytest

from tidymark.testing import assert_rule_contract, cases_for, run_case

from {module} import {cls}


@pytest.mark.parametrize("case", cases_for({cls}), ids=lambda c: c.id)
def test_cases(case):
    run_case({cls}, case)


def test_contract():
    assert_rule_contract({cls})
'''

YAML_TEMPLATE = '''# A tidymark rule pack: enable it with `rule-packs = ["{path}"]` and `extend-select = ["{prefix}"]`.
rules:
  - code: {code}
    name: {name}
    kind: phrase
    message: {summary}
    patterns: ["{phrase}"]
    fix: remove
    applicability: safe
'''


class ScaffoldError(Exception):
    pass


def new_rule(code: str, name: str, kind: str, directory: Path, summary: str | None = None,
             phrase: str = "REPLACE ME") -> list[Path]:
    code = code.upper()
    if not CODE_RE.match(code):
        raise ScaffoldError(f"rule code {code!r} must be 1-4 capital letters and 3 digits, e.g. XX001")
    if not NAME_RE.match(name):
        raise ScaffoldError(f"rule name {name!r} must be kebab-case, e.g. company-banner")
    summary = summary or name.replace("-", " ").capitalize()
    prefix = code.rstrip("0123456789")
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{code.lower()}_{name.replace('-', '_')}"
    if kind == "yaml":
        path = directory / f"{stem}.yaml"
        files = {path: YAML_TEMPLATE.format(code=code, name=name, summary=summary, phrase=phrase, prefix=prefix,
                                            path=path.as_posix())}
    else:
        cls = "".join(p.capitalize() for p in name.split("-"))
        files = {directory / f"{stem}.py": PY_TEMPLATE.format(cls=cls, code=code, name=name, summary=summary,
                                                              phrase=phrase),
                 directory / f"{stem}.cases.yml": CASES_TEMPLATE.format(code=code, phrase=phrase),
                 directory / f"test_{stem}.py": TEST_TEMPLATE.format(module=stem, cls=cls)}
    existing = [p for p in files if p.exists()]
    if existing:
        raise ScaffoldError(f"{existing[0]} already exists; not overwritten")
    for p, text in files.items():
        p.write_text(text, encoding="utf-8")
    return list(files)
