"""Draw the random sample of saved notes that the cleaning evaluation is labelled on.

    python benchmarks/cleaning/sample.py ../shared [--seed 20261206] [--per-folder 16]

Every vault folder of ``corpus/`` and ``corpus-wide/`` gives up to ``--per-folder`` notes
(a folder with fewer than twice that many gives half of its notes), drawn with a seeded
random generator from the sorted list of its ``.md`` files; a third of each folder's draw
(rounded up) is set aside as the held-out part, which is scored only at the end of a round
of tuning.  The sample is written to ``sample.json`` beside this script: for each note its
folder, its SHA-256 and its part.  No file name and no text of the notes is stored (the
corpus is third-party text); the scorer finds a note again by the hash of its bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def vault_folders(shared: Path) -> list[Path]:
    """The vault folders: each ``owner__repo`` folder of the two corpora."""
    out = []
    for corpus in ("corpus", "corpus-wide"):
        root = shared / corpus
        out += sorted(p for p in root.iterdir() if p.is_dir() and "__" in p.name)
    return out


def draw(shared: Path, seed: int, per_folder: int) -> dict:
    rng = random.Random(seed)
    notes = []
    for folder in vault_folders(shared):
        files = sorted(folder.rglob("*.md"), key=lambda p: p.relative_to(folder).as_posix())
        n = per_folder if len(files) >= 2 * per_folder else len(files) // 2
        picked = rng.sample(files, n)
        held = -(-n // 3)
        for i, path in enumerate(picked):
            notes.append({
                "folder": folder.relative_to(shared).as_posix(),
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "part": "held-out" if i < held else "dev",
            })
    return {"seed": seed, "per_folder": per_folder, "notes": notes}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("shared", type=Path, help="the folder holding corpus/ and corpus-wide/")
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--per-folder", type=int, default=16)
    ap.add_argument("-o", "--output", type=Path, default=HERE / "sample.json")
    args = ap.parse_args(argv)
    sample = draw(args.shared, args.seed, args.per_folder)
    args.output.write_text(json.dumps(sample, indent=1) + "\n", encoding="utf-8")
    parts = {p: sum(n["part"] == p for n in sample["notes"]) for p in ("dev", "held-out")}
    print(f"{len(sample['notes'])} notes ({parts['dev']} dev, {parts['held-out']} held-out) -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
