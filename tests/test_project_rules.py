"""Cross-document rules (DM006 duplicate-article, AD005 site-boilerplate) and `tidymark learn`,
through the CLI, with the cache and with the process pool."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from tidymark.cli import main


def note(url: str, body: str, title: str = "T") -> str:
    return f"---\ntitle: {title}\nurl: {url}\n---\n\n{body}\n"


def para(seed: str, n: int = 3) -> str:
    return "\n\n".join(f"Paragraph {i} of the {seed} article has enough words to count as real text." for i in range(n))


@pytest.fixture
def proj(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    return tmp_path


def run_json(capsys, *argv):
    code = main([*argv, "--output-format", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_duplicates_by_url_and_by_body(proj, capsys):
    (proj / "a").mkdir()
    (proj / "b").mkdir()
    (proj / "a" / "x.md").write_text(note("https://www.example.org/post/", para("alpha")), encoding="utf-8")
    (proj / "b" / "x-copy.md").write_text(note("http://example.org/post", "Different wording entirely."),
                                          encoding="utf-8")
    (proj / "a" / "y.md").write_text(note("https://example.org/y", para("beta", 5)), encoding="utf-8")
    (proj / "b" / "y-resaved.md").write_text(note("https://mirror.example.net/y", para("beta", 5) + "\n\nOne extra."),
                                             encoding="utf-8")
    (proj / "a" / "z.md").write_text(note("https://example.org/z", para("gamma")), encoding="utf-8")
    code, items = run_json(capsys, "check", ".", "--select", "DM006", "--no-cache")
    got = sorted((i["path"], i["message"].split(" (")[-1]) for i in items)
    assert got == [("a/x.md", "same source URL)"), ("a/y.md", "near-identical body)"),
                   ("b/x-copy.md", "same source URL)"), ("b/y-resaved.md", "near-identical body)")]
    assert code == 1


def test_body_comparison_ignores_case_punctuation_and_typography(proj, capsys):
    # one copy plain ASCII, the other with curly quotes, dashes and different case: the
    # paragraphs compare equal whichever way they are normalised (ASCII or not)
    plain = "\n\n".join(f"It's paragraph {i} -- of the saved article, with \"enough\" words to count." for i in range(4))
    fancy = "\n\n".join(f"IT’S Paragraph {i} — of the saved article, with “enough” words to count!" for i in range(4))
    chinese = "\n\n".join(f"第{i}段：这是一篇保存下来的文章，其中有足够多的文字可以被算作真正的正文内容，并且还有更多的字。"
                           for i in range(4))
    (proj / "a.md").write_text(note("https://example.org/a", plain), encoding="utf-8")
    (proj / "b.md").write_text(note("https://example.org/b", fancy), encoding="utf-8")
    (proj / "c.md").write_text(note("https://example.org/c", chinese), encoding="utf-8")
    (proj / "d.md").write_text(note("https://example.org/d", chinese.replace("，", ", ")), encoding="utf-8")
    (proj / "e.md").write_text(note("https://example.org/e", plain.replace("saved", "printed")), encoding="utf-8")
    code, items = run_json(capsys, "check", ".", "--select", "DM006", "--no-cache")
    assert sorted(i["path"] for i in items) == ["a.md", "b.md", "c.md", "d.md"], items
    assert code == 1


@given(st.text(alphabet=st.characters(max_codepoint=0x3000), max_size=60))
def test_paragraph_normal_form_is_the_word_expression(text):
    from tidymark.rules.dm006_duplicate_article import _WORDS, _letters_and_digits

    low = text.lower()
    assert _letters_and_digits(low) == _WORDS.sub("", low).encode()


def _paragraphs_by_lines(body: str) -> list[str]:
    """DM006's paragraphs, defined line by line: runs of non-blank lines, with every fence
    (a line of three or more backticks or tildes indented at most three spaces, a backtick
    one without a backtick after it) up to its closer (the same character, at least as
    long, nothing after it) left out; a fence never closed leaves out the rest."""
    lines, kept, fence = body.split("\n"), [], None
    for line in lines:
        m = re.match(r" {0,3}(`{3,}|~{3,})(.*)$", line)
        if fence is None and m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
            fence = m.group(1)
            kept.append("")
        elif fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not m.group(2).strip():
                fence = None
                kept.append("")
        else:
            kept.append(line)
    if fence is not None:
        kept.append("")
    out, run = [], []
    for line in kept + [""]:
        if line.strip():
            run.append(line)
        elif run:
            out.append("\n".join(run))
            run = []
    return out


@given(st.lists(st.sampled_from(["```", "~~~", "````", " ```py", "    ```", "```x`", "~~~ ~", "text", "more text",
                                 "", "  ", "\t", "`", " ~~~~"]), max_size=14))
def test_paragraphs_leave_out_fenced_code(lines):
    from tidymark.rules.dm006_duplicate_article import _paragraphs

    body = "\n".join(lines)
    assert [" ".join(p.split()) for p in _paragraphs(body)] == [" ".join(p.split()) for p in _paragraphs_by_lines(body)]


def test_same_site_different_articles_are_not_duplicates(proj, capsys):
    for i in range(4):
        shared = "Thanks for reading the example blog, see you next week."
        (proj / f"n{i}.md").write_text(note(f"https://example.org/{i}", para(f"topic{i}") + "\n\n" + shared),
                                       encoding="utf-8")
    code, items = run_json(capsys, "check", ".", "--select", "DM006", "--no-cache")
    assert items == [] and code == 0


def site_notes(proj: Path, n: int) -> None:
    for i in range(n):
        body = para(f"story{i}") + "\n\nComments are closed on this blog.\n\n[Archive](https://blog.example.org/archive)"
        (proj / f"post{i:02d}.md").write_text(note(f"https://blog.example.org/{i}", body), encoding="utf-8")
    (proj / "other.md").write_text(note("https://elsewhere.example.com/1", "Comments are closed on this blog."),
                                   encoding="utf-8")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_site_boilerplate_with_cache_and_pool(proj, capsys, jobs):
    site_notes(proj, 20)
    args = ("check", ".", "--select", "AD005", "--cache-dir", str(proj / ".cache"), "--jobs", jobs)
    first = run_json(capsys, *args)[1]
    second = run_json(capsys, *args)[1]  # warm cache: facts come from the cache
    assert first == second
    posts = [i for i in first if i["path"] != "other.md"]
    assert {i["message"].split("blog.example.org: ", 1)[1] for i in posts} == {"Comments are closed on this blog."}
    assert len(posts) == 20 and all(i["fix"] and i["end_line"] == i["line"] + 2 for i in posts)  # both lines
    # the folder is a group too: the same line in other.md (another site) is one of 21
    # (it is all of other.md's body: only an unsafe fix)
    assert [(i["message"].split(": ", 1)[0], i["fix"]["applicability"]) for i in first if i["path"] == "other.md"] == [
        ("Boilerplate learned from the vault (line 6), repeated in 21 notes from folder .", "unsafe")]


def test_learn_writes_a_pack_that_works(proj, capsys):
    site_notes(proj, 6)
    assert main(["learn", ".", "-o", "learned.yaml"]) == 0
    assert "3 candidate lines from 2 sites " in capsys.readouterr().out  # the folder is a group too
    (proj / ".tidymark.yaml").write_text("rule-packs: [learned.yaml]\nselect: [LRN]\nunsafe-fixes: true\n",
                                         encoding="utf-8")
    code, items = run_json(capsys, "check", ".", "--no-cache")
    assert code == 1 and {i["code"] for i in items} == {"LRN001", "LRN002"}  # the site's, the folder's
    # 2 lines x 6 posts + the same sentence in other.md (a review would drop it), and the
    # folder's rule: that sentence in all 7 notes
    assert len([i for i in items if i["code"] == "LRN001"]) == 13 and len(items) == 20
    main(["fix", "post00.md", "--no-cache", "-q"])
    text = (proj / "post00.md").read_text(encoding="utf-8")
    assert "Comments are closed" not in text and "Paragraph 2 of the story0 article" in text


def test_the_folder_step_is_reused_only_while_every_note_gives_the_same_facts(proj, capsys, monkeypatch):
    from tidymark import project

    for i in range(3):
        (proj / f"n{i}.md").write_text(note(f"https://example.org/{i}", para(f"seed{i}")), encoding="utf-8")
    (proj / "n0-copy.md").write_text(note("https://example.org/0", "Another body."), encoding="utf-8")
    args = ("check", ".", "--select", "DM006")
    first = run_json(capsys, *args)[1]
    assert sorted(i["path"] for i in first) == ["n0-copy.md", "n0.md"]
    assert (proj / ".tidymark_cache" / project.PROJECT_CACHE_NAME).exists()
    steps = []
    real = project.run_project
    monkeypatch.setattr(project, "run_project", lambda *a: steps.append(1) or real(*a))
    assert run_json(capsys, *args)[1] == first and steps == []  # the same facts: the kept findings
    (proj / "n2.md").write_text(note("https://example.org/1", para("seed2")), encoding="utf-8")  # now n1's URL
    again = run_json(capsys, *args)[1]
    assert steps == [1] and sorted(i["path"] for i in again) == ["n0-copy.md", "n0.md", "n1.md", "n2.md"]
    assert run_json(capsys, *args, "--config", str(proj / ".tidymark.yaml"))[1] == again and steps == [1]
    (proj / ".tidymark.yaml").write_text("rules:\n  DM006:\n    min-paragraphs: 2\n", encoding="utf-8")
    run_json(capsys, *args)  # other options: the step runs again
    assert steps == [1, 1]
    (proj / ".tidymark_cache" / project.PROJECT_CACHE_NAME).write_text('{"key": 1', encoding="utf-8")
    assert sorted(i["path"] for i in run_json(capsys, *args)[1]) == sorted(i["path"] for i in again)
    assert steps == [1, 1, 1]  # a damaged kept step is run again
    (proj / ".tidymark_cache" / project.PROJECT_CACHE_NAME).unlink()
    run_json(capsys, *args, "--no-cache")
    assert steps == [1, 1, 1, 1] and not (proj / ".tidymark_cache" / project.PROJECT_CACHE_NAME).exists()
