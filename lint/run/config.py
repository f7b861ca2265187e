"""Configuration: ``[tool.tidymark]`` in pyproject.toml, or ``.tidymark.yaml`` / ``tidymark.yaml``.

The nearest configuration file above each checked file wins (files are not merged
implicitly; ``extend = "../base.yaml"`` layers one on another explicitly).  In one
directory the YAML files beat pyproject.toml.  ``--config FILE`` overrides discovery.
Every key and every rule option is validated; a mistake is a :class:`ConfigError` naming
the file, the key and what was expected (exit code 2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tidymark.rule import did_you_mean

CONFIG_NAMES = (".tidymark.yaml", ".tidymark.yml", "tidymark.yaml", "tidymark.yml")
DEFAULT_EXCLUDE = (".git", ".hg", ".svn", ".obsidian", ".trash", "node_modules", "__pycache__",
                   ".venv", "venv", ".tox", ".mypy_cache", ".pytest_cache", ".tidymark_cache")
DEFAULT_MAX_FILE_SIZE = 10 * 1024 * 1024
MAX_CONFIG_BYTES = 16 * 1024 * 1024  # a configuration file, an extended one, a rule pack, a local rule file


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Settings:
    """The resolved configuration for the files under one config file."""

    source: Path | None = None          # the file it came from (None: defaults)
    root: Path = field(default_factory=Path.cwd)  # patterns are relative to this folder
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = ()
    extend_exclude: tuple[str, ...] = ()
    unsafe_fixes: bool = False
    unfixable: tuple[str, ...] = ()
    respect_gitignore: bool = True
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    severity: dict[str, str] = field(default_factory=dict)
    fail_on: str = "info"
    output_format: str | None = None
    cache_dir: Path | None = None
    max_removal: float = 0.30
    rule_timeout: float = 10.0   # seconds one rule may take on one file (0: no limit)
    rule_packs: tuple[Path, ...] = ()
    local_rules: tuple[Path, ...] = ()

    def describe(self) -> str:
        return str(self.source) if self.source else "defaults (no configuration file found)"


def _strs(value: Any, where: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: `{key}` must be a list of strings, got {value!r}")
    return tuple(value)


def _bool(value: Any, where: str, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: `{key}` must be true or false, got {value!r}")
    return value


def _int(value: Any, where: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{where}: `{key}` must be a positive integer, got {value!r}")
    return value


def _per_file(value: Any, where: str, key: str):
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: `{key}` must be a table of glob pattern -> list of codes, got {value!r}")
    return tuple((str(k), _strs(v, where, f"{key}.{k}")) for k, v in value.items())


def _rules(value: Any, where: str, key: str):
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ConfigError(f"{where}: `{key}` must be a table of rule code or name -> option table, got {value!r}")
    return {str(k): dict(v) for k, v in value.items()}


def _severity(value: Any, where: str, key: str):
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: `{key}` must be a table of rule code, prefix or name -> error|warning|info")
    out = {}
    for k, v in value.items():
        if not isinstance(v, str) or v.strip().lower() not in ("error", "warning", "info"):
            raise ConfigError(f"{where}: `{key}.{k}` must be error, warning or info, got {v!r}")
        out[str(k)] = v.strip().lower()
    return out


def _level(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str) or value.strip().lower() not in ("error", "warning", "info"):
        raise ConfigError(f"{where}: `{key}` must be error, warning or info, got {value!r}")
    return value.strip().lower()


def _format(value: Any, where: str, key: str) -> str:
    allowed = ("text", "concise", "json", "sarif", "github", "junit", "gitlab")
    if value not in allowed:
        raise ConfigError(f"{where}: `{key}` must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _fraction(value: Any, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"{where}: `{key}` must be a number from 0 to 1 (a share of the body), got {value!r}")
    return float(value)


def _seconds(value: Any, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 86400:
        raise ConfigError(f"{where}: `{key}` must be a number of seconds (0 for no limit), got {value!r}")
    return float(value)


def _path(value: Any, where: str, key: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: `{key}` must be a path string, got {value!r}")
    return Path(value)


KEYS = {
    "select": ("select", lambda v, w, k: _strs(v, w, k)),
    "ignore": ("ignore", _strs),
    "extend-select": ("extend_select", _strs),
    "per-file-ignores": ("per_file_ignores", _per_file),
    "exclude": ("exclude", _strs),
    "extend-exclude": ("extend_exclude", _strs),
    "unsafe-fixes": ("unsafe_fixes", _bool),
    "unfixable": ("unfixable", _strs),
    "respect-gitignore": ("respect_gitignore", _bool),
    "max-file-size": ("max_file_size", _int),
    "rules": ("rules", _rules),
    "severity": ("severity", _severity),
    "fail-on": ("fail_on", _level),
    "output-format": ("output_format", _format),
    "cache-dir": ("cache_dir", _path),
    "max-removal": ("max_removal", _fraction),
    "rule-timeout": ("rule_timeout", _seconds),
    "rule-packs": ("rule_packs", lambda v, w, k: tuple(Path(p) for p in _strs(v, w, k))),
    "local-rules": ("local_rules", lambda v, w, k: tuple(Path(p) for p in _strs(v, w, k))),
}


def _kind(mode: int) -> str:
    import stat

    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def check_input(st: os.stat_result, limit: int) -> None:
    """Raise OSError (its message for the user) unless ``st`` is a regular file within ``limit`` bytes."""
    import stat

    if not stat.S_ISREG(st.st_mode):
        raise OSError(f"not a regular file ({_kind(st.st_mode)})")
    if st.st_size > limit:
        raise OSError(f"the file is {st.st_size:,} bytes, over the {limit:,}-byte limit")


def read_input(path: Path, limit: int | None = None) -> bytes:
    """The bytes of a file read as configuration (a configuration file, a rule pack, a
    baseline): only a regular file, and at most ``limit`` bytes of it.  A FIFO would block
    forever and a device such as ``/dev/zero`` never ends; such inputs, and larger files,
    raise OSError with a message for the user (as does a file that cannot be read).
    ``limit`` defaults to :data:`MAX_CONFIG_BYTES`."""
    limit = MAX_CONFIG_BYTES if limit is None else limit
    check_input(os.stat(path), limit)  # before opening: opening a FIFO blocks
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)  # non-blocking: a FIFO put there meanwhile does not block the open
    with os.fdopen(fd, "rb") as fh:
        check_input(os.fstat(fh.fileno()), limit)
        data = fh.read(limit + 1)
    if len(data) > limit:  # the file grew while it was read
        raise OSError(f"the file is over the {limit:,}-byte limit")
    return data


def settings_table(settings: Settings) -> dict[str, Any]:
    """``settings`` as a configuration table, with the keys of a configuration file (unset
    keys left out); :func:`apply_table` reads it back to the same settings."""
    out: dict[str, Any] = {}
    for key, (attr, _) in KEYS.items():
        value = getattr(settings, attr)
        if value is None:
            continue
        if attr == "per_file_ignores":
            value = {pattern: list(codes) for pattern, codes in value}
        elif isinstance(value, tuple):
            value = [str(v) if isinstance(v, Path) else v for v in value]
        elif isinstance(value, Path):
            value = str(value)
        out[key] = value
    return out


def _read_table(path: Path) -> dict | None:
    """The tidymark table of a config file, or None when a pyproject has none."""
    try:
        raw = read_input(path).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from None
    if path.name == "pyproject.toml":
        import tomllib  # only for a pyproject.toml (YAML configuration files are the usual case)

        try:
            data = tomllib.loads(raw)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        table = data.get("tool", {}).get("tidymark")
        if table is None:
            return None
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [tool.tidymark] must be a table")
        return table
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        data = YAML(typ="safe", pure=True).load(raw)
    except YAMLError as exc:
        raise ConfigError(f"{path}: {_yaml_problem(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the configuration must be a mapping of keys to values")
    return data


def _yaml_problem(exc: Exception) -> str:
    """A YAML error as a person reads it: where (line and column, 1-based) and what is
    wrong, without the parser's stream names and context."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None)
    if not problem:
        lines = [l for l in str(exc).splitlines() if l.strip() and not l.lstrip().startswith("in \"")]
        problem = lines[0].strip() if lines else type(exc).__name__
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context != problem and start is not None and start is not mark:
        problem += f" ({context} that starts at line {start.line + 1}, column {start.column + 1})"
    return f"invalid YAML: {where}{problem}"


def load_file(path: Path, _seen: tuple[Path, ...] = ()) -> Settings:
    path = path.resolve()
    if path in _seen:
        raise ConfigError(f"{path}: `extend` forms a cycle")
    table = _read_table(path)
    if table is None:
        raise ConfigError(f"{path}: no [tool.tidymark] table")
    base = Settings(source=path, root=path.parent)
    if "extend" in table:
        ext = table["extend"]
        if not isinstance(ext, str):
            raise ConfigError(f"{path}: `extend` must be a path string, got {ext!r}")
        target = path.parent / ext
        if not target.exists():  # anything else that is not a regular file is refused when it is read
            raise ConfigError(f"{path}: `extend` names {ext}, which does not exist ({target.resolve()})")
        parent = load_file(target, _seen + (path,))
        base = replace(parent, source=path, root=path.parent)
    return apply_table(base, table, str(path))


def apply_table(base: Settings, table: dict, where: str) -> Settings:
    updates = {}
    for key, value in table.items():
        if key == "extend":
            continue
        if key not in KEYS:
            close = [k for k in KEYS if k.replace("-", "") == str(key).replace("_", "").replace("-", "")]
            hint = f" (did you mean `{close[0]}`?)" if close else did_you_mean(str(key).replace("_", "-"),
                                                                              [*KEYS, "extend"])
            raise ConfigError(f"{where}: unknown key `{key}`{hint}; expected one of: {', '.join(sorted(KEYS))}")
        attr, conv = KEYS[key]
        updates[attr] = conv(value, where, key)
    if "cache_dir" in updates and not updates["cache_dir"].is_absolute():
        updates["cache_dir"] = base.root / updates["cache_dir"]
    for key in ("rule_packs", "local_rules"):  # relative to the configuration file
        if key in updates:
            updates[key] = tuple(p if p.is_absolute() else base.root / p for p in updates[key])
    return replace(base, **updates)


def _present(path: Path) -> bool:
    """Is there a configuration file at ``path``?  Anything but a folder counts (a FIFO or a
    device is then refused when read, not passed over in silence).  Raises OSError when the
    folder cannot be searched (no permission)."""
    import stat

    try:
        return not stat.S_ISDIR(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        import errno

        if exc.errno in (errno.ELOOP, errno.EBADF):  # as Path.is_file: a symlink loop is no file
            return False
        raise


class ConfigResolver:
    """Settings per directory, cached; ``override`` (``--config``) applies everywhere."""

    def __init__(self, override: Path | None = None, cli: dict | None = None):
        self._cache: dict[Path, Settings] = {}
        self._given: dict[str, Settings] = {}       # by the folder as written (no resolving)
        self._nearest: dict[Path, Path | None] = {}  # folder -> its configuration file
        self._files: dict[Path, Settings] = {}
        self.cli = cli or {}
        self.override = load_file(override) if override is not None else None

    def _with_cli(self, s: Settings) -> Settings:
        upd = {k: v for k, v in self.cli.items() if v is not None}
        if "extend_select" in upd:
            upd["extend_select"] = s.extend_select + tuple(upd["extend_select"])
        if "ignore" in upd:
            upd["ignore"] = s.ignore + tuple(upd["ignore"])
        return replace(s, **upd) if upd else s

    def _config_file(self, folder: Path) -> Path | None:
        """The nearest configuration file at or above a resolved folder (every folder on the way
        up is remembered: a walk over a tree looks at each folder once)."""
        if folder in self._nearest:
            return self._nearest[folder]
        found = None
        for name in CONFIG_NAMES:
            if _present(folder / name):
                found = folder / name
                break
        else:
            pp = folder / "pyproject.toml"
            if _present(pp) and _read_table(pp) is not None:
                found = pp
            elif folder.parent != folder:
                found = self._config_file(folder.parent)
        self._nearest[folder] = found
        return found

    def for_dir(self, directory: Path) -> Settings:
        given = os.fspath(directory)
        hit = self._given.get(given)
        if hit is not None:
            return hit
        directory = directory.resolve()
        hit = self._cache.get(directory)
        if hit is not None:
            self._given[given] = hit
            return hit
        if self.override is not None:
            s = self.override
        else:
            f = self._config_file(directory)
            if f is None:
                s = Settings(root=Path.cwd())
            else:
                s = self._files.get(f)
                if s is None:
                    s = self._files[f] = load_file(f)
        s = self._with_cli(s)
        self._cache[directory] = self._given[given] = s
        return s

    def for_path(self, path: Path) -> Settings:
        if not path.is_dir():
            return self.for_file(path)
        return self.for_dir(path)

    def for_file(self, path: Path) -> Settings:
        """The settings of a path known not to be a folder (as the walk yields them): its
        folder's, without asking the file system what the path is."""
        hit = self._given.get(os.path.dirname(os.fspath(path)) or ".")
        if hit is not None:
            return hit
        return self.for_dir(path.parent)
