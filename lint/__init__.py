"""tidymark: a content-quality linter and lossless cleanup tool for Markdown notes.

Public API (stable, see docs/writing-rules.md)::

    from tidymark import Rule, Document, Diagnostic, Edit, Fix, Applicability, Severity
    from tidymark import check_text, fix_text
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "Rule": ("tidymark.rule", "Rule"),
    "FixAvailability": ("tidymark.rule", "FixAvailability"),
    "RULE_API_VERSION": ("tidymark.rule", "RULE_API_VERSION"),
    "Document": ("tidymark.document", "Document"),
    "Diagnostic": ("tidymark.diagnostics", "Diagnostic"),
    "Edit": ("tidymark.diagnostics", "Edit"),
    "Fix": ("tidymark.diagnostics", "Fix"),
    "FixKind": ("tidymark.diagnostics", "FixKind"),
    "Applicability": ("tidymark.diagnostics", "Applicability"),
    "Severity": ("tidymark.diagnostics", "Severity"),
    "Span": ("tidymark.source", "Span"),
    "check_text": ("tidymark.api", "check_text"),
    "fix_text": ("tidymark.api", "fix_text"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    # Lazy so that `tidymark --version` and one-file runs start fast.
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'tidymark' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


# Module paths of tidymark 0.1 that moved into the layered layout (docs/architecture.md).
# They keep working for one release: importing an old path gives the very module at its new
# path (same object, so attributes and patches are shared).  Removed in the next release.
_MOVED = {
    "tidymark.engine": "tidymark.core.engine",
    "tidymark.suppress": "tidymark.core.suppress",
    "tidymark.project": "tidymark.core.project",
    "tidymark.config": "tidymark.run.config",
    "tidymark.files": "tidymark.run.files",
    "tidymark.cache": "tidymark.run.cache",
    "tidymark.journal": "tidymark.run.journal",
    "tidymark.baseline": "tidymark.run.baseline",
    "tidymark.runner": "tidymark.run.rulebook",
    "tidymark.pipeline": "tidymark.run.pipeline",
    "tidymark.output": "tidymark.outputs.text",
    "tidymark.formats": "tidymark.outputs.ci",
    "tidymark.report": "tidymark.outputs.html",
    "tidymark.docs": "tidymark.outputs.docs",
    "tidymark.cli": "tidymark.commands.main",
    "tidymark.adapters.engine_cli": "tidymark.commands.engines",
    "tidymark.scaffold": "tidymark.commands.scaffold",
    "tidymark.registry": "tidymark.plugins.registry",
    "tidymark.packs": "tidymark.plugins.packs",
    "tidymark.local_rules": "tidymark.plugins.local_rules",
    "tidymark.boilerplate": "tidymark.phrases.boilerplate",
    "tidymark.server": "tidymark.commands.server",
    "tidymark.watch": "tidymark.commands.watch",
    "tidymark.textrun": "tidymark.run.textrun",
    "tidymark.results": "tidymark.run.results",
    "tidymark.platforms": "tidymark.rules._platforms",
    "tidymark.lift": "tidymark.rules.dm._lift",
    "tidymark.schema": "tidymark.rules.fm._schema",
    "tidymark.clipper": "tidymark.rules._clipper",
    "tidymark.images": "tidymark.rules.im._images",
    "tidymark.proxies": "tidymark.rules.im._proxies",
    "tidymark.rules.ad001_recommendation_block": "tidymark.rules.ad.ad001_recommendation_block",
    "tidymark.rules.ad002_call_to_action": "tidymark.rules.ad.ad002_call_to_action",
    "tidymark.rules.ad003_promotional_image": "tidymark.rules.ad.ad003_promotional_image",
    "tidymark.rules.ad004_republication_notice": "tidymark.rules.ad.ad004_republication_notice",
    "tidymark.rules.ad005_site_boilerplate": "tidymark.rules.ad.ad005_site_boilerplate",
    "tidymark.rules.ad010_platform_template": "tidymark.rules.ad.ad010_platform_template",
    "tidymark.rules.dm001_metadata_repeated_in_body": "tidymark.rules.dm.dm001_metadata_repeated_in_body",
    "tidymark.rules.dm002_title_repeated_as_heading": "tidymark.rules.dm.dm002_title_repeated_as_heading",
    "tidymark.rules.dm003_clipper_scaffolding": "tidymark.rules.dm.dm003_clipper_scaffolding",
    "tidymark.rules.dm004_source_link_line": "tidymark.rules.dm.dm004_source_link_line",
    "tidymark.rules.dm005_html_escaped_body": "tidymark.rules.dm.dm005_html_escaped_body",
    "tidymark.rules.dm006_duplicate_article": "tidymark.rules.dm.dm006_duplicate_article",
    "tidymark.rules.dm007_lift_metadata": "tidymark.rules.dm.dm007_lift_metadata",
    "tidymark.rules.dm010_failed_clip": "tidymark.rules.dm.dm010_failed_clip",
    "tidymark.rules.fm000_invalid_front_matter": "tidymark.rules.fm.fm000_invalid_front_matter",
    "tidymark.rules.fm001_duplicate_key": "tidymark.rules.fm.fm001_duplicate_key",
    "tidymark.rules.fm002_block_scalar_single_line": "tidymark.rules.fm.fm002_block_scalar_single_line",
    "tidymark.rules.fm003_front_matter_schema": "tidymark.rules.fm.fm003_front_matter_schema",
    "tidymark.rules.im001_dead_image_proxy": "tidymark.rules.im.im001_dead_image_proxy",
    "tidymark.rules.im002_live_image_proxy": "tidymark.rules.im.im002_live_image_proxy",
    "tidymark.rules.pb001_draft_flag": "tidymark.rules.pb.pb001_draft_flag",
    "tidymark.rules.tm100_unused_suppression": "tidymark.rules.tm.tm100_unused_suppression",
}


class _MovedModules:
    """Import hook for :data:`_MOVED`, consulted only after the regular finders found nothing."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name not in _MOVED:
            return None
        from importlib.machinery import ModuleSpec

        return ModuleSpec(name, cls)

    @staticmethod
    def create_module(spec):
        return None

    @staticmethod
    def exec_module(module) -> None:
        import importlib
        import sys

        sys.modules[module.__name__] = importlib.import_module(_MOVED[module.__name__])

    @staticmethod
    def get_code(name):
        # ``python -m tidymark.docs`` runs the moved module's code.
        import importlib.util

        spec = importlib.util.find_spec(_MOVED[name])
        return spec.loader.get_code(spec.name)


def _install_moved_modules() -> None:
    import sys

    sys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "__qualname__", None) != "_MovedModules"]
    sys.meta_path.append(_MovedModules)


_install_moved_modules()
