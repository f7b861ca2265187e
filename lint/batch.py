"""The batch API: lint (and optionally fix) many ``(id, text)`` records in one process.

This is what the Ray and Dask adapters run in each worker, and what any other engine
(Spark, a job queue, a notebook) can call.  It has no dependency beyond tidymark's own;
``pyarrow`` is used only by the ``*_arrow`` helpers.

    from tidymark.batch import BatchLinter, apply_fixes

    linter = BatchLinter(config="pyproject.toml")          # rules built once, here
    result = linter.lint_records([("a.md", b"---\\ntitle: |\\n  Hi\\n---\\n")])
    result.diagnostics   # [{"id": "a.md", "code": "FM002", "start": 4, "end": 17, ...}]
    result.to_arrow()    # the same as a pyarrow.Table

The model is the one of dolma-style corpus tools: **diagnostics are spans beside the
document** (the document is never changed by checking), and **fixes are a separate,
replayable pass**.  A diagnostic record carries its fix as edits with byte offsets into the
original file's bytes, so the fix pass can run later, elsewhere, on reviewed records:

- ``apply_fixes(data, records)`` splices the recorded edits of one document into its
  bytes: one pass of non-overlapping fixes at or above the applicability threshold, chosen
  exactly as the fixer chooses them.  It needs no rules and never re-checks.
- ``BatchLinter(fix=True)`` runs ``tidymark fix`` itself (every pass, the front-matter and
  content-loss guards): ``result.fixed`` holds the fixed text of the documents it changed,
  byte for byte what the CLI writes, and the diagnostics are what remains after fixing.

Results are the CLI's: bytes are decoded exactly as the CLI decodes a file (a UTF-8 BOM is
remembered and restored, line endings are kept, anything that is not UTF-8 becomes a
``TM001`` record, never an exception); ``str`` input is treated as the UTF-8 encoding of
that text.  Configuration is resolved as the CLI resolves it (``settings``, a ``config``
file, or per-path discovery with ``discover=True``), rule selection overrides work like
``--select``/``--ignore``/``--extend-select``/``--unsafe-fixes``, and severity overrides
are applied.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from tidymark.run.config import ConfigResolver, Settings
from tidymark.diagnostics import Applicability, Diagnostic, Severity
from tidymark.document import Document
from tidymark.core.engine import FIX_DISCARDED, IO_ERROR, engine_diagnostic
from tidymark.core.project import ProjectRule, collect_facts
from tidymark.run.rulebook import RuleBook, apply_settings
from tidymark.source import BOM, DecodeError, LineIndex, decode, encode

RecordId = Any

#: The fields of one diagnostic record, in order (``edits`` is a list of edit records).
DIAGNOSTIC_FIELDS = ("id", "code", "name", "severity", "line", "column", "end_line", "end_column",
                     "start", "end", "message", "applicability", "fix_title", "edits")
#: The fields of one edit record: byte offsets into the document's bytes, 1-based positions.
EDIT_FIELDS = ("start", "end", "line", "column", "end_line", "end_column", "content")
#: The fields of one document record (``BatchResult.documents``).
DOCUMENT_FIELDS = ("id", "diagnostics", "changed", "fixes_applied", "bytes_removed", "error", "sha256", "facts")


# --------------------------------------------------------------------------- results


@dataclass
class BatchResult:
    """What :meth:`BatchLinter.lint_records` returns.

    ``diagnostics``: one dict per diagnostic (:data:`DIAGNOSTIC_FIELDS`), documents in input
    order, each document's diagnostics in the CLI's order.
    ``fixed``: id -> fixed text (``bytes`` for bytes input, ``str`` for text input), only for
    documents the fix mode changed.
    ``documents``: one dict per input record: ``id``, ``diagnostics`` (count), ``changed``,
    ``fixes_applied`` (codes, in the order applied), ``bytes_removed``, ``error`` (the TM001
    message when the record could not be decoded, else None) and ``sha256`` (hex digest of the
    bytes checked: the diagnostics' byte offsets refer to exactly these bytes) and ``facts``
    (what cross-document rules need from this document, or None).
    ``facts``: id -> facts, for the documents that have some (see :meth:`BatchLinter.project_records`).
    """

    diagnostics: list[dict] = field(default_factory=list)
    fixed: dict = field(default_factory=dict)
    documents: list[dict] = field(default_factory=list)
    facts: dict = field(default_factory=dict)

    def to_arrow(self):
        """The diagnostics as a ``pyarrow.Table`` (:func:`diagnostics_schema`)."""
        return diagnostics_table(self.diagnostics)

    def fixed_to_arrow(self, binary: bool | None = None):
        """``(id, fixed)`` as a ``pyarrow.Table``; ``fixed`` is binary for bytes input."""
        import pyarrow as pa

        ids = [_id_str(k) for k in self.fixed]
        vals = list(self.fixed.values())
        if binary is None:
            binary = bool(vals) and isinstance(vals[0], (bytes, bytearray))
        return pa.table({"id": pa.array(ids, pa.string()),
                         "fixed": pa.array(vals, pa.binary() if binary else pa.string())})

    def documents_to_arrow(self):
        import json

        import pyarrow as pa

        rows = [{**d, "id": _id_str(d["id"]), "facts": json.dumps(d["facts"], sort_keys=True)
                 if d.get("facts") else None} for d in self.documents]
        return pa.Table.from_pylist(rows, schema=documents_schema())


def _id_str(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


# --------------------------------------------------------------------------- arrow schemas


def edit_type():
    import pyarrow as pa

    return pa.struct([("start", pa.int64()), ("end", pa.int64()), ("line", pa.int32()), ("column", pa.int32()),
                      ("end_line", pa.int32()), ("end_column", pa.int32()), ("content", pa.string())])


def _diag_fields(with_id: bool):
    import pyarrow as pa

    fields = [("id", pa.string())] if with_id else []
    fields += [("code", pa.string()), ("name", pa.string()), ("severity", pa.string()),
               ("line", pa.int32()), ("column", pa.int32()), ("end_line", pa.int32()),
               ("end_column", pa.int32()), ("start", pa.int64()), ("end", pa.int64()),
               ("message", pa.string()), ("applicability", pa.string()), ("fix_title", pa.string()),
               ("edits", pa.list_(edit_type()))]
    return fields


def diagnostics_schema():
    """Arrow schema of the flat diagnostics table: one row per diagnostic."""
    import pyarrow as pa

    return pa.schema(_diag_fields(True))


def diagnostic_type():
    """Arrow type of one diagnostic nested in a document row (no ``id``)."""
    import pyarrow as pa

    return pa.struct(_diag_fields(False))


def documents_schema():
    import pyarrow as pa

    return pa.schema([("id", pa.string()), ("diagnostics", pa.int32()), ("changed", pa.bool_()),
                      ("fixes_applied", pa.list_(pa.string())), ("bytes_removed", pa.int64()),
                      ("error", pa.string()), ("sha256", pa.string()), ("facts", pa.string())])


def diagnostics_table(records: Sequence[dict]):
    import pyarrow as pa

    rows = [r if isinstance(r["id"], str) else {**r, "id": _id_str(r["id"])} for r in records]
    return pa.Table.from_pylist(rows, schema=diagnostics_schema())


# --------------------------------------------------------------------------- offsets


def byte_offsets(text: str, offsets: Iterable[int], bom: bool = False) -> dict[int, int]:
    """Map code-point offsets of ``text`` to byte offsets in its UTF-8 encoding (after the BOM)."""
    base = len(BOM) if bom else 0
    wanted = sorted(set(offsets))
    if text.isascii():
        return {o: o + base for o in wanted}
    out: dict[int, int] = {}
    pos = 0
    acc = base
    for o in wanted:
        acc += len(text[pos:o].encode("utf-8", "surrogatepass"))
        pos = o
        out[o] = acc
    return out


# --------------------------------------------------------------------------- the linter


def _at_start(d: Diagnostic) -> Diagnostic:
    return replace(d, line=d.line or 1, column=d.column or 1, end_line=d.end_line or 1,
                   end_column=d.end_column or 1)


class BatchLinter:
    """Lints records with the rules of one resolved configuration, built once.

    ``settings``: a resolved :class:`~tidymark.config.Settings` used for every record.
    ``config``: a configuration file (like ``--config``) used for every record.
    Neither: tidymark's defaults, or with ``discover=True`` the configuration the CLI would
    find for each record's id taken as a local path (nearest config file above it; its
    ``per-file-ignores`` match the id as they match a path).
    ``select`` / ``ignore`` / ``extend_select`` / ``unsafe``: like ``--select``,
    ``--ignore``, ``--extend-select`` and ``--unsafe-fixes`` / ``--no-unsafe-fixes``.
    ``fix``: also fix (``tidymark fix``); diagnostics are then what remains after fixing.

    Raises :class:`~tidymark.config.ConfigError` for an invalid configuration or selector.
    Instances are cheap to pickle as their constructor arguments (:attr:`spec`).
    """

    def __init__(self, settings: Settings | None = None, config: str | Path | None = None, *,
                 select: Sequence[str] | None = None, ignore: Sequence[str] | None = None,
                 extend_select: Sequence[str] | None = None, unsafe: bool | None = None,
                 fix: bool = False, discover: bool = False):
        self.spec = dict(settings=settings, config=config, select=select, ignore=ignore,
                         extend_select=extend_select, unsafe=unsafe, fix=fix, discover=discover)
        cli = {"select": tuple(select) if select is not None else None,
               "ignore": tuple(ignore) if ignore else None,
               "extend_select": tuple(extend_select) if extend_select else None,
               "unsafe_fixes": unsafe}
        self.fix = fix
        self.discover = discover and settings is None and config is None
        self.resolver = ConfigResolver(Path(config) if config is not None else None, cli)
        if settings is not None:
            self.resolver.override = settings
        elif config is None and not self.discover:
            self.resolver.override = Settings()
        self.book = RuleBook()
        self._fixed_settings: Settings | None = None
        if not self.discover:
            self._fixed_settings = self.resolver.for_dir(Path.cwd())
            self.book.rules_for(self._fixed_settings)  # validate now, build the rules once

    def __reduce__(self):
        return (_rebuild, (self.spec,))

    # -- configuration ----------------------------------------------------------------
    def settings_for(self, rid: RecordId) -> Settings:
        if self._fixed_settings is not None:
            return self._fixed_settings
        return self.resolver.for_path(Path(_id_str(rid)))

    def rules_for(self, rid: RecordId, settings: Settings):
        if not settings.per_file_ignores:
            return self.book.rules_for(settings)
        return self.book.rules_for_file(settings, Path(_id_str(rid)))

    # -- linting ----------------------------------------------------------------------
    def lint_records(self, records: Iterable[tuple[RecordId, "str | bytes"]], *, project: bool = True) -> BatchResult:
        """Lint (and with ``fix=True`` fix) every ``(id, text or bytes)`` record.

        With ``project`` (the default) the records are one corpus: cross-document rules
        (duplicate articles, …) run over them at the end, as the CLI runs them over the files
        of one run, and their diagnostics join their document's, by position (the documents
        keep the order of ``records``).  An
        engine that lints a corpus in many batches passes ``project=False``, gathers
        ``result.facts`` and calls :meth:`project_records` once over all of them.
        """
        out = BatchResult()
        groups = []  # (id, its diagnostics) per record, in order
        datas: dict = {}
        for rid, data in records:
            diags, fixed, doc = self.lint_one(rid, data)
            out.diagnostics.extend(diags)
            groups.append((rid, diags))
            if fixed is not None:
                out.fixed[rid] = fixed
            if doc["facts"]:
                out.facts[rid] = doc["facts"]
                if project:
                    datas[rid] = data
            out.documents.append(doc)
        if project and out.facts:
            from tidymark.run.results import merge_records

            found = self.project_records(out.facts)
            learned = self._learned(out.facts)
            if learned:  # as the CLI does: the documents learned about are checked (fixed) again
                found = [r for r in found if not (r["id"] in learned and r["code"] == learned[r["id"]][0].code)]
                docs = {d["id"]: d for d in out.documents}
                at = {rid: i for i, (rid, _) in enumerate(groups)}
                for rid, (rule, per_file) in learned.items():
                    recs, fixed, codes = self._relint(rid, datas[rid], out.fixed.get(rid), rule, per_file)
                    if fixed is None:
                        found += recs
                        continue
                    # fixed again from the original: the record's one result (every fix, what is left)
                    found += [r for r in recs if r["code"] == rule.code]
                    groups[at[rid]] = (rid, [r for r in recs if r["code"] != rule.code])
                    out.fixed[rid] = fixed
                    d = docs[rid]
                    d["changed"], d["fixes_applied"] = True, codes
                    d["diagnostics"] = len(groups[at[rid]][1])
                    raw = datas[rid].encode("utf-8") if isinstance(datas[rid], str) else bytes(datas[rid])
                    d["bytes_removed"] = len(raw) - len(fixed.encode("utf-8") if isinstance(fixed, str) else fixed)
            extra: dict = {}
            for r in found:
                extra.setdefault(r["id"], []).append(r)
            for d in out.documents:
                d["diagnostics"] += len(extra.get(d["id"], ()))
            out.diagnostics = merge_records(groups, extra)
        return out

    def project_records(self, facts_by_id: dict) -> list[dict]:
        """Cross-document diagnostics over the facts of a whole corpus, as diagnostic records.

        Keys are the names the messages should use for the documents (the CLI uses the paths
        it shows); records come sorted by key, then line.  They carry lines but no byte
        offsets (``start``/``end`` are None): they are about the document as a whole.
        """
        from tidymark.core.project import ProjectRule, run_project

        settings = self._fixed_settings or self.resolver.for_dir(Path.cwd())
        rules = [r for r in self.book.rules_for(settings) if isinstance(r, ProjectRule)]
        if not rules or not facts_by_id:
            return []
        by_key = {_id_str(k): k for k in facts_by_id}
        found = run_project(rules, {_id_str(k): f for k, f in facts_by_id.items()})
        out = []
        for key, diags in sorted(found.items()):
            rid = by_key.get(key, key)
            diags = apply_settings(diags, self.settings_for(rid))  # the document's settings, as its own
            for r in _records(rid, diags, "", False):
                r["start"] = r["end"] = None
                out.append(r)
        return out

    def _learned(self, facts_by_id: dict) -> dict:
        """{record id: (rule, what it learned)} of the rules that learn from the corpus."""
        settings = self._fixed_settings or self.resolver.for_dir(Path.cwd())
        out: dict = {}
        by_key = {_id_str(k): k for k in facts_by_id}
        for rule in self.book.rules_for(settings):
            if not hasattr(rule, "with_learned"):
                continue
            mine = {_id_str(k): f[rule.code] for k, f in facts_by_id.items() if rule.code in f}
            if len(mine) < 2:
                continue
            for key, per_file in rule.repeated(mine).items():
                if per_file and key in by_key:
                    out.setdefault(by_key[key], (rule, per_file))
        return out

    def _relint(self, rid, data, fixed_before, rule, per_file) -> tuple[list[dict], "str | bytes | None", list[str]]:
        """A record checked (fixed) again with what ``rule`` learned: as :mod:`tidymark.run.vault`
        does for files, the fix starts again from the original text with every rule."""
        settings = self.settings_for(rid)
        rules = self.rules_for(rid, settings)
        inst = next((r for r in rules if r.code == rule.code), None)
        if inst is None:
            return [], None, []
        copy = inst.with_learned(per_file)
        as_text = isinstance(data, str)
        dec = decode(data.encode("utf-8") if as_text else bytes(data))
        original = Document(dec.text, None, bom=dec.bom, newline=dec.newline)
        current = original
        if fixed_before is not None:
            cur = decode(fixed_before.encode("utf-8") if isinstance(fixed_before, str) else fixed_before)
            current = Document(cur.text, None, bom=cur.bom, newline=cur.newline)
        from tidymark.run.pipeline import check_under, fix_under  # one document under settings, as the CLI's workers

        fixed = None
        codes: list[str] = []
        if not self.fix:
            diags, final = check_under(self.book, original, [copy], settings), original.text
        else:
            everything = [copy if r.code == inst.code else r for r in rules]
            res = fix_under(self.book, original, everything, settings)
            if res.text == original.text or res.text == current.text or any(
                    d.code == FIX_DISCARDED[0] for d in res.problems + res.diagnostics):  # the budget held removals back
                diags, final = check_under(self.book, current, [copy], settings), current.text
            else:
                diags = res.problems + res.diagnostics  # of the text written: every rule's
                final = res.text
                codes = [d.code for d in res.applied]
                fixed = encode(res.text, original.bom) if not as_text else (("\ufeff" if original.bom else "") + res.text)
        diags = apply_settings(diags, settings)
        return _records(rid, diags, final, current.bom if final is current.text else original.bom), fixed, codes

    def lint_one(self, rid: RecordId, data: "str | bytes") -> tuple[list[dict], "str | bytes | None", dict]:
        """One record: (diagnostic records, fixed text or None, document record)."""
        settings = self.settings_for(rid)
        as_text = isinstance(data, str)
        if as_text:
            try:
                raw = data.encode("utf-8")
            except UnicodeEncodeError as exc:
                return self._unreadable(rid, settings, f"text is not valid Unicode (unpaired surrogate at "
                                                       f"character {exc.start}); it was not changed",
                                        data.encode("utf-8", "surrogatepass"))
        else:
            raw = bytes(data)
        if len(raw) > settings.max_file_size:
            return self._unreadable(rid, settings, f"file is {len(raw):,} bytes, over the "
                                                   f"{settings.max_file_size:,}-byte limit (`max-file-size`); skipped",
                                    raw)
        try:
            dec = decode(raw)
        except DecodeError as exc:
            return self._unreadable(rid, settings, str(exc), raw)
        doc = Document(dec.text, None, bom=dec.bom, newline=dec.newline)
        rules = self.rules_for(rid, settings)
        project = [r for r in rules if isinstance(r, ProjectRule)]
        facts = collect_facts(doc, project) if project else None
        fixed = None
        applied: list[str] = []
        removed = 0
        from tidymark.run.pipeline import check_under, fix_under  # one document under settings, as the CLI's workers

        if not self.fix:
            diags = check_under(self.book, doc, rules, settings)
            final = doc.text
        else:
            res = fix_under(self.book, doc, rules, settings)
            diags = res.problems + res.diagnostics
            final = res.text
            if res.text != doc.text:
                new = encode(res.text, doc.bom)
                removed = len(raw) - len(new)
                applied = [d.code for d in res.applied]
                fixed = new if not as_text else (("\ufeff" if doc.bom else "") + res.text)
        diags = apply_settings(diags, settings)
        records = _records(rid, diags, final, doc.bom)
        return records, fixed, {"id": rid, "diagnostics": len(records), "changed": fixed is not None,
                                "fixes_applied": applied, "bytes_removed": removed, "error": None,
                                "sha256": hashlib.sha256(raw).hexdigest(), "facts": facts or None}

    def unreadable(self, rid: RecordId, message: str, raw: bytes = b""):
        """The result of a record that could not be read: one TM001 diagnostic, as the CLI gives."""
        return self._unreadable(rid, self.settings_for(rid), message, raw)

    def _unreadable(self, rid, settings: Settings, message: str, raw: bytes):
        [d] = apply_settings([_at_start(engine_diagnostic(IO_ERROR, message))], settings)
        recs = _records(rid, [d], "", False)
        return recs, None, {"id": rid, "diagnostics": 1, "changed": False, "fixes_applied": [],
                            "bytes_removed": 0, "error": message, "sha256": hashlib.sha256(raw).hexdigest(),
                            "facts": None}


def _rebuild(spec: dict) -> BatchLinter:
    return BatchLinter(**spec)


def _records(rid: RecordId, diags: list[Diagnostic], text: str, bom: bool) -> list[dict]:
    """Diagnostic records; positions of ``text`` (the text the diagnostics refer to)."""
    if not diags:
        return []
    offsets = []
    for d in diags:
        offsets += (d.span.start, d.span.end)
        if d.fix is not None:
            for e in d.fix.edits:
                offsets += (e.span.start, e.span.end)
    b = byte_offsets(text, offsets, bom)
    lines = LineIndex(text) if any(d.fix is not None for d in diags) else None
    out = []
    for d in diags:
        edits = []
        if d.fix is not None:
            for e in d.fix.edits:
                l1, c1 = lines.position(e.span.start)
                l2, c2 = lines.position(e.span.end)
                edits.append({"start": b[e.span.start], "end": b[e.span.end], "line": l1, "column": c1,
                              "end_line": l2, "end_column": c2, "content": e.text})
        out.append({"id": rid, "code": d.code, "name": d.name, "severity": d.severity.label,
                    "line": d.line, "column": d.column, "end_line": d.end_line, "end_column": d.end_column,
                    "start": b[d.span.start], "end": b[d.span.end], "message": d.message,
                    "applicability": d.fix.applicability.label if d.fix is not None else None,
                    "fix_title": d.fix.title if d.fix is not None else None, "edits": edits})
    return out


# --------------------------------------------------------------------------- conversions


def to_cli_json(record: dict, path: str | None = None) -> dict:
    """A diagnostic record in the shape of the CLI's ``--output-format json`` (docs/json-output.md)."""
    from tidymark.outputs.docs import rule_url

    fix = None
    if record.get("applicability") is not None:
        fix = {"applicability": record["applicability"], "message": record["fix_title"],
               "edits": [{"line": e["line"], "column": e["column"], "end_line": e["end_line"],
                          "end_column": e["end_column"], "content": e["content"]} for e in record["edits"] or ()]}
    return {"path": path if path is not None else _id_str(record["id"]), "line": record["line"],
            "column": record["column"], "end_line": record["end_line"], "end_column": record["end_column"],
            "code": record["code"], "name": record["name"], "message": record["message"],
            "severity": record["severity"], "fix": fix, "url": rule_url(record["code"])}


def group_by_id(records: Iterable[dict]) -> dict:
    out: dict = {}
    for r in records:
        out.setdefault(r["id"], []).append(r)
    return out


# --------------------------------------------------------------------------- the fix pass

_APPLICABILITY = {"safe": Applicability.SAFE, "unsafe": Applicability.UNSAFE,
                  "display-only": Applicability.DISPLAY_ONLY}


class FixReplayError(ValueError):
    """The recorded edits do not fit the bytes they are applied to."""


def apply_fixes(data: "str | bytes", records: Iterable[dict], *, unsafe: bool = False,
                codes: Iterable[str] | None = None) -> "str | bytes":
    """Replay the recorded fixes of one document on its original bytes (or text).

    One pass: the fixes at or above the threshold (safe; also unsafe with ``unsafe=True``;
    only ``codes`` when given) that do not overlap, chosen in the fixer's order, are spliced
    in.  Records must come from checking these very bytes (``fix=False``); an edit outside
    the data or splitting a UTF-8 character raises :class:`FixReplayError`.  Returns the
    same type it was given.  For ``tidymark fix``'s exact output (every pass, the guards),
    lint with ``BatchLinter(fix=True)`` instead.
    """
    from tidymark.diagnostics import Edit, Fix
    from tidymark.core.engine import select_fixes
    from tidymark.source import Span

    as_text = isinstance(data, str)
    raw = data.encode("utf-8") if as_text else bytes(data)
    threshold = Applicability.UNSAFE if unsafe else Applicability.SAFE
    wanted = set(codes) if codes is not None else None
    cands = []
    for r in records:
        app = r.get("applicability")
        if app is None or (wanted is not None and r["code"] not in wanted):
            continue
        edits = []
        for e in r["edits"]:
            s, t = int(e["start"]), int(e["end"])
            if not 0 <= s <= t <= len(raw):
                raise FixReplayError(f"{r['code']}: edit {s}-{t} is outside the document ({len(raw)} bytes)")
            for pos in (s, t):
                if pos < len(raw) and (raw[pos] & 0xC0) == 0x80:
                    raise FixReplayError(f"{r['code']}: edit offset {pos} splits a UTF-8 character")
            edits.append(Edit(Span(s, t), e["content"]))
        cands.append(Diagnostic(r["code"], r["name"], r["message"], Span(int(r["start"]), int(r["end"])),
                                fix=Fix(tuple(edits), _APPLICABILITY[app], r.get("fix_title") or "")))
    chosen = select_fixes(cands, threshold)
    parts = []
    pos = 0
    for e in sorted((e for d in chosen for e in d.fix.edits), key=lambda e: (e.span.start, e.span.end)):
        parts.append(raw[pos:e.span.start])
        parts.append(e.text.encode("utf-8"))
        pos = e.span.end
    parts.append(raw[pos:])
    new = b"".join(parts)
    return new.decode("utf-8") if as_text else new


# --------------------------------------------------------------------------- arrow batches


def lint_table(linter: BatchLinter, table, id_column: str = "id", data_column: str = "bytes",
               keep: Sequence[str] = (), error_column: str | None = None):
    """Lint a ``pyarrow.Table`` of records; returns one row per document.

    Output columns: ``id`` (string), the ``keep`` columns unchanged, ``diagnostics``
    (list of :func:`diagnostic_type`), ``changed``, ``fixes_applied``, ``bytes_removed``,
    ``error``, ``sha256``, ``facts`` (JSON, for :meth:`BatchLinter.project_records`) and ``fixed`` (the fixed text where it changed, else null; binary when the data
    column is binary, string otherwise).
    """
    import pyarrow as pa

    col = table.column(data_column)
    binary = pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type)
    ids = table.column(id_column).to_pylist()
    datas = col.to_pylist()
    read_errors = table.column(error_column).to_pylist() if error_column else [None] * len(ids)
    import json

    diags_col, fixed_col, changed, applied, removed, errors, digests, facts = [], [], [], [], [], [], [], []
    for rid, data, err in zip(ids, datas, read_errors):
        if err:
            recs, fixed, doc = linter.unreadable(rid, err)
        else:
            recs, fixed, doc = linter.lint_one(rid, data if data is not None else (b"" if binary else ""))
        for r in recs:
            del r["id"]
        diags_col.append(recs)
        fixed_col.append(fixed)
        changed.append(doc["changed"])
        applied.append(doc["fixes_applied"])
        removed.append(doc["bytes_removed"])
        errors.append(doc["error"])
        digests.append(doc["sha256"])
        facts.append(json.dumps(doc["facts"], sort_keys=True) if doc.get("facts") else None)
    cols = {"id": pa.array([_id_str(i) for i in ids], pa.string())}
    for k in keep:
        cols[k] = table.column(k)
    cols.update({
        "diagnostics": pa.array(diags_col, pa.list_(diagnostic_type())),
        "changed": pa.array(changed, pa.bool_()),
        "fixes_applied": pa.array(applied, pa.list_(pa.string())),
        "bytes_removed": pa.array(removed, pa.int64()),
        "error": pa.array(errors, pa.string()),
        "sha256": pa.array(digests, pa.string()),
        "facts": pa.array(facts, pa.string()),
        "fixed": pa.array(fixed_col, pa.binary() if binary else pa.string()),
    })
    return pa.table(cols)


def explode_diagnostics(documents):
    """From document rows (:func:`lint_table`) to the flat diagnostics table, one row per diagnostic."""
    import pyarrow as pa
    import pyarrow.compute as pc

    lists = documents.column("diagnostics")
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists)
    if isinstance(flat, pa.ChunkedArray):
        flat = flat.combine_chunks() if flat.num_chunks else pa.array([], diagnostic_type())
    ids = pc.take(documents.column("id"), parents)
    cols = {"id": ids}
    for name in (f[0] for f in _diag_fields(False)):
        cols[name] = flat.field(name)
    return pa.table(cols, schema=diagnostics_schema())


def iter_records(table, id_column: str = "id", data_column: str = "bytes") -> Iterator[tuple[Any, Any]]:
    """``(id, data)`` pairs of a ``pyarrow.Table``."""
    yield from zip(table.column(id_column).to_pylist(), table.column(data_column).to_pylist())
