"""What a run learns from the vault, applied back to its files.

Cross-document rules see the facts of every file of the run (see :mod:`tidymark.core.project`).
A rule that *learns* from them (site boilerplate, AD005) exposes ``repeated(facts)``, what it
learned per file, and ``with_learned(learned)``, a copy of itself that checks one document
against it with ordinary, positioned diagnostics and fixes.  After the per-file pass, the
files concerned are checked again with those copies; in a fix run their fixes are applied
and the files written (atomically, their originals kept in the run's journal), so that one
``tidymark fix`` over a folder removes what the folder taught.

A one-file run (pre-commit, an editor) has no folder to learn from: the facts of the other
notes are kept in the cache folder (``vault.json``, by absolute path, for the rules that set
``remember``) and the notes that still exist take part in the step.  What a note once held is
remembered after it is fixed, so that the next note clipped from the same site is still
recognised; deleting the cache folder forgets it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

VAULT_CACHE_NAME = "vault.json"


@dataclass
class Learned:
    applied: list = field(default_factory=list)
    changed: bool = False
    bytes_removed: int = 0
    text: str | None = None  # the text the diagnostics' positions refer to
    own: list | None = None  # a file fixed again: its other rules' diagnostics, of ``text``


def _remembering(rules) -> list[str]:
    return [r.code for r in rules if getattr(r, "remember", False)]


def remembered(cache_dir: Path | None, facts_by_file: dict, rules) -> dict[str, dict]:
    """Facts of the remembered notes that are not in this run and still exist (keyed as a
    display path would be), and the memory updated with this run's notes."""
    codes = _remembering(rules)
    if cache_dir is None or not codes:
        return {}
    path = cache_dir / VAULT_CACHE_NAME
    try:
        kept = json.loads(path.read_bytes())
        files = kept["files"] if isinstance(kept, dict) and isinstance(kept.get("files"), dict) else {}
    except (OSError, ValueError):
        files = {}
    current = {}
    for display, (p, facts) in facts_by_file.items():
        current[os.path.abspath(p)] = facts
    extra: dict[str, dict] = {}
    for name, facts in files.items():
        if name in current or not isinstance(facts, dict) or not os.path.exists(name):
            continue
        mine = {c: facts[c] for c in codes if isinstance(facts.get(c), dict)}
        if mine:
            try:
                extra[os.path.relpath(name)] = mine
            except ValueError:
                extra[name] = mine
    changed = False
    for name, facts in current.items():
        mine = {c: facts[c] for c in codes if c in facts}
        old = files.get(name)
        if isinstance(old, dict):
            for c, f in mine.items():  # what a note once held stays known (see the module docstring)
                o = old.get(c)
                if isinstance(o, dict) and isinstance(o.get("lines"), dict) and isinstance(f.get("lines"), dict):
                    mine[c] = {**f, "lines": {**o["lines"], **f["lines"]}}
        if mine and mine != old:
            files[name] = mine
            changed = True
    if changed:
        from tidymark.run.cache import write_entry

        write_entry(cache_dir, path, {"files": files})
    return extra


def apply_learned(rules, all_facts: dict, facts_by_file: dict, found: dict, *, mode: str, threshold,
                  resolver, book, changed: dict, journal_dir: Path | None) -> dict[str, Learned]:
    """Check (``check``) or fix (``fix``) again the files the learning rules learned about;
    their diagnostics replace the rules' folder-step diagnostics in ``found``."""
    out: dict[str, Learned] = {}
    if mode not in ("check", "fix") or resolver is None:
        return out
    for rule in rules:
        if not hasattr(rule, "with_learned"):
            continue
        mine = {k: f[rule.code] for k, f in all_facts.items() if rule.code in f}
        if len(mine) < 2:
            continue
        learned = rule.repeated(mine)
        for display, per_file in learned.items():
            if display not in facts_by_file or not per_file:
                continue
            path = facts_by_file[display][0]
            got = _one_file(rule, path, display, per_file, mode, threshold, resolver, book, changed, journal_dir)
            if got is None:
                continue
            diags, result = got
            others = [d for d in found.get(display, []) if d.code != rule.code]
            found[display] = sorted(others + diags, key=lambda d: (d.line, d.code, d.message))
            if not found[display]:
                del found[display]
            if result is not None:
                out[display] = result
    return out


def _one_file(rule, path: Path, display: str, per_file: dict, mode: str, threshold, resolver, book,
              changed: dict, journal_dir: Path | None):
    from tidymark.core.engine import FIX_DISCARDED, IO_ERROR, engine_diagnostic
    from tidymark.run.pipeline import check_under, fix_under
    from tidymark.run.rulebook import read_document
    from tidymark.source import DecodeError, encode

    try:
        settings = resolver.for_file(path)
        inst = next((r for r in book.rules_for_file(settings, path) if r.code == rule.code), None)
    except (OSError, ValueError):
        return None
    if inst is None:
        return None
    try:
        doc = read_document(path, settings)
    except (OSError, DecodeError):
        return None  # the per-file pass reported it
    copy = inst.with_learned(per_file)
    if mode == "check":
        return check_under(book, doc, [copy], settings, timeout=settings.rule_timeout or None), Learned(text=doc.text)
    # fix the note again from its original bytes with every rule and what was learned, so that
    # the learned removals see what the first pass removed (a call above a QR image)
    original, original_raw = doc, doc.raw  # type: ignore[attr-defined]
    before = changed.get(display)
    if before is not None:
        import zlib

        from tidymark.document import Document
        from tidymark.source import decode

        try:
            original_raw = zlib.decompress(before)
            dec = decode(original_raw)
        except (DecodeError, zlib.error):
            return None
        original = Document(dec.text, path, bom=dec.bom, newline=dec.newline)
    rules = [copy if r.code == inst.code else r for r in book.rules_for_file(settings, path)]
    res = fix_under(book, original, rules, settings, timeout=settings.rule_timeout or None)
    held = any(d.code == FIX_DISCARDED[0] for d in res.problems + res.diagnostics)
    if res.text == original.text or res.text == doc.text or held:
        # nothing more, or the deletion budget held removals back (the fixes of the first pass
        # included): the file keeps what the first pass wrote
        return check_under(book, doc, [copy], settings, timeout=settings.rule_timeout or None), Learned(text=doc.text)
    every = res.problems + res.diagnostics
    diags = [d for d in every if d.code == inst.code]
    raw = doc.raw  # type: ignore[attr-defined]
    new = encode(res.text, doc.bom)
    try:
        _write(path, display, new, raw, journal_dir)
    except OSError as exc:
        msg = f"cannot write fixes: {exc.strerror or exc}"
        return [_at_start(engine_diagnostic(IO_ERROR, msg))], Learned(text=doc.text)
    except Exception as exc:  # noqa: BLE001 - a journal that cannot keep the original: the file is left alone
        return [_at_start(engine_diagnostic(IO_ERROR, f"cannot write fixes: {exc}"))], Learned(text=doc.text)
    # the file's one result: every fix from its original bytes, the problems left in the text written
    return diags, Learned(list(res.applied), True, len(original_raw) - len(new), res.text,
                          [d for d in every if d.code != inst.code])


def _at_start(d):
    from dataclasses import replace

    return replace(d, line=1, column=1, end_line=1, end_column=1)


def _write(path: Path, display: str, new: bytes, raw: bytes, journal_dir: Path | None) -> None:
    """Replace the file, its original kept in the run's journal first.  A file the run's
    first pass already changed has its original there: the record keeps those bytes and
    now names the newly written ones."""
    from tidymark.run.rulebook import write_atomic

    if journal_dir is None:
        write_atomic(path, new, raw)
        return
    from tidymark.run.journal import Journal

    journal = Journal(journal_dir)
    real = os.path.realpath(path)
    try:
        mode = os.stat(real).st_mode & 0o7777
    except OSError:
        mode = 0o644
    kept = journal.entries_dir / f"{journal._key(real)}.orig"
    original = kept.read_bytes() if kept.is_file() else None
    journal.save(real, display, original if original is not None else raw, new, mode)
    try:
        write_atomic(path, new, raw)
    except BaseException:
        if original is None:
            journal.forget(real)
        else:  # the file still holds the first pass's bytes
            journal.save(real, display, original, raw, mode)
        raise
