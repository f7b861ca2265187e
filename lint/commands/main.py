"""The ``tidymark`` command line: check, fix, rules, rule, config."""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Sequence

from tidymark.commands.common import (EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_PROBLEMS,  # noqa: F401
                                      EXIT_TERMINATED, cli_overrides)
from tidymark.commands.common import err as _err
from tidymark.outputs import summary as _summary
from tidymark.outputs.summary import closing as _closing, plural as _n
OUTPUT_FORMATS = ("text", "concise", "json", "sarif", "github", "junit", "gitlab")
PROGRESS_MIN_FILES = 40


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _selection(value: str) -> list[str]:
    """``--select``: a list that selects nothing would make every run pass without checking anything."""
    codes = _csv(value)
    if not codes:
        raise argparse.ArgumentTypeError("an empty list selects no rule (give codes, prefixes, names or ALL)")
    return codes


def _jobs(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a positive number of worker processes, got {value!r} "
                                         f"(leave it out for one per core)")
    return n


def _share(value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not 0 <= share <= 1:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1 (a share of the body's prose), got {value!r}")
    return share


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: .)")
    sel = p.add_argument_group("rule selection")
    sel.add_argument("--select", type=_selection, metavar="CODES", help="rules to run (prefixes, codes or names; replaces config)")
    sel.add_argument("--ignore", type=_csv, metavar="CODES", help="rules to skip (added to config)")
    sel.add_argument("--extend-select", type=_csv, metavar="CODES", help="rules to run in addition")
    p.add_argument("--config", type=Path, metavar="FILE", help="use this configuration file for every path")
    p.add_argument("--stdin-filename", type=Path, metavar="PATH",
                   help="with the path `-`: read the note from standard input and check it as PATH "
                        "(its settings and name); `fix -` prints the fixed note to standard output")
    out = p.add_argument_group("output")
    out.add_argument("--output-format", choices=OUTPUT_FORMATS, default=None,
                     help="text (default), concise, json, sarif, github, junit or gitlab")
    out.add_argument("--statistics", action="store_true", help="print only a table of problems per rule, with a total")
    out.add_argument("--report", type=Path, metavar="FILE.html", help="also write a self-contained HTML report")
    out.add_argument("--output-file", type=Path, metavar="FILE", help="write the output to FILE instead of stdout")
    out.add_argument("-q", "--quiet", action="store_true", help="print diagnostics only, no summary")
    out.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                     help="colour the text output: auto (default: on a terminal, unless NO_COLOR is set; "
                          "FORCE_COLOR forces it), always or never")
    out.add_argument("--progress", dest="progress", action="store_true", default=None,
                     help="show a progress bar (default: on a terminal, for large runs)")
    out.add_argument("--no-progress", dest="progress", action="store_false")
    fixes = p.add_argument_group("fixes")
    fixes.add_argument("--unsafe-fixes", action="store_true", default=None, help="also apply/offer unsafe fixes")
    fixes.add_argument("--no-unsafe-fixes", dest="unsafe_fixes", action="store_false")
    fixes.add_argument("--max-removal", type=_share, default=None, metavar="SHARE",
                       help="largest share of a note's prose that fixes may remove (0 to 1; default 0.3)")
    ex = p.add_argument_group("exit code")
    ex.add_argument("--exit-zero", action="store_true", help="exit 0 even when problems remain")
    ex.add_argument("--exit-non-zero-on-fix", action="store_true", help="exit 1 when files were fixed")
    ex.add_argument("--fail-on", choices=("info", "warning", "error"), default=None,
                    help="lowest severity that makes the exit code 1 (default: info, i.e. any problem)")
    base = p.add_argument_group("baseline")
    base.add_argument("--baseline", type=Path, metavar="FILE", help="report only problems not in this baseline")
    base.add_argument("--write-baseline", type=Path, metavar="FILE", help="record the current problems as a baseline")
    perf = p.add_argument_group("performance")
    perf.add_argument("--no-cache", dest="use_cache", action="store_false", default=True, help="do not read or write the result cache")
    perf.add_argument("--cache-dir", type=Path, metavar="DIR", help="result cache folder (default: ./.tidymark_cache)")
    perf.add_argument("-j", "--jobs", type=_jobs, default=0, metavar="N", help="worker processes (default: one per core)")
    p.add_argument("--no-respect-gitignore", dest="respect_gitignore", action="store_false", default=None,
                   help="also check files ignored by .gitignore")
    # --- scale-out engines (tidymark.commands.engines; docs/scaling-out.md) -----------------
    eng = p.add_argument_group("engine")
    eng.add_argument("--engine", choices=("local", "ray", "dask"), default="local",
                     help="local (default: a process pool), ray or dask (needs the tidymark[ray] / [dask] extra)")
    eng.add_argument("--output-dir", metavar="DIR_OR_URI", help="ray/dask: write Parquet results and a summary here")
    eng.add_argument("--text-column", metavar="NAME", help="ray/dask: input is Parquet/JSON Lines; text column")
    eng.add_argument("--id-column", metavar="NAME", help="ray/dask: id column of a Parquet/JSON Lines input")
    # --- end of scale-out engines ----------------------------------------------------------------


def _add_fix_options(p: argparse.ArgumentParser) -> None:
    f = p.add_argument_group("fix")
    f.add_argument("--diff", action="store_true", help="print a unified diff of the fixes and write nothing")
    f.add_argument("--show-fixes", action="store_true", help="list the fixes applied to each file")
    f.add_argument("--backup", type=Path, metavar="DIR",
                   help="keep the originals of changed files in DIR (default: a journal in the cache folder)")
    f.add_argument("--no-backup", action="store_true", help="keep no journal of the originals (no `tidymark undo`)")


def build_parser() -> argparse.ArgumentParser:
    from tidymark import __version__

    ap = argparse.ArgumentParser(prog="tidymark", description="Lint and losslessly clean up Markdown notes "
                                 "saved from the web (front matter, clipper scaffolding, ads, image proxies).")
    ap.add_argument("--version", action="version", version=f"tidymark {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    c = sub.add_parser("check", help="report problems (with --fix: fix them, as `tidymark fix`)")
    _add_common(c)
    c.add_argument("--fix", action="store_true", default=False, help="fix problems in place, as `tidymark fix` does")
    c.add_argument("--no-fix", dest="fix", action="store_false")
    _add_fix_options(c)
    f = sub.add_parser("fix", help="fix problems in place (safe fixes only unless --unsafe-fixes)")
    _add_common(f)
    _add_fix_options(f)
    u = sub.add_parser("undo", help="restore the files a fix run changed (the latest run unless named)")
    u.add_argument("run", nargs="?", metavar="RUN_ID|DIR", help="a run id from `undo --list`, or a --backup folder")
    u.add_argument("--list", action="store_true", help="list the fix runs that can be undone")
    u.add_argument("--dry-run", action="store_true", help="say what would be restored, change nothing")
    u.add_argument("--cache-dir", type=Path, metavar="DIR", help="cache folder holding the journal "
                   "(default: as configured, else ./.tidymark_cache)")
    r = sub.add_parser("rules", help="list every rule")
    r.add_argument("--format", choices=("table", "md", "json"), default="table")
    one = sub.add_parser("rule", help="show a rule's documentation")
    one.add_argument("code", help="rule code or name, e.g. FM002 or block-scalar-single-line")
    ln = sub.add_parser("learn", help="find lines repeated across notes from the same site; write them as a rule pack")
    ln.add_argument("paths", nargs="*", type=Path, help="files or folders (default: .)")
    ln.add_argument("-o", "--output", type=Path, default=Path("learned-boilerplate.yaml"), help="rule pack to write")
    ln.add_argument("--prefix", default="LRN", help="code prefix of the learned rules (default LRN)")
    ln.add_argument("--min-notes", type=int, default=3)
    ln.add_argument("--min-share", type=float, default=0.3)
    ln.add_argument("--config", type=Path, metavar="FILE")
    nr = sub.add_parser("new-rule", help="scaffold a rule (Python or YAML) with its test cases")
    nr.add_argument("code", help="rule code, e.g. XX001 (your own prefix)")
    nr.add_argument("name", help="kebab-case rule name, e.g. company-banner")
    nr.add_argument("--kind", choices=("python", "yaml"), default="python")
    nr.add_argument("--dir", type=Path, default=Path("tidymark_rules"), help="where to write (default: tidymark_rules/)")
    nr.add_argument("--summary", help="one-line summary (the diagnostic message)")
    nr.add_argument("--phrase", default="REPLACE ME", help="the text the scaffolded rule looks for")
    sv = sub.add_parser("server", help="run the language server (LSP over stdio) for editors")
    sv.add_argument("--config", type=Path, metavar="FILE", help="use this configuration file for every note")
    wt = sub.add_parser("watch", help="check (or --fix) notes when they are created or changed in folders")
    wt.add_argument("paths", nargs="*", type=Path, help="folders or files to watch (default: .)")
    wt.add_argument("--fix", action="store_true", help="apply safe fixes (and unsafe ones with --unsafe-fixes)")
    wt.add_argument("--unsafe-fixes", action="store_true", default=None, help="also apply unsafe fixes")
    wt.add_argument("--settle", type=float, default=1.0, metavar="SECONDS",
                    help="handle a note once it has not changed for this long (default: 1)")
    wt.add_argument("--select", type=_csv, metavar="CODES")
    wt.add_argument("--ignore", type=_csv, metavar="CODES")
    wt.add_argument("--extend-select", type=_csv, metavar="CODES")
    wt.add_argument("--config", type=Path, metavar="FILE")
    wt.add_argument("--no-cache", dest="use_cache", action="store_false", default=True)
    wt.add_argument("--cache-dir", type=Path, metavar="DIR")
    wt.add_argument("--no-backup", action="store_true", help="keep no journal of the originals (no `tidymark undo`)")
    wt.add_argument("-q", "--quiet", action="store_true", help="one line per note, no diagnostics")
    wt.set_defaults(respect_gitignore=None)
    cf = sub.add_parser("config", help="show the resolved configuration for a path and where it came from")
    cf.add_argument("path", nargs="?", type=Path, default=Path("."))
    cf.add_argument("--config", type=Path, metavar="FILE")
    return ap


_STARTING = False  # garbage collection is held off while the process imports and builds its rules


def _started() -> None:
    """Start-up is over: the objects made so far (modules, rules) are kept out of later collections."""
    global _STARTING
    if _STARTING:
        _STARTING = False
        gc.freeze()
        gc.enable()


def main(argv: Sequence[str] | None = None) -> int:
    global _STARTING
    if argv is None and gc.isenabled():  # a process of its own (not a caller's main(argv))
        # Importing and building the rules makes some 100,000 objects and no garbage worth
        # collecting; the collector's passes over them were 7 % of a one-file run.
        _STARTING = True
        gc.disable()
    try:
        return _main(argv)
    finally:
        _started()


def _main(argv: Sequence[str] | None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    if args.command is None:
        ap.print_help(sys.stderr)
        return EXIT_ERROR
    if args.command == "check" and (args.fix or args.diff):
        args.command = "fix"  # `check --fix` (and ruff's `check --diff`) is `fix`
    elif args.command == "check" and (args.show_fixes or args.backup is not None or args.no_backup):
        used = "--show-fixes" if args.show_fixes else ("--backup" if args.backup is not None else "--no-backup")
        _err(f"{used} applies to fixing: use `tidymark fix` or `tidymark check --fix`")
        return EXIT_ERROR
    if args.command not in ("check", "fix") or getattr(args, "engine", "local") != "local":
        _started()  # only a local check or fix run holds collection off until its rules are built
    try:
        code = _dispatch(args)
        sys.stdout.flush()  # a reader that went away is noticed here, not at interpreter exit
        return code
    except KeyboardInterrupt as exc:
        terminated = _terminated(exc)
        _err("terminated" if terminated else "interrupted")
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except BrokenPipeError:
        return _closed_pipe()


def _dispatch(args) -> int:
    if args.command == "rules":
        return cmd_rules(args.format)
    if args.command == "rule":
        return cmd_rule(args.code)
    if args.command == "config":
        return cmd_config(args)
    if args.command == "undo":
        return cmd_undo(args)
    if args.command == "new-rule":
        return cmd_new_rule(args)
    if args.command == "learn":
        return cmd_learn(args)
    if args.command == "watch":
        from tidymark.commands.watch import cmd_watch

        return cmd_watch(args)
    if args.command == "server":
        from tidymark.commands.server import main as serve

        return serve(args.config)
    # --- scale-out engines ---------------------------------------------------------------------
    if getattr(args, "engine", "local") != "local":
        from tidymark.commands.engines import run as run_engine

        return _with_output_file(args, lambda: run_engine(args, args.engine))
    if getattr(args, "output_dir", None) or getattr(args, "text_column", None) or getattr(args, "id_column", None):
        _err("--output-dir, --text-column and --id-column need --engine ray or --engine dask")
        return EXIT_ERROR
    # --- end of scale-out engines ----------------------------------------------------------
    from tidymark.run.pipeline import sigterm_as_interrupt

    with sigterm_as_interrupt():  # SIGTERM ends a check or fix run as Ctrl-C does
        return _with_output_file(args, lambda: cmd_run(args))


EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a program ended by SIGPIPE (`tidymark check | head`)


def _closed_pipe() -> int:
    """The reader of the output went away (``| head``): stop quietly, with the status of a
    program ended by SIGPIPE. Standard output is pointed at the null device, as the Python
    documentation recommends (signal module, "Note on SIGPIPE"), so that what is still
    buffered for the closed pipe is dropped and no error is printed at exit."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return EXIT_BROKEN_PIPE  # not a file (a caller's io.StringIO): nothing to redirect
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:
        pass
    return EXIT_BROKEN_PIPE


def _terminated(exc: BaseException) -> bool:
    """Was the run stopped by SIGTERM (not Ctrl-C)?"""
    import signal

    return getattr(exc, "signum", None) == getattr(signal, "SIGTERM", 15)


def _with_output_file(args, run) -> int:
    """``run()``, with its stdout going to ``--output-file`` when one is given."""
    if getattr(args, "output_file", None) is None:
        return run()
    from tidymark.outputs.text import OutputFileError, run_to_output_file

    try:
        return run_to_output_file(args.output_file, run)
    except OutputFileError as exc:
        _err(str(exc))
        return EXIT_ERROR


def _known_rules():
    """Every rule known here: built-ins, plugins, and the configuration's packs and local rules."""
    from tidymark.run.config import ConfigResolver
    from tidymark.run.rulebook import RuleBook

    return RuleBook().table_for(ConfigResolver().for_dir(Path(".")))


def cmd_rules(fmt: str) -> int:
    from tidymark.outputs import docs
    from tidymark.run.config import ConfigError
    from tidymark.plugins.registry import RegistryError

    try:
        sys.stdout.write(docs.rules_listing(fmt, _known_rules()))
    except (RegistryError, ConfigError) as exc:
        _err(str(exc))
        return EXIT_ERROR
    return EXIT_OK


def cmd_rule(code: str) -> int:
    from tidymark.outputs import docs
    from tidymark.plugins import registry
    from tidymark.run.config import ConfigError

    try:
        table = _known_rules()
    except (registry.RegistryError, ConfigError) as exc:
        _err(str(exc))
        return EXIT_ERROR
    info = table.get(code.upper()) or next((i for i in table.values() if i.cls.name == code), None)
    if info is None:
        _err(f"unknown rule {code!r}; `tidymark rules` lists them")
        return EXIT_ERROR
    sys.stdout.write(docs.rule_page(info))
    return EXIT_OK


def cmd_learn(args) -> int:
    """Collect per-site line facts over the paths and write the boilerplate candidates as a rule pack."""
    import re

    from tidymark.run.config import ConfigError, ConfigResolver
    from tidymark.run.files import Walker
    from tidymark.plugins.packs import _unit_text
    from tidymark.run.pipeline import RunOptions, run
    from tidymark.rules.ad005_site_boilerplate import SiteBoilerplate

    if not re.fullmatch(r"[A-Z]{1,4}", args.prefix):
        _err("--prefix must be 1-4 capital letters")
        return EXIT_ERROR
    if os.path.lexists(args.output):  # checked again when it is written
        _err(_learn_exists(args.output))
        return EXIT_ERROR
    try:
        resolver = ConfigResolver(args.config, {"select": ("AD005",)})
        items = [(p, str(p)) for p, problem in Walker(resolver.for_dir).walk(args.paths or [Path(".")])
                 if problem is None]
        facts = {}
        for res in run(items, RunOptions(mode="check", config=args.config, cli={"select": ("AD005",)},
                                         use_cache=True)):
            if "AD005" in res.facts:
                facts[res.display] = res.facts["AD005"]
    except ConfigError as exc:
        _err(str(exc))
        return EXIT_ERROR
    rule = SiteBoilerplate(SiteBoilerplate.Options(min_notes=args.min_notes, min_share=args.min_share))
    found = rule.candidates(facts)
    lines = [f"# Boilerplate candidates learned by `tidymark learn` from {_n(len(facts), 'note')}.",
             "# Review every pattern, delete the ones that are real content, then enable the pack:",
             f"#   rule-packs = [\"{args.output.as_posix()}\"]   extend-select = [\"{args.prefix}\"]",
             f"prefix: {args.prefix}", "rules:"]
    n = 0
    import json

    for site, cands in sorted(found.items()):
        patterns = []
        for text, notes, share, _ in cands:
            t = _unit_text(text)
            if t and t not in patterns:
                patterns.append(t)
                lines.append(f"    # {_n(notes, 'note')} ({share:.0%}): {t[:70]}")
        if not patterns:
            continue
        n += 1
        slug = re.sub(r"[^a-z0-9]+", "-", site.lower()).strip("-") or "site"
        rule_lines = [f"  - code: {args.prefix}{n:03d}", f"    name: site-{slug}", "    kind: phrase",
                      "    unit: line",
                      f"    message: {json.dumps(f'Boilerplate of {site}', ensure_ascii=False)}",
                      "    fix: remove", "    applicability: unsafe", "    patterns:"]
        rule_lines += [f"      - {json.dumps(p, ensure_ascii=False)}" for p in patterns]
        # the comments collected above belong to this rule: put them after its header
        comments = [l for l in lines[-len(patterns):]]
        del lines[-len(patterns):]
        lines += rule_lines[:1] + comments + rule_lines[1:]
    if n == 0:
        lines.append("  []")
        lines[-2] = "rules:"
    try:
        _create_new(args.output, ("\n".join(lines).replace("rules:\n  []", "rules: []") + "\n").encode("utf-8"))
    except FileExistsError:
        _err(_learn_exists(args.output))
        return EXIT_ERROR
    except OSError as exc:
        _err(f"cannot write {args.output}: {exc.strerror or exc}")
        return EXIT_ERROR
    total = sum(len(c) for c in found.values())
    sys.stdout.write(f"{_n(total, 'candidate line')} from {_n(len(found), 'site')} written to {args.output} "
                     f"({_n(n, 'rule')})\n")
    return EXIT_OK


def _learn_exists(path: Path) -> str:
    return (f"{path} already exists and may hold your reviewed edits; not overwritten. Write the new "
            f"candidates to another file (-o NEW.yaml) and compare, or move {path} away first")


def _create_new(path: Path, data: bytes) -> None:
    """Write a new file at ``path`` whole, never replacing one that exists (FileExistsError,
    also when one appears meanwhile): a temporary file beside it is linked to the name."""
    from tidymark.run.fsio import replace_via_temp

    umask = os.umask(0o022)
    os.umask(umask)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    replace_via_temp(tmp, data, ".tmp", lambda t: os.chmod(t, 0o666 & ~umask))  # as a new file's mode
    try:
        os.link(tmp, path)  # fails if the name exists: an existing file is never replaced
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: exclusive creation
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        except BaseException:
            os.unlink(path)
            raise
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def cmd_new_rule(args) -> int:
    from tidymark.commands.scaffold import ScaffoldError, new_rule

    try:
        files = new_rule(args.code, args.name, args.kind, args.dir, args.summary, args.phrase)
    except (ScaffoldError, OSError) as exc:
        _err(str(exc))
        return EXIT_ERROR
    for f in files:
        sys.stdout.write(f"created {f}\n")
    key = "rule-packs" if args.kind == "yaml" else "local-rules"
    prefix = args.code.upper().rstrip("0123456789")
    sys.stdout.write(f"enable it in your configuration: {key} = [\"{files[0].as_posix()}\"] and "
                     f"extend-select = [\"{prefix}\"]\n")
    return EXIT_OK


def cmd_config(args) -> int:
    """The resolved configuration as one JSON object: ``settings`` uses the keys of the
    configuration file (it can be saved as ``.tidymark.yaml``, JSON being YAML), ``source``
    names the file it came from (null: the defaults)."""
    import json

    from tidymark.run.config import ConfigError, ConfigResolver, settings_table
    from tidymark.run.rulebook import RuleBook

    try:
        resolver = ConfigResolver(args.config)
        existing = args.path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent  # a path that does not exist yet: its nearest folder's config
        settings = resolver.for_path(existing if existing.exists() else Path("."))
        rules = RuleBook().rules_for(settings)
    except ConfigError as exc:
        _err(str(exc))
        return EXIT_ERROR
    except OSError as exc:  # a folder on the way that cannot be searched
        _err(f"{args.path}: cannot read its configuration: {exc.strerror or exc}")
        return EXIT_ERROR
    data = {"path": str(args.path), "source": str(settings.source) if settings.source else None,
            "root": str(settings.root), "settings": settings_table(settings),
            "rules-selected": [r.code for r in rules]}
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    return EXIT_OK


class _Progress:
    """A progress bar on stderr, only on a terminal and for large runs (tqdm)."""

    def __init__(self, total: int, wanted: bool | None):
        self.bar = None
        show = wanted if wanted is not None else (sys.stderr.isatty() and total >= PROGRESS_MIN_FILES)
        if show and total:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=total, unit="file", file=sys.stderr, leave=False, dynamic_ncols=True)

    def update(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def through(self, stream):
        """``stream``, or while the bar is shown, a stream whose writes clear the bar first and
        draw it again after (both usually go to the same terminal)."""
        return stream if self.bar is None else _AroundBar(stream, self)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _AroundBar:
    """Writes to a stream without mixing them into a progress bar on the same terminal."""

    def __init__(self, stream, progress: _Progress):
        self.stream, self.progress = stream, progress

    def write(self, s: str) -> int:
        bar = self.progress.bar
        if bar is None:
            return self.stream.write(s)
        with bar.external_write_mode(file=self.stream):  # clears the bar; draws it again on exit
            n = self.stream.write(s)
            self.stream.flush()
        return n

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


def use_color(choice: str, stream) -> bool:
    """``--color``: always, never, or auto: on a terminal that is not ``TERM=dumb``, unless
    ``NO_COLOR`` is set (https://no-color.org); ``FORCE_COLOR`` turns it on off a terminal.
    Both are ignored when empty; ``NO_COLOR`` wins, as in CPython's own colour handling."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _check_cli_selectors(args, table) -> None:
    """An unknown rule given with ``--select``, ``--ignore`` or ``--extend-select`` is the
    command line's mistake, not the configuration file's."""
    from tidymark.plugins import registry
    from tidymark.run.config import ConfigError, did_you_mean

    for option in ("select", "ignore", "extend_select"):
        for sel in getattr(args, option) or ():
            if registry.validate_selector(sel, table):
                continue
            hint = did_you_mean(sel, [*table, *(i.cls.name for i in table.values())])
            raise ConfigError(f"--{option.replace('_', '-')}: unknown rule or prefix {sel!r} on the command "
                              f"line{hint}; `tidymark rules` lists the rules")


def _check_cache_dir(cache_dir: Path | None, given_by: str) -> None:
    """The cache folder is created when missing, but not the folders above it: a mistyped
    ``--cache-dir /mnt/bakup/cache`` is an error, not a new tree of folders from the root."""
    from tidymark.run.config import ConfigError

    if cache_dir is None or cache_dir.exists():
        return
    parent = cache_dir.absolute().parent
    if not parent.is_dir():
        raise ConfigError(f"{given_by} {_printable(str(cache_dir))}: the folder {_printable(str(parent))} does "
                          f"not exist (tidymark creates the cache folder, not the folders above it)")


def _broken_executor() -> type[BaseException]:
    """The worker pool's error (an ``except`` clause evaluates this only when an error arrives)."""
    from concurrent.futures import BrokenExecutor

    return BrokenExecutor


def cmd_run(args) -> int:
    """``tidymark check`` and ``tidymark fix``: one run over the files, step by step."""
    run = _CheckRun(args)
    for step in (run.prepare,          # configuration, rules, the files to check, the baseline
                 run.open_outputs,     # reporter, baseline writer, journal of the originals
                 run.process_files,    # every file through the pipeline; an interrupted run stops cleanly
                 run.report_results,   # cross-document pass, then one stream: settings, baseline, tally, output
                 run.write_outputs):   # the baseline file, the closing lines, statistics, the HTML report
        code = step()
        if code is not None:
            return code
    return run.exit_code()


class _CheckRun:
    """The state of one ``check``/``fix`` run, filled in by its steps (see :func:`cmd_run`);
    a step returns None to go on, or the exit code that ends the run."""

    def __init__(self, args) -> None:
        self.args = args
        self.started = time.perf_counter()
        self.mode = "check" if args.command == "check" else ("diff" if getattr(args, "diff", False) else "fix")
        self.cli = cli_overrides(args)
        self.summary = _summary.new(self.mode)
        self.fixed_lines: list[str] = []
        self.report_files: list[dict] = []
        self.saved = 0

    def prepare(self) -> int | None:
        """Read the configuration and build the rules before any file is touched; list the files."""
        from tidymark.plugins.registry import RegistryError
        from tidymark.run.baseline import Baseline, BaselineError
        from tidymark.run.cache import cache_folder
        from tidymark.run.config import ConfigError, ConfigResolver
        from tidymark.run.files import Walker
        from tidymark.run.rulebook import RuleBook

        args, mode = self.args, self.mode
        self.stdin, problem = _stdin_path(args)
        if problem:
            _err(problem)
            return EXIT_ERROR
        try:
            self.resolver = resolver = ConfigResolver(args.config, self.cli)
            self.book = book = RuleBook()
            paths = args.paths or [Path(".")]
            self.top = top = resolver.for_dir(Path("."))
            self.cache_dir = cache_dir = args.cache_dir or top.cache_dir
            if args.use_cache or (mode == "fix" and getattr(args, "backup", None) is None
                                  and not getattr(args, "no_backup", False)):  # the journal is kept there
                _check_cache_dir(cache_dir, "--cache-dir" if args.cache_dir else f"{top.describe()}: `cache-dir`")
            if args.use_cache:
                from tidymark.plugins import registry
                from tidymark.run import cache

                registry.cache_entry_points(cache_folder(cache_dir), cache)
            _check_cli_selectors(args, book.table_for(top))
            book.rules_for(top)  # validates the configuration before any file is touched
            _started()
            self.targets = list(Walker(resolver.for_dir).walk(paths)) if self.stdin is None else [(self.stdin, None)]
            self.baseline = Baseline.load(args.baseline) if args.baseline else None
            if args.write_baseline is not None:
                from tidymark.run.baseline import check_target

                check_target(args.write_baseline)  # before the run, not after it
        except (ConfigError, RegistryError, BaselineError) as exc:
            _err(str(exc))
            return EXIT_ERROR
        return None

    def open_outputs(self) -> int | None:
        """The reporter of the output format, the baseline being written, the journal folder."""
        from tidymark.diagnostics import Applicability, Severity
        from tidymark.outputs.text import NEEDS_TEXT, REPORTERS
        from tidymark.run.baseline import Baseline
        from tidymark.run.pipeline import RunOptions

        args, mode, top = self.args, self.mode, self.top
        self.fmt = fmt = args.output_format or top.output_format or "text"
        self.fail_on = Severity.parse(args.fail_on or top.fail_on)
        self.threshold = Applicability.UNSAFE if top.unsafe_fixes else Applicability.SAFE
        reporter_cls = REPORTERS.get(fmt)
        if reporter_cls is None:  # the CI formats (SARIF, JUnit, ...) load only when asked for
            from tidymark.outputs.ci import FORMATS
            reporter_cls = FORMATS[fmt]
        report_to = sys.stderr if self.stdin is not None and mode == "fix" else sys.stdout  # stdout has the note
        self.color = fmt == "text" and use_color(args.color, report_to)
        self.reporter = reporter_cls(report_to, self.threshold, color=self.color)
        self.table_only = args.statistics and fmt in ("text", "concise")  # --statistics: the table is the output
        self.writer = Baseline(args.write_baseline) if args.write_baseline else None
        keep_text = (fmt in NEEDS_TEXT or self.baseline is not None or self.writer is not None
                     or args.report is not None)
        self.journal_dir, backup_error = (_journal_dir(args, mode, self.cache_dir) if self.stdin is None
                                          else (None, None))
        if backup_error:
            _err(backup_error)
            return EXIT_ERROR
        self.opts = RunOptions(mode=mode, config=args.config, cli=self.cli, jobs=args.jobs, cache_dir=self.cache_dir,
                               use_cache=args.use_cache, keep_text=keep_text, report=args.report is not None,
                               journal=self.journal_dir)
        return None

    def _items(self) -> tuple[list[tuple[Path, str]], dict]:
        """(path, display name) of every file in walk order, and the results of those already
        known to be unreadable, by index."""
        from dataclasses import replace as _replace

        from tidymark.core.engine import IO_ERROR, engine_diagnostic
        from tidymark.run.rulebook import FileResult

        cwd = Path.cwd()
        items: list[tuple[Path, str]] = []
        results_pre: dict[int, FileResult] = {}
        for path, problem in self.targets:
            try:
                display = os.path.relpath(path, cwd) if path.is_absolute() else str(path)
            except ValueError:
                display = str(path)
            display = _printable(display)
            if problem is not None:
                diag = _replace(engine_diagnostic(IO_ERROR, problem), line=1, column=1, end_line=1, end_column=1)
                results_pre[len(items)] = FileResult(path, display, [diag], error=problem)
            items.append((path, display))
        return items, results_pre

    def process_files(self) -> int | None:
        """Every file through the pipeline (the pool, or standard input), its result kept until
        the cross-document step; diffs are written as they come."""
        from tidymark.plugins.registry import RegistryError
        from tidymark.run.config import ConfigError
        from tidymark.run.pipeline import RunState, run
        from tidymark.run.results import RunResults

        args, fmt, reporter = self.args, self.fmt, self.reporter
        items, results_pre = self._items()
        self.collected = collected = RunResults()  # every file's result until the cross-document step has run
        progress = _Progress(len(items), args.progress)
        plain_out = reporter.out
        out = reporter.out = progress.through(plain_out)  # diagnostics are written around the bar
        state = RunState()
        stream = None
        untallied = None  # a result received but not yet kept (for the message of an interrupted run)
        try:
            if self.stdin is None:
                stream = run([it for i, it in enumerate(items) if i not in results_pre], self.opts, state)
            else:
                from tidymark.run.textrun import stdin_results

                stream = stdin_results(items[0], self.opts, sys.stdin.buffer.read(), sys.stdout.buffer)
            for i in range(len(items)):
                result = untallied = results_pre[i] if i in results_pre else next(stream)
                progress.update()
                if result.diff and fmt == "text":
                    out.write(_color_diff(result.diff) if self.color else result.diff)
                    result.diff = ""
                collected.add(result)
                untallied = None
            for _ in stream:  # every result is in: the run ends (its cache index is saved, the cache pruned)
                pass
        except (ConfigError, RegistryError) as exc:
            progress.close()
            _err(str(exc))
            return EXIT_ERROR
        except KeyboardInterrupt as exc:
            progress.close()
            if stream is not None:
                stream.close()  # the workers stop at a file boundary; what they finished is counted below
            late = state.unreported + ([untallied] if untallied is not None else [])
            done = len(collected) + len(late)
            changed = collected.changed + sum(1 for r in late if r.changed)
            saved = _finish_journal(self.journal_dir, args, complete=False)
            undo = f"; `tidymark undo` restores {_the_changed(saved)}" if saved else ""
            word = "terminated (SIGTERM)" if _terminated(exc) else "interrupted"
            _err(f"{word} after {done} of {_n(len(items), 'file')} ({changed} changed; every file is either "
                 f"unchanged or completely fixed{undo})")
            return EXIT_TERMINATED if _terminated(exc) else EXIT_INTERRUPTED
        except _broken_executor() as exc:
            progress.close()
            saved = _finish_journal(self.journal_dir, args, complete=False)
            undo = f"; `tidymark undo` restores {_the_changed(saved)}" if saved else ""
            _err(f"a worker process died ({exc}); files it had finished were written whole, the others were not "
                 f"changed{undo}")
            return EXIT_ERROR
        except BrokenPipeError:  # the reader went away (`| head`): stop at a file boundary, as on Ctrl-C
            progress.close()
            if stream is not None:
                stream.close()
            _finish_journal(self.journal_dir, args, complete=False)
            raise
        progress.close()
        reporter.out = plain_out
        return None  # the journal is finished after the cross-document step, which may fix files again

    def report_results(self) -> int | None:
        """The cross-document pass, then one stream of results: each file's settings, the
        baseline, the tally and the reporter see the same problems in the same order."""
        from tidymark.run.cache import cache_folder
        from tidymark.run.rulebook import apply_settings

        args, mode, summary = self.args, self.mode, self.summary
        resolver, top = self.resolver, self.top
        changed = self.collected.originals()  # changed files: their original bytes (compressed)
        found, learned = _project_pass(self.book, top, self.collected.facts, self.collected.paths,
                                       cache_folder(self.cache_dir) if args.use_cache else None,
                                       mode=mode, threshold=self.threshold, resolver=resolver, changed=changed,
                                       journal_dir=self.journal_dir)
        self.saved = _finish_journal(self.journal_dir, args, complete=True)
        self.collected.relearned(learned)  # fixed (checked) again with what the vault taught: one result each
        for result in self.collected.merged(found):  # one stream: every output, the baseline and the summary
            try:
                settings = (resolver.for_path(result.path) if result.error is not None
                            else resolver.for_file(result.path))
            except OSError:  # a path reported unreadable, in or at a folder that cannot be searched
                settings = top
            result.diagnostics = apply_settings(result.diagnostics, settings)
            if self.writer is not None:
                self.writer.record(result)
            if self.baseline is not None:
                summary["baselined"] += self.baseline.filter(result)
            _summary.tally(summary, result, self.threshold, self.fail_on)
            if args.report is not None:
                from tidymark.outputs.html import file_entry

                self.report_files.append(file_entry(result, mode))
            if getattr(args, "show_fixes", False) and result.applied:
                per = Counter(f"{d.code} ({d.name})" for d in result.applied)
                self.fixed_lines.append(f"{result.display}:\n"
                                        + "".join(f"    {n} × {k}\n" for k, n in sorted(per.items())))
            if (mode != "diff" or self.fmt != "text") and not self.table_only:
                self.reporter.file(result)
        summary["seconds"] = time.perf_counter() - self.started
        return None

    def write_outputs(self) -> int | None:
        """The baseline file, the summary and closing lines, the statistics table, the HTML report."""
        from tidymark.run.baseline import BaselineError

        args, mode, summary, reporter, writer = self.args, self.mode, self.summary, self.reporter, self.writer
        if writer is not None:
            try:
                writer.write()
            except BaselineError as exc:
                _err(str(exc))
                return EXIT_ERROR
            except OSError as exc:
                _err(f"cannot write baseline {args.write_baseline}: {exc.strerror or exc}")
                return EXIT_ERROR
        if self.fmt == "text":
            if mode == "diff":
                reporter.out = sys.stderr  # the diff is the output; the summary goes to stderr
            if not args.quiet:
                if not self.table_only:  # with --statistics, the table stands for the diagnostics and the summary
                    reporter.finish(summary)
                if self.fixed_lines:
                    reporter.out.write("Fixes applied:\n" + "".join(self.fixed_lines))
                if mode == "fix" and summary["changed_files"]:
                    reporter.out.write(_closing(summary))
                if self.saved:
                    reporter.out.write(f"The originals of {_the_changed(self.saved)} are kept in "
                                       f"{_printable(str(self.journal_dir))}; `tidymark undo` restores them.\n")
        else:
            reporter.finish(summary)
        if args.statistics:
            (reporter.out if self.table_only else sys.stderr).write(_summary.statistics(summary))
        if args.write_baseline is not None and not args.quiet:
            sys.stderr.write(f"Baseline with {_n(sum(writer.counts.values()), 'problem')} written to "
                             f"{args.write_baseline}\n")
        if args.report is not None:
            from tidymark.outputs.html import build_html

            try:
                args.report.write_text(build_html(self.report_files, summary), encoding="utf-8")
            except OSError as exc:
                _err(f"cannot write report {args.report}: {exc}")
                return EXIT_ERROR
        return None

    def exit_code(self) -> int:
        args, mode, summary = self.args, self.mode, self.summary
        if summary["internal_errors"]:
            return EXIT_ERROR
        if args.exit_zero or args.write_baseline is not None:
            return EXIT_OK  # recording a baseline is not a failing check
        if args.exit_non_zero_on_fix and mode == "fix" and summary["changed_files"]:
            return EXIT_PROBLEMS
        if mode == "diff":  # like `ruff --diff`: 1 when there is a diff, 0 when there is nothing to change
            return EXIT_PROBLEMS if summary["changed_files"] else EXIT_OK
        return EXIT_PROBLEMS if summary["failing"] else EXIT_OK


def _the_changed(count: int) -> str:
    return "the changed file" if count == 1 else f"the {count:,} changed files"


def _stdin_path(args) -> tuple[Path | None, str | None]:
    """The path a note on standard input is checked as (``-``, or ``--stdin-filename``), or an error."""
    named = args.stdin_filename
    dash = [p for p in args.paths if str(p) == "-"]
    if not dash and (named is None or args.paths):
        return None, ("--stdin-filename needs the path `-` (standard input)" if named is not None else None)
    if len(args.paths) > len(dash) or len(dash) > 1:
        return None, "`-` (standard input) cannot be combined with other paths"
    return (named if named is not None else Path("-")), None


def _printable(name: str) -> str:
    """A path as it can be printed: undecodable bytes and control characters escaped."""
    if name.isprintable():
        return name
    out = []
    for c in name:
        if "\udc80" <= c <= "\udcff":  # a byte of a file name that is not UTF-8
            out.append(f"\\x{ord(c) - 0xDC00:02x}")
        elif not c.isprintable():
            out.append(c.encode("unicode_escape").decode("ascii"))
        else:
            out.append(c)
    return "".join(out)


def _journal_dir(args, mode: str, cache_dir: Path | None) -> tuple[Path | None, str | None]:
    """The journal folder of a fix run (None: no journal), or an error message."""
    if mode != "fix":
        return None, None
    from tidymark.run import journal
    from tidymark.run.cache import cache_folder

    backup = getattr(args, "backup", None)
    if getattr(args, "no_backup", False):
        if backup is not None:
            return None, "--backup and --no-backup cannot be used together"
        return None, None
    if backup is not None:
        if backup.exists() and not backup.is_dir():
            return None, f"--backup {backup}: not a folder"
        if (backup / journal.MANIFEST).exists() or (backup / journal.ENTRIES).exists():
            return None, (f"--backup {backup} already holds the journal of another fix run; "
                          f"name an empty or new folder")
        return backup.absolute(), None
    root = journal.journal_root(cache_folder(cache_dir))
    return (root / journal.new_run_id()).absolute(), None


def _finish_journal(journal_dir: Path | None, args, *, complete: bool) -> int:
    """Write the run's manifest and prune old runs; returns how many files it holds."""
    if journal_dir is None:
        return 0
    from tidymark.run import journal

    try:
        saved = journal.Journal(journal_dir).finish(command=["tidymark", *args.argv], complete=complete)
    except journal.JournalError as exc:
        _err(str(exc))
        return 0
    if saved and getattr(args, "backup", None) is None:
        journal.prune(journal_dir.parent)
        ignore = journal_dir.parent.parent / ".gitignore"  # the cache folder is never committed
        if not ignore.exists():
            try:
                ignore.write_text("# created by tidymark\n*\n", encoding="utf-8")
            except OSError:
                pass
    return saved


def cmd_undo(args) -> int:
    from tidymark.run import journal
    from tidymark.run.cache import cache_folder
    from tidymark.run.config import ConfigError, ConfigResolver

    cache_dir = args.cache_dir
    if cache_dir is None:
        try:
            cache_dir = ConfigResolver().for_dir(Path(".")).cache_dir
        except ConfigError as exc:
            _err(str(exc))
            return EXIT_ERROR
    root = journal.journal_root(cache_folder(cache_dir))
    if args.list:
        runs = journal.list_runs(root)
        if not runs:
            sys.stdout.write(f"No fix runs to undo in {root}.\n")
            return EXIT_OK
        for r in reversed(runs):
            state = f"undone {r.undone}" if r.undone else ("interrupted" if not r.complete else "can be undone")
            if r.damaged:
                state = (f"damaged: {r.damaged}; " + (f"{state} from its per-file records" if r.entries
                                                       else "no per-file record can be read either"))
            sys.stdout.write(f"{r.run_id}  {len(r.entries):>5} {'file ' if len(r.entries) == 1 else 'files'}  {state}  "
                             f"{' '.join(r.command)}\n")
        return EXIT_OK
    try:
        if args.run is None:
            runs = [r for r in journal.list_runs(root) if not r.undone]
            if not runs:
                _err(f"no fix run to undo in {root} (`tidymark undo --list` lists the runs)")
                return EXIT_ERROR
            run = runs[-1]
        else:
            named = Path(args.run)
            if named.is_dir() and ((named / journal.MANIFEST).exists() or (named / journal.ENTRIES).is_dir()):
                run = journal.load_run(named)
            elif (root / args.run).is_dir():
                run = journal.load_run(root / args.run)
            else:
                _err(f"{args.run} is neither a run in {root} nor a --backup folder "
                     f"(`tidymark undo --list` lists the runs)")
                return EXIT_ERROR
    except journal.JournalError as exc:
        _err(str(exc))
        return EXIT_ERROR
    if run.damaged:
        if not run.entries:  # never fall back on the run before it: that is not what was asked
            _err(f"run {run.run_id} is damaged ({run.damaged}) and none of its per-file records can be read; "
                 f"nothing restored, no other run touched (its backups are in {_printable(str(run.directory))}; "
                 f"name an older run from `tidymark undo --list` to undo that one)")
            return EXIT_ERROR
        _err(f"run {run.run_id} is damaged ({run.damaged}); undoing it from its {len(run.entries)} per-file records")
    out = journal.undo(run, dry_run=args.dry_run)
    verb = "Would restore" if args.dry_run else "Restored"
    for p in out.restored:
        sys.stdout.write(f"{verb} {_printable(p)}\n")
    for p, why in out.skipped:
        sys.stdout.write(f"Kept {_printable(p)}: {why}\n")
    for p, why in out.failed:
        sys.stdout.write(f"Failed {_printable(p)}: {why}\n")
    for p, why in out.refused:
        sys.stdout.write(f"Refused {_printable(p)}: {why}\n")
    sys.stdout.write(f"{verb} {len(out.restored)} of {_n(len(run.entries), 'file')} of run {run.run_id}"
                     + (f"; {len(out.already)} already as before" if out.already else "")
                     + (f"; {len(out.skipped)} edited or deleted since, left as they are" if out.skipped else "")
                     + (f"; {len(out.failed)} failed" if out.failed else "")
                     + (f"; {len(out.refused)} refused" if out.refused else "") + ".\n")
    if not args.dry_run and not out.marked:
        sys.stdout.write(f"Run {run.run_id} is not marked undone: "
                         + ("nothing was restored" if not out.restored else "some files were not restored")
                         + "; it stays listed by `tidymark undo --list`.\n")
    if out.failed or out.refused:
        return EXIT_ERROR
    return EXIT_PROBLEMS if out.skipped else EXIT_OK


def _project_pass(book, settings, facts_by_file: dict[str, dict], paths: dict, cache_dir: Path | None, *,
                  mode: str = "check",
                  threshold=None, resolver=None, changed: dict | None = None,
                  journal_dir: Path | None = None) -> tuple[dict, dict]:
    """Cross-document rules over the facts the files produced: their diagnostics by display
    path, and what the rules that learn from the vault changed when they checked (fixed)
    again, with what they learned, the files it concerns (:func:`tidymark.run.vault.apply_learned`;
    their diagnostics replace the rules' cross-document ones)."""
    if not facts_by_file:
        return {}, {}
    from tidymark.core.project import ProjectRule
    from tidymark.run import vault
    from tidymark.run.crossdoc import run_project_cached

    rules = [r for r in book.rules_for(settings) if isinstance(r, ProjectRule)]
    paths = {k: (paths.get(k, Path(k)), f) for k, f in facts_by_file.items()}
    memory = vault.remembered(cache_dir, paths, rules)  # the folder's other notes, for a partial run
    found = run_project_cached(rules, {**memory, **facts_by_file}, cache_dir)
    found = {k: v for k, v in found.items() if k in facts_by_file}
    learned = vault.apply_learned(rules, {**memory, **facts_by_file}, paths, found, mode=mode, threshold=threshold,
                                  resolver=resolver, book=book, changed=changed or {}, journal_dir=journal_dir)
    return found, learned


def _color_diff(diff: str) -> str:
    out = []
    for line in diff.splitlines(keepends=True):
        if line.startswith(("+++", "---")):
            out.append(f"\x1b[1m{line.rstrip(chr(10))}\x1b[0m\n")
        elif line.startswith("+"):
            out.append(f"\x1b[32m{line.rstrip(chr(10))}\x1b[0m\n")
        elif line.startswith("-"):
            out.append(f"\x1b[31m{line.rstrip(chr(10))}\x1b[0m\n")
        elif line.startswith("@@"):
            out.append(f"\x1b[36m{line.rstrip(chr(10))}\x1b[0m\n")
        else:
            out.append(line)
    return "".join(out)
