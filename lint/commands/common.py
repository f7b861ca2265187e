"""What every command shares: exit codes, error messages, the command line's settings."""

from __future__ import annotations

import sys

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # 128 + SIGINT, 128 + SIGTERM (as a shell reports them)


def err(msg: str) -> None:
    sys.stderr.write(f"tidymark: error: {msg}\n")


def cli_overrides(args) -> dict:
    """The settings given on the command line, over those of the configuration files."""
    return {"select": tuple(args.select) if args.select is not None else None,
            "ignore": tuple(args.ignore) if args.ignore else None,
            "extend_select": tuple(args.extend_select) if args.extend_select else None,
            "unsafe_fixes": args.unsafe_fixes, "respect_gitignore": args.respect_gitignore,
            "max_removal": getattr(args, "max_removal", None)}  # watch has no --max-removal
