"""The ``tidymark`` command line: check, fix, rules, rule."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: .)")
    p.add_argument("--select", type=_csv, metavar="CODES", help="rules to run (prefixes, codes or names; replaces config)")
    p.add_argument("--ignore", type=_csv, metavar="CODES", help="rules to skip (added to config)")
    p.add_argument("--extend-select", type=_csv, metavar="CODES", help="rules to run in addition")
    p.add_argument("--config", type=Path, metavar="FILE", help="use this configuration file for every path")
    p.add_argument("--output-format", choices=("text", "json"), default="text")
    p.add_argument("--unsafe-fixes", action="store_true", default=None, help="also apply/offer unsafe fixes")
    p.add_argument("--no-unsafe-fixes", dest="unsafe_fixes", action="store_false")
    p.add_argument("--exit-zero", action="store_true", help="exit 0 even when problems remain")
    p.add_argument("--no-respect-gitignore", dest="respect_gitignore", action="store_false", default=None,
                   help="also check files ignored by .gitignore")
    p.add_argument("-q", "--quiet", action="store_true", help="print diagnostics only, no summary")


def build_parser() -> argparse.ArgumentParser:
    from tidymark import __version__

    ap = argparse.ArgumentParser(prog="tidymark", description="Lint and losslessly clean up Markdown notes "
                                 "saved from the web (front matter, clipper scaffolding, ads, image proxies).")
    ap.add_argument("--version", action="version", version=f"tidymark {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    c = sub.add_parser("check", help="report problems")
    _add_common(c)
    f = sub.add_parser("fix", help="fix problems in place (safe fixes only unless --unsafe-fixes)")
    _add_common(f)
    f.add_argument("--diff", action="store_true", help="print a unified diff of the fixes and write nothing")
    r = sub.add_parser("rules", help="list every rule")
    r.add_argument("--format", choices=("table", "md", "json"), default="table")
    one = sub.add_parser("rule", help="show a rule's documentation")
    one.add_argument("code", help="rule code or name, e.g. FM002 or block-scalar-single-line")
    return ap


def _err(msg: str) -> None:
    sys.stderr.write(f"tidymark: error: {msg}\n")


def main(argv: Sequence[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.command is None:
        ap.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        if args.command == "rules":
            return cmd_rules(args.format)
        if args.command == "rule":
            return cmd_rule(args.code)
        return cmd_run(args)
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_ERROR


def cmd_rules(fmt: str) -> int:
    from tidymark import docs
    from tidymark.registry import RegistryError

    try:
        sys.stdout.write(docs.rules_listing(fmt))
    except RegistryError as exc:
        _err(str(exc))
        return EXIT_ERROR
    return EXIT_OK


def cmd_rule(code: str) -> int:
    from tidymark import docs, registry

    try:
        table = registry.all_rules()
    except registry.RegistryError as exc:
        _err(str(exc))
        return EXIT_ERROR
    info = table.get(code.upper()) or next((i for i in table.values() if i.cls.name == code), None)
    if info is None:
        _err(f"unknown rule {code!r}; `tidymark rules` lists them")
        return EXIT_ERROR
    sys.stdout.write(docs.rule_page(info))
    return EXIT_OK


def cmd_run(args) -> int:
    from tidymark.config import ConfigError, ConfigResolver
    from tidymark.diagnostics import Applicability
    from tidymark.engine import INTERNAL_ERROR
    from tidymark.files import Walker
    from tidymark.output import REPORTERS, stream_is_tty
    from tidymark.registry import RegistryError
    from tidymark.runner import RuleBook, process_file

    mode = "check" if args.command == "check" else ("diff" if getattr(args, "diff", False) else "fix")
    cli = {"select": tuple(args.select) if args.select is not None else None,
           "ignore": tuple(args.ignore) if args.ignore else None,
           "extend_select": tuple(args.extend_select) if args.extend_select else None,
           "unsafe_fixes": args.unsafe_fixes, "respect_gitignore": args.respect_gitignore}
    try:
        resolver = ConfigResolver(args.config, cli)
        book = RuleBook()
        paths = args.paths or [Path(".")]
        walker = Walker(resolver.for_dir)
        targets = list(walker.walk(paths))
    except (ConfigError, RegistryError) as exc:
        _err(str(exc))
        return EXIT_ERROR

    reporter_cls = REPORTERS[args.output_format]
    quiet = args.quiet
    cwd = Path.cwd()
    summary = {"mode": mode, "files": 0, "changed_files": 0, "fixed": 0, "remaining": 0,
               "fixable": 0, "unsafe_fixable": 0, "internal_errors": 0}
    reporter = None
    for path, problem in targets:
        try:
            display = os.path.relpath(path, cwd) if path.is_absolute() else str(path)
        except ValueError:
            display = str(path)
        try:
            settings = resolver.for_path(path)
            threshold = Applicability.UNSAFE if settings.unsafe_fixes else Applicability.SAFE
            if reporter is None:
                reporter = reporter_cls(sys.stdout, threshold, color=stream_is_tty() and args.output_format == "text")
            if problem is not None:
                from dataclasses import replace

                from tidymark.engine import IO_ERROR, engine_diagnostic
                from tidymark.runner import FileResult

                diag = replace(engine_diagnostic(IO_ERROR, problem), line=1, column=1, end_line=1, end_column=1)
                result = FileResult(path, display, [diag], error=problem)
            else:
                rules = book.rules_for_file(settings, path)
                result = process_file(path, display, settings, rules, mode, threshold)
        except ConfigError as exc:
            _err(str(exc))
            return EXIT_ERROR
        summary["files"] += 1
        if result.changed:
            summary["changed_files"] += 1
            summary["fixed"] += len(result.applied)
        if result.diff:
            sys.stdout.write(result.diff)
        for d in result.diagnostics:
            summary["remaining"] += 1
            if d.code == INTERNAL_ERROR[0]:
                summary["internal_errors"] += 1
            if d.fix is not None:
                if d.fix.applicability >= threshold:
                    summary["fixable"] += 1
                elif d.fix.applicability >= Applicability.UNSAFE:
                    summary["unsafe_fixable"] += 1
        if mode != "diff" or args.output_format != "text":
            reporter.file(result)
    if reporter is None:
        reporter = reporter_cls(sys.stdout, Applicability.SAFE)
    if args.output_format != "text" or not quiet:
        if args.output_format == "text" and mode == "diff":
            # the diff is the output; the summary goes to stderr
            reporter.out = sys.stderr
        reporter.finish(summary)
    if summary["internal_errors"]:
        return EXIT_ERROR
    if args.exit_zero:
        return EXIT_OK
    if mode == "diff":
        return EXIT_PROBLEMS if summary["changed_files"] or summary["remaining"] else EXIT_OK
    return EXIT_PROBLEMS if summary["remaining"] else EXIT_OK
