"""Lifting facts from the body into the front matter (DM007, tidymark.lift).

The central property: a line the default fix removes has every one of its facts in the front
matter afterwards; a line whose facts cannot land there stays.
"""

import datetime as dt
import subprocess
import sys

import pytest
import yaml

from tidymark.config import Settings
from tidymark.diagnostics import Applicability
from tidymark.document import Document
from tidymark.engine import check_document, fix_document
from tidymark.lift import Date, clean_url, parse_date, same_day
from tidymark.registry import builtin_rules
from tidymark.rules.dm007_lift_metadata import LiftMetadata
from tidymark.runner import RuleBook

RULES = RuleBook().rules_for(Settings())


def _rule(code):
    return next(i.cls for i in builtin_rules() if i.cls.code == code)()


# One note per kind of fact-bearing line (our own text, structured like the clippers' output).
NOTES = {
    "omnivore_tag_block_list": "---\ntitle: Rivers\ntags:\n  - RSS\ndate_published: 2024-07-03 17:01:04\n---\n\n"
                               "#Omnivore\n\n[Read Original](https://example.org/rivers?utm_source=rss)\n\nRivers run.\n",
    "omnivore_wechat_byline": "---\nurl: https://mp.weixin.qq.com/s/AbCdEf\ntitle: |\n  标题\nauthor: |\n  甲乙\n"
                              "date: 2023-12-03 13:14:22\ntags:\n  - 兴趣/工具\n---\n\n#Omnivore\n\n"
                              "原创 甲乙  甲乙笔记 _2023-12-02 17:55_ _发表于湖北_ \n\n正文第一段。\n",
    "webclipper_wechat_byline": "---\ntitle: \"标题\"\nsource: \"https://mp.weixin.qq.com/s/XyZ\"\nauthor:\n"
                                "  - \"[[丙丁]]\"\npublished:\ncreated: 2026-02-09\ntags:\n  - \"AI\"\n---\n\n"
                                "Original 丙丁 [戊己号](https://mp.weixin.qq.com/s/) *2026年1月10日 13:42*\n\n正文。\n",
    "wechat_export_without_front_matter": "##  一次审计\n\n原创 someone  [ 某某实验室 ](javascript:void\\(0\\);)\n\n"
                                          "收录于话题\n\n#代码审计\n\n5个\n\n# 0x00 背景\n\n正文。\n",
    "wechat_repost_card": "---\ntitle: T\n---\n\n以下文章来源于某某中心 ，作者某某\n\n正文。\n",
    "source_label_line": "---\ntitle: T\n---\n\n原文链接：https://example.com/p?id=7&utm_medium=x\n\n正文。\n",
    "source_markdown_link": "---\ntitle: T\n---\n\nSource: [here](https://example.com/essay?fbclid=Zz)\n\nText.\n",
    "originally_published": "---\ntitle: T\n---\n\nText.\n\nOriginally published at https://blog.example.net/post/9\n",
    "english_byline": "---\ntitle: T\nurl: https://example.com/t\n---\n\nBy Ana Ruiz · March 3, 2024\n\nText.\n",
    "substack_toml": "+++\ntitle = \"Battle\"\ndate = \"2024-11-09\"\n+++\n\n# Battle\n\n"
                     "[Ratna Sadas](https://substack.com/@sadas)\n\n<div class=\"x\">\n\nMar 14, 2023\n\n56\n\nText.\n",
    "readwise_metadata": "---\ntags: [articles]\n---\n# Norm notes\n\n## Metadata\n- Author: [[Jo Ann]]\n"
                         "- Full Title: The Norm\n- Category: #articles\n- Summary: About norms.\n"
                         "- URL: https://example.com/norm/?fbclid=Iw\n\n## Highlights\n- One.\n",
}


def _fm_values(text: str) -> dict:
    doc = Document(text)
    fm = doc.front_matter
    assert fm is None or fm.error is None, fm.error
    return dict(fm.values) if fm is not None else {}


def _flat(values: dict) -> list:
    out = []
    for v in values.values():
        out.extend(v if isinstance(v, list) else [v])
    return out


def _fact_held(fact, value, values: dict) -> bool:
    flat = _flat(values)
    if isinstance(value, Date):
        for v in flat:
            if isinstance(v, (dt.date, dt.datetime, str)) and same_day(v, value):
                if value.time is None or not isinstance(v, dt.datetime) or \
                        (v.hour, v.minute) == (value.time.hour, value.time.minute):
                    return True
        return False
    texts = {str(v).strip().strip("[]") for v in flat}
    return str(value).strip().strip("[]") in texts


@pytest.mark.parametrize("name", sorted(NOTES))
def test_every_fact_of_a_removed_line_is_in_the_front_matter(name):
    src = NOTES[name]
    doc = Document(src)
    items = LiftMetadata()._items(doc)
    assert items, f"{name}: the fixture holds no fact-bearing line"
    out = fix_document(Document(src), RULES, Applicability.SAFE)
    assert not out.problems, [p.message for p in out.problems]
    after = _fm_values(out.text)
    kept_lines = set(out.text.splitlines())
    lifted = 0
    for item in items:
        gone = all(doc.lines.line_text(k) not in kept_lines for k in item.lines if doc.lines.line_text(k).strip())
        if not gone:
            continue
        lifted += 1
        for fact, value in item.facts.values.items():
            assert _fact_held(fact, value, after), f"{name}: {fact} {value!r} lost; front matter {after}"
        for tag in item.facts.tags:
            assert tag in [str(t) for t in (after.get("tags") or [])], f"{name}: tag {tag} lost"
    assert lifted, f"{name}: nothing was lifted"
    # fixing again changes nothing
    again = fix_document(Document(out.text), RULES, Applicability.SAFE)
    assert again.text == out.text


def test_untouched_front_matter_lines_stay_byte_identical():
    src = ("---\n# a comment\ntitle: 'Quoted'   # trailing\ntags:\n  - 'RSS'\nextra: \"x\"\n---\n\n"
           "#Omnivore\n\nText.\n")
    out = fix_document(Document(src), RULES, Applicability.SAFE).text
    assert out.startswith("---\n# a comment\ntitle: 'Quoted'   # trailing\ntags:\n  - 'RSS'\n  - 'Omnivore'\n"
                          "extra: \"x\"\n---\n")
    assert yaml.safe_load(out.split("---\n")[1])["tags"] == ["RSS", "Omnivore"]


def test_tag_already_in_the_list_is_not_repeated():
    src = "---\ntags: [omnivore, x]\n---\n\n#Omnivore\n\nText.\n"
    out = fix_document(Document(src), RULES, Applicability.SAFE).text
    assert out == "---\ntags: [omnivore, x]\n---\n\nText.\n"


def test_different_value_keeps_the_line_and_offers_no_fix():
    src = "---\nauthor: Someone Else\npublished: 2020-01-01\n---\n\n原创 甲 乙号 _2023-12-02 17:55_\n\nText.\n"
    diags = [d for d in check_document(Document(src), [_rule("DM007")])]
    assert len(diags) == 1 and diags[0].fix is None
    assert "differently" in diags[0].message
    out = fix_document(Document(src), RULES, Applicability.UNSAFE).text
    assert "原创 甲 乙号 _2023-12-02 17:55_" in out


def test_front_matter_that_does_not_parse_is_never_edited():
    src = "---\ntitle: [unclosed\n---\n\n#Omnivore\n\nText.\n"
    assert not [d for d in check_document(Document(src), [_rule("DM007")]) if d.fix is not None]


def test_dm003_alone_no_longer_deletes_the_tag_line_or_the_byline():
    src = "---\ntitle: T\n---\n\n#Omnivore\n\n原创 甲 乙号 _2023-12-02 17:55_\n\nText.\n"
    out = fix_document(Document(src), [_rule("DM003")], Applicability.SAFE).text
    assert out == src


def test_dm004_moves_a_cleaned_url():
    src = ("---\ntitle: T\n---\n\n[Read Original](https://mp.weixin.qq.com/s?__biz=MzA%3D%3D&mid=1&idx=2&sn=ab"
           "&chksm=zz&scene=21&pass_ticket=PT&sessionid=9&exportkey=EK#rd)\n\nText.\n")
    out = fix_document(Document(src), [_rule("DM004")], Applicability.SAFE).text
    assert "url: https://mp.weixin.qq.com/s?__biz=MzA%3D%3D&mid=1&idx=2&sn=ab\n" in out
    assert "pass_ticket" not in out and "Read Original" not in out


@pytest.mark.parametrize(("url", "clean"), [
    ("https://example.com/a?utm_source=x&utm_medium=y", "https://example.com/a"),
    ("https://example.com/a?id=3&fbclid=Iw&gclid=9#part", "https://example.com/a?id=3#part"),
    ("https://example.com/a?id=3&lang=en", "https://example.com/a?id=3&lang=en"),
    ("https://mp.weixin.qq.com/s?__biz=MzI%3D&mid=22&idx=1&sn=abc&chksm=c&scene=21&pass_ticket=p#rd",
     "https://mp.weixin.qq.com/s?__biz=MzI%3D&mid=22&idx=1&sn=abc"),
    ("https://mp.weixin.qq.com/s/AbC?scene=1&mpshare=1&sharer_shareinfo=x", "https://mp.weixin.qq.com/s/AbC"),
    ("https://example.com/plain", "https://example.com/plain"),
])
def test_clean_url(url, clean):
    assert clean_url(url) == clean


@pytest.mark.parametrize("url", ["https://omnivore.app/no_url?q=1", "http://localhost:4000/p", "about:blank"])
def test_placeholders_are_never_lifted(url):
    src = f"---\ntitle: T\n---\n\nSource: [here]({url})\n\n原文链接：{url}\n\nText.\n"
    out = fix_document(Document(src), [_rule("DM007")], Applicability.SAFE).text
    assert out == src


@pytest.mark.parametrize(("text", "iso"), [
    ("2024-04-09 22:10", "2024-04-09T22:10:00+08:00"),
    ("2026年1月10日 13:42", "2026-01-10T13:42:00+08:00"),
    ("2025年08月05日", "2025-08-05"),
    ("2026 年 7 月 25 日", "2026-07-25"),
    ("Mar 3, 2024", "2024-03-03"),
    ("March 3, 2024", "2024-03-03"),
    ("3 March 2024", "2024-03-03"),
    ("2024-03-03T10:00:00Z", "2024-03-03T10:00:00Z"),
])
def test_parse_date(text, iso):
    assert parse_date(text, "+08:00").iso() == iso


@pytest.mark.parametrize("text", ["Marching 3, 2024", "2024-13-01", "3 Mayday 2024", "about 2024"])
def test_parse_date_refuses(text):
    assert parse_date(text) is None


def test_fix_twice_equals_once_from_the_command_line(tmp_path):
    for name, text in NOTES.items():
        (tmp_path / f"{name}.md").write_text(text, encoding="utf-8")
    cmd = [sys.executable, "-m", "tidymark", "fix", "--no-cache", "--no-backup", "-q", str(tmp_path)]
    subprocess.run(cmd, capture_output=True, text=True)
    once = {p.name: p.read_bytes() for p in tmp_path.glob("*.md")}
    subprocess.run(cmd, capture_output=True, text=True)
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.md")} == once
    for name, data in once.items():
        text = data.decode()
        assert text != NOTES[name[:-3]], name
        if text.startswith("---"):
            yaml.safe_load(text.split("---", 2)[1])


def test_readwise_title_the_heading_states_keeps_its_line():
    src = ("# The Norm\n\n## Metadata\n- Author: [[Jo Ann]]\n- Full Title: The Norm\n- URL: https://example.com/n\n\n"
           "## Highlights\n- One.\n")
    out = fix_document(Document(src), RULES, Applicability.SAFE).text
    assert "- Full Title: The Norm" in out and "# The Norm\n" in out
    assert _fm_values(out) == {"source": "https://example.com/n", "author": "[[Jo Ann]]"}


# -- combinations: every front-matter shape with every kind of line ------------------------

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

FRONT = ["", "---\n---\n", "---\ntitle: T\n---\n", "---\ntags: [a, 'b']\nurl: https://example.com/x\n---\n",
         "---\ntags:\n  - \"a\"\nauthor:\n  - \"[[X]]\"\npublished:\n---\n", "---\ntags: solo\n---\n",
         "---\r\ntitle: T\r\ntags:\r\n  - a\r\n---\r\n", "+++\ntitle = \"T\"\ntags = [\"a\"]\n+++\n",
         "---\n# only a comment\n---\n", "---\ndate_saved: 2024-01-01\nsource: 公众号\n---\n"]
LINES = ["#Omnivore", "[[Omnivore]]", "原创 甲 乙号 _2023-12-02 17:55_ _发表于湖北_", "乙号 _2023-12-02 17:55_",
         "Original 甲 [乙号](https://mp.weixin.qq.com/s/) *2026年1月10日 13:42*",
         "原创 甲  [ 乙号 ](javascript:void\\(0\\);)", "以下文章来源于丙号 ，作者丁", "原文链接：https://example.com/a?utm_source=x",
         "Source: [here](https://example.com/b)", "By Ana Ruiz · Mar 3, 2024", "作者：林岚",
         "[Ann Lee](https://substack.com/@ann)", "Mar 3, 2024", "Rivers carve valleys.", "```\n#Omnivore\n```",
         "<!-- #Omnivore -->", "收录于话题", "#话题", "3个", "## Metadata\n- Author: [[Y]]\n- URL: https://example.com/r"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(front=st.sampled_from(FRONT), body=st.lists(st.sampled_from(LINES), min_size=1, max_size=6),
       sep=st.sampled_from(["\n\n", "\n"]))
@example(front="", body=["## Metadata\n- Author: [[Y]]\n- URL: https://example.com/r", "#Omnivore",
                         "## Metadata\n- Author: [[Y]]\n- URL: https://example.com/r"], sep="\n")
def test_lifting_is_lossless_and_idempotent_in_any_combination(front, body, sep):
    nl = "\r\n" if "\r\n" in front else "\n"
    text = front + (nl if front else "") + sep.join(body).replace("\n", nl) + nl
    doc = Document(text)
    items = LiftMetadata()._items(doc) if doc.front_matter is None or doc.front_matter.error is None else []
    out = fix_document(Document(text), RULES, Applicability.SAFE)
    if out.problems and all("changed the structure" in p.message for p in out.problems):
        # lines run together so that a removal would change how a neighbour parses (a lazy list
        # continuation): the structure guard refuses the whole file, which stays as it was
        assert out.text == text and not out.applied
        return
    assert not out.problems, [p.message for p in out.problems]
    again = fix_document(Document(out.text), RULES, Applicability.SAFE)
    assert again.text == out.text
    new = Document(out.text)
    if new.front_matter is not None:
        assert new.front_matter.error is None, new.front_matter.error
    after = dict(new.front_matter.values) if new.front_matter is not None else {}
    remaining = out.text.replace("\r\n", "\n")
    for item in items:
        if any(doc.lines.line_text(k) in remaining.split("\n") for k in item.lines):
            continue  # (a line of) the item stayed: nothing to prove
        for fact, value in item.facts.values.items():
            assert _fact_held(fact, value, after) or fact == "title", (fact, value, out.text)
        for tag in item.facts.tags:
            assert tag in [str(t) for t in (after.get("tags") or [])], (tag, out.text)
