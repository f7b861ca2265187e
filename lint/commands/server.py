"""``tidymark server``: a Language Server Protocol server over stdio, built on pygls.

What an editor gets:

* diagnostics when a note is opened, changed (debounced) and saved, with the codes, ranges,
  messages and severities of ``tidymark check`` on the same text, under the configuration
  that applies to the note's path (re-read when a configuration file changes);
* code actions: fix this problem, fix all safe problems in the file, suppress a problem on
  the next line or in the whole file (the HTML-comment suppressions);
* hover on a diagnostic: the rule's documentation (``tidymark rule CODE``);
* the command ``tidymark.fixAll`` (``workspace/executeCommand``, argument: the note's URI);
* cross-document rules (duplicate articles, a site's boilerplate) answered from the facts of
  the workspace folder's notes, collected in the background through the result cache.

Positions are in UTF-16 code units, as LSP requires (tidymark counts code points: a CJK
character is one unit in both, an emoji is two in LSP and one in tidymark).

The checking itself is :class:`Session`, which does not depend on pygls (the benchmark and
the tests use it directly too); :func:`serve` wires it to the protocol.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from tidymark.run.config import CONFIG_NAMES, ConfigError
from tidymark.diagnostics import Applicability, Diagnostic, Severity
from tidymark.core.engine import ENGINE_CODES
from tidymark.run.pipeline import RunOptions
from tidymark.core.project import ProjectRule, run_project
from tidymark.source import LineIndex

FIX_ALL_COMMAND = "tidymark.fixAll"
FIX_ALL_KIND = "source.fixAll.tidymark"
DEBOUNCE_SECONDS = 0.1
CONFIG_FILES = (*CONFIG_NAMES, "pyproject.toml")
NOTE_SUFFIXES = (".md", ".markdown")
INSTALL_HINT = ("tidymark server needs pygls: install it with  pip install 'tidymark[lsp]'  "
                "(or pip install pygls)")


def uri_to_path(uri: str) -> Path:
    """The file-system path of a ``file:`` URI; other schemes (an unsaved buffer) map to a
    name in the current folder, so the current folder's configuration applies."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        path = unquote(parsed.path)
        if os.name == "nt" and path.startswith("/") and len(path) > 2 and path[2] == ":":
            path = path[1:]
        return Path(path)
    name = Path(unquote(parsed.path)).name or "untitled.md"
    return Path.cwd() / name


def fact_key(path: Path) -> str:
    """How a note is named to the cross-document rules (their messages name the other note):
    relative to the current folder when under it, as ``tidymark check`` names it."""
    full = os.path.abspath(path)
    try:
        rel = os.path.relpath(full)
    except ValueError:  # another drive
        return full
    return full if rel.startswith("..") else rel


def _units(s: str, encoding: str) -> int:
    """The length of ``s`` in the code units of a position encoding (utf-16, utf-8, utf-32)."""
    if s.isascii() or encoding == "utf-32":
        return len(s)
    if encoding == "utf-8":
        return len(s.encode("utf-8", "surrogatepass"))
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def _char_units(c: str, encoding: str) -> int:
    o = ord(c)
    if encoding == "utf-8":
        return 1 if o < 0x80 else 2 if o < 0x800 else 3 if o < 0x10000 else 4
    if encoding == "utf-32":
        return 1
    return 2 if o > 0xFFFF else 1


class Positions:
    """Code-point offsets and 1-based (line, column) of a text <-> LSP positions (0-based
    line, character in the negotiated encoding's code units: UTF-16 unless the client asked
    for UTF-8 or UTF-32), with the engine's line breaks (``\\n``, ``\\r\\n``, ``\\r``, as LSP)."""

    def __init__(self, text: str, first_line_shift: int = 0, encoding: str = "utf-16"):
        self.text = text
        self.lines = LineIndex(text)
        self.encoding = encoding
        # a BOM the editor keeps as a character before the text (U+FEFF: one unit in UTF-16/32)
        self.shift = first_line_shift * (3 if encoding == "utf-8" else 1)

    def at(self, line: int, column: int) -> tuple[int, int]:
        """LSP (line, character) of a 1-based code-point (line, column)."""
        line0 = max(line, 1) - 1
        start = self.lines.line_start(line0)
        seg = self.text[start:min(start + max(column, 1) - 1, len(self.text))]
        return line0, _units(seg, self.encoding) + (self.shift if line0 == 0 else 0)

    def at_offset(self, offset: int) -> tuple[int, int]:
        return self.at(*self.lines.position(offset))

    def offset(self, line0: int, character: int) -> int:
        """Code-point offset of an LSP position (clamped to its line)."""
        if line0 >= len(self.lines.starts):
            return len(self.text)
        if line0 == 0:
            character = max(0, character - self.shift)
        start = self.lines.line_start(line0)
        end = self.lines.line_end(line0, with_newline=False)
        units = 0
        i = start
        enc = self.encoding
        while i < end and units < character:
            units += _char_units(self.text[i], enc)
            i += 1
        return i


@dataclass
class Checked:
    """The last check of one buffer."""

    version: int | None
    text: str
    diagnostics: list[Diagnostic]
    positions: Positions
    settings: Any
    body_start: int
    newline: str


class Session:
    """Checks and fixes buffers as ``tidymark check``/``fix`` check and fix files at their paths."""

    def __init__(self, config: Path | None = None):
        self.config = config
        self.folder_facts: dict[str, dict] = {}
        self._facts_lock = threading.Lock()
        self.reload()

    def reload(self) -> None:
        """Read the configuration files again (and rebuild the rules)."""
        from tidymark.run.textrun import TextWorker

        self.checker = TextWorker(RunOptions(mode="check", config=self.config))
        self.fixers = {False: TextWorker(RunOptions(mode="fix", config=self.config, cli={"unsafe_fixes": False})),
                       True: TextWorker(RunOptions(mode="fix", config=self.config, cli={"unsafe_fixes": True}))}

    # -- checking ----------------------------------------------------------------------------
    def check(self, uri: str, text: str, version: int | None = None, encoding: str = "utf-16") -> Checked:
        """The diagnostics of ``text`` as the note at ``uri``; raises ConfigError."""
        from tidymark.run.rulebook import apply_settings

        path = uri_to_path(uri)
        data = text.encode("utf-8", "surrogatepass")
        res = self.checker.process_bytes(path, str(path), data)
        settings = self.checker.resolver.for_file(path)
        diags = list(res.diagnostics)
        if res.facts:
            rules = [r for r in self.checker.book.rules_for_file(settings, path) if isinstance(r, ProjectRule)]
            key = fact_key(path)
            with self._facts_lock:
                facts = dict(self.folder_facts)
            facts[key] = res.facts
            diags += run_project(rules, facts).get(key, [])
        diags = apply_settings(diags, settings)
        bom = text.startswith("\ufeff")
        doc_text = text[1:] if bom else text
        doc = self.checker.document
        body_start, newline = (doc.body_start, doc.newline) if doc is not None else (0, "\n")
        return Checked(version, text, diags, Positions(doc_text, 1 if bom else 0, encoding), settings,
                       body_start + (1 if bom else 0), newline)

    def fix(self, uri: str, text: str, unsafe: bool = False) -> str | None:
        """The fixed text (None: nothing to fix, or the text cannot be fixed)."""
        path = uri_to_path(uri)
        worker = self.fixers[unsafe]
        worker.process_bytes(path, str(path), text.encode("utf-8", "surrogatepass"))
        if worker.output is None:
            return None
        fixed = worker.output.decode("utf-8", "surrogatepass")
        return fixed if fixed != text else None

    # -- the workspace folder's facts (cross-document rules) -----------------------------------
    def scan_folder(self, folder: Path) -> int:
        """Collect the facts of every note under ``folder`` (through the result cache); returns
        how many notes gave facts.  Runs in a background thread."""
        from tidymark.run.files import Walker
        from tidymark.run.pipeline import run

        resolver = self.checker.resolver
        top = resolver.for_dir(folder)
        rules = self.checker.book.rules_for(top)
        if not any(isinstance(r, ProjectRule) for r in rules):
            return 0
        items = [(p, str(p)) for p, problem in Walker(resolver.for_dir).walk([folder]) if problem is None]
        cache_dir = top.cache_dir or folder / ".tidymark_cache"
        found: dict[str, dict] = {}
        for res in run(items, RunOptions(mode="check", config=self.config, jobs=1, cache_dir=cache_dir)):
            if res.facts:
                found[fact_key(res.path)] = res.facts
        with self._facts_lock:
            self.folder_facts.update(found)
        return len(found)

    def forget_file(self, path: Path) -> None:
        with self._facts_lock:
            self.folder_facts.pop(fact_key(path), None)

    def refresh_file(self, path: Path) -> None:
        """A note changed on disk: its facts are read again."""
        key = fact_key(path)
        with self._facts_lock:
            if not self.folder_facts and key not in self.folder_facts:
                return  # no folder was scanned (no cross-document rule is selected)
        try:
            data = path.read_bytes()
        except OSError:
            self.forget_file(path)
            return
        res = self.checker.process_bytes(path, str(path), data)
        with self._facts_lock:
            if res.facts:
                self.folder_facts[key] = res.facts
            else:
                self.folder_facts.pop(key, None)

    # -- hover ---------------------------------------------------------------------------------
    def rule_doc(self, code: str, settings) -> str | None:
        from tidymark.outputs import docs

        if code in ENGINE_CODES:
            return None
        info = self.checker.book.table_for(settings).get(code)
        return docs.rule_page(info) if info is not None else None


# -- LSP conversion ------------------------------------------------------------------------------

def _lsp():
    from lsprotocol import types

    return types


def to_lsp_range(pos: Positions, d: Diagnostic):
    t = _lsp()
    (l1, c1), (l2, c2) = pos.at(d.line, d.column), pos.at(d.end_line or d.line, d.end_column or d.column)
    return t.Range(start=t.Position(line=l1, character=c1), end=t.Position(line=l2, character=c2))


def _span_range(pos: Positions, start: int, end: int):
    t = _lsp()
    (l1, c1), (l2, c2) = pos.at_offset(start), pos.at_offset(end)
    return t.Range(start=t.Position(line=l1, character=c1), end=t.Position(line=l2, character=c2))


def to_lsp_diagnostic(pos: Positions, d: Diagnostic):
    t = _lsp()
    sev = {Severity.ERROR: t.DiagnosticSeverity.Error, Severity.WARNING: t.DiagnosticSeverity.Warning,
           Severity.INFO: t.DiagnosticSeverity.Information}[d.severity]
    fix = d.fix.applicability.label if d.fix is not None else None
    return t.Diagnostic(range=to_lsp_range(pos, d), message=d.message, severity=sev, code=d.code,
                        source="tidymark", data={"name": d.name, "fix": fix})


def _overlaps(a, b) -> bool:
    """Two LSP ranges share a position (touching counts: a cursor at a range's end is in it)."""
    return (a.start.line, a.start.character) <= (b.end.line, b.end.character) and \
        (b.start.line, b.start.character) <= (a.end.line, a.end.character)


def _versioned_edit(uri: str, version: int | None, edits: list):
    t = _lsp()
    return t.WorkspaceEdit(document_changes=[t.TextDocumentEdit(
        text_document=t.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version), edits=edits)])


def whole_text_edit(old: str, new: str, encoding: str = "utf-16"):
    """One TextEdit turning ``old`` into ``new``: the span between their common prefix and suffix."""
    t = _lsp()
    n = min(len(old), len(new))
    p = 0
    while p < n and old[p] == new[p]:
        p += 1
    s = 0
    while s < n - p and old[len(old) - 1 - s] == new[len(new) - 1 - s]:
        s += 1
    pos = Positions(old, encoding=encoding)
    return t.TextEdit(range=_span_range(pos, p, len(old) - s), new_text=new[p:len(new) - s])


def code_actions(session: Session, uri: str, checked: Checked, rng, only: list[str] | None) -> list:
    t = _lsp()
    actions = []
    pos = checked.positions
    want_quick = not only or any(k.startswith("quickfix") or k == "" for k in only)
    want_all = not only or any(FIX_ALL_KIND == k or FIX_ALL_KIND.startswith(k + ".") for k in only)
    if want_quick:
        suppress_file: set[str] = set()
        for d in checked.diagnostics:
            r = to_lsp_range(pos, d)
            if not _overlaps(r, rng):
                continue
            ld = to_lsp_diagnostic(pos, d)
            if d.fix is not None and d.fix.applicability >= Applicability.UNSAFE:
                unsafe = d.fix.applicability < Applicability.SAFE
                edits = [t.TextEdit(range=_span_range(pos, e.span.start, e.span.end), new_text=e.text)
                         for e in d.fix.edits]
                actions.append(t.CodeAction(
                    title=f"Fix {d.code}: {d.fix.title}" + (" (unsafe)" if unsafe else ""),
                    kind=t.CodeActionKind.QuickFix, diagnostics=[ld], is_preferred=not unsafe,
                    edit=_versioned_edit(uri, checked.version, edits)))
            if d.code in ENGINE_CODES or d.code == "TM100":
                continue
            line0 = max(d.line, 1) - 1
            nl = checked.newline
            start = pos.lines.line_start(line0)
            if start >= checked.body_start - (1 if pos.shift else 0):
                # before the diagnostic's line, inside the same block quote
                line_text = pos.lines.line_text(line0)
                prefix = line_text[:len(line_text) - len(line_text.lstrip(" \t>"))]
                at = pos.at_offset(start)
                actions.append(t.CodeAction(
                    title=f"Suppress {d.code} on this line", kind=t.CodeActionKind.QuickFix, diagnostics=[ld],
                    edit=_versioned_edit(uri, checked.version, [t.TextEdit(
                        range=t.Range(start=t.Position(line=at[0], character=at[1]),
                                      end=t.Position(line=at[0], character=at[1])),
                        new_text=f"{prefix}<!-- tidymark-disable-next-line {d.code} -->{nl}")])))
            if d.code not in suppress_file:
                suppress_file.add(d.code)
                at = pos.at_offset(max(checked.body_start - (1 if pos.shift else 0), 0))
                actions.append(t.CodeAction(
                    title=f"Suppress {d.code} in this file", kind=t.CodeActionKind.QuickFix, diagnostics=[ld],
                    edit=_versioned_edit(uri, checked.version, [t.TextEdit(
                        range=t.Range(start=t.Position(line=at[0], character=at[1]),
                                      end=t.Position(line=at[0], character=at[1])),
                        new_text=f"<!-- tidymark-disable-file {d.code} -->{nl}")])))
    if want_all and any(d.fix is not None and d.fix.applicability >= Applicability.SAFE
                        for d in checked.diagnostics):
        fixed = session.fix(uri, checked.text)
        if fixed is not None:
            actions.append(t.CodeAction(
                title="Fix all safe problems (tidymark)", kind=FIX_ALL_KIND,
                edit=_versioned_edit(uri, checked.version, [whole_text_edit(checked.text, fixed, pos.encoding)])))
    return actions


def hover(session: Session, checked: Checked, position) -> Any:
    t = _lsp()
    pages = []
    seen = set()
    for d in checked.diagnostics:
        r = to_lsp_range(checked.positions, d)
        if r.start.line <= position.line <= r.end.line and _overlaps(r, t.Range(start=position, end=position)) \
                and d.code not in seen:
            seen.add(d.code)
            doc = session.rule_doc(d.code, checked.settings)
            if doc:
                pages.append(doc)
    if not pages:
        return None
    return t.Hover(contents=t.MarkupContent(kind=t.MarkupKind.Markdown, value="\n---\n\n".join(pages)))


# -- the server ------------------------------------------------------------------------------------

def build_server(config: Path | None = None):
    """The pygls server (not started)."""
    import asyncio

    from lsprotocol import types as t
    from pygls.lsp.server import LanguageServer

    from tidymark import __version__

    server = LanguageServer("tidymark", __version__, text_document_sync_kind=t.TextDocumentSyncKind.Incremental)
    state: dict[str, Any] = {"session": None, "debounce": DEBOUNCE_SECONDS, "config": config}
    checked: dict[str, Checked] = {}
    pending: dict[str, asyncio.TimerHandle] = {}

    def encoding() -> str:
        """The position encoding agreed with the client at initialization (pygls chooses it)."""
        enc = getattr(server.workspace, "position_encoding", None) or "utf-16"
        enc = getattr(enc, "value", enc)
        return enc if enc in ("utf-8", "utf-16", "utf-32") else "utf-16"

    def session() -> Session:
        if state["session"] is None:
            state["session"] = Session(state["config"])
        return state["session"]

    def publish(uri: str) -> None:
        pending.pop(uri, None)
        try:
            doc = server.workspace.get_text_document(uri)
        except Exception:  # noqa: BLE001 - closed meanwhile
            return
        if uri not in server.workspace.text_documents:
            return
        try:
            result = session().check(uri, doc.source, doc.version, encoding())
        except ConfigError as exc:
            checked.pop(uri, None)
            server.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, version=doc.version, diagnostics=[
                t.Diagnostic(range=t.Range(start=t.Position(line=0, character=0), end=t.Position(line=0, character=0)),
                             message=f"tidymark configuration error: {exc}", severity=t.DiagnosticSeverity.Error,
                             source="tidymark", code="config")]))
            server.window_show_message(t.ShowMessageParams(type=t.MessageType.Error, message=f"tidymark: {exc}"))
            return
        checked[uri] = result
        server.text_document_publish_diagnostics(t.PublishDiagnosticsParams(
            uri=uri, version=doc.version,
            diagnostics=[to_lsp_diagnostic(result.positions, d) for d in result.diagnostics]))

    def schedule(uri: str, delay: float) -> None:
        old = pending.pop(uri, None)
        if old is not None:
            old.cancel()
        if delay <= 0:
            publish(uri)
            return
        pending[uri] = asyncio.get_running_loop().call_later(delay, publish, uri)

    def republish_all() -> None:
        for uri in list(server.workspace.text_documents):
            schedule(uri, 0)

    async def scan_folders() -> None:
        folders = [uri_to_path(f.uri) for f in server.workspace.folders.values()]
        if not folders and server.workspace.root_uri:
            folders = [uri_to_path(server.workspace.root_uri)]
        loop = asyncio.get_running_loop()
        found = 0
        for folder in folders:
            try:
                found += await loop.run_in_executor(None, session().scan_folder, folder)
            except ConfigError as exc:
                server.window_show_message(t.ShowMessageParams(type=t.MessageType.Error, message=f"tidymark: {exc}"))
            except Exception as exc:  # noqa: BLE001 - the folder's facts are an extra; checking goes on
                server.window_log_message(t.LogMessageParams(type=t.MessageType.Warning,
                                                             message=f"tidymark: cannot read the folder {folder}: {exc}"))
        if found:
            republish_all()

    @server.feature(t.INITIALIZE)
    def initialize(params: t.InitializeParams) -> None:
        opts = params.initialization_options if isinstance(params.initialization_options, dict) else {}
        if opts.get("config"):
            state["config"] = Path(opts["config"]).expanduser()
        if isinstance(opts.get("debounceMs"), (int, float)):
            state["debounce"] = max(0.0, opts["debounceMs"] / 1000)

    @server.feature(t.INITIALIZED)
    async def initialized(params: t.InitializedParams) -> None:
        caps = server.client_capabilities
        dyn = caps.workspace and caps.workspace.did_change_watched_files and \
            caps.workspace.did_change_watched_files.dynamic_registration
        if dyn:
            globs = [f"**/{n}" for n in CONFIG_FILES] + [f"**/*{s}" for s in NOTE_SUFFIXES]
            try:
                await server.client_register_capability_async(t.RegistrationParams(registrations=[t.Registration(
                    id="tidymark-watch", method=t.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                    register_options=t.DidChangeWatchedFilesRegistrationOptions(
                        watchers=[t.FileSystemWatcher(glob_pattern=g) for g in globs]))]))
            except Exception:  # noqa: BLE001 - a client that refuses: config changes seen on save only
                pass
        await scan_folders()

    @server.feature(t.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: t.DidOpenTextDocumentParams) -> None:
        schedule(params.text_document.uri, 0)

    @server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: t.DidChangeTextDocumentParams) -> None:
        schedule(params.text_document.uri, state["debounce"])

    @server.feature(t.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(params: t.DidSaveTextDocumentParams) -> None:
        path = uri_to_path(params.text_document.uri)
        if path.name in CONFIG_FILES:
            await config_changed()
            return
        schedule(params.text_document.uri, 0)

    @server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: t.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        handle = pending.pop(uri, None)
        if handle is not None:
            handle.cancel()
        checked.pop(uri, None)
        server.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    async def config_changed() -> None:
        facts = session().folder_facts
        state["session"] = Session(state["config"])
        if facts:
            state["session"].folder_facts.update(facts)
        republish_all()
        await scan_folders()

    @server.feature(t.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def watched(params: t.DidChangeWatchedFilesParams) -> None:
        if any(uri_to_path(c.uri).name in CONFIG_FILES for c in params.changes):
            await config_changed()
            return
        for c in params.changes:
            path = uri_to_path(c.uri)
            if path.suffix.lower() not in NOTE_SUFFIXES:
                continue
            if c.type == t.FileChangeType.Deleted:
                session().forget_file(path)
            else:
                session().refresh_file(path)

    @server.feature(t.TEXT_DOCUMENT_CODE_ACTION, t.CodeActionOptions(
        code_action_kinds=[t.CodeActionKind.QuickFix, FIX_ALL_KIND]))
    def code_action(params: t.CodeActionParams):
        uri = params.text_document.uri
        current = fresh(uri)
        if current is None:
            return []
        return code_actions(session(), uri, current, params.range, params.context.only)

    def fresh(uri: str) -> Checked | None:
        """The check of the buffer as it is now (a pending debounced check is done first)."""
        doc = server.workspace.text_documents.get(uri)
        if doc is None:
            return None
        got = checked.get(uri)
        if got is None or got.version != doc.version or got.text != doc.source:
            schedule(uri, 0)
            got = checked.get(uri)
        return got

    @server.feature(t.TEXT_DOCUMENT_HOVER)
    def on_hover(params: t.HoverParams):
        current = fresh(params.text_document.uri)
        return hover(session(), current, params.position) if current is not None else None

    @server.command(FIX_ALL_COMMAND)
    async def fix_all(*args):
        args = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
        uri = args[0] if args else None
        if isinstance(uri, dict):
            uri = uri.get("uri")
        doc = server.workspace.text_documents.get(uri) if isinstance(uri, str) else None
        if doc is None:
            return None
        fixed = session().fix(uri, doc.source)
        if fixed is None:
            return None
        result = await server.workspace_apply_edit_async(t.ApplyWorkspaceEditParams(
            edit=_versioned_edit(uri, doc.version, [whole_text_edit(doc.source, fixed, encoding())]), label="tidymark: fix all"))
        return {"applied": bool(result and result.applied)}

    return server


def main(config: Path | None = None) -> int:
    """Run the server over stdio until the client ends it."""
    try:
        import lsprotocol  # noqa: F401
        import pygls  # noqa: F401
    except ImportError:
        import sys

        sys.stderr.write(f"tidymark: error: {INSTALL_HINT}\n")
        return 2
    build_server(config).start_io()
    return 0
