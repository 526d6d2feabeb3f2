"""Options shared by the commands that build a model and read a graph (embed, explain).

Typer copies an option's definition when it builds a command, so one definition can serve
several commands: ``weights: str | None = options.WEIGHTS``.
"""

from __future__ import annotations

from enum import Enum

import typer

from gatcli.cli.common import usage_error
from gatcli.errors import GatError
from gatcli.io.text_table import check_delimiter
from gatcli.model.build import QuickModel
from gatcli.model.spec import ACTIVATIONS, NEGATIVE_SLOPE_EXPECTED, valid_negative_slope

MODEL = "Model (with --weights the file decides the architecture)"
INPUT = "Input"
OUTPUT = "Output"
RUN = "Run"


class DType(str, Enum):
    float32 = "float32"
    float64 = "float64"


class SvmlightBase(str, Enum):
    auto = "auto"
    zero = "0"
    one = "1"


class LayerType(str, Enum):
    gat = "gat"
    gatv2 = "gatv2"


GRAPH_HELP = ("Edge list (.csv, .tsv, .txt/.edgelist, optionally .gz; '-' for stdin; row "
              "'u,v' = edge u -> v, v attends to u) or adjacency (.npz from "
              "scipy.sparse.save_npz, .mtx; row i = the nodes i attends to).")
FEATURES_HELP = ("Node features: CSV/TSV with a header (first column 'id' or 'node' = node "
                 "ids, else rows are nodes 0..N-1), .npy (N x F), or sparse: .npz from "
                 "scipy.sparse.save_npz (N x F), svmlight/libsvm text (.svm, .svmlight, "
                 ".libsvm; 'label index:value ...', line k = node k, the label ignored); "
                 "'-' for stdin.")

WEIGHTS = typer.Option(
    None, "--weights", "-w", rich_help_panel=MODEL, show_default=False,
    help="Load weights: an .npz from --save-weights, or a PyTorch Geometric state_dict "
         "export (GATConv/GATv2Conv); the architecture comes from the file.")
CONFIG = typer.Option(
    None, "--config", "-c", rich_help_panel=MODEL, show_default=False,
    help="YAML model: a list of layers (see 'gat docs formats').")


def _check_seed(value: int) -> int:
    """--seed: numpy's default_rng takes integers >= 0 (any size)."""
    if value is not None and value < 0:
        raise usage_error(f"--seed {value}: expected an integer >= 0")
    return value


SEED = typer.Option(0, "--seed", callback=_check_seed, rich_help_panel=MODEL,
                    help="Seed of the Glorot-uniform initial weights (an integer >= 0).")
LAYERS = typer.Option(None, "--layers", min=1, rich_help_panel=MODEL,
                      help="Number of layers.  [default: 2]", show_default=False)
HIDDEN = typer.Option(None, "--hidden", min=1, rich_help_panel=MODEL,
                      help="Features per head in hidden layers.  [default: 8]",
                      show_default=False)
HEADS = typer.Option(None, "--heads", min=1, rich_help_panel=MODEL,
                     help="Heads in hidden layers.  [default: 8]", show_default=False)
OUT_DIM = typer.Option(None, "--out-dim", min=1, rich_help_panel=MODEL,
                       help="Features per head of the last layer.  [default: 8]",
                       show_default=False)
OUT_HEADS = typer.Option(None, "--out-heads", min=1, rich_help_panel=MODEL,
                         help="Heads of the last layer.  [default: 1]", show_default=False)
CONCAT = typer.Option(None, "--concat/--mean", rich_help_panel=MODEL,
                      help="Concatenate or average the last layer's heads.  [default: mean]",
                      show_default=False)
NEGATIVE_SLOPE = typer.Option(
    None, "--negative-slope", rich_help_panel=MODEL, show_default=False,
    help="LeakyReLU slope of the attention logits.  [default: 0.2]")
ACTIVATION = typer.Option(
    None, "--activation", rich_help_panel=MODEL, show_default=False,
    help="Activation between layers: elu, relu, leaky_relu, tanh, sigmoid, none.  "
         "[default: elu]")
LAYER_TYPE = typer.Option(
    None, "--layer-type", rich_help_panel=MODEL, show_default=False,
    help="gat (GATConv) or gatv2 (GATv2Conv).  [default: gat]")
BIAS = typer.Option(None, "--bias/--no-bias", rich_help_panel=MODEL,
                    help="Add a bias after each layer.  [default: bias]", show_default=False)
SELF_LOOPS = typer.Option(
    None, "--self-loops/--no-self-loops", rich_help_panel=INPUT, show_default=False,
    help="Add one self-loop per node (existing ones are not doubled).  "
         "[default: as the model says; self-loops]")
UNDIRECTED = typer.Option(False, "--undirected", rich_help_panel=INPUT,
                          help="Also add the reverse of every edge.")
ALLOW_NONFINITE = typer.Option(
    False, "--allow-nonfinite", rich_help_panel=INPUT,
    help="Accept NaN/inf feature values; missing cells (empty, NA, null) are read as NaN.")
SVMLIGHT_BASE = typer.Option(
    SvmlightBase.auto, "--svmlight-base", rich_help_panel=INPUT,
    help="Feature indices of svmlight features count from 0 or 1; auto: from 1 (libsvm's "
         "convention) unless an index 0 occurs.")
DELIMITER = typer.Option(
    None, "--delimiter", "-d", rich_help_panel=INPUT, show_default=False,
    help="Field delimiter of the text inputs (graph and features): one character, e.g. ';'.  "
         "[default: from the name: .csv comma, .tsv tab, .txt/.edgelist whitespace; other "
         "names and stdin: guessed from the first line]")
TAB = typer.Option(False, "--tab", "-t", rich_help_panel=INPUT,
                   help="Tab-delimited text inputs (the same as -d with a tab).")
HEADER = typer.Option(
    None, "--header/--no-header", rich_help_panel=INPUT, show_default=False,
    help="Whether the first line of the text inputs is a header.  [default: decided per "
         "file: a features line of numbers only is data; an edge list's first line is a "
         "header when its source and target are neither node references nor numbers]")
ID_COLUMN = typer.Option(
    None, "--id-column", rich_help_panel=INPUT, show_default=False,
    help="Features column holding the node ids: a name, or a position counting from 1.  "
         "[default: a first column named id or node, or unnamed (a pandas index); else "
         "rows are nodes 0..N-1]")
EDGE_COLUMNS = typer.Option(
    None, "--edge-columns", rich_help_panel=INPUT, show_default=False,
    help="Edge list columns SRC,DST: names, or positions counting from 1; other columns "
         "(weights, times) are ignored.  [default: the first two]")
QUIET = typer.Option(False, "--quiet", "-q", rich_help_panel=RUN,
                     help="No messages or progress on stderr (errors still).")
PROGRESS = typer.Option(
    None, "--progress/--no-progress", rich_help_panel=RUN, show_default=False,
    help="Progress bars on stderr (reading, each layer, writing); only on a terminal.  "
         "[default: for large inputs]")
DEBUG = typer.Option(False, "--debug", rich_help_panel=RUN, help="Show tracebacks of errors.")


def delimiter_of(delimiter: str | None, tab: bool) -> str | None:
    """The delimiter chosen with -d/-t (None: decided per file); a bad value is a usage
    error."""
    if tab:
        if delimiter is not None and delimiter not in ("\t", "\\t"):
            raise usage_error("use either -t or -d, not both")
        return "\t"
    if delimiter is None:
        return None
    try:
        return check_delimiter(delimiter)
    except GatError as exc:
        raise usage_error(f"-d/--delimiter: {exc.message}") from None


def quick_model(layers: int | None, hidden: int | None, heads: int | None,
                out_dim: int | None, out_heads: int | None, concat: bool | None,
                negative_slope: float | None, activation: str | None,
                layer_type: LayerType | None, bias: bool | None) -> QuickModel:
    """The QuickModel of the model options; an unknown --activation is a usage error."""
    if activation is not None and activation not in ACTIVATIONS:
        raise usage_error(f"--activation {activation!r}: expected one of elu, relu, "
                          "leaky_relu, tanh, sigmoid, none")
    check_negative_slope(negative_slope)
    return QuickModel(layers, hidden, heads, out_dim, out_heads, concat, negative_slope,
                      activation, layer_type.value if layer_type else None, bias)


def check_negative_slope(value: float | None) -> None:
    """--negative-slope must be what the YAML and weights paths accept (nan/inf: exit 2)."""
    if value is not None and not valid_negative_slope(value):
        raise usage_error(f"--negative-slope {value}: expected {NEGATIVE_SLOPE_EXPECTED}")
