"""Latency of ``tidymark server``: an edit of a 30 KB note, to its diagnostics.

A real LSP client (pygls's) starts ``python -m tidymark server`` over stdio, opens a note of
about 30 KB made of the seed notes' bodies (front matter, CJK and English prose, proxied
images, ads), then types into it: each edit is a ``didChange`` (a one-character insertion at
a different place each time) and is timed until the server's ``publishDiagnostics`` for that
version arrives.  The debounce is set to 0 so that the time is the server's own (an editor's
default debounce adds 100 ms of waiting by design).  The in-process time of the check alone
(:class:`tidymark.server.Session`) is reported too, as wall and as CPU time: on a shared
machine the wall time includes waiting for a core, the CPU time is what the check costs.

    python benchmarks/lsp_latency.py [--edits 200] [--size 30000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


def make_note(size: int) -> str:
    """A note of about ``size`` bytes: the first seed's front matter, then seed bodies."""
    seeds = sorted(p for p in SEEDS.glob("*.md") if not p.name.endswith(".fixed.md") and p.name != "README.md")
    first = seeds[0].read_text(encoding="utf-8")
    head, body = first.split("\n---\n", 1) if first.startswith("---\n") else ("", first)
    out = [head + "\n---\n" if head else "", body]
    i = 0
    while len("".join(out).encode("utf-8")) < size:
        text = seeds[i % len(seeds)].read_text(encoding="utf-8").replace("\r\n", "\n")
        if text.startswith("---\n") and "\n---\n" in text[4:]:
            text = text[4:].split("\n---\n", 1)[1]
        out.append(f"\n\n## Part {i}\n\n" + text)
        i += 1
    return "".join(out)


async def measure(note: str, edits: int) -> list[float]:
    from lsprotocol import types as t
    from pygls.lsp.client import LanguageClient

    folder = Path(tempfile.mkdtemp(prefix="tidymark-lsp-bench-"))
    (folder / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    path = folder / "note.md"
    path.write_text(note, encoding="utf-8")
    uri = path.as_uri()
    client = LanguageClient("bench", "1")
    arrived: dict[int, float] = {}
    event = asyncio.Event()

    @client.feature(t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def _diags(params: t.PublishDiagnosticsParams):
        arrived[params.version] = time.perf_counter()
        event.set()

    async def wait(version: int) -> float:
        while version not in arrived:
            event.clear()
            await asyncio.wait_for(event.wait(), 60)
        return arrived[version]

    await client.start_io(sys.executable, "-m", "tidymark", "server", cwd=str(folder))
    await client.initialize_async(t.InitializeParams(capabilities=t.ClientCapabilities(),
                                                     root_uri=folder.as_uri(),
                                                     initialization_options={"debounceMs": 0}))
    client.initialized(t.InitializedParams())
    client.text_document_did_open(t.DidOpenTextDocumentParams(text_document=t.TextDocumentItem(
        uri=uri, language_id="markdown", version=1, text=note)))
    await wait(1)
    lines = note.split("\n")
    times = []
    for v in range(2, edits + 2):
        line = (v * 37) % len(lines)
        sent = time.perf_counter()
        client.text_document_did_change(t.DidChangeTextDocumentParams(
            text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=v),
            content_changes=[t.TextDocumentContentChangePartial(
                range=t.Range(start=t.Position(line=line, character=0), end=t.Position(line=line, character=0)),
                text="x")]))
        times.append((await wait(v) - sent) * 1000)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return times


def in_process(note: str, rounds: int) -> tuple[list[float], list[float]]:
    from tidymark.server import Session

    folder = Path(tempfile.mkdtemp(prefix="tidymark-lsp-bench-"))
    (folder / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    uri = (folder / "note.md").as_uri()
    session = Session()
    session.check(uri, note)
    wall, cpu = [], []
    for i in range(rounds):
        text = note[: i * 97 % len(note)] + "x" + note[i * 97 % len(note):]
        t0, c0 = time.perf_counter(), time.process_time()
        session.check(uri, text)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return wall, cpu


def summary(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return (f"{name}: median {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, max {ms[-1]:.1f} ms "
            f"({len(ms)} edits)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--edits", type=int, default=200)
    ap.add_argument("--size", type=int, default=30_000)
    args = ap.parse_args()
    note = make_note(args.size)
    print(f"note: {len(note.encode('utf-8')):,} bytes, {note.count(chr(10)) + 1} lines")
    print(summary("edit -> publishDiagnostics over stdio", asyncio.run(measure(note, args.edits))))
    wall, cpu = in_process(note, args.edits)
    print(summary("check alone (in process), wall", wall))
    print(summary("check alone (in process), CPU", cpu))
    if hasattr(os, "getloadavg"):
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times include waiting for a core)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
