"""Drawing models: dependency graphs of sites in plate notation.

``render_model`` returns a ``graphviz.Digraph`` (extra ``hierax[plot]``);
``model_relations`` and ``to_dot`` give the same graph as a dict and as DOT
text without any extra package.
"""

from hierax.viz.graph import model_relations, render_model, to_dot

__all__ = ["model_relations", "render_model", "to_dot"]
