"""Which files to check: explicit paths always, directories walked for Markdown files.

Directories are walked for ``*.md`` and ``*.markdown``, honouring ``.gitignore`` files
(via pathspec, git's own wildmatch semantics), the configured ``exclude`` patterns, and
skipping ``.git``, ``.obsidian``, ``node_modules`` and hidden folders unless a folder is
named explicitly.  Directory symlinks are not followed; file symlinks are followed only
when they point inside the tree being walked.  The result is sorted and de-duplicated.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Callable, Iterator


from tidymark.run.config import DEFAULT_EXCLUDE, Settings

MARKDOWN_SUFFIXES = (".md", ".markdown")


def _spec(lines: list[str]) -> pathspec.PathSpec:
    import pathspec  # only when a folder is walked or a pattern is matched: not for `--version`

    return pathspec.GitIgnoreSpec.from_lines(lines)


def _git_root(start: Path) -> Path | None:
    for d in (start, *start.parents):
        if (d / ".git").exists():
            return d
    return None


class Walker:
    def __init__(self, settings_for: Callable[[Path], Settings]):
        self.settings_for = settings_for
        self._ignores: dict[Path, pathspec.PathSpec | None] = {}
        self._exclude: dict[int, tuple] = {}
        self._chains: dict[tuple[Path, Path], list] = {}
        self._roots: dict[Path, Path] = {}

    def _gitignore(self, d: Path) -> pathspec.PathSpec | None:
        if d not in self._ignores:
            f = d / ".gitignore"
            spec = None
            if f.is_file():
                try:
                    spec = _spec(f.read_text(encoding="utf-8", errors="replace").splitlines())
                except OSError:
                    spec = None
            self._ignores[d] = spec
        return self._ignores[d]

    def _exclude_spec(self, settings: Settings):
        """The settings' exclude patterns as one spec (None when there are none)."""
        key = id(settings)
        if key not in self._exclude:
            patterns = list(settings.exclude) + list(settings.extend_exclude)
            self._exclude[key] = (_spec(patterns) if patterns else None, settings.root.resolve())
        return self._exclude[key]

    def _excluded(self, path: Path, settings: Settings, is_dir: bool) -> bool:
        """Is ``path`` (a symlink: matched by where it leads) excluded by the settings?"""
        spec, root = self._exclude_spec(settings)
        if spec is None:
            return False
        try:
            rel = path.resolve().relative_to(root).as_posix()
        except ValueError:
            rel = path.as_posix()
        return spec.match_file(rel + ("/" if is_dir else ""))

    def _gitignore_chain(self, parent: Path, top: Path) -> list[tuple[Path, "pathspec.PathSpec"]]:
        """The .gitignore specs that have a say in ``parent``, nearest first, up to the
        repository root (or the walk root).  Both are resolved paths: a relative path's
        lexical parents (``../other`` → ``..`` → ``.``) would lead into the folder the run
        started from, whose repository has no say outside it."""
        key = (parent, top)
        chain = self._chains.get(key)
        if chain is None:
            root = self._roots.get(top)
            if root is None:
                root = self._roots[top] = _git_root(top) or top
            chain = []
            for d in (parent, *parent.parents):
                spec = self._gitignore(d)
                if spec is not None:
                    chain.append((d, spec))
                if d == root:
                    break
            self._chains[key] = chain
        return chain

    def walk(self, paths: list[Path]) -> Iterator[tuple[Path, str | None]]:
        """Yield (path, problem) pairs: problem is a message for a path that cannot be walked."""
        seen: set[str] = set()  # resolved paths, as strings (hashing a Path costs ten times more)
        out: list[tuple[Path, str | None]] = []
        for given in paths:
            try:
                if not given.exists() and not given.is_symlink():
                    out.append((given, "no such file or directory"))
                    continue
                if not given.is_dir():  # files, and FIFOs/devices/broken links (reported when read)
                    key = str(given.resolve() if given.exists() else given)
                    if key not in seen:
                        seen.add(key)
                        out.append((given, None))
                    continue
            except OSError as exc:  # a folder on the way that cannot be searched (no permission)
                out.append((given, f"cannot read: {exc.strerror or exc}"))
                continue
            out.extend(self._walk_dir(given, seen))
        out.sort(key=lambda p: str(p[0]))
        yield from out

    def _walk_dir(self, top: Path, seen: set[str]) -> list[tuple[Path, str | None]]:
        """The Markdown files under ``top``, with a problem for each folder that cannot be
        read.  One ``scandir`` per folder: whether an entry is a symlink comes with it, and
        the exclude and .gitignore matching uses each folder's relative paths computed once
        (a walk of thousands of notes makes no system call and no path arithmetic per file
        beyond the name)."""
        found: list[tuple[Path, str | None]] = []
        real_top = top.resolve()
        pending = [(top, real_top)]
        while pending:
            d, real_d = pending.pop()
            try:
                with os.scandir(d) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                found.append((d, f"cannot read folder: {exc.strerror or exc}"))
                continue
            real_d_str = str(real_d)
            try:  # a folder that can be listed but not searched (mode 600): its files cannot be read
                settings = self.settings_for(d)  # (looks for d's configuration file)
                excluded = self._excluder(d, real_d, settings)
                ignored = self._git_matcher(real_d, real_top) if settings.respect_gitignore else None
            except OSError as exc:
                found.append((d, f"cannot read folder: {exc.strerror or exc}"))
                continue
            subdirs = []
            for entry in entries:
                name = entry.name
                link = entry.is_symlink()
                try:
                    is_dir = not link and entry.is_dir()
                except OSError:
                    is_dir = False
                if is_dir:
                    if name in DEFAULT_EXCLUDE or name.startswith("."):
                        continue
                    if excluded(name, True) or (ignored is not None and ignored(name, True)):
                        continue
                    subdirs.append((d / name, real_d / name))
                    continue
                if not name.lower().endswith(MARKDOWN_SUFFIXES) or (link and self._is_dir_link(entry)):
                    continue
                f = d / name
                if link:
                    try:
                        target = f.resolve(strict=True)
                    except RuntimeError:
                        found.append((f, "symlink loop: the link leads back to itself"))
                        continue
                    except OSError as exc:
                        found.append((f, "symlink loop: the link leads back to itself" if exc.errno == errno.ELOOP
                                      else "broken symlink: its target does not exist"))
                        continue
                    if real_top not in target.parents:
                        continue
                    if self._excluded(f, settings, False):
                        continue
                elif excluded(name, False):
                    continue
                if ignored is not None and ignored(name, False):
                    continue
                key = str(f.resolve()) if link else os.path.join(real_d_str, name)
                if key in seen:
                    continue
                seen.add(key)
                found.append((f, None))
            pending.extend(reversed(subdirs))
        return found

    @staticmethod
    def _is_dir_link(entry: os.DirEntry) -> bool:
        """A symlink to a folder named like a note (not followed, as folder links are not)."""
        try:
            return entry.is_dir()
        except OSError:
            return False

    def _excluder(self, d: Path, real_d: Path, settings: Settings) -> Callable[[str, bool], bool]:
        """``excluded(name, is_dir)`` for the entries of folder ``d`` (not symlinks)."""
        spec, root = self._exclude_spec(settings)
        if spec is None:
            return _never
        try:
            rel = real_d.relative_to(root).as_posix()
            prefix = "" if rel == "." else rel + "/"
        except ValueError:
            prefix = (d / "x").as_posix()[:-1]
        return lambda name, is_dir: spec.match_file(prefix + name + ("/" if is_dir else ""))

    def _git_matcher(self, d: Path, top: Path) -> Callable[[str, bool], bool]:
        """``ignored(name, is_dir)`` for the entries of the resolved folder ``d`` under the
        resolved walk root ``top``: every .gitignore from the repository root (or the walk
        root) down to ``d``, the nearest with a say winning."""
        chain = []
        for gd, spec in self._gitignore_chain(d, top):
            rel = d.relative_to(gd).as_posix()
            chain.append(("" if rel == "." else rel + "/", spec))
        if not chain:
            return _never

        def ignored(name: str, is_dir: bool) -> bool:
            tail = name + ("/" if is_dir else "")
            for prefix, spec in chain:
                # as in git, the nearest .gitignore that has a say wins (`!pattern` re-includes)
                verdict = spec.check_file(prefix + tail).include
                if verdict is not None:
                    return verdict
            return False
        return ignored


def _never(name: str, is_dir: bool) -> bool:
    return False
