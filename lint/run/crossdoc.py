"""The cross-document pass of a run, kept in the cache folder: a run whose files gave exactly
the facts of the last run, under the same rules and code, reuses its findings."""

from __future__ import annotations

from pathlib import Path

from tidymark.core import project
from tidymark.diagnostics import Diagnostic

def run_project_cached(rules: list[project.ProjectRule], facts_by_file: dict[str, dict],
                       cache_dir: Path | None) -> dict[str, list[Diagnostic]]:
    """:func:`tidymark.core.project.run_project`, reusing the last run's findings when every file's facts, the
    rules with their options and tidymark's code are the same (the findings are a function
    of these alone).  One result is kept: the last run's."""
    if cache_dir is None or not rules:
        return project.run_project(rules, facts_by_file)
    import hashlib
    import json

    from tidymark.run.cache import code_fingerprint, from_json, read_entry, rules_fingerprint, to_json, write_entry

    h = hashlib.sha256(f"{code_fingerprint()}|{rules_fingerprint(rules)}".encode())
    dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
    for key in sorted(facts_by_file):
        h.update(f"{len(key)}:{key}".encode())
        h.update(dumps(facts_by_file[key]).encode())
        h.update(b"\0")
    key = h.hexdigest()
    path = cache_dir / project.PROJECT_CACHE_NAME
    try:
        kept = read_entry(path)  # None when damaged (sealed with a checksum)
        if kept["key"] == key:
            return {k: [from_json(o) for o in v] for k, v in kept["found"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    found = project.run_project(rules, facts_by_file)
    write_entry(cache_dir, path, {"key": key, "found": {k: [to_json(d) for d in v] for k, v in found.items()}})
    return found
