from __future__ import annotations

from tidymark.rule import Rule
from tidymark.source import Span


class InvalidFrontMatter(Rule):
    """Front matter that does not parse.

    ## What it does
    Reports front matter that readers cannot load: YAML syntax errors (with the line and
    column of the error in the file), a front matter that is opened with `---` but never
    closed, front matter that is not a mapping of keys to values, tags that name Python
    objects (`!!python/object`), and invalid TOML (`+++`) or JSON front matter.  Also
    front matter that only libyaml accepts (a tab after a value, `title: "Hello"<TAB>`):
    pure-Python PyYAML and YAML 1.2 readers reject it, and the other front-matter rules
    cannot check it, so it is reported rather than passed over in silence.

    ## Why is this bad?
    Static site generators, Obsidian and every note tool silently drop or mis-read a broken
    front matter: the title, tags and dates of the note are lost, and some tools render the
    YAML as body text.

    ## Example
    ```markdown
    ---
    title: "Unclosed quote
    tags: [a, b]
    ---
    Body
    ```

    Use instead:
    ```markdown
    ---
    title: "Closed quote"
    tags: [a, b]
    ---
    Body
    ```

    ## Fix safety
    There is no fix: only the author knows what the front matter was meant to say.
    """

    code = "FM000"
    name = "invalid-front-matter"
    summary = "Front matter does not parse"

    def check(self, doc):
        fm = doc.front_matter
        if fm is None:
            return
        if fm.error is not None:
            span = fm.error.span
            if span.end > len(doc.text):
                span = Span(span.start, len(doc.text))
            yield self.diagnostic(span, fm.error.message[0].upper() + fm.error.message[1:])
        elif fm.reader_error is not None:
            yield self.diagnostic(fm.content_span, fm.reader_error[0].upper() + fm.reader_error[1:])
        elif (strict := fm.strict_error) is not None:
            problem = strict.message.removeprefix("invalid YAML in front matter: ")
            span = strict.span if strict.span.end <= len(doc.text) else fm.content_span
            yield self.diagnostic(span, f"Front matter is not valid YAML 1.2 ({problem}): libyaml-based readers "
                                        f"load it, but pure-Python and YAML 1.2 readers reject it, and the "
                                        f"front-matter rules cannot check it")
