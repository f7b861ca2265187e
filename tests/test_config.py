"""Configuration files: discovery, validation, ``extend`` and rule options."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidymark.config import KEYS, ConfigError, ConfigResolver, Settings, apply_table, load_file
from tidymark.runner import RuleBook


def test_every_key_is_validated():
    good = {"select": ["FM"], "ignore": ["PB001"], "extend-select": ["PB"], "per-file-ignores": {"a/*": ["FM"]},
            "exclude": ["x/"], "extend-exclude": ["y/"], "unsafe-fixes": True, "unfixable": ["FM001"],
            "respect-gitignore": False, "max-file-size": 10, "rules": {"FM001": {"keep": "last"}},
            "severity": {"PB": "Warning"}, "fail-on": "error", "output-format": "sarif", "cache-dir": "/tmp/c",
            "max-removal": 0.5, "rule-packs": ["p.yaml"], "local-rules": ["r/"], "rule-timeout": 5}
    assert set(good) == set(KEYS), "a new config key needs a test value here and a README entry"
    s = apply_table(Settings(), good, "t.yaml")
    assert s.select == ("FM",) and s.ignore == ("PB001",) and s.extend_select == ("PB",)
    assert s.per_file_ignores == (("a/*", ("FM",)),)
    assert s.exclude == ("x/",) and s.extend_exclude == ("y/",)
    assert s.unsafe_fixes is True and s.respect_gitignore is False and s.max_file_size == 10
    assert s.unfixable == ("FM001",)
    assert s.rules == {"FM001": {"keep": "last"}}
    assert s.severity == {"PB": "warning"} and s.fail_on == "error" and s.output_format == "sarif"
    assert s.cache_dir == Path("/tmp/c") and s.max_removal == 0.5
    assert s.rule_packs == (Path.cwd() / "p.yaml",) or s.rule_packs[0].name == "p.yaml"
    assert s.local_rules[0].name == "r" and s.rule_timeout == 5
    bad = {"select": 1, "ignore": [1], "extend-select": {"a": 1}, "per-file-ignores": ["a"],
           "exclude": 3.5, "extend-exclude": None, "unsafe-fixes": "true", "unfixable": 7,
           "respect-gitignore": 1, "max-file-size": "big", "rules": {"FM001": "last"},
           "severity": {"PB": "fatal"}, "fail-on": "never", "output-format": "xml", "cache-dir": 3,
           "max-removal": 2, "rule-packs": 5, "local-rules": [3], "rule-timeout": "soon"}
    assert set(bad) == set(KEYS)
    for key, value in bad.items():
        with pytest.raises(ConfigError) as exc:
            apply_table(Settings(), {key: value}, "t.yaml")
        msg = str(exc.value)
        assert msg.startswith("t.yaml: ") and f"`{key}" in msg, msg


def test_comma_separated_string_is_a_list():
    s = apply_table(Settings(), {"select": "FM, PB001"}, "t")
    assert s.select == ("FM", "PB001")


def test_unknown_key_suggests_the_spelling():
    hint = r"t\.toml: unknown key `per_file_ignores` \(did you mean `per-file-ignores`\?\)"
    with pytest.raises(ConfigError, match=hint):
        apply_table(Settings(), {"per_file_ignores": {}}, "t.toml")


def find_config_file(folder):
    return ConfigResolver()._config_file(folder.resolve())  # a new resolver: nothing remembered


def test_yaml_beats_pyproject_in_the_same_folder(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.tidymark]\nselect = ['PB']\n", encoding="utf-8")
    assert find_config_file(tmp_path) == tmp_path / "pyproject.toml"
    (tmp_path / "tidymark.yaml").write_text("select: [FM]\n", encoding="utf-8")
    assert find_config_file(tmp_path) == tmp_path / "tidymark.yaml"
    (tmp_path / ".tidymark.yaml").write_text("select: [FM000]\n", encoding="utf-8")
    assert find_config_file(tmp_path) == tmp_path / ".tidymark.yaml"


def test_pyproject_without_table_is_skipped(tmp_path):
    (tmp_path / ".tidymark.yaml").write_text("select: [FM]\n", encoding="utf-8")
    sub = tmp_path / "pkg"
    sub.mkdir()
    (sub / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    assert find_config_file(sub) == tmp_path / ".tidymark.yaml"


def test_settings_by_folder_as_written_and_resolved(tmp_path, monkeypatch):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / ".tidymark.yaml").write_text("select: [FM]\n", encoding="utf-8")
    (tmp_path / "a" / "b" / "n.md").write_text("x\n", encoding="utf-8")
    (tmp_path / "link").symlink_to(tmp_path / "a" / "b")
    monkeypatch.chdir(tmp_path)
    r = ConfigResolver()
    s = r.for_path(Path("a/b/n.md"))
    assert s.select == ("FM",)
    assert r.for_path(Path("./a/b/n.md")) is s and r.for_path(Path("link/n.md")) is s
    assert r.for_path(tmp_path / "a" / "b" / "n.md") is s and r.for_dir(Path("a")) is s
    assert r.for_path(Path("other.md")).select is None


def test_nearest_config_wins_and_is_not_merged(tmp_path):
    (tmp_path / ".tidymark.yaml").write_text("select: [FM]\nunsafe-fixes: true\n", encoding="utf-8")
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    (tmp_path / "a" / "tidymark.yml").write_text("ignore: [PB001]\n", encoding="utf-8")
    r = ConfigResolver()
    top = r.for_dir(tmp_path)
    deep = r.for_dir(sub)
    assert top.select == ("FM",) and top.unsafe_fixes is True
    assert deep.source == (tmp_path / "a" / "tidymark.yml").resolve()
    assert deep.select is None and deep.unsafe_fixes is False and deep.ignore == ("PB001",)
    assert deep.root == (tmp_path / "a").resolve()
    assert r.for_path(sub / "note.md") is deep


def test_extend_layers_and_paths_are_relative_to_the_file(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "base.yaml").write_text("select: [FM]\nunsafe-fixes: true\nexclude: [x/]\n",
                                                   encoding="utf-8")
    (tmp_path / "site").mkdir()
    cfg = tmp_path / "site" / "pyproject.toml"
    cfg.write_text("[tool.tidymark]\nextend = '../shared/base.yaml'\nexclude = ['y/']\n", encoding="utf-8")
    s = load_file(cfg)
    assert s.select == ("FM",) and s.unsafe_fixes is True
    assert s.exclude == ("y/",)
    assert s.source == cfg.resolve() and s.root == cfg.parent.resolve()


def test_extend_cycle_is_an_error(tmp_path):
    (tmp_path / "a.yaml").write_text("extend: b.yaml\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("extend: a.yaml\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cycle"):
        load_file(tmp_path / "a.yaml")


def test_extend_must_be_a_string(tmp_path):
    (tmp_path / "a.yaml").write_text("extend: [b.yaml]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="`extend` must be a path string"):
        load_file(tmp_path / "a.yaml")


def test_empty_yaml_is_defaults(tmp_path):
    (tmp_path / ".tidymark.yaml").write_text("", encoding="utf-8")
    s = load_file(tmp_path / ".tidymark.yaml")
    assert s.select is None and s.ignore == () and s.source == (tmp_path / ".tidymark.yaml").resolve()


def test_explicit_pyproject_without_table_is_an_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"no \[tool\.tidymark\] table"):
        load_file(tmp_path / "pyproject.toml")


def test_cli_values_override_and_extend(tmp_path):
    (tmp_path / ".tidymark.yaml").write_text("select: [FM]\nignore: [FM001]\nextend-select: [PB]\n",
                                             encoding="utf-8")
    r = ConfigResolver(cli={"select": None, "ignore": ("FM002",), "extend_select": ("PB001",),
                            "unsafe_fixes": True, "respect_gitignore": None})
    s = r.for_dir(tmp_path)
    assert s.select == ("FM",)
    assert s.ignore == ("FM001", "FM002")
    assert s.extend_select == ("PB", "PB001")
    assert s.unsafe_fixes is True and s.respect_gitignore is True


def test_override_applies_everywhere(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".tidymark.yaml").write_text("select: [PB]\n", encoding="utf-8")
    (tmp_path / "only.yaml").write_text("select: [FM000]\n", encoding="utf-8")
    r = ConfigResolver(tmp_path / "only.yaml")
    assert r.for_dir(tmp_path / "sub").select == ("FM000",)


# -- rule selection and options through the RuleBook -----------------------------------

def codes(rules) -> list[str]:
    return [r.code for r in rules]


def test_default_selection_is_every_enabled_builtin():
    from tidymark.registry import builtin_rules

    book = RuleBook()
    expected = sorted(i.cls.code for i in builtin_rules() if i.cls.enabled_by_default)
    assert codes(book.rules_for(Settings())) == expected


def test_selection_specificity():
    book = RuleBook()
    assert codes(book.rules_for(Settings(select=("FM",), ignore=("FM001",)))) == ["FM000", "FM002", "FM003"]
    assert codes(book.rules_for(Settings(select=("FM0",)))) == ["FM000", "FM001", "FM002", "FM003"]
    assert codes(book.rules_for(Settings(select=("PB",), extend_select=("FM002",)))) == ["FM002", "PB001"]
    assert codes(book.rules_for(Settings(ignore=("FM",), extend_select=("FM001",), select=("FM", "PB")))) \
        == ["FM001", "PB001"]
    assert codes(book.rules_for(Settings(select=("duplicate-key",)))) == ["FM001"]
    assert codes(book.rules_for(Settings(select=("ALL",), ignore=("ALL",)))) == []


@pytest.mark.parametrize("key", ["select", "ignore", "extend_select", "unfixable"])
def test_unknown_selector_is_a_config_error(key):
    s = Settings(source=Path("/x/tidymark.yaml"), **{key: ("QQ1",)})
    with pytest.raises(ConfigError, match=rf"/x/tidymark\.yaml: `{key.replace('_', '-')}` names unknown rule"):
        RuleBook().rules_for(s)


def test_rule_options_by_code_or_name_are_parsed():
    book = RuleBook()
    rules = {r.code: r for r in book.rules_for(Settings(rules={"duplicate-key": {"keep": "last"},
                                                               "fm002": {"keys": ["title", "headline"]}}))}
    assert rules["FM001"].options.keep == "last"
    assert rules["FM002"].options.keys == ("title", "headline")


@pytest.mark.parametrize(("options", "message"), [
    ({"FM001": {"keep": 1}}, "option 'keep' of rule FM001 must be one of"),
    ({"FM001": {"kep": "first"}}, "unknown option 'kep' for rule FM001 (duplicate-key) (did you mean `keep`?); expected one of: keep"),
    ({"FM000": {"anything": 1}}, "rule FM000 (invalid-front-matter) takes no options"),
    ({"PB001": {"draft-keys": "draft"}}, "option 'draft-keys' of rule PB001 must be a list"),
    ({"PB001": {"draft-keys": [1]}}, "option 'draft-keys' of rule PB001 must be a string"),
    ({"NOPE1": {}}, "`rules.NOPE1` names no known rule"),
])
def test_bad_rule_options_are_config_errors(options, message):
    s = Settings(source=Path("/cfg/pyproject.toml"), rules=options)
    with pytest.raises(ConfigError) as exc:
        RuleBook().rules_for(s)
    assert str(exc.value).startswith("/cfg/pyproject.toml: "), str(exc.value)
    assert message in str(exc.value)
