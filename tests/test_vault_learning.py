"""Vault-learned boilerplate (AD005) in the default run: what it removes, with its orphans,
what it keeps although it repeats, and the one-file run that learns from the cache."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tidymark.cli import main

ARTICLE = ("Paragraph {i} of the article about {topic} has enough words to count as real text, "
           "and it goes on for a while so that nobody could take it for chrome.")


def article(topic: str, n: int = 6) -> str:
    return "\n\n".join(ARTICLE.format(i=i, topic=topic) for i in range(n))


def write_note(folder: Path, name: str, body: str, url: str | None = None, title: str | None = None) -> Path:
    fm = ""
    if url or title:
        fm = "---\n" + (f"title: {title}\n" if title else "") + (f"url: {url}\n" if url else "") + "---\n\n"
    p = folder / name
    p.write_text(fm + body + "\n", encoding="utf-8")
    return p


@pytest.fixture
def vault(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    return tmp_path


APPEAL = ("Example Letters is a reader-supported publication. To receive new posts and support my work, "
          "consider becoming a free or paid subscriber.")


def newsletter(vault: Path, n: int = 4, extra=lambda i: "") -> list[Path]:
    out = []
    for i in range(n):
        body = (f"{article(f'topic {i}')}\n\n{extra(i)}\n\n* * *\n\n{APPEAL}\n\n"
                f"[Share](https://letters.example.com/p/post-{i}?utm=share)")
        out.append(write_note(vault, f"post{i}.md", body, f"https://letters.example.com/p/post-{i}", f"Post {i}"))
    return out


def fix(*argv) -> int:
    return main(["fix", *argv, "--no-backup", "-q"])


def test_default_fix_removes_a_repeated_appeal_with_its_orphans(vault):
    notes = newsletter(vault)
    assert fix(".", "--no-cache") in (0, 1)
    for i, p in enumerate(notes):
        text = p.read_text(encoding="utf-8")
        assert "reader-supported" not in text and "[Share]" not in text and "* * *" not in text
        assert ARTICLE.format(i=5, topic=f"topic {i}") in text
        assert text.endswith("chrome.\n")


def test_fixing_twice_equals_fixing_once_and_unchanged_files_are_not_written(vault):
    notes = newsletter(vault)
    fix(".", "--no-cache")
    first = [p.read_bytes() for p in notes]
    stamps = [os.stat(p).st_mtime_ns for p in notes]
    fix(".", "--no-cache")
    assert [p.read_bytes() for p in notes] == first
    assert [os.stat(p).st_mtime_ns for p in notes] == stamps


def test_two_notes_are_not_enough(vault):
    notes = newsletter(vault, n=2)
    fix(".", "--no-cache")
    assert all("reader-supported" in p.read_text(encoding="utf-8") for p in notes)


LOOK_ALIKES = {
    # a label of the author's own section, followed by text of its own
    "related": lambda i: f"**Related work:**\n\nSmith et al. studied topic {i} in depth before we did.",
    # the author's own reading list: a repeated label, items of its own
    "reading": lambda i: f"My reading list:\n\n- [Book {i}](https://books.example.net/{i})\n- [Essay {i}b](https://e.example.net/{i})",
    # prose that says "subscribe", and a course the article is about
    "prose": lambda i: (f"In part {i} we subscribe a replica to a publication and watch the course of the events; "
                        f"the course on distributed systems by Professor Lee covers it."),
}


@pytest.mark.parametrize("kind", sorted(LOOK_ALIKES))
def test_look_alike_article_text_stays(vault, kind):
    notes = newsletter(vault, extra=LOOK_ALIKES[kind])
    fix(".", "--no-cache")
    for i, p in enumerate(notes):
        text = p.read_text(encoding="utf-8")
        assert "reader-supported" not in text  # the rule did run on these notes
        for line in LOOK_ALIKES[kind](i).splitlines():
            assert line in text


def test_a_series_table_of_contents_stays(vault):
    toc = "\n".join(f"- [Part {k}: building a compiler](https://letters.example.com/p/part-{k})" for k in range(4))
    notes = []
    for i in range(4):
        body = f"This is part of a series:\n\n{toc}\n\n{article(f'part {i}')}\n\n{APPEAL}"
        notes.append(write_note(vault, f"part{i}.md", body, f"https://letters.example.com/p/part-{i}",
                                f"'Part {i}: building a compiler'"))
    fix(".", "--no-cache")
    for p in notes:
        text = p.read_text(encoding="utf-8")
        assert toc in text and "This is part of a series:" in text
        assert "reader-supported" not in text


def test_a_recurring_sign_off_sentence_is_only_an_unsafe_fix(vault):
    sign_off = "Until next week, keep building and keep writing things down."
    notes = newsletter(vault, extra=lambda i: "")
    for p in notes:
        p.write_text(p.read_text(encoding="utf-8").rstrip("\n") + f"\n\n{sign_off}\n", encoding="utf-8")
    fix(".", "--no-cache")
    assert all(sign_off in p.read_text(encoding="utf-8") for p in notes)
    assert all("reader-supported" not in p.read_text(encoding="utf-8") for p in notes)
    fix(".", "--no-cache", "--unsafe-fixes")
    assert all(sign_off not in p.read_text(encoding="utf-8") for p in notes)


def test_a_repeated_line_in_the_middle_of_a_long_note_stays(vault):
    middle = "[Download the dataset](https://data.example.org/set.csv)"
    notes = []
    for i in range(4):
        body = f"{article(f'a{i}', 12)}\n\n{middle}\n\n{article(f'b{i}', 40)}"
        notes.append(write_note(vault, f"long{i}.md", body, f"https://data.example.org/post/{i}", f"Long {i}"))
    fix(".", "--no-cache")
    assert all(middle in p.read_text(encoding="utf-8") for p in notes)


def wechat(account: str, i: int, qr: str) -> str:
    return (f"{article(f'{account} {i}')}\n\n![图片](https://example.invalid/fig-{account}-{i}.png)\n\n"
            f"**扫码关注我们**\n\n![]({qr})\n\n____\n\n继续滑动看下一个\n\n{account}\n\n向上滑动看下一个")


def test_notes_without_front_matter_learn_from_their_folder(vault):
    """A WeChat export: no front matter, the page template repeats across the folder; the
    account's name between two template lines goes with them, the article's last figure
    above the boilerplate stays."""
    folder = vault / "wechat"
    folder.mkdir()
    notes = [write_note(folder, f"a{i}.md", wechat("安全小站", i, "https://example.invalid/qr-a.png")) for i in range(3)]
    notes.append(write_note(folder, "b0.md", wechat("另一个号", 0, "https://example.invalid/qr-b.png")))
    fix(".", "--no-cache")
    for p in notes:
        text = p.read_text(encoding="utf-8")
        for junk in ("继续滑动看下一个", "向上滑动看下一个", "扫码关注我们", "qr-", "____", "安全小站\n", "另一个号\n"):
            assert junk not in text, (p.name, junk)
        assert "![图片](https://example.invalid/fig-" in text
        assert text.endswith(".png)\n")


def test_a_one_file_run_learns_from_what_the_cache_keeps(vault):
    notes = newsletter(vault)
    cache = ["--cache-dir", str(vault / ".cache")]
    assert main(["check", ".", *cache, "-q"]) in (0, 1)
    assert (vault / ".cache" / "vault.json").exists()
    new = write_note(vault, "new.md", f"{article('news')}\n\n{APPEAL}", "https://letters.example.com/p/new", "New")
    fix("new.md", *cache)
    assert "reader-supported" not in new.read_text(encoding="utf-8")
    assert all("reader-supported" in p.read_text(encoding="utf-8") for p in notes)  # not in this run
    # fixed notes are still remembered: the next new note is recognised too
    fix(".", *cache)
    newer = write_note(vault, "newer.md", f"{article('newer')}\n\n{APPEAL}", "https://letters.example.com/p/x", "X")
    fix("newer.md", *cache)
    assert "reader-supported" not in newer.read_text(encoding="utf-8")


def test_undo_restores_the_original_after_both_passes(vault, capsys):
    notes = newsletter(vault, extra=lambda i: "Thanks for reading! Subscribe for free to receive new posts.")
    before = [p.read_bytes() for p in notes]
    assert main(["fix", ".", "--cache-dir", str(vault / ".cache"), "-q"]) in (0, 1)
    assert all(b != p.read_bytes() for b, p in zip(before, notes))
    main(["undo", "--cache-dir", str(vault / ".cache")])
    assert [p.read_bytes() for p in notes] == before


def test_check_reports_positioned_fixable_diagnostics(vault, capsys):
    newsletter(vault)
    main(["check", ".", "--no-cache", "--select", "AD005", "--output-format", "json"])
    items = json.loads(capsys.readouterr().out)
    assert len(items) == 4 and all(i["fix"] is not None and i["fix"]["applicability"] == "safe" for i in items)
    assert all(i["line"] > 10 for i in items)


def test_a_short_line_between_running_text_stays(vault):
    """The author's dedication between two paragraphs, repeated in every post: the article's."""
    notes = []
    for i in range(4):
        body = (f"Opening words of post {i}, a reflection on the year that went by so fast.\n\n~ kit\n\n"
                f"![](https://kit.example.com/cover-{i}.png)\n\n{article(f'year {i}')}\n\n{APPEAL}")
        notes.append(write_note(vault, f"y{i}.md", body, f"https://kit.example.com/p/{i}", f"Year {i}"))
    fix(".", "--no-cache")
    for p in notes:
        text = p.read_text(encoding="utf-8")
        assert "\n~ kit\n" in text and "cover-" in text and "reader-supported" not in text


def test_the_authors_page_link_and_a_caption_before_code_stay(vault):
    notes = []
    for i in range(4):
        body = (f"[Ada](https://docs.example.cn/authors/ada)\n\nPreface\n\n    indented text {i} of the author\n\n"
                f"{article(f'setup {i}')}\n\n继续滑动看下一个\n\n向上滑动看下一个")
        notes.append(write_note(vault, f"c{i}.md", body, f"https://docs.example.cn/p/{i}", f"Setup {i}"))
    fix(".", "--no-cache", "--ignore", "DM007")  # DM007 would lift the byline into the front matter
    for p in notes:
        text = p.read_text(encoding="utf-8")
        assert "[Ada](https://docs.example.cn/authors/ada)" in text and "\nPreface\n" in text
        assert "继续滑动看下一个" not in text


def test_a_long_sidebar_that_starts_in_the_head_goes_whole(vault):
    sidebar = "\n".join(f"- [Archive {m} 2019](https://blog.example.net/2019/{m:02d}/)" for m in range(1, 13))
    sidebar += "\n\n" + "\n".join(f"- [Archive {m} 2020](https://blog.example.net/2020/{m:02d}/)" for m in range(1, 13))
    notes = []
    for i in range(4):
        body = f"[Home](https://blog.example.net/)\n\n{sidebar}\n\n{article(f'post {i}', 40)}"
        notes.append(write_note(vault, f"s{i}.md", body, f"https://blog.example.net/p/{i}", f"Post {i}"))
    fix(".", "--no-cache")
    for i, p in enumerate(notes):
        text = p.read_text(encoding="utf-8")
        assert "Archive" not in text and "[Home]" not in text
        assert ARTICLE.format(i=0, topic=f"post {i}") in text and ARTICLE.format(i=39, topic=f"post {i}") in text


def test_a_note_fixed_again_is_one_result_counted_once(vault, capsys):
    # notes the first pass already changes (a title repeated as a heading) and the vault step
    # fixes again: each is one changed file, with every fix applied to it, in one stream
    for i in range(4):
        write_note(vault, f"t{i}.md", f"# Tea {i}\n\n{article(f'tea {i}')}\n\nScan the QR code to follow us for more tea.",
                   f"https://tea.example.com/p/{i}", f"Tea {i}")
    main(["fix", ".", "--no-cache", "--no-backup"])
    out, err = capsys.readouterr()
    for i in range(4):
        text = (vault / f"t{i}.md").read_text(encoding="utf-8")
        assert "# Tea" not in text and "QR code" not in text and f"tea {i}" in text
    assert "Fixed 8 problems in 4 files (0 remaining)" in out + err, out + err
    assert main(["check", ".", "--no-cache"]) == 0  # nothing left, nothing reported twice
