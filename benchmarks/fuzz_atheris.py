"""Coverage-guided fuzzing of the per-file pipeline (read -> check -> fix -> write) with atheris.

Not a unit test (``tests/test_fuzz_pipeline.py`` is the hypothesis version of the same
target).  Each input is written to a file in a scratch folder and fixed through the
pipeline the CLI uses, with a journal; then:

* no exception escapes the pipeline;
* an undecodable file gets TM001 and is left byte for byte;
* a fix the content-loss guard refuses (TM002 "changed the structure") is not written; such
  inputs are counted, and kept in ``$TIDYMARK_FUZZ_REFUSED`` when that is set;
* the bytes written are what the engine computed; nothing outside the applied edits changed;
* fixing again changes nothing; the journal holds the original bytes;
* with no fixable problem the bytes are identical.

A violated invariant raises ``AssertionError``, which atheris reports as a crash and saves the
input as ``crash-*`` in the current folder.

    pip install atheris
    python benchmarks/fuzz_atheris.py -max_total_time=120            # two minutes
    python benchmarks/fuzz_atheris.py -max_total_time=600 corpus_dir/ # seeded, corpus kept
    python benchmarks/fuzz_atheris.py crash-abc123                    # replay one input

The seeds/ notes make a good starting corpus: ``mkdir fz && cp seeds/*.md fz/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["tidymark"]):
    from tidymark.config import Settings
    from tidymark.diagnostics import Applicability
    from tidymark.document import Document
    from tidymark.engine import Guard, fix_document
    from tidymark.pipeline import RunOptions, Worker
    from tidymark.runner import RuleBook
    from tidymark.source import DecodeError, Span, decode, encode

ROOT = Path(tempfile.mkdtemp(prefix="tidymark-fuzz-"))
CONFIG = ROOT / ".tidymark.yaml"
CONFIG.write_text("rule-timeout: 0\n", encoding="utf-8")
RULES = RuleBook().rules_for(Settings())
COUNTS = {"inputs": 0, "undecodable": 0, "fixed": 0, "unchanged": 0, "refused": 0}
# inputs whose fix the guard refused are kept here (TIDYMARK_FUZZ_REFUSED=DIR) for the rules' owners
REFUSED = Path(os.environ["TIDYMARK_FUZZ_REFUSED"]) if os.environ.get("TIDYMARK_FUZZ_REFUSED") else None


def _kept_outside(original: str, fixed: str, spans: list[Span]) -> bool:
    merged: list[Span] = []
    for s in sorted(spans):
        if merged and s.start <= merged[-1].end:
            merged[-1] = Span(merged[-1].start, max(merged[-1].end, s.end))
        else:
            merged.append(s)
    cuts = [0] + [p for s in merged for p in (s.start, s.end)] + [len(original)]
    segments = [original[cuts[i]:cuts[i + 1]] for i in range(0, len(cuts), 2)]
    if not fixed.startswith(segments[0]) or not fixed.endswith(segments[-1]):
        return False
    pos = len(segments[0])
    for seg in segments[1:-1]:
        found = fixed.find(seg, pos)
        if found == -1:
            return False
        pos = found + len(seg)
    return True


def test_one_input(data: bytes) -> None:
    COUNTS["inputs"] += 1
    if COUNTS["inputs"] % 2000 == 0:  # libFuzzer exits without running Python's exit handlers
        sys.stderr.write(f"tidymark fuzz: {COUNTS}\n")
    folder = Path(tempfile.mkdtemp(dir=ROOT))
    try:
        f = folder / "note.md"
        f.write_bytes(data)
        journal = folder / "journal"
        opts = RunOptions(mode="fix", use_cache=False, config=CONFIG, journal=journal)
        res = Worker(opts).process(f, "note.md")
        after = f.read_bytes()
        try:
            dec = decode(data)
        except DecodeError:
            COUNTS["undecodable"] += 1
            assert [d.code for d in res.diagnostics] == ["TM001"] and after == data
            return
        refused = [d for d in res.diagnostics if d.code == "TM002" and "changed the structure" in d.message]
        if refused:  # the content-loss guard stopped a rule's fix: nothing written, worth a look
            COUNTS["refused"] += 1
            if REFUSED is not None:
                (REFUSED / f"refused-{hashlib.sha256(data).hexdigest()[:16]}").write_bytes(data)
            assert not res.changed and after == data
            return
        bad = [d.message for d in res.diagnostics if d.code in ("TM001", "TM002")]
        assert not bad, bad
        if not res.changed:
            COUNTS["unchanged"] += 1
            assert after == data, "bytes changed without a fix"
            return
        COUNTS["fixed"] += 1
        doc = Document(dec.text, f, bom=dec.bom, newline=dec.newline)
        out = fix_document(doc, RULES, Applicability.SAFE, guard=Guard())
        assert after == encode(out.text, dec.bom), "written bytes differ from the engine's result"
        assert _kept_outside(dec.text, out.text, out.original_spans()), "text outside the fixes changed"
        records = [json.loads(p.read_text()) for p in (journal / "files").glob("*.json")]
        assert len(records) == 1 and (journal / records[0]["backup"]).read_bytes() == data
        again = Worker(RunOptions(mode="fix", use_cache=False, config=CONFIG)).process(f, "note.md")
        assert not again.changed and f.read_bytes() == after, "fix is not idempotent"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    import atexit

    atexit.register(shutil.rmtree, ROOT, True)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
