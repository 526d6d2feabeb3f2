"""``gat docs``: print the documentation that ships inside the package.

The pages are docs/*.md of the repository, packaged as ``gatcli/docs/*.md`` so that an
installed wheel (which has no docs/ directory) still has them.
"""

from __future__ import annotations

import sys
from importlib import resources

import typer

from gatcli.cli.common import fail, usage_error
from gatcli.errors import GatError

#: topic -> (file in gatcli/docs, what it covers)
TOPICS = {
    "formats": ("formats.md", "input and output file formats, model files, numbering"),
    "errors": ("errors.md", "every error message, with the command that causes it, and the "
                            "exit codes"),
}

EXAMPLES = {
    "docs": [
        ("the file formats, in a pager", "gat docs formats | less"),
        ("the list of topics", "gat docs"),
    ],
}


def doc_text(topic: str) -> str:
    """The Markdown text of ``topic`` (a key of TOPICS)."""
    name = TOPICS[topic][0]
    try:
        return resources.files("gatcli").joinpath("docs", name).read_text(encoding="utf-8")
    except OSError as exc:
        raise GatError(f"the installed package has no {name} ({exc.strerror or exc}); "
                       "reinstall gatcli", f"gatcli/docs/{name}") from None


def docs(
    topic: str | None = typer.Argument(
        None, metavar="TOPIC", show_default=False,
        help="formats or errors. Without TOPIC: the list of topics."),
) -> None:
    """Print gat's documentation: file formats, error messages.

    The pages are Markdown, printed on stdout as they are in the repository's docs/
    directory.
    """
    if topic is None:
        width = max(len(t) for t in TOPICS)
        for name, (_, what) in TOPICS.items():
            sys.stdout.write(f"{name:<{width}}  {what}  (gat docs {name})\n")
        return
    if topic not in TOPICS:
        raise usage_error(f"no documentation topic {topic!r}; topics: {', '.join(TOPICS)}")
    try:
        text = doc_text(topic)
    except GatError as exc:
        raise fail(str(exc)) from None
    sys.stdout.write(text)
