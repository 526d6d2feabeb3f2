"""Rich rendering of a recorded forward pass, step by step (the text of ``gat explain``).

Each step prints a title, its formula in one line, the shapes, and the values: tables for
small arrays, a heatmap for the attention matrix, and for large graphs a summary and a few
rows (``--node`` shows one node's row of every step). Tables are fitted to the console width
(fewer decimals, then fewer columns). Colour follows the console: rich turns it off when
stdout is not a terminal or NO_COLOR is set, and the heatmap then prints values or shade
characters instead of colours.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rich import box
from rich.console import Console
from rich.style import Style
from rich.table import Table
from rich.text import Text

from gatcli.explain import tutorial as tut
from gatcli.explain.i18n import message
from gatcli.explain.steps import (
    LayerTrace,
    common_row_shift,
    concat_pairs,
    dense_matrix,
    display_order,
    has_duplicate_edges,
    node_focus,
    node_rows,
    step_order,
    summarize,
    values_on_edges,
)

#: Node tables print every row up to this many nodes, else FEW_ROWS and a summary.
MAX_TABLE_ROWS = 40
#: Per-edge tables print every edge up to this many edges.
MAX_EDGE_ROWS = 60
FEW_ROWS = 5
#: Neighbours listed by --node (highest attention first).
MAX_FOCUS_ROWS = 20
#: Decimals tried in order until a table fits the width.
DIGITS = (8, 6, 4)
SHADES = " ░▒▓█"
#: Columns of a table take their text plus padding on both sides and a divider.
CELL_OVERHEAD = 3

#: The formula of each step, by layer kind ("any": both kinds); the text is in i18n.py under
#: ``f_<kind>_<step>`` (the math is the same in every language, the words around it are not).
FORMULAS = {
    "gat": ("linear", "concat", "scores", "leaky_relu", "aggregate"),
    "gatv2": ("linear", "concat", "leaky_relu", "scores", "aggregate"),
    "any": ("mask", "softmax", "heads_concat", "heads_mean"),
}


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def format_number(value: float, digits: int) -> str:
    """Fixed-point text; NaN as 'nan'; no '-0.000'."""
    if np.isnan(value):
        return "nan"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def equal_digits(a: np.ndarray, b: np.ndarray, most: int = 15) -> int:
    """How many significant digits ``a`` and ``b`` agree to (at most ``most``, which float64
    always holds; rows that are equal in exact arithmetic differ in the last bits)."""
    scale = float(np.max(np.abs(np.concatenate([a, b])))) or 1.0
    relative = float(np.max(np.abs(a - b))) / scale
    if relative == 0:
        return most
    return int(min(most, max(0, np.floor(-np.log10(relative)))))


def _heat_style(value: float) -> Style:
    """White (0) to deep blue (1) background, readable text on top."""
    v = float(np.clip(value, 0.0, 1.0))
    r, g, b = (int(round(255 - v * (255 - c))) for c in (33, 102, 172))
    return Style(bgcolor=f"rgb({r},{g},{b})", color="white" if v > 0.5 else "black")


class TextRenderer:
    """Renders chosen layers and steps of a recorded forward pass on a rich Console."""

    def __init__(self, console: Console, traces: Sequence[LayerTrace], ids: np.ndarray, *,
                 lang: str = "en", tutorial: bool = False) -> None:
        self.console = console
        self.traces = traces
        self.ids = np.asarray(ids).astype(str)
        self.lang = lang
        self.tutorial = tutorial

    # -- words and small pieces ---------------------------------------------------------

    def t(self, key: str, **values: object) -> str:
        return message(self.lang, key, **values)

    def say(self, text: str, style: str | None = None) -> None:
        self.console.print(Text(text, style=style or ""))

    def note(self, text: str) -> None:
        self.console.print(Text(text, style="italic"))

    @property
    def colour(self) -> bool:
        return self.console.color_system is not None and not self.console.no_color

    def fits(self, label_width: int, widths: Sequence[int]) -> bool:
        return label_width + sum(w + CELL_OVERHEAD for w in widths) <= self.console.width

    def _fitted(self, values: np.ndarray, label_width: int,
                col_names: Sequence[str]) -> tuple[int, int]:
        """(decimals, number of columns) so that a table of ``values`` fits the width."""
        finite = np.abs(values[~np.isnan(values)]) if values.size else np.zeros(0)
        big = float(finite.max()) if finite.size else 0.0

        def widths(digits: int) -> list[int]:
            cell = len(format_number(-big, digits))
            return [max(cell, len(name)) for name in col_names]

        for digits in DIGITS:
            if self.fits(label_width, widths(digits)):
                return digits, len(col_names)
        room = self.console.width - label_width - 1 - CELL_OVERHEAD  # the "…" column
        shown = 0
        for width in widths(DIGITS[-1]):
            room -= width + CELL_OVERHEAD
            if room < 0:
                break
            shown += 1
        return DIGITS[-1], max(1, shown)

    def table(self, values: np.ndarray, row_labels: Sequence[Sequence[str]],
              label_names: Sequence[str], col_names: Sequence[str], *,
              caption: str | None = None, masked: np.ndarray | None = None) -> None:
        """A numeric table: label columns, then ``values`` (R, C), fitted to the width.

        masked: (R, C) bool, cells printed as 'masked' instead of their value.
        """
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        label_width = sum(max([len(n)] + [len(r[k]) for r in row_labels]) + CELL_OVERHEAD
                          for k, n in enumerate(label_names))
        col_names = list(col_names)[:values.shape[1]]
        digits, shown = self._fitted(values, label_width, col_names)
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                      caption=caption, caption_justify="left")
        for name in label_names:
            table.add_column(name, justify="right", style="bold", no_wrap=True)
        for name in col_names[:shown]:
            table.add_column(name, justify="right", no_wrap=True)
        if shown < values.shape[1]:
            table.add_column("…", no_wrap=True)
        for r, labels in enumerate(row_labels):
            cells = []
            for c in range(shown):
                if masked is not None and masked[r, c]:
                    cells.append(Text(self.t("masked"), style="dim"))
                else:
                    cells.append(format_number(values[r, c], digits))
            if shown < values.shape[1]:
                cells.append("…")
            table.add_row(*labels, *cells)
        self.console.print(table)
        if shown < values.shape[1]:
            self.note(self.t("more_cols", shown=shown, total=values.shape[1]))

    def summary(self, name: str, values: np.ndarray) -> None:
        s = summarize(values)
        self.say(self.t("summary", name=name, shape=_shape(values.shape),
                        min=format_number(s.minimum, 4), mean=format_number(s.mean, 4),
                        max=format_number(s.maximum, 4)))

    def node_table(self, name: str, values: np.ndarray, prefix: str) -> None:
        """A node-level array (N, C): every row when small, else a few and a summary."""
        n = values.shape[0]
        rows = range(n) if n <= MAX_TABLE_ROWS else range(FEW_ROWS)
        cols = [f"{prefix}{c}" for c in range(values.shape[1])]
        self.say(f"{name} ({self.t('rows')})", style="bold")
        self.table(node_rows(values, rows), [[self.ids[r]] for r in rows],
                   [self.t("col_node")], cols)
        if n > MAX_TABLE_ROWS:
            self.note(self.t("more_rows", more=n - FEW_ROWS))
            self.summary(name, values)

    def edge_table(self, trace: LayerTrace, columns: dict[str, np.ndarray]) -> None:
        """Per-edge arrays (E,) or (E, C) by column name, rows in (target, source) order."""
        order = display_order(trace.graph)
        e = order.shape[0]
        shown = order if e <= MAX_EDGE_ROWS else order[:FEW_ROWS]
        parts, names = [], []
        for name, value in columns.items():
            value = value.reshape(value.shape[0], -1)
            parts.append(value[shown])
            names += [name] if value.shape[1] == 1 else [f"{name}{c}" for c in
                                                         range(value.shape[1])]
        targets, sources = trace.targets()[shown], trace.graph.sources[shown]
        labels = [[self.ids[i], self.ids[j]] for i, j in zip(targets, sources)]
        self.say(self.t("edge_rows"), style="bold")
        self.table(np.concatenate(parts, axis=1), labels,
                   [self.t("col_target"), self.t("col_source")], names)
        if e > MAX_EDGE_ROWS:
            self.note(self.t("more_rows", more=e - FEW_ROWS))
            for name, value in columns.items():
                self.summary(name, value)

    def heatmap(self, matrix: np.ndarray, edge: np.ndarray) -> None:
        """The (N, N) attention matrix: coloured cells with values when they fit; without
        colour, values or shade characters. edge: (N, N) bool, False = not an edge."""
        n = matrix.shape[0]
        label = max(len(s) for s in self.ids[:n]) + 1
        for digits in DIGITS:
            width = digits + 2
            if self.fits(label, [width] * n):
                break
        else:
            digits, width = 0, 2 if label + 2 * n <= self.console.width else 1
        gap = " " if digits else ""
        names = [self.ids[j] for j in range(n)]
        tall = max(len(name) for name in names)
        # Column ids wider than a cell are written downwards, one character per line.
        lines = 1 if tall + (0 if gap else 1) <= width else tall
        for k in range(lines):
            header = Text(" " * label)
            for name in names:
                part = name.rjust(width) if lines == 1 else name.rjust(tall)[k].rjust(width)
                header.append(gap + part, style="bold")
            self.console.print(header, no_wrap=True, crop=True)
        for i in range(n):
            line = Text(self.ids[i].rjust(label - 1) + " ", style="bold")
            for j in range(n):
                v = matrix[i, j]
                if digits:
                    cell = (format_number(v, digits) if edge[i, j] else "0").rjust(width)
                    line.append(" ")
                elif self.colour:
                    cell = " " * width
                else:
                    k = int(np.ceil(np.clip(v, 0, 1) * (len(SHADES) - 1)))
                    glyph = SHADES[k] if edge[i, j] else "."
                    cell = glyph * width
                style = (_heat_style(v) if self.colour and edge[i, j]
                         else Style(dim=True) if not edge[i, j] else Style())
                line.append(cell, style=style)
            self.console.print(line, no_wrap=True, crop=True)
        legend = ("legend_values" if digits else "legend_colour" if self.colour
                  else "legend_shades")
        self.note(self.t("matrix_rows") + self.t("clause_sep") + self.t(legend))

    # -- the whole explanation ----------------------------------------------------------

    def render(self, *, steps: Sequence[str], layers: Sequence[int], head: int | None,
               node: int | None, intro: str) -> None:
        self.say(intro)
        for k in layers:
            trace = self.traces[k]
            h = 0 if head is None else head
            self.layer_header(trace, h, node)
            number = 0
            for step in step_order(trace.kind):
                number += 1
                if step not in steps:
                    continue
                self.step_header(trace, step, number)
                if node is None:
                    getattr(self, f"step_{step}")(trace, h)
                else:
                    self.focus_step(trace, step, node, h)

    def layer_header(self, trace: LayerTrace, head: int, node: int | None = None) -> None:
        spec = trace.spec
        extras = self.t("extras", bias=self.t("yes" if spec.bias else "no"),
                        residual=self.t("yes" if spec.residual else "no"),
                        activation=(self.t("activation_none") if spec.activation == "none"
                                    else spec.activation))
        self.console.print()
        self.console.rule(Text(self.t("layer_rule", layer=trace.index), style="bold"),
                          style="bold")
        self.say(self.t("layer", layer=trace.index, layers=len(self.traces),
                        kind=spec.kind.upper() if spec.kind == "gat" else "GATv2",
                        heads=spec.heads, out_dim=spec.out_dim,
                        combine=self.t("combine_concat" if spec.concat else "combine_mean"),
                        slope=spec.negative_slope, extras=extras, edges=trace.n_edges,
                        nodes=trace.n_nodes,
                        loops=self.t("loops_on" if spec.self_loops else "loops_off")))
        if spec.heads > 1:
            self.say(self.t("head_note", head=head, heads=spec.heads))
        if node is not None:
            sources = node_focus(trace, node, head).sources
            self.say(self.t("node_intro", node=self.ids[node], layer=trace.index, head=head,
                            degree=sources.size, masked=trace.n_nodes - np.unique(sources).size))

    def formula(self, trace: LayerTrace, step: str) -> str:
        spec = trace.spec
        if step == "heads":
            return self.t("f_any_heads_concat" if spec.concat else "f_any_heads_mean")
        if step == "output":
            terms = "h_i" + (" + R x_i" if spec.residual else "") + (" + b" if spec.bias else "")
            act = spec.activation
            return f"y_i = {terms}" if act == "none" else f"y_i = {act}({terms})"
        kind = trace.kind if step in FORMULAS[trace.kind] else "any"
        return self.t(f"f_{kind}_{step}", slope=spec.negative_slope)

    def shapes(self, trace: LayerTrace, step: str) -> str:
        n, e = trace.n_nodes, trace.n_edges

        def sh(name: str) -> str:  # the shape of a recorded array in the whole layer
            return _shape(trace.shape_of(name))

        hh, f = trace.spec.heads, trace.spec.out_dim
        v2 = trace.kind == "gatv2"
        table = {
            "linear": (f"x {sh('input')} -> W_l x, W_r x ({n}, {hh}, {f})" if v2 else
                       f"X {sh('input')} · W^T ({trace.shape_of('input')[1]}, {hh * f}) -> "
                       f"Wh {sh('linear')}"),
            "concat": (f"W_r x_i, W_l x_j ({n}, {hh}, {f}) -> z {sh('pairs')}" if v2 else
                       f"Wh {sh('linear')} -> [Wh_i ‖ Wh_j] ({e}, {hh}, {2 * f})"),
            "scores": (f"a (1, {hh}, {f}), LeakyReLU(z) {sh('leaky_relu')} -> e "
                       f"{sh('scores')}" if v2 else
                       f"a_dst · Wh_i, a_src · Wh_j ({n}, {hh}) -> s {sh('scores')}"),
            "leaky_relu": (f"z {sh('pairs')} -> {sh('leaky_relu')}" if v2 else
                           f"s {sh('scores')} -> e {sh('leaky_relu')}"),
            "mask": f"e ({e}, {hh}) -> E ({n}, {n}) {self.t('per_head')}",
            "softmax": f"e ({e}, {hh}) -> α {sh('softmax')}",
            "aggregate": f"α ({e}, {hh}), {self.t('shape_values')} ({n}, {hh}, {f}) -> out "
                         f"{sh('aggregate')}",
            "heads": f"out {sh('aggregate')} -> h {sh('heads')}",
            "output": f"h {sh('heads')} -> y {sh('output')}",
        }
        return f"{self.t('shapes')}: {table[step]}"

    def step_header(self, trace: LayerTrace, step: str, number: int) -> None:
        key = f"title_{step}"
        if trace.kind == "gatv2" and step in ("concat", "scores", "leaky_relu"):
            key += "_v2"
        self.console.print()
        self.say(f"{self.t('step')} {number}/9  {self.t(key)}", style="bold cyan")
        self.say("  " + self.formula(trace, step), style="bold")
        self.say("  " + self.shapes(trace, step), style="dim")

    # -- steps, whole layer -------------------------------------------------------------

    def step_linear(self, trace: LayerTrace, head: int) -> None:
        a = trace.arrays
        self.node_table("X", a["input"], "x")
        if trace.kind == "gatv2":
            self.node_table("W_l x", a["linear"][:, head], "")
            self.node_table("W_r x", a["linear_dst"][:, head], "")
        else:
            self.node_table("Wh", a["linear"][:, head], "Wh")

    def step_concat(self, trace: LayerTrace, head: int) -> None:
        pairs = concat_pairs(trace)[:, head]
        name = "z" if trace.kind == "gatv2" else "[Wh_i‖Wh_j]"
        self.edge_table(trace, {name: pairs})
        if self.tutorial and trace.kind == "gat":
            self.compare_printed(trace, pairs, tut.PRINTED_CONCAT,
                                 f"[Wh_i || Wh_j]{self.t('cell', n=8)}")

    def step_scores(self, trace: LayerTrace, head: int) -> None:
        a = trace.arrays
        if trace.kind == "gatv2":
            self.edge_table(trace, {"e_ij": a["scores"][:, head]})
            return
        terms = np.stack([a["scores_dst"][:, head], a["scores_src"][:, head]], axis=1)
        n = terms.shape[0]
        rows = range(n) if n <= MAX_TABLE_ROWS else range(FEW_ROWS)
        self.say(f"a_dst · Wh_n, a_src · Wh_n ({self.t('rows')})", style="bold")
        self.table(terms[list(rows)], [[self.ids[r]] for r in rows], [self.t("col_node")],
                   ["a_dst·Wh", "a_src·Wh"])
        if n > MAX_TABLE_ROWS:
            self.note(self.t("more_rows", more=n - FEW_ROWS))
        sources, targets = trace.graph.sources, trace.targets()
        self.edge_table(trace, {"a_dst·Wh_i": a["scores_dst"][targets, head],
                                "a_src·Wh_j": a["scores_src"][sources, head],
                                "s_ij": a["scores"][:, head]})
        if self.tutorial:
            self.compare_printed(trace, a["scores"][:, head], tut.PRINTED_SCORES,
                                 f"a{self.t('cell', n=10)}")

    def step_leaky_relu(self, trace: LayerTrace, head: int) -> None:
        a = trace.arrays
        if trace.kind == "gatv2":
            self.edge_table(trace, {"LReLU(z)": a["leaky_relu"][:, head]})
            return
        self.edge_table(trace, {"s_ij": a["scores"][:, head], "e_ij": a["leaky_relu"][:, head]})
        if self.tutorial:
            self.compare_printed(trace, a["leaky_relu"][:, head], tut.PRINTED_LEAKY_RELU,
                                 f"e{self.t('cell', n=12)}")

    def step_mask(self, trace: LayerTrace, head: int) -> None:
        logits = trace.logits()[:, head]
        if not trace.small:
            deg = trace.graph.in_degrees
            self.say(self.t("mask_large", nodes=trace.n_nodes, edges=trace.n_edges,
                            dmin=int(deg.min()), dmean=f"{deg.mean():.2f}", dmax=int(deg.max())))
            self.summary("e", logits)
            return
        matrix = dense_matrix(trace, logits)
        n = trace.n_nodes
        labels = [[self.ids[i]] for i in range(n)]
        self.table(matrix, labels, ["i \\ j"], [self.ids[j] for j in range(n)],
                   masked=np.isnan(matrix))
        self.note(self.t("matrix_rows") + self.t("sentence_sep") + self.t("mask_note"))
        if has_duplicate_edges(trace):
            self.note(self.t("duplicates"))
        if self.tutorial:
            self.note(self.t("tutorial_zero"))

    def step_softmax(self, trace: LayerTrace, head: int) -> None:
        alpha = trace.arrays["softmax"][:, head]
        if not trace.small:
            self.summary("α", alpha)
            self.say(self.t("attention_large"))
            for i in range(min(FEW_ROWS, trace.n_nodes)):
                focus = node_focus(trace, i, head)
                best = [f"{self.ids[focus.sources[k]]}: {format_number(focus.alpha[k], 4)}"
                        for k in focus.order[:3]]
                more = " …" if focus.order.size > 3 else ""
                self.say(f"  {self.ids[i]} <- " + ", ".join(best) + more)
            return
        matrix = dense_matrix(trace, alpha, fill=0.0, combine="sum")
        edge = ~np.isnan(dense_matrix(trace, alpha))
        self.heatmap(matrix, edge)
        self.note(self.t("row_sums"))
        if has_duplicate_edges(trace):
            self.note(self.t("duplicates"))
        if self.tutorial:
            self.tutorial_softmax(trace, matrix, head)

    def step_aggregate(self, trace: LayerTrace, head: int) -> None:
        out = trace.arrays["aggregate"][:, head]
        if not self.tutorial:
            self.node_table("out", out, "out")
            return
        n = out.shape[0]
        self.say(self.t("tutorial_h"), style="bold")
        both = np.concatenate([out, tut.PRINTED_H], axis=1)
        correct, printed = self.t("correct_label"), self.t("tutorial_label")
        self.table(both, [[self.ids[i]] for i in range(n)], [self.t("col_node")],
                   [f"{correct} h0", f"{correct} h1", f"{printed} h0", f"{printed} h1"])
        self.explain(self.t("mistake2"))

    def step_heads(self, trace: LayerTrace, head: int) -> None:
        self.node_table("h", trace.arrays["heads"], "h")

    def step_output(self, trace: LayerTrace, head: int) -> None:
        self.node_table("y", trace.arrays["output"], "y")

    # -- the tutorial's numbers ---------------------------------------------------------

    def explain(self, text: str) -> None:
        self.console.print(Text(text, style="yellow"))

    def compare_printed(self, trace: LayerTrace, ours: np.ndarray, printed: np.ndarray,
                        what: str) -> None:
        """One line: the tutorial printed the same per-edge values (its edge order)."""
        pi, pj = tut.printed_edges()
        theirs = values_on_edges(pi, pj, printed, trace.targets(), trace.graph.sources)
        diff = float(np.nanmax(np.abs(theirs - ours.reshape(theirs.shape))))
        self.note(self.t("same_as_tutorial", what=what, diff=f"{diff:.1e}"))

    def tutorial_softmax(self, trace: LayerTrace, matrix: np.ndarray, head: int) -> None:
        printed = tut.PRINTED_W_ALPHA
        self.console.print()
        self.say(self.t("tutorial_walpha"), style="bold")
        n = matrix.shape[0]
        labels = []
        for i in range(n):
            same = np.allclose(printed[i], matrix[i], atol=5e-9)
            labels.append([self.ids[i], self.t("same" if same else "differs")])
        self.table(printed, labels, ["i", ""],
                   [self.ids[j] for j in range(n)])
        row1 = ", ".join(format_number(v, 8) if v else "0" for v in matrix[1])
        self.explain(self.t("mistake1", w12=format_number(printed[1, 2], 8),
                            w13=format_number(printed[1, 3], 8), row1=row1))
        shift = common_row_shift(trace, 2, 3, head)
        scores = trace.arrays["scores"][:, head]
        rows = np.isin(trace.targets(), (2, 3))
        if (shift is not None and np.ptp(shift) < 1e-9 and bool((scores[rows] > 0).all())
                and np.allclose(matrix[2], matrix[3])):
            g = trace.graph
            nbrs = ", ".join(self.ids[j] for j in np.sort(g.sources[g.indptr[2]:g.indptr[3]]))
            rounding = self.t("equal_digits", digits=equal_digits(matrix[2], matrix[3]))
            self.explain(self.t("static", i=2, k=3, nbrs=nbrs, rounding=rounding,
                                shift=format_number(float(shift[0]), 8)))

    # -- one node (--node) --------------------------------------------------------------

    def focus_rows(self, trace: LayerTrace, columns: dict[str, np.ndarray],
                   node: int, head: int) -> None:
        """Node i's in-edges (highest attention first) with per-edge columns (d,) or (d, C)."""
        focus = node_focus(trace, node, head)
        picked = focus.order[:MAX_FOCUS_ROWS]
        parts, names = [], []
        for name, value in columns.items():
            value = value.reshape(value.shape[0], -1)
            parts.append(value[picked])
            names += [name] if value.shape[1] == 1 else [f"{name}{c}" for c in
                                                         range(value.shape[1])]
        labels = [[self.ids[focus.sources[k]]] for k in picked]
        self.say(self.t("node_sorted"), style="bold")
        self.table(np.concatenate(parts, axis=1), labels, [self.t("col_source")], names)
        rest = focus.order[MAX_FOCUS_ROWS:]
        if rest.size:
            self.note(self.t("node_more", more=rest.size,
                             rest=format_number(float(focus.alpha[rest].sum()), 4)))

    def row(self, name: str, values: np.ndarray, prefix: str, node: int) -> None:
        self.say(f"{name} ({self.t('col_node')} {self.ids[node]})", style="bold")
        self.table(values[None, :], [[self.ids[node]]], [self.t("col_node")],
                   [f"{prefix}{c}" for c in range(values.shape[0])])

    def focus_step(self, trace: LayerTrace, step: str, node: int, head: int) -> None:
        focus = node_focus(trace, node, head)
        a = trace.arrays
        degree = focus.sources.size
        if step in ("linear", "aggregate", "heads", "output"):
            if step == "linear":
                self.row("x_i", focus.rows["input"], "x", node)
                if trace.kind == "gatv2":
                    self.row("W_l x_i", focus.rows["linear"], "", node)
                    self.row("W_r x_i", focus.rows["linear_dst"], "", node)
                else:
                    self.row("Wh_i", focus.rows["linear"], "Wh", node)
            else:
                prefix = {"aggregate": "out", "heads": "h", "output": "y"}[step]
                self.row(f"{prefix}_i", focus.rows[step], prefix, node)
            return
        if degree == 0:
            self.say(self.t("node_none", node=self.ids[node]))
            return
        if step == "concat":
            self.focus_rows(trace, {"z" if trace.kind == "gatv2" else "[Wh_i‖Wh_j]":
                                    concat_pairs_of(trace, node, focus.edges, head)},
                            node, head)
        elif step == "scores":
            if trace.kind == "gat":
                self.say(self.t("dst_term", value=format_number(focus.dst_term, 8),
                                node=self.ids[node]))
                self.focus_rows(trace, {"a_src·Wh_j": focus.src_terms, "s_ij": focus.scores},
                                node, head)
            else:
                self.focus_rows(trace, {"e_ij": focus.scores}, node, head)
        elif step == "leaky_relu":
            if trace.kind == "gat":
                self.focus_rows(trace, {"s_ij": focus.scores, "e_ij": focus.logits}, node, head)
            else:
                self.focus_rows(trace, {"LReLU(z)": a["leaky_relu"][focus.edges, head]},
                                node, head)
        elif step == "mask":
            self.focus_rows(trace, {"e_ij": focus.logits}, node, head)
        elif step == "softmax":
            self.focus_rows(trace, {"e_ij": focus.logits, "α_ij": focus.alpha}, node, head)
            self.note(self.t("row_sums"))


def concat_pairs_of(trace: LayerTrace, node: int, edges: np.ndarray, head: int) -> np.ndarray:
    """The concat step of node i's in-edges (positions ``edges``) only: (d, 2F') or (d, F')."""
    if trace.kind == "gatv2":
        return trace.arrays["pairs"][edges, head]
    wh = trace.arrays["linear"][:, head]
    target = np.broadcast_to(wh[trace.row_of(node)], (edges.size, wh.shape[1]))
    return np.concatenate([target, wh[trace.graph.sources[edges]]], axis=1)
