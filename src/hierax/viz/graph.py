"""Model graphs: which sites a model's sites depend on, drawn in plate notation.

:func:`model_relations` reads a model's structure without changing it. The
model is run twice:

1. once under ``trace(seed(model, 0))``, which gives the sites (sample,
   deterministic, param), their plates, observed flags and distributions;
2. once inside :func:`jax.make_jaxpr`, as a function of *every* site value:
   a handler replaces the value of each sample/param/deterministic site by an
   input of the traced function, and records, per site, the array leaves of
   its distribution (its parameters) or, for a deterministic site, the value
   the model computed before the replacement.

The result is one jaxpr whose inputs are the site values and whose outputs
are the per-site quantities. Its data flow is followed equation by equation
(each variable carries the set of sites it was computed from, as a bit mask);
calls of nested functions (``jit``, ``custom_jvp``/``custom_vjp``, ``remat``)
are followed inside, and any other higher-order primitive (``scan``,
``while``, ``cond``) makes each of its outputs depend on all of its inputs, a
safe over-approximation. Because values are replaced at every site, the
parents of a site are its *direct* parents: ``obs ~ Normal(theta, sigma)``
with ``theta`` deterministic depends on ``theta``, not on what ``theta`` was
computed from. The analysis is exact for data flow, needs no gradients (it
works for discrete and integer-valued sites) and evaluates no arrays.

This is the dependency-graph view of a generative model of Koller & Friedman
(2009), *Probabilistic Graphical Models*, ch. 3, drawn with the plate notation
of Buntine (1994), "Operations for learning with graphical models", JAIR 2.

:func:`to_dot` writes the graph as Graphviz DOT text without any extra
package; :func:`render_model` builds a ``graphviz.Digraph`` (extra
``hierax[plot]``) and can render it to a file with the Graphviz ``dot`` program.
Where that program is not installed, :func:`render_model` writes the graph's
DOT source next to the requested file instead (same name, suffix ``.gv``), to
be rendered later or elsewhere.
"""

from __future__ import annotations

import functools
import operator
import re
import shlex
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import jax
import numpy as np
from jax.extend.core import ClosedJaxpr, Jaxpr, Literal

from hierax._messenger import Messenger
from hierax.distributions.distribution import (
    ExpandedDistribution,
    Independent,
    MaskedDistribution,
)
from hierax.handlers import seed, trace

__all__ = ["model_relations", "render_model", "to_dot"]

_GRAPH_SITE_TYPES = ("sample", "deterministic", "param")
_CALL_PRIMITIVES = (
    "pjit", "jit", "closed_call", "core_call", "remat", "checkpoint",
    "custom_jvp_call", "custom_vjp_call", "custom_vjp_call_jaxpr",
)
_CALL_JAXPR_PARAMS = ("jaxpr", "call_jaxpr", "fun_jaxpr")
_TRACING_ERRORS = (
    jax.errors.ConcretizationTypeError,
    jax.errors.TracerBoolConversionError,
    jax.errors.TracerIntegerConversionError,
    jax.errors.TracerArrayConversionError,
)


# ----------------------------------------------------------------------------
# relations


def model_relations(model, model_args=None, model_kwargs=None) -> dict:
    """The sites of ``model``, their direct parents, plates and distributions.

    Args:
        model: a model function.
        model_args: a tuple of positional arguments for the model.
        model_kwargs: a dict of keyword arguments for the model.

    Returns:
        A plain dict (no graphviz needed), every listing in the model's order:

        - ``"sites"``: site name -> ``"sample"``, ``"deterministic"`` or ``"param"``;
        - ``"parents"``: site name -> list of the sites its distribution's
          parameters (or its deterministic value) are computed from;
        - ``"plates"``: plate name -> list of the sites inside it;
        - ``"site_plates"``: site name -> its plates, outermost first;
        - ``"observed"``: list of the observed sample sites;
        - ``"distributions"``: site name -> distribution class name for sample
          sites (``"Deterministic"`` for deterministic sites);
        - ``"param_constraints"``: param name -> its constraint, as text.

    Raises:
        ValueError: if the model uses a site value in Python control flow
            (``if x > 0``) or NumPy code, which JAX tracing cannot follow.

    Example::

        >>> import jax.numpy as jnp
        >>> import hierax
        >>> import hierax.distributions as dist
        >>> def model(y):
        ...     mu = hierax.sample("mu", dist.Normal(0.0, 1.0))
        ...     with hierax.plate("N", len(y)):
        ...         hierax.sample("y", dist.Normal(mu, 1.0), obs=y)
        >>> model_relations(model, (jnp.zeros(3),))["parents"]
        {'mu': [], 'y': ['mu']}
    """
    model_args, model_kwargs = _check_model_call(model, model_args, model_kwargs)
    sites = _traced_sites(model, model_args, model_kwargs)
    parents = _direct_parents(model, model_args, model_kwargs, sites)
    plates = {}
    for name, site in sites.items():
        for plate_name in site["plates"]:
            plates.setdefault(plate_name, []).append(name)
    return {
        "sites": {name: site["type"] for name, site in sites.items()},
        "parents": parents,
        "plates": plates,
        "site_plates": {name: site["plates"] for name, site in sites.items()},
        "observed": [name for name, site in sites.items() if site["observed"]],
        "distributions": {
            name: site["distribution"] for name, site in sites.items() if site["type"] != "param"
        },
        "param_constraints": {
            name: site["constraint"] for name, site in sites.items() if site["type"] == "param"
        },
    }


def _traced_sites(model, model_args, model_kwargs) -> dict:
    """Site name -> summary, from ``trace(seed(model, 0))`` run on abstract values.

    The run happens inside :func:`jax.make_jaxpr`, so no array is computed;
    each summary keeps the site's value only as shapes and dtypes.
    """
    sites = {}

    def record_sites():
        model_trace = trace(seed(model, rng_seed=0)).get_trace(*model_args, **model_kwargs)
        for name, site in model_trace.items():
            if site["type"] in _GRAPH_SITE_TYPES:
                sites[name] = _site_summary(site)

    _trace_abstractly(record_sites, model)
    return sites


def _site_summary(site: dict) -> dict:
    kind = site["type"]
    summary = {
        "type": kind,
        "observed": kind == "sample" and bool(site["is_observed"]),
        "plates": [frame.name for frame in reversed(site["cond_indep_stack"])],
        "distribution": None,
        "constraint": None,
        "value": jax.tree_util.tree_map(_abstract_value, site["value"]),
    }
    if kind == "sample":
        summary["distribution"] = _distribution_name(site["fn"])
    elif kind == "deterministic":
        summary["distribution"] = "Deterministic"
    else:
        summary["constraint"] = _constraint_text(site["kwargs"].get("constraint"))
    return summary


def _constraint_text(constraint) -> str:
    """``str(constraint)``, or its class name when its bounds are computed (traced) arrays."""
    if constraint is None:
        return "real"
    leaves = jax.tree_util.tree_leaves(constraint)
    if any(isinstance(leaf, jax.core.Tracer) for leaf in leaves):
        return type(constraint).__name__.lstrip("_").lower()
    return str(constraint)


def _abstract_value(value) -> jax.ShapeDtypeStruct:
    aval = jax.typeof(value)
    return jax.ShapeDtypeStruct(aval.shape, aval.dtype, weak_type=aval.weak_type)


def _trace_abstractly(function, model, *args):
    """``jax.make_jaxpr(function)(*args)``, explaining the errors of untraceable models."""
    try:
        return jax.make_jaxpr(function)(*args)
    except _TRACING_ERRORS as error:
        model_name = getattr(model, "__name__", repr(model))
        raise ValueError(
            f"model_relations: model '{model_name}' uses a traced value (a site value, or a "
            "jnp array computed from the arguments) in Python control flow or NumPy code "
            "(e.g. `if x > 0:` or np.asarray(x)), so its dependencies cannot be traced with "
            "JAX. Write it with jnp.where or jax.lax.cond, or compute sizes with NumPy. "
            f"JAX reported: {type(error).__name__}."
        ) from error


def _check_model_call(model, model_args, model_kwargs):
    if not callable(model):
        raise TypeError(f"model_relations: model must be callable, got {type(model).__name__}.")
    model_args = () if model_args is None else model_args
    model_kwargs = {} if model_kwargs is None else model_kwargs
    if not isinstance(model_args, (tuple, list)):
        raise TypeError(
            "model_relations: model_args must be a tuple of positional arguments, got "
            f"{type(model_args).__name__}; write model_args=(x,) for a single argument."
        )
    if not isinstance(model_kwargs, dict):
        raise TypeError(
            f"model_relations: model_kwargs must be a dict, got {type(model_kwargs).__name__}."
        )
    return tuple(model_args), model_kwargs


def _distribution_name(fn) -> str:
    """The class name of a site's distribution, through expand/to_event/mask wrappers."""
    while isinstance(fn, (Independent, ExpandedDistribution, MaskedDistribution)):
        fn = fn.base_dist
    return type(fn).__name__.lstrip("_")


class _SiteValuesAsInputs(Messenger):
    """Give each graph site the value ``values[name]``; record what each site is made of.

    ``outputs`` collects ``(site index, array leaves)``: the leaves of a sample
    site's distribution, or the value a deterministic site computed.
    """

    def __init__(self, values: dict, index: dict):
        self.values = values
        self.index = index
        self.outputs = []
        super().__init__()

    def process_message(self, msg):
        name = msg.get("name")
        if msg["type"] not in _GRAPH_SITE_TYPES or name not in self.index:
            return
        if msg["type"] == "sample":
            self.outputs.append((self.index[name], _array_leaves(msg["fn"])))
        elif msg["type"] == "deterministic":
            self.outputs.append((self.index[name], _array_leaves(msg["value"])))
        msg["value"] = self.values[name]


def _array_leaves(obj, depth: int = 0) -> list:
    """The array leaves of a pytree; objects that are not pytrees are searched by attribute."""
    leaves = []
    for leaf in jax.tree_util.tree_leaves(obj):
        if isinstance(leaf, (jax.Array, np.ndarray, np.generic, bool, int, float, complex)):
            leaves.append(leaf)
        elif depth < 4 and hasattr(leaf, "__dict__"):
            leaves.extend(_array_leaves(dict(vars(leaf)), depth + 1))
    return leaves


def _direct_parents(model, model_args, model_kwargs, sites: dict) -> dict:
    """Site name -> names of the sites it reads, from the model's jaxpr (see module doc)."""
    names = list(sites)
    index = {name: i for i, name in enumerate(names)}
    values = [sites[name]["value"] for name in names]
    owners = []

    def run_with_site_inputs(site_values):
        substitution = _SiteValuesAsInputs(dict(zip(names, site_values, strict=True)), index)
        with seed(rng_seed=0), substitution:
            model(*model_args, **model_kwargs)
        owners[:] = [i for i, leaves in substitution.outputs for _ in leaves]
        return [leaf for _, leaves in substitution.outputs for leaf in leaves]

    closed = _trace_abstractly(run_with_site_inputs, model, values)
    input_masks = [
        1 << i for i, value in enumerate(values) for _ in jax.tree_util.tree_leaves(value)
    ]
    output_masks = _output_dependencies(closed.jaxpr, input_masks)
    site_masks = [0] * len(names)
    for owner, mask in zip(owners, output_masks, strict=True):
        site_masks[owner] |= mask
    return {
        name: [other for j, other in enumerate(names) if j != i and site_masks[i] >> j & 1]
        for i, name in enumerate(names)
    }


def _output_dependencies(jaxpr: Jaxpr, input_masks: list) -> list:
    """For each output of ``jaxpr``, the bit mask of the inputs it is computed from."""
    masks = dict(zip(jaxpr.invars, input_masks, strict=True))

    def mask_of(var):
        return 0 if isinstance(var, Literal) else masks.get(var, 0)

    for eqn in jaxpr.eqns:
        in_masks = [mask_of(var) for var in eqn.invars]
        for var, mask in zip(eqn.outvars, _equation_dependencies(eqn, in_masks), strict=True):
            masks[var] = mask
    return [mask_of(var) for var in jaxpr.outvars]


def _equation_dependencies(eqn, in_masks: list) -> list:
    """Output masks of one equation: exact through function calls, else the union of inputs."""
    if eqn.primitive.name in _CALL_PRIMITIVES:
        for key in _CALL_JAXPR_PARAMS:
            inner = eqn.params.get(key)
            inner = inner.jaxpr if isinstance(inner, ClosedJaxpr) else inner
            if (isinstance(inner, Jaxpr) and len(inner.invars) == len(in_masks)
                    and len(inner.outvars) == len(eqn.outvars)):
                return _output_dependencies(inner, in_masks)
    return [functools.reduce(operator.or_, in_masks, 0)] * len(eqn.outvars)


# ----------------------------------------------------------------------------
# layout shared by the DOT writer and the graphviz builder


@dataclass
class _Cluster:
    """A plate drawn as a ``cluster_`` subgraph (the root has ``name=None``)."""

    name: str | None
    label: str | None
    nodes: list = field(default_factory=list)
    children: dict = field(default_factory=dict)


def _layout(relations: dict, render_distributions: bool, render_params: bool):
    """The plate tree with its nodes, and the edges, of the sites to draw.

    Plates nest as the sites' plate stacks do; a plate reached through two
    different enclosing plates (crossed plates) is drawn once in each, the
    second cluster named ``cluster_<plate>__2``.
    """
    shown = [n for n, kind in relations["sites"].items() if render_params or kind != "param"]
    root = _Cluster(None, None)
    used_names = set()
    for name in shown:
        cluster = root
        for plate_name in relations["site_plates"][name]:
            if plate_name not in cluster.children:
                cluster.children[plate_name] = _Cluster(
                    _unique_cluster_name(plate_name, used_names), plate_name
                )
            cluster = cluster.children[plate_name]
        cluster.nodes.append((name, _node_attributes(relations, name, render_distributions)))
    shown_set = set(shown)
    edges = [
        (parent, name)
        for name in shown
        for parent in relations["parents"][name]
        if parent in shown_set
    ]
    return root, edges


def _unique_cluster_name(plate_name: str, used_names: set) -> str:
    candidate, count = f"cluster_{plate_name}", 1
    while candidate in used_names:
        count += 1
        candidate = f"cluster_{plate_name}__{count}"
    used_names.add(candidate)
    return candidate


def _node_attributes(relations: dict, name: str, render_distributions: bool) -> dict:
    """Label and style: observed sites grey, deterministic dashed, params as plain text."""
    kind = relations["sites"][name]
    label = name
    if kind == "param":
        if render_distributions:
            label = f"{name} : {relations['param_constraints'][name]}"
        return {"label": label, "shape": "plain"}
    if render_distributions and kind == "sample":
        label = f"{name} ~ {relations['distributions'][name]}"
    if kind == "deterministic":
        return {"label": label, "shape": "ellipse", "style": "dashed"}
    color = "gray" if name in relations["observed"] else "white"
    return {"label": label, "fillcolor": color, "shape": "ellipse", "style": "filled"}


_PLATE_STYLE = {"labeljust": "r", "labelloc": "b"}  # plate label at the bottom right

# ----------------------------------------------------------------------------
# DOT text


_DOT_KEYWORDS = {"node", "edge", "graph", "digraph", "subgraph", "strict"}
_DOT_BARE_ID = re.compile(r"^([A-Za-z_][A-Za-z_0-9]*|-?(\.[0-9]+|[0-9]+(\.[0-9]*)?))$")


def _dot_id(text: str) -> str:
    """``text`` as a DOT identifier, double-quoted unless it is a plain name or number."""
    text = str(text)
    if _DOT_BARE_ID.match(text) and text.lower() not in _DOT_KEYWORDS:
        return text
    return '"' + text.replace('"', '\\"') + '"'


def _dot_attributes(attributes: dict) -> str:
    return " ".join(f"{key}={_dot_id(value)}" for key, value in attributes.items())


def to_dot(relations: dict, render_distributions: bool = False,
           render_params: bool = False) -> str:
    """The model graph as Graphviz DOT source text, with no package needed.

    Args:
        relations: the dict returned by :func:`model_relations`.
        render_distributions: label sample sites ``"name ~ Distribution"``.
        render_params: draw ``param`` sites (as plain text) and their edges.

    Returns:
        A ``digraph`` with one node per site (observed sites filled gray,
        deterministic sites dashed), an edge from each parent to its child and
        one ``subgraph cluster_<plate>`` per plate. Render it with
        ``dot -Tpng graph.dot -o graph.png`` or paste it in any DOT viewer.
    """
    missing = {"sites", "parents", "site_plates", "observed"} - set(relations)
    if missing:
        raise ValueError(
            f"to_dot: relations lacks the keys {sorted(missing)}; pass the dict returned by "
            "hierax.viz.model_relations."
        )
    root, edges = _layout(relations, render_distributions, render_params)
    lines = ["digraph {", *_cluster_dot_lines(root, depth=1)]
    lines += [f"\t{_dot_id(parent)} -> {_dot_id(child)}" for parent, child in edges]
    return "\n".join([*lines, "}"]) + "\n"


def _cluster_dot_lines(cluster: _Cluster, depth: int) -> list:
    indent = "\t" * depth
    lines = []
    for child in cluster.children.values():
        inner = "\t" * (depth + 1)
        lines.append(f"{indent}subgraph {_dot_id(child.name)} {{")
        lines.append(f"{inner}{_dot_attributes({'label': child.label, **_PLATE_STYLE})}")
        lines += _cluster_dot_lines(child, depth + 1)
        lines.append(f"{indent}}}")
    for name, attributes in cluster.nodes:
        lines.append(f"{indent}{_dot_id(name)} [{_dot_attributes(attributes)}]")
    return lines


# ----------------------------------------------------------------------------
# graphviz


def render_model(model, model_args=None, model_kwargs=None, filename=None,
                 render_distributions=False, render_params=False):
    """Draw ``model`` as a graph in plate notation (a ``graphviz.Digraph``).

    Args:
        model: a model function.
        model_args: a tuple of positional arguments for the model.
        model_kwargs: a dict of keyword arguments for the model.
        filename: if given, also render the graph to this file; the format is
            the extension (``.png``, ``.pdf``, ``.svg``, ...).
        render_distributions: label sample sites ``"name ~ Distribution"``.
        render_params: draw ``param`` sites and their edges.

    Returns:
        The ``graphviz.Digraph`` (displayed inline by Jupyter). Its DOT text is
        ``graph.source``. If the Graphviz ``dot`` program is not installed,
        ``filename`` is not written: its DOT source is written to the same
        path with the suffix ``.gv`` instead (``graph.png`` -> ``graph.gv``),
        a ``UserWarning`` names that file and how to install Graphviz, and the
        graph is returned.

    Raises:
        ImportError: if the ``graphviz`` Python package is missing
            (``pip install "hierax[plot]"``); :func:`model_relations` and
            :func:`to_dot` work without it.
    """
    try:
        import graphviz
    except ImportError as error:
        raise ImportError(
            'render_model needs the graphviz Python package: pip install "hierax[plot]". '
            "Without it, hierax.viz.model_relations(model, args, kwargs) gives the graph as "
            "a dict and hierax.viz.to_dot(relations) as DOT text."
        ) from error
    relations = model_relations(model, model_args, model_kwargs)
    root, edges = _layout(relations, render_distributions, render_params)
    graph = graphviz.Digraph()
    _fill_digraph(graphviz, graph, root)
    for parent, child in edges:
        graph.edge(parent, child)
    if filename is not None:
        _render_to_file(graphviz, graph, filename)
    return graph


def _fill_digraph(graphviz, graph, cluster: _Cluster) -> None:
    for child in cluster.children.values():
        subgraph = graphviz.Digraph(name=child.name)
        subgraph.attr(label=child.label, **_PLATE_STYLE)
        _fill_digraph(graphviz, subgraph, child)
        graph.subgraph(subgraph)
    for name, attributes in cluster.nodes:
        graph.node(name, **attributes)


def _find_dot_executable() -> str | None:
    """The path of the Graphviz ``dot`` program, or None if it is not installed."""
    return shutil.which("dot")


def _render_to_file(graphviz, graph, filename) -> None:
    """Render ``graph`` to ``filename`` with ``dot``, or fall back to its DOT source."""
    path = Path(filename)
    file_format = path.suffix[1:].lower()
    if file_format not in graphviz.FORMATS:
        raise ValueError(
            f"render_model: cannot tell the output format from filename={str(filename)!r}; "
            "give an extension such as .png, .pdf or .svg."
        )
    if _find_dot_executable() is None:
        _write_dot_source_instead(graph, path, file_format)
        return
    try:
        graph.render(outfile=path, format=file_format, cleanup=True)
    except graphviz.ExecutableNotFound:
        _write_dot_source_instead(graph, path, file_format)


def _write_dot_source_instead(graph, path: Path, file_format: str) -> None:
    """Without ``dot``: write the DOT source to ``path`` with suffix ``.gv``, and warn."""
    source_path = path.with_suffix(".gv")
    source_path.parent.mkdir(parents=True, exist_ok=True)
    source_path.write_text(graph.source, encoding="utf-8")
    command = f"dot -T{file_format} {shlex.quote(str(source_path))} -o {shlex.quote(str(path))}"
    warnings.warn(
        f"render_model: the Graphviz 'dot' program was not found, so {str(path)!r} was not "
        f"written; its DOT source was written to {str(source_path)!r} instead (render it with "
        f"`{command}` where Graphviz is installed). "
        "Install the Graphviz program (the graphviz Python package does not include it) with "
        "`apt install graphviz`, `brew install graphviz` or `conda install graphviz`.",
        UserWarning,
        stacklevel=4,
    )
