"""The run summary, in one place: what every file of a run adds to the tally (local run and
scale-out engines alike), the ``--statistics`` table and the closing line."""

from __future__ import annotations

from collections import Counter


def new(mode: str) -> dict:
    """An empty tally for a run in ``mode`` (check, fix or diff)."""
    return {"mode": mode, "files": 0, "changed_files": 0, "fixed": 0, "remaining": 0, "fixable": 0,
            "unsafe_fixable": 0, "internal_errors": 0, "failing": 0, "bytes_removed": 0,
            "baselined": 0, "fixed_per_rule": Counter(), "remaining_per_rule": Counter(),
            "fixable_per_rule": Counter()}


def count(summary: dict, *, changed: bool, applied: list[str], bytes_removed: int, diagnostics,
          threshold, fail_on) -> None:
    """Add one file: whether it changed, the codes of the fixes applied, and its remaining
    diagnostics as (code, name, severity, applicability or None)."""
    from tidymark.core.engine import INTERNAL_ERROR
    from tidymark.diagnostics import Applicability

    summary["files"] += 1
    if changed:
        summary["changed_files"] += 1
        summary["fixed"] += len(applied)
        summary["bytes_removed"] += bytes_removed
        summary["fixed_per_rule"].update(applied)
    for code, name, severity, applicability in diagnostics:
        summary["remaining"] += 1
        summary["remaining_per_rule"][(code, name)] += 1
        if code == INTERNAL_ERROR[0]:
            summary["internal_errors"] += 1
        if severity >= fail_on:
            summary["failing"] += 1
        if applicability is not None:
            if applicability >= threshold:
                summary["fixable"] += 1
                summary["fixable_per_rule"][code] += 1
            elif applicability >= Applicability.UNSAFE:
                summary["unsafe_fixable"] += 1


def tally(summary: dict, result, threshold, fail_on) -> None:
    """Add one :class:`~tidymark.run.rulebook.FileResult`."""
    count(summary, changed=result.changed, applied=[d.code for d in result.applied],
          bytes_removed=result.bytes_removed, threshold=threshold, fail_on=fail_on,
          diagnostics=((d.code, d.name, d.severity, d.fix.applicability if d.fix is not None else None)
                       for d in result.diagnostics))


def statistics(summary: dict) -> str:
    """``--statistics``: problems per rule, most frequent first, with a header and a total.

    The fix column says ``[*]`` when every problem of the rule is fixable with the run's
    fixes, ``[n]`` when n of them are.
    """
    rows = sorted(summary["remaining_per_rule"].items(), key=lambda kv: (-kv[1], kv[0]))
    total = sum(n for _, n in rows)
    if not total:
        return "No problems found.\n"
    width = max(5, len(str(total)))
    lines = [f"{'Count':>{width}}  {'Code':<6} {'Fix':<3} Rule"]
    for (code, name), n in rows:
        fixable = summary["fixable_per_rule"].get(code, 0)
        mark = "[*]" if fixable == n else (f"[{fixable}]" if fixable else "   ")
        lines.append(f"{n:>{width}}  {code:<6} {mark} {name}")
    fixable = summary.get("fixable", 0)
    lines.append(f"{total:>{width}}  problem{'s' * (total != 1)} in total"
                 + (f", {fixable} fixable with `tidymark fix`" if fixable else ""))
    return "\n".join(lines) + "\n"


def closing(s: dict) -> str:
    per = ", ".join(f"{c} {n}" for c, n in sorted(s["fixed_per_rule"].items()))
    return (f"Scanned {plural(s['files'], 'file')} in {s['seconds']:.1f}s: changed {s['changed_files']}, "
            f"fixed {s['fixed']} ({per}), {s['remaining']} left, {plural(s['bytes_removed'], 'byte')} removed.\n")


def plural(count: int, noun: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
