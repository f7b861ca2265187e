"""``tidymark server`` driven by a real LSP client (pygls's) over stdio."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

pytest.importorskip("pygls")
from lsprotocol import types as t  # noqa: E402
from pygls.lsp.client import LanguageClient  # noqa: E402

from tidymark.cli import main  # noqa: E402
from tidymark.server import Positions, Session  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
TIMEOUT = 60


def uri(path: Path) -> str:
    return path.resolve().as_uri()


def cli_json(argv: list[str]) -> list[dict]:
    out = io.StringIO()
    with redirect_stdout(out):
        main(["check", "--output-format", "json", "--no-cache", *argv])
    return json.loads(out.getvalue())


def utf16_offset(text: str, line: int, character: int) -> int:
    """The code-point offset of an LSP position, computed independently of the server."""
    lines = text.splitlines(keepends=True)
    start = sum(len(x) for x in lines[:line])
    cur = lines[line] if line < len(lines) else ""
    units = cur.encode("utf-16-le")[: character * 2].decode("utf-16-le")
    return start + len(units)


def apply(text: str, edits: list[t.TextEdit]) -> str:
    spans = [(utf16_offset(text, e.range.start.line, e.range.start.character),
              utf16_offset(text, e.range.end.line, e.range.end.character), e.new_text) for e in edits]
    for a, b, new in sorted(spans, reverse=True):
        text = text[:a] + new + text[b:]
    return text


def edits_of(action: t.CodeAction) -> list[t.TextEdit]:
    assert action.edit is not None and action.edit.document_changes
    return list(action.edit.document_changes[0].edits)


class Editor:
    """A pygls client running ``python -m tidymark server`` in ``root``, with a workspace folder."""

    def __init__(self, root: Path, options: dict | None = None, encodings=(t.PositionEncodingKind.Utf16,)):
        self.root = root
        self.encodings = list(encodings)
        self.result: t.InitializeResult | None = None
        self.options = {"debounceMs": 0, **(options or {})}
        self.client = LanguageClient("tidymark-tests", "1")
        self.published: dict[str, list[t.PublishDiagnosticsParams]] = {}
        self.arrived = asyncio.Event()
        self.applied: list[t.ApplyWorkspaceEditParams] = []
        self.registrations: list[t.Registration] = []
        c = self.client

        @c.feature(t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def _diags(params: t.PublishDiagnosticsParams):
            self.published.setdefault(params.uri, []).append(params)
            self.arrived.set()

        @c.feature(t.WORKSPACE_APPLY_EDIT)
        def _apply(params: t.ApplyWorkspaceEditParams):
            self.applied.append(params)
            return t.ApplyWorkspaceEditResult(applied=True)

        @c.feature(t.CLIENT_REGISTER_CAPABILITY)
        def _register(params: t.RegistrationParams):
            self.registrations.extend(params.registrations)

        @c.feature(t.WINDOW_SHOW_MESSAGE)
        def _message(params):
            pass

        @c.feature(t.WINDOW_LOG_MESSAGE)
        def _log(params):
            pass

    async def __aenter__(self) -> "Editor":
        await self.client.start_io(sys.executable, "-m", "tidymark", "server", cwd=str(self.root))
        caps = t.ClientCapabilities(
            workspace=t.WorkspaceClientCapabilities(
                apply_edit=True,
                did_change_watched_files=t.DidChangeWatchedFilesClientCapabilities(dynamic_registration=True)),
            general=t.GeneralClientCapabilities(position_encodings=self.encodings))
        self.result = await asyncio.wait_for(self.client.initialize_async(t.InitializeParams(
            capabilities=caps, root_uri=uri(self.root), initialization_options=self.options,
            workspace_folders=[t.WorkspaceFolder(uri=uri(self.root), name="notes")])), TIMEOUT)
        self.client.initialized(t.InitializedParams())
        return self

    async def __aexit__(self, *exc) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), TIMEOUT)
            self.client.exit(None)
        finally:
            await self.client.stop()

    def open(self, path: Path, text: str | None = None, version: int = 1) -> str:
        u = uri(path)
        self.client.text_document_did_open(t.DidOpenTextDocumentParams(text_document=t.TextDocumentItem(
            uri=u, language_id="markdown", version=version,
            text=text if text is not None else path.read_text(encoding="utf-8"))))
        return u

    def change(self, u: str, version: int, text: str) -> None:
        self.client.text_document_did_change(t.DidChangeTextDocumentParams(
            text_document=t.VersionedTextDocumentIdentifier(uri=u, version=version),
            content_changes=[t.TextDocumentContentChangeWholeDocument(text=text)]))

    async def diagnostics(self, u: str, version: int | None = None, after: int = 0,
                          until=None) -> list[t.Diagnostic]:
        """The first publication for ``u`` (of ``version``) after the ``after``-th one that satisfies ``until``."""
        async def wait():
            while True:
                for p in self.published.get(u, [])[after:]:
                    if (version is None or p.version == version) and (until is None or until(p.diagnostics)):
                        return list(p.diagnostics)
                self.arrived.clear()
                await self.arrived.wait()
        return await asyncio.wait_for(wait(), TIMEOUT)

    async def actions(self, u: str, rng: t.Range, only=None) -> list[t.CodeAction]:
        got = await asyncio.wait_for(self.client.text_document_code_action_async(t.CodeActionParams(
            text_document=t.TextDocumentIdentifier(uri=u), range=rng,
            context=t.CodeActionContext(diagnostics=[], only=only))), TIMEOUT)
        return list(got or [])


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def notes(tmp_path) -> Path:
    root = tmp_path / "vault"
    root.mkdir()
    (root / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    for name in ("omnivore-zh-woshipm.md", "hugo-draft-post.md", "simpread-zh.md", "substack-newsletter.md"):
        shutil.copy(SEEDS / name, root / name)
    return root


def as_cli(text: str, d: t.Diagnostic) -> dict:
    """An LSP diagnostic in the CLI's JSON terms (1-based lines, code-point columns)."""
    sev = {t.DiagnosticSeverity.Error: "error", t.DiagnosticSeverity.Warning: "warning",
           t.DiagnosticSeverity.Information: "info"}[d.severity]
    lines = text.splitlines(keepends=True)

    def col(p: t.Position) -> int:
        cur = lines[p.line] if p.line < len(lines) else ""
        return len(cur.encode("utf-16-le")[: p.character * 2].decode("utf-16-le")) + 1

    return {"line": d.range.start.line + 1, "column": col(d.range.start), "end_line": d.range.end.line + 1,
            "end_column": col(d.range.end), "code": d.code, "message": d.message, "severity": sev}


KEYS = ("line", "column", "end_line", "end_column", "code", "message", "severity")


def test_diagnostics_equal_the_cli_json_and_fix_all_equals_tidymark_fix(notes, monkeypatch):
    monkeypatch.chdir(notes)
    names = ["omnivore-zh-woshipm.md", "hugo-draft-post.md", "simpread-zh.md"]
    folder = cli_json(["."])
    want = {n: [{k: d[k] for k in KEYS} for d in folder if d["path"] == n] for n in names}

    async def go():
        async with Editor(notes) as ed:
            got = {}
            for n in names:
                u = ed.open(notes / n)
                text = (notes / n).read_text(encoding="utf-8")
                got[n] = [as_cli(text, d) for d in await ed.diagnostics(u, 1)]
            u = uri(notes / names[0])
            await ed.client.workspace_execute_command_async(t.ExecuteCommandParams(
                command="tidymark.fixAll", arguments=[u]))
            return got, ed.applied

    got, applied = run(go())
    for n in names:
        assert got[n] == want[n], n
    assert want["omnivore-zh-woshipm.md"]  # a dirty note
    # fix all through workspace/executeCommand: the edit gives what `tidymark fix` writes
    assert len(applied) == 1
    text = (notes / names[0]).read_text(encoding="utf-8")
    fixed = apply(text, list(applied[0].edit.document_changes[0].edits))
    assert main(["fix", "--no-cache", "--no-backup", "-q", names[0]]) in (0, 1)
    assert fixed == (notes / names[0]).read_text(encoding="utf-8")


def test_quick_fix_applied_equals_tidymark_fix(notes, monkeypatch):
    monkeypatch.chdir(notes)
    note = notes / "one.md"
    text = "---\ntitle: |\n  Subsidies cannot buy loyalty\n---\nBody text.\n"
    note.write_text(text, encoding="utf-8")

    async def go():
        async with Editor(notes) as ed:
            u = ed.open(note)
            diags = await ed.diagnostics(u, 1)
            acts = await ed.actions(u, diags[0].range)
            fixall = await ed.actions(u, diags[0].range, only=[t.CodeActionKind.SourceFixAll])
            other = await ed.actions(u, diags[0].range, only=[t.CodeActionKind.SourceOrganizeImports])
            quick_only = await ed.actions(u, diags[0].range, only=[t.CodeActionKind.QuickFix])
            return diags, acts, fixall, other, quick_only

    diags, acts, fixall, other, quick_only = run(go())
    assert other == []
    assert quick_only and all(a.kind == t.CodeActionKind.QuickFix for a in quick_only)
    assert [d.code for d in diags] == ["FM002"]
    quick = [a for a in acts if a.title.startswith("Fix FM002")]
    assert len(quick) == 1 and quick[0].is_preferred and quick[0].kind == t.CodeActionKind.QuickFix
    assert quick[0].diagnostics[0].code == "FM002"
    after = apply(text, edits_of(quick[0]))
    assert main(["fix", "--no-cache", "--no-backup", "-q", "one.md"]) == 0
    assert after == note.read_text(encoding="utf-8") == "---\ntitle: Subsidies cannot buy loyalty\n---\nBody text.\n"
    # only=source.fixAll: only the fix-all action, which gives the same text
    assert [a.kind for a in fixall] == ["source.fixAll.tidymark"]
    assert apply(text, edits_of(fixall[0])) == after
    # in the front matter a comment would break the YAML: only the file-level suppression
    titles = [a.title for a in acts]
    assert "Suppress FM002 in this file" in titles and "Suppress FM002 on this line" not in titles


CJK = ("---\ntitle: 订阅制😀笔记\n---\n\n"
       "中文😀🎉 图 ![](https://proxy-prod.omnivore-image-cache.app/0x0,seV-vd0QCt3LhE7jLmGOWazT3xK1BvKkLF5Cd_QCBiso/https://img.example.cn/a.png) 后文😀\n\n"
       "> 引用😀 ![](https://proxy-prod.omnivore-image-cache.app/0x0,seV-vd0QCt3LhE7jLmGOWazT3xK1BvKkLF5Cd_QCBiso/https://img.example.cn/b.png)\n")


def test_cjk_and_emoji_columns_are_utf16(notes, monkeypatch):
    monkeypatch.chdir(notes)
    note = notes / "cjk.md"
    note.write_text(CJK, encoding="utf-8")
    want = [{k: d[k] for k in KEYS} for d in cli_json(["cjk.md"])]

    async def go():
        async with Editor(notes) as ed:
            u = ed.open(note)
            diags = await ed.diagnostics(u, 1)
            acts = [await ed.actions(u, d.range) for d in diags]
            return diags, acts

    diags, acts = run(go())
    im = [d for d in diags if d.code == "IM001"]
    assert len(im) == 2
    line = CJK.splitlines()[4]
    cli_col = next(d["column"] for d in want if d["code"] == "IM001")  # code points, 1-based
    prefix = line[:cli_col - 1]
    assert prefix == "中文😀🎉 图 ![]("
    assert im[0].range.start.character == len(prefix.encode("utf-16-le")) // 2 == len(prefix) + 2  # two emoji
    # the range covers the proxied URL exactly, in UTF-16 units
    a = utf16_offset(CJK, im[0].range.start.line, im[0].range.start.character)
    b = utf16_offset(CJK, im[0].range.end.line, im[0].range.end.character)
    assert CJK[a:b] == line[line.index("https://proxy"):line.index(")", line.index("https://proxy"))]
    assert [as_cli(CJK, d) for d in diags] == want
    # the quick fix lands on the right characters
    quick = next(a for a in acts[diags.index(im[0])] if a.title.startswith("Fix IM001"))
    fixed = apply(CJK, edits_of(quick))
    assert "中文😀🎉 图 ![](https://img.example.cn/a.png) 后文😀" in fixed
    # the suppression inside the block quote keeps the quote's marker
    quote = next(a for a in acts[diags.index(im[1])] if a.title == "Suppress IM001 on this line")
    fixed = apply(CJK, edits_of(quote))
    assert "\n> <!-- tidymark-disable-next-line IM001 -->\n> 引用😀" in fixed
    assert not [d for d in cli_json_text(notes, fixed) if d["code"] == "IM001" and d["line"] == 8]


def cli_json_text(root: Path, text: str) -> list[dict]:
    (root / "tmp-check.md").write_text(text, encoding="utf-8")
    try:
        return cli_json(["tmp-check.md"])
    finally:
        (root / "tmp-check.md").unlink()


def test_suppress_actions_silence_the_problem(notes, monkeypatch):
    monkeypatch.chdir(notes)
    text = (notes / "omnivore-zh-woshipm.md").read_text(encoding="utf-8")

    async def go():
        async with Editor(notes) as ed:
            u = ed.open(notes / "omnivore-zh-woshipm.md")
            diags = await ed.diagnostics(u, 1)
            im = next(d for d in diags if d.code == "IM001")
            return im, await ed.actions(u, im.range)

    im, acts = run(go())
    line = next(a for a in acts if a.title == "Suppress IM001 on this line")
    whole = next(a for a in acts if a.title == "Suppress IM001 in this file")
    before = cli_json(["omnivore-zh-woshipm.md"])
    one = cli_json_text(notes, apply(text, edits_of(line)))
    # that one problem is silenced (the others stay, one line further down), nothing else changes
    assert [(d["line"], d["code"]) for d in one] == \
        [(d["line"] + (d["line"] > im.range.start.line), d["code"]) for d in before
         if not (d["code"] == "IM001" and d["line"] == im.range.start.line + 1)]
    everywhere = cli_json_text(notes, apply(text, edits_of(whole)))
    assert not [d for d in everywhere if d["code"] in ("IM001", "TM100", "FM000")]
    assert len(everywhere) == len([d for d in before if d["code"] != "IM001"])


def test_hover_shows_the_rule_documentation(notes, monkeypatch):
    monkeypatch.chdir(notes)

    async def go():
        async with Editor(notes) as ed:
            u = ed.open(notes / "hugo-draft-post.md")
            diags = await ed.diagnostics(u, 1)
            pb = next(d for d in diags if d.code == "PB001")
            on = await ed.client.text_document_hover_async(t.HoverParams(
                text_document=t.TextDocumentIdentifier(uri=u), position=pb.range.start))
            off = await ed.client.text_document_hover_async(t.HoverParams(
                text_document=t.TextDocumentIdentifier(uri=u), position=t.Position(line=pb.range.start.line + 3,
                                                                                   character=0)))
            return on, off

    on, off = run(go())
    assert on is not None and on.contents.kind == t.MarkupKind.Markdown
    assert on.contents.value.startswith("# draft-flag (PB001)")
    assert off is None


def test_change_is_checked_and_config_change_republishes(notes, monkeypatch):
    monkeypatch.chdir(notes)
    note = notes / "hugo-draft-post.md"
    text = note.read_text(encoding="utf-8")

    async def go():
        async with Editor(notes, {"debounceMs": 50}) as ed:
            u = ed.open(note)
            first = await ed.diagnostics(u, 1)
            ed.change(u, 2, text.replace("draft: true", "draft: false"))
            second = await ed.diagnostics(u, 2)
            ed.change(u, 3, text)
            third = await ed.diagnostics(u, 3)
            n = len(ed.published[u])
            (notes / ".tidymark.yaml").write_text("ignore: [PB001]\n", encoding="utf-8")
            ed.client.workspace_did_change_watched_files(t.DidChangeWatchedFilesParams(changes=[
                t.FileEvent(uri=uri(notes / ".tidymark.yaml"), type=t.FileChangeType.Changed)]))
            # (a publication may come first from the end of the folder scan)
            fourth = await ed.diagnostics(u, after=n, until=lambda ds: not ds)
            return first, second, third, fourth, ed.registrations

    first, second, third, fourth, regs = run(go())
    assert [d.code for d in first] == ["PB001"]
    assert second == []
    assert [d.code for d in third] == ["PB001"]
    assert fourth == []  # re-published under the new configuration
    globs = [w["globPattern"] for r in regs for w in r.register_options["watchers"]]
    assert "**/.tidymark.yaml" in globs and "**/pyproject.toml" in globs


def test_debounce_checks_a_burst_of_changes_once(notes, monkeypatch):
    monkeypatch.chdir(notes)
    note = notes / "hugo-draft-post.md"
    text = note.read_text(encoding="utf-8")

    async def go():
        # a window far longer than the burst takes to send, even on a loaded machine
        async with Editor(notes, {"debounceMs": 2000}) as ed:
            u = ed.open(note)
            await ed.diagnostics(u, 1)
            await asyncio.sleep(2)  # let the background folder scan finish (it re-publishes the current version)
            for v in range(2, 12):
                ed.change(u, v, text + "x" * v)
            last = await ed.diagnostics(u, 11)
            await asyncio.sleep(0.5)
            return [p.version for p in ed.published[u]], last

    versions, last = run(go())
    # checked once after the burst; on a slow machine the folder scan may still re-publish one
    # version it finds current, but the debounced checks never publish the versions in between
    assert len(set(versions) & set(range(2, 11))) <= 1, versions
    assert versions[-1] == 11
    assert [d.code for d in last] == ["PB001"]


def test_cross_document_rule_from_the_folder_facts(notes, monkeypatch):
    monkeypatch.chdir(notes)
    (notes / ".tidymark.yaml").write_text("extend-select: [DM006]\n", encoding="utf-8")
    shutil.copy(notes / "simpread-zh.md", notes / "simpread-zh-copy.md")
    want = [{k: d[k] for k in KEYS} for d in cli_json(["."]) if d["path"] == "simpread-zh-copy.md"]
    assert any(d["code"] == "DM006" for d in want)

    async def go():
        async with Editor(notes) as ed:
            u = ed.open(notes / "simpread-zh-copy.md")
            return await ed.diagnostics(u, 1, until=lambda ds: any(d.code == "DM006" for d in ds))

    text = (notes / "simpread-zh-copy.md").read_text(encoding="utf-8")
    got = run(go())
    assert sorted(map(json.dumps, [as_cli(text, d) for d in got])) == sorted(map(json.dumps, want))


def test_bad_configuration_is_a_diagnostic_not_a_crash(notes, monkeypatch):
    monkeypatch.chdir(notes)
    (notes / ".tidymark.yaml").write_text("select: [NOPE999]\n", encoding="utf-8")

    async def go():
        async with Editor(notes) as ed:
            u = ed.open(notes / "hugo-draft-post.md")
            return await ed.diagnostics(u, 1)

    got = run(go())
    assert len(got) == 1 and "configuration error" in got[0].message and "NOPE999" in got[0].message


@pytest.mark.parametrize("encoding,b_at,x_at", [("utf-16", 3, 0), ("utf-8", 5, 0), ("utf-32", 2, 0)])
def test_positions_round_trip(encoding, b_at, x_at):
    text = "a😀b\r\n中😀\rx\n"
    pos = Positions(text, encoding=encoding)
    for off in range(len(text)):
        line, ch = pos.at_offset(off)
        if text[off - 1:off + 1] == "\r\n" and off:
            continue  # inside a line break
        assert pos.offset(line, ch) == off, off
    assert pos.at_offset(text.index("b")) == (0, b_at)
    assert pos.at_offset(text.index("x")) == (2, x_at)
    assert pos.at_offset(text.index("😀", 3) + 1)[1] == {"utf-16": 3, "utf-8": 7, "utf-32": 2}[encoding]


def test_session_checks_like_the_cli(notes, monkeypatch):
    monkeypatch.chdir(notes)
    text = (notes / "omnivore-zh-woshipm.md").read_text(encoding="utf-8")
    got = Session().check(uri(notes / "omnivore-zh-woshipm.md"), text)
    assert [(d.line, d.column, d.code) for d in got.diagnostics] == \
        [(d["line"], d["column"], d["code"]) for d in cli_json(["omnivore-zh-woshipm.md"])]


def test_server_without_pygls_says_how_to_install(monkeypatch, capsys):
    import builtins

    real = builtins.__import__

    def no_pygls(name, *a, **k):
        if name.split(".")[0] in ("pygls", "lsprotocol"):
            raise ImportError(name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_pygls)
    assert main(["server"]) == 2
    assert "pip install 'tidymark[lsp]'" in capsys.readouterr().err


def test_a_client_that_asks_for_utf8_positions_gets_them(notes, monkeypatch):
    """Neovim, for one, offers UTF-8 first: the positions follow the encoding agreed on."""
    monkeypatch.chdir(notes)
    note = notes / "cjk.md"
    note.write_text(CJK, encoding="utf-8")

    async def go():
        async with Editor(notes, encodings=(t.PositionEncodingKind.Utf8, t.PositionEncodingKind.Utf16)) as ed:
            u = ed.open(note)
            diags = await ed.diagnostics(u, 1)
            im = next(d for d in diags if d.code == "IM001")
            acts = await ed.actions(u, im.range)
            return ed.result.capabilities.position_encoding, im, acts

    enc, im, acts = run(go())
    assert enc == t.PositionEncodingKind.Utf8
    line = CJK.splitlines()[4]
    start = line.index("https://proxy")
    assert im.range.start.character == len(line[:start].encode("utf-8"))  # bytes, not UTF-16 units
    quick = next(a for a in acts if a.title.startswith("Fix IM001"))
    edit = edits_of(quick)[0]
    raw = CJK.splitlines(keepends=True)[edit.range.start.line].encode("utf-8")
    fixed_line = (raw[:edit.range.start.character] + edit.new_text.encode("utf-8")
                  + raw[edit.range.end.character:]).decode("utf-8")
    assert fixed_line.startswith("中文😀🎉 图 ![](https://img.example.cn/a.png) 后文😀")
