"""A removed call to action takes what it leaves orphaned (tidymark.rules.ad._orphans), and only that."""

from __future__ import annotations

import pytest

from tidymark.cli import main

PARA = ("Paragraph {i} of the article has enough words to count as real text, and it goes on for a "
        "while so that nobody could take it for a button or a caption.")
BODY = "\n\n".join(PARA.format(i=i) for i in range(5))


@pytest.fixture
def fixed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")

    def run(body: str) -> str:
        p = tmp_path / "n.md"
        p.write_text(f"---\ntitle: T\nurl: https://example.org/p\n---\n\n{body}\n", encoding="utf-8")
        main(["fix", "n.md", "--no-cache", "--no-backup", "-q", "--ignore", "DM007"])  # DM007 lifts bylines
        return p.read_text(encoding="utf-8")

    return run


def test_the_separators_and_empty_link_go_with_the_thanks_for_reading(fixed):
    text = fixed(f"{BODY}\n\n* * *\n\nThanks for reading Example Letters! Subscribe for free to receive new posts "
                 f"and support my work.\n\n[](https://letters.example.com/p/x?utm_source=share)\n\n* * *\n\n"
                 f"[Like the Author](https://letters.example.com/like)")
    assert "Thanks for reading" not in text and "](https://letters" not in text and "* * *" not in text
    assert text.endswith("caption.\n")


def test_the_qr_code_and_separators_go_with_the_call_in_the_tail(fixed):
    text = fixed(f"{BODY}\n\n____\n\n长按识别二维码关注我们\n\n![](https://example.invalid/qr.png)\n\n▼")
    assert "二维码" not in text and "qr.png" not in text and "____" not in text and "▼" not in text
    assert text.endswith("caption.\n")


def test_the_articles_figures_around_a_call_stay(fixed):
    # the figure above the call is the article's; in the head, the image below it is the article's cover
    text = fixed(f"点击上方蓝字关注我们\n\n![cover](https://example.invalid/cover.png)\n\n{BODY}\n\n"
                 f"![figure](https://example.invalid/fig.png)\n\n长按识别二维码关注我们")
    assert "cover.png" in text and "fig.png" in text
    assert "点击上方蓝字" not in text and "长按识别二维码" not in text


def test_a_button_that_is_the_articles_link_stays_when_no_call_is_removed(fixed):
    text = fixed(f"{BODY}\n\n[Download](https://example.org/file.zip)")
    assert "[Download](https://example.org/file.zip)" in text


def test_an_image_that_text_follows_and_an_authors_link_stay(fixed):
    text = fixed(f"{BODY}\n\n- END -\n\n![credits](https://example.invalid/credits.png)\n\n作者：林晚 周小禾")
    assert "- END -" not in text and "credits.png" in text and "作者：林晚 周小禾" in text
    text = fixed(f"{BODY}\n\n长按识别二维码关注我们\n\n[Ada](https://example.org/authors/ada)")
    assert "二维码" not in text and "[Ada](https://example.org/authors/ada)" in text
