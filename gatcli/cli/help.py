"""Help pages and usage errors of every ``gat`` command, in plain text.

typer's own help labels options with Python types (``<str>``, ``<int range> [x>=1]``), puts
arguments in braces (``{graph}``), cuts long values in its boxes, and reports a parse error
as a multi-line box. :class:`GatCommand` and :class:`GatGroup` replace both: a help page is
usage, description, one section per option panel with real metavars (``PATH``, ``N``,
``gat|gatv2``), an Examples section and where the documentation is; a usage error is one
``gat: error:`` line on stderr with exit code 2, whatever found it (typer, click or gat).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from typer import _click as click
from typer.core import TyperArgument, TyperCommand, TyperGroup
from typer.exceptions import Abort

from gatcli.cli.coerce import use_plain_coercion
from gatcli.cli.common import EXIT_FAILURE, EXIT_USAGE, error_line, run_guarded
from gatcli.cli.signals import exit_code_of, interrupted_message
from gatcli.io.atomic import remove_temporaries

#: Help pages are wrapped to the terminal, but never wider than this.
MAX_WIDTH = 100
#: COLUMNS outside this range is ignored (0, negative, absurd or not a number).
SANE_COLUMNS = range(20, 1001)
DOCS_LINE = ("Documentation: 'gat docs formats' (input and output formats), 'gat docs errors' "
             "(error messages and exit codes).")


def sanitize_terminal_size() -> None:
    """Drop a COLUMNS or LINES that is not a sane number, so that rich and click fall back
    to the terminal's size (``COLUMNS=0`` gave an empty usage error)."""
    for name in ("COLUMNS", "LINES"):
        value = os.environ.get(name)
        if value is None:
            continue
        if not (value.strip().isdigit() and int(value) in SANE_COLUMNS):
            del os.environ[name]


def help_width() -> int:
    return max(40, min(MAX_WIDTH, shutil.get_terminal_size((80, 24)).columns))


# -- metavars -------------------------------------------------------------------------------

#: The value of these options, as the help shows it (others: see :func:`metavar`).
OPTION_METAVARS = {
    "--output": "PATH", "--attention": "PATH", "--save-weights": "PATH", "--weights": "PATH",
    "--config": "PATH", "--node": "ID", "--activation": "NAME", "--step": "STEP",
}
#: Choices longer than this show the option's name instead (the help lists them).
MAX_CHOICES_SHOWN = 4


def _choices(param: click.Parameter) -> list[str] | None:
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or not descriptor.is_choice or not descriptor.choices:
        return None
    return [str(getattr(c, "value", c)) for c in descriptor.choices]


def metavar(param: click.Parameter) -> str:
    """What an option's value or an argument looks like: its explicit metavar, the choices
    (``gat|gatv2``), N for integers, X for numbers, else the option's name in capitals."""
    if param.metavar:
        return param.metavar
    for name in param.opts:
        if name in OPTION_METAVARS:
            return OPTION_METAVARS[name]
    choices = _choices(param)
    if choices and len(choices) <= MAX_CHOICES_SHOWN:
        return "|".join(choices)
    descriptor = getattr(param, "type_descriptor", None)
    kind = getattr(descriptor, "annotation", None)
    if kind is int:
        return "N"
    if kind is float:
        return "X"
    long_names = [o for o in param.opts if o.startswith("--")] or param.opts
    return long_names[0].lstrip("-").replace("-", "_").upper()


def _is_flag(param: click.Parameter) -> bool:
    return bool(getattr(param, "is_flag", False)) or bool(getattr(param, "count", False))


def usage_pieces(command: click.Command, ctx: click.Context) -> list[str]:
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument) or param.param_type_name == "argument":
            name = metavar(param)
            if param.nargs != 1:
                name += "..."
            pieces.append(name if param.required else f"[{name}]")
    return pieces


# -- help text ------------------------------------------------------------------------------


def _option_label(param: click.Parameter) -> str:
    names = sorted(param.opts, key=lambda o: (o.startswith("--"), o))  # -o, --output
    label = ", ".join(names)
    if param.secondary_opts:
        label += " / " + ", ".join(param.secondary_opts)
    if not _is_flag(param):
        label += " " + metavar(param)
        if getattr(param, "multiple", False):
            label += " (repeatable)"
    return label


def _extras(param: click.Parameter) -> str:
    """``[default: ...]`` and the allowed range, unless the help text states them."""
    help_text = getattr(param, "help", None) or ""
    parts = []
    if "[default:" not in help_text and not _is_flag(param):
        shown = getattr(param, "show_default", None)
        default = param.default
        if isinstance(shown, str):
            parts.append(f"default: {shown}")
        elif shown and default is not None and default != () and default != []:
            if isinstance(default, (list, tuple)):
                default = ", ".join(str(getattr(d, "value", d)) for d in default)
            parts.append(f"default: {getattr(default, 'value', default)}")
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None and high is not None:
        parts.append(f"{low}..{high}")
    elif low is not None:
        parts.append(f"at least {low}")
    elif high is not None:
        parts.append(f"at most {high}")
    return f"  [{'; '.join(parts)}]" if parts else ""


def _definitions(rows: Sequence[tuple[str, str]], width: int) -> list[str]:
    """Two columns, the second wrapped at words; a long first column gets its own line."""
    column = min(max((len(left) for left, _ in rows), default=0), 32) + 4
    out = []
    for left, right in rows:
        body = textwrap.wrap(right, max(20, width - column), break_long_words=False,
                             break_on_hyphens=False) or [""]
        if len(left) + 4 > column:
            out.append(f"  {left}")
            out.extend(" " * column + line for line in body)
        else:
            out.append(f"  {left:<{column - 2}}{body[0]}")
            out.extend(" " * column + line for line in body[1:])
    return out


def _paragraphs(text: str, width: int, indent: str = "  ") -> list[str]:
    out: list[str] = []
    for block in textwrap.dedent(text).strip().split("\n\n"):
        lines = block.splitlines()
        if lines and all(line.startswith(("    ", "$ ", "  ")) for line in lines):
            out.extend(indent + line.rstrip() for line in lines)  # preformatted
        else:
            out.extend(textwrap.wrap(" ".join(line.strip() for line in lines), width,
                                     initial_indent=indent, subsequent_indent=indent,
                                     break_long_words=False, break_on_hyphens=False))
        out.append("")
    return out


def _help_of(command: click.Command) -> str:
    text = command.help or ""
    return text.split("\f", 1)[0]


def help_page(command: click.Command, ctx: click.Context,
              examples: Sequence[tuple[str, str]] = ()) -> str:
    """The whole help page of ``command``."""
    width = help_width()
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines = [f"Usage: {ctx.command_path} {usage}".rstrip(), ""]
    if _help_of(command):
        lines += _paragraphs(_help_of(command), width - 2)
    arguments: list[tuple[str, str]] = []
    panels: dict[str, list[tuple[str, str]]] = {}
    for param in command.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        help_text = " ".join((getattr(param, "help", None) or "").split())
        if param.param_type_name == "argument":
            arguments.append((metavar(param), help_text))
            continue
        panel = getattr(param, "rich_help_panel", None) or "Options"
        panels.setdefault(panel, []).append((_option_label(param), help_text + _extras(param)))
    if arguments:
        lines += ["Arguments:", *_definitions(arguments, width), ""]
    for panel, rows in panels.items():
        if panel != "Options":
            lines += [f"{panel}:", *_definitions(rows, width), ""]
    if "Options" in panels:
        lines += ["Options:", *_definitions(panels["Options"], width), ""]
    if isinstance(command, GatGroup):
        rows = command.command_summaries(ctx)
        if rows:
            lines += ["Commands:", *_definitions(rows, width), ""]
    if examples:
        lines.append("Examples:")
        for what, example in examples:
            lines += [f"  # {what}", f"  {example}"]
        lines.append("")
    lines += textwrap.wrap(DOCS_LINE, width, break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines) + "\n"


class _GatHelp:
    """What every ``gat`` command and group shares: plain-text help with examples, the short
    help from the first sentence, and option values converted without pydantic."""

    examples: Sequence[tuple[str, str]] = ()

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        use_plain_coercion(self.get_params(ctx))  # no pydantic for plain values
        return super().parse_args(ctx, args)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write(help_page(self, ctx, self.examples))

    def get_short_help_str(self, limit: int = 150) -> str:
        return self.short_help or _first_sentence(_help_of(self))


class GatCommand(_GatHelp, TyperCommand):
    """A ``gat`` subcommand: plain-text help with metavars and examples."""

    def __init__(self, *args: Any, examples: Sequence[tuple[str, str]] = (),
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.examples = list(examples)
        for param in self.params:  # typer's messages name an argument by its metavar
            if param.param_type_name == "argument" and not param.metavar:
                param.metavar = (param.name or "").upper()

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return usage_pieces(self, ctx)


class Interrupted(Exception):
    """A KeyboardInterrupt (Ctrl-C, or SIGTERM/SIGHUP as :class:`~gatcli.cli.signals.
    Terminated`) that arrived outside a command's own handling (while typer parses options or
    loads the subcommand's module), carried past typer's main, which would turn it into a
    silent exit 130."""

    def __init__(self, interrupt: KeyboardInterrupt) -> None:
        super().__init__(interrupt)
        self.interrupt = interrupt


class GatGroup(_GatHelp, TyperGroup):
    """A ``gat`` command group (the root ``gat`` and ``gat weights``): plain-text help, and
    as the root, the one place that turns parse errors into one line and exit code 2."""

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return [*usage_pieces(self, ctx), self.subcommand_metavar]

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt as exc:
            raise Interrupted(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise Interrupted(exc) from None

    def command_summaries(self, ctx: click.Context) -> list[tuple[str, str]]:
        """(name, one-line help) of every visible subcommand."""
        rows = []
        for name in self.list_commands(ctx):
            sub = self.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                rows.append((name, sub.get_short_help_str()))
        return rows

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        """Run the command line; with ``standalone_mode`` exit with its code, else return
        it. Every error ends here as one stderr line (see :func:`report_click_error`)."""
        sanitize_terminal_size()

        def run() -> int:
            try:
                result = super(GatGroup, self).main(
                    args, prog_name or "gat", complete_var, standalone_mode=False, **extra)
            except click.exceptions.ClickException as exc:
                return report_click_error(exc)
            except Abort:
                error_line("aborted")
                return EXIT_FAILURE
            except (KeyboardInterrupt, Interrupted) as exc:  # Ctrl-C, SIGTERM, SIGHUP
                interrupt = exc.interrupt if isinstance(exc, Interrupted) else exc
                remove_temporaries()
                error_line(interrupted_message(interrupt))
                return exit_code_of(interrupt)
            return result if isinstance(result, int) else 0

        code = run_guarded(run)
        if standalone_mode:
            sys.exit(code)
        return code


def _first_sentence(text: str) -> str:
    first = " ".join(text.strip().split("\n\n", 1)[0].split())
    end = first.find(". ")
    return first[: end + 1] if end >= 0 else first


def report_click_error(exc: click.exceptions.ClickException) -> int:
    """One line for a parse error, with the usage of the command; a command that needs
    arguments and got none prints its help page on stderr instead. Exit code 2."""
    if type(exc).__name__ == "NoArgsIsHelpError":  # the message is the help page
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stderr.write(exc.format_message())
        return EXIT_USAGE
    message = exc.format_message().strip()
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.exceptions.UsageError) and ctx is not None:
        path = ctx.command_path
        usage = " ".join(ctx.command.collect_usage_pieces(ctx))
        message = (f"{message.rstrip('.')} (usage: {path} {usage.strip()}; "
                   f"'{path} --help' for more)")
    error_line(message)
    return exc.exit_code if isinstance(exc.exit_code, int) else EXIT_USAGE
