"""Model graphs: dependencies read from the model's jaxpr, DOT text and graphviz rendering.

The models are those of the tutorials (seed 001: eight schools; seed 003: the
regression with errors in X and Y and the hierarchical HR diagram), written
for NumPyro and run by changing the import.
"""

import shutil
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hierax as numpyro
import hierax.distributions as dist
from hierax import handlers
from hierax.distributions import constraints
from hierax.viz import graph as graph_module
from hierax.viz import model_relations, render_model, to_dot

# ----------------------------------------------------------------------------
# Models

J = 8
Y_SCHOOLS = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def eight_schools(J, sigma, y=None):
    mu = numpyro.sample('mu', dist.Normal(0, 5))
    tau = numpyro.sample('tau', dist.HalfCauchy(5))
    with numpyro.plate('J', J):
        theta = numpyro.sample('theta', dist.Normal(mu, tau))
        numpyro.sample('obs', dist.Normal(theta, sigma), obs=y)


def eight_schools_noncentered(J, sigma, y=None):
    mu = numpyro.sample('mu', dist.Normal(0, 5))
    tau = numpyro.sample('tau', dist.HalfCauchy(5))
    with numpyro.plate('J', J):
        theta_0 = numpyro.sample('theta_0', dist.Normal(0, 1))
        theta = numpyro.deterministic('theta', mu + theta_0 * tau)
        numpyro.sample('obs', dist.Normal(theta, sigma), obs=y)


def model_XYerr(X, Y, E_X, E_Y):
    angle = numpyro.sample('angle', numpyro.distributions.Uniform(-jnp.pi / 2, jnp.pi / 2))
    b_perp = numpyro.sample('b_perp', numpyro.distributions.Uniform(-5, 5))
    m = numpyro.deterministic("m", jnp.tan(angle))
    c = numpyro.deterministic("c", b_perp / jnp.cos(angle))
    with numpyro.plate('data', len(X)):
        x_model = numpyro.sample('x', numpyro.distributions.Normal(X, E_X))
        y_model = m * x_model + c
        numpyro.sample('y', numpyro.distributions.Normal(y_model, E_Y), obs=Y)


def HRmodel(cluster_index, logtemps, parallax=None, fluxcounts=None):
    slope = numpyro.sample('slope', dist.Uniform(-10, 0))
    offset = numpyro.sample('offset', dist.Uniform(-10, 10))
    spread = numpyro.sample('spread', dist.HalfNormal(2.5))
    n_clusters = np.unique(cluster_index).size
    with numpyro.plate("clusters", n_clusters):
        distance = numpyro.sample(
            'root_dist', dist.DoublyTruncatedPowerLaw(alpha=2.0, low=100.0, high=2000.0))
        dist_mod = jnp.log10(distance / 10) * 5.0
        numpyro.sample('parallax', dist.Normal(jnp.power(distance, -1), 1e-4), obs=parallax)
    with numpyro.plate('stars', cluster_index.size):
        absolute_magnitude = numpyro.sample(
            'absolute_magnitude', dist.Normal((logtemps - 4.0) * slope + offset, spread))
        apparent_magnitude = numpyro.deterministic(
            'apparent_magnitude', absolute_magnitude + dist_mod[cluster_index])
        fluxmag = numpyro.deterministic('fluxmag', -(apparent_magnitude - 10.0) / 2.5)
        flux = jnp.power(10, fluxmag) * 1e4
        numpyro.sample('fluxcounts', dist.Poisson(flux), obs=fluxcounts)


def xy_args():
    X = np.linspace(0, 10, 20)
    return (X, 2 * X + 1, np.full(20, 0.5), np.ones(20))


def hr_args():
    cluster_index = np.repeat(np.arange(5), 6)
    logtemps = np.random.default_rng(0).uniform(3.6, 4.2, cluster_index.size)
    return (cluster_index, logtemps), {"parallax": np.full(5, 1e-3),
                                       "fluxcounts": np.full(30, 100)}


def ancestors(relations, name):
    found, stack = set(), list(relations["parents"][name])
    while stack:
        parent = stack.pop()
        if parent not in found:
            found.add(parent)
            stack.extend(relations["parents"][parent])
    return found


def cluster_of_each_line(dot):
    """Map each stripped DOT line to the innermost ``cluster_`` it is written in."""
    stack, where = [None], {}
    for line in dot.splitlines():
        text = line.strip()
        if text.startswith("subgraph "):
            where[text] = stack[-1]
            stack.append(text.split()[1])
        elif text == "}":
            stack.pop()
        else:
            where[text] = stack[-1]
    return where


def node_cluster(dot, name):
    matches = [c for line, c in cluster_of_each_line(dot).items() if line.startswith(f"{name} [")]
    assert len(matches) == 1, dot
    return matches[0]


# ----------------------------------------------------------------------------
# Relations


def test_eight_schools_relations(float_dtype):
    sigma = jnp.asarray(SIGMA, float_dtype)
    relations = model_relations(eight_schools, (J, sigma), {"y": jnp.asarray(Y_SCHOOLS)})
    assert relations["parents"] == {"mu": [], "tau": [], "theta": ["mu", "tau"],
                                    "obs": ["theta"]}
    assert relations["observed"] == ["obs"]
    assert relations["plates"] == {"J": ["theta", "obs"]}
    assert relations["site_plates"]["mu"] == [] and relations["site_plates"]["obs"] == ["J"]
    assert relations["distributions"] == {"mu": "Normal", "tau": "HalfCauchy",
                                          "theta": "Normal", "obs": "Normal"}
    assert set(relations["sites"].values()) == {"sample"}


def test_noncentered_deterministic_site_cuts_the_chain():
    relations = model_relations(eight_schools_noncentered, (J, SIGMA, Y_SCHOOLS))
    assert relations["sites"]["theta"] == "deterministic"
    assert relations["distributions"]["theta"] == "Deterministic"
    assert set(relations["parents"]["theta"]) == {"mu", "theta_0", "tau"}
    assert relations["parents"]["obs"] == ["theta"]
    assert relations["plates"]["J"] == ["theta_0", "theta", "obs"]


def test_model_xyerr_relations():
    relations = model_relations(model_XYerr, xy_args())
    assert relations["plates"] == {"data": ["x", "y"]}
    assert "x" not in relations["observed"] and relations["observed"] == ["y"]
    assert relations["parents"]["x"] == []
    assert set(relations["parents"]["y"]) == {"x", "m", "c"}
    assert relations["parents"]["m"] == ["angle"]
    assert set(relations["parents"]["c"]) == {"angle", "b_perp"}
    assert ancestors(relations, "y") == {"x", "m", "c", "angle", "b_perp"}
    assert relations["sites"]["c"] == relations["sites"]["m"] == "deterministic"


def test_hr_model_two_plates():
    args, kwargs = hr_args()
    relations = model_relations(HRmodel, args, kwargs)
    assert relations["plates"] == {
        "clusters": ["root_dist", "parallax"],
        "stars": ["absolute_magnitude", "apparent_magnitude", "fluxmag", "fluxcounts"],
    }
    assert relations["observed"] == ["parallax", "fluxcounts"]
    assert set(relations["parents"]["absolute_magnitude"]) == {"slope", "offset", "spread"}
    assert set(relations["parents"]["apparent_magnitude"]) == {"root_dist", "absolute_magnitude"}
    assert relations["parents"]["fluxcounts"] == ["fluxmag"]
    assert relations["parents"]["parallax"] == ["root_dist"]
    assert relations["distributions"]["root_dist"] == "DoublyTruncatedPowerLaw"
    dot = to_dot(relations)
    assert node_cluster(dot, "root_dist") == "cluster_clusters"
    assert node_cluster(dot, "fluxmag") == "cluster_stars"
    assert node_cluster(dot, "slope") is None
    assert "fluxmag -> fluxcounts" in dot and "root_dist -> apparent_magnitude" in dot


def test_dependencies_follow_data_flow_exactly():
    """Through jit only used arguments count; integer indices and observed values propagate."""
    def model(y):
        w = numpyro.sample("w", dist.Dirichlet(jnp.ones(3)))
        s = numpyro.sample("s", dist.Exponential(1.0))
        with numpyro.plate("n", 4):
            z = numpyro.sample("z", dist.Categorical(w))
            ignored = jax.jit(lambda u, v: 2.0 * u)(jnp.arange(3.0)[z], s)
            first = numpyro.sample("first", dist.Normal(ignored, 1.0), obs=y)
        numpyro.sample("second", dist.Normal(first.sum(), 1.0), obs=0.0)

    parents = model_relations(model, (jnp.zeros(4),))["parents"]
    assert parents == {"w": [], "s": [], "z": ["w"], "first": ["z"], "second": ["first"]}


def test_params_factor_and_nested_plates():
    def model():
        a = numpyro.param("a", 1.0, constraint=constraints.positive)
        s = numpyro.sample("s", dist.Exponential(a))
        with numpyro.plate("groups", 3, dim=-2):
            g = numpyro.sample("g", dist.Normal(0.0, s))
            with numpyro.plate("items", 4, dim=-1):
                numpyro.sample("u", dist.Normal(g, 1.0))
        numpyro.factor("penalty", -(s ** 2))

    relations = model_relations(model)
    assert relations["sites"]["a"] == "param"
    assert relations["param_constraints"] == {"a": "positive"}
    assert relations["parents"]["s"] == ["a"] and relations["parents"]["penalty"] == ["s"]
    assert relations["site_plates"]["u"] == ["groups", "items"]
    hidden = to_dot(relations)
    assert "a [" not in hidden and "a -> s" not in hidden
    shown = to_dot(relations, render_distributions=True, render_params=True)
    assert 'a [label="a : positive" shape=plain]' in shown and "a -> s" in shown
    assert node_cluster(shown, "u") == "cluster_items"
    assert cluster_of_each_line(shown)["subgraph cluster_items {"] == "cluster_groups"


def test_crossed_plates_get_distinct_clusters():
    def model():
        with numpyro.plate("A", 2, dim=-1):
            x = numpyro.sample("x", dist.Normal(0.0, 1.0))
        with numpyro.plate("B", 3, dim=-2):
            y = numpyro.sample("y", dist.Normal(0.0, 1.0))
        with numpyro.plate("A", 2, dim=-1), numpyro.plate("B", 3, dim=-2):
            numpyro.sample("z", dist.Normal(x + y, 1.0))

    dot = to_dot(model_relations(model))
    assert node_cluster(dot, "y") == "cluster_B"
    assert node_cluster(dot, "z") == "cluster_B__2"
    assert cluster_of_each_line(dot)["subgraph cluster_B__2 {"] == "cluster_A"
    assert 'label=B' in dot.split("subgraph cluster_B__2 {")[1].splitlines()[1]


def test_user_errors_are_explained():
    def branching():
        x = numpyro.sample("x", dist.Normal(0.0, 1.0))
        if x > 0:
            numpyro.sample("y", dist.Normal(x, 1.0))

    with pytest.raises(ValueError, match="'branching' uses a traced value"):
        model_relations(branching)
    with pytest.raises(TypeError, match="model_args must be a tuple"):
        model_relations(eight_schools, J)
    with pytest.raises(TypeError, match="model must be callable"):
        model_relations("eight_schools")
    with pytest.raises(ValueError, match=r"relations lacks the keys \['parents'"):
        to_dot({"sites": {}, "site_plates": {}, "observed": []})


# ----------------------------------------------------------------------------
# DOT text and graphviz


def test_dot_text_styles_and_quoting():
    dot = to_dot(model_relations(eight_schools, (J, SIGMA, Y_SCHOOLS)), render_distributions=True)
    assert dot.startswith("digraph {\n") and dot.endswith("}\n")
    assert "subgraph cluster_J {" in dot and "label=J labeljust=r labelloc=b" in dot
    assert 'obs [label="obs ~ Normal" fillcolor=gray shape=ellipse style=filled]' in dot
    assert 'theta [label="theta ~ Normal" fillcolor=white' in dot
    assert "mu -> theta" in dot and "tau -> theta" in dot and "theta -> obs" in dot
    plain = to_dot(model_relations(eight_schools_noncentered, (J, SIGMA)))
    assert "theta [label=theta shape=ellipse style=dashed]" in plain
    assert "fillcolor=gray" not in plain
    scoped = handlers.scope(eight_schools, prefix="school")
    quoted = to_dot(model_relations(scoped, (J, SIGMA)))
    assert 'subgraph "cluster_school/J" {' in quoted and '"school/mu" -> "school/theta"' in quoted


def test_render_model_matches_dot_text():
    graphviz = pytest.importorskip("graphviz")
    args, kwargs = hr_args()
    graph = render_model(HRmodel, args, kwargs, render_distributions=True)
    assert isinstance(graph, graphviz.Digraph)
    text = to_dot(model_relations(HRmodel, args, kwargs), render_distributions=True)
    assert sorted(line.strip() for line in graph.source.splitlines()) == sorted(
        line.strip() for line in text.splitlines()
    )


@pytest.mark.skipif(shutil.which("dot") is None,
                    reason="the Graphviz 'dot' program is not installed (apt install graphviz)")
def test_render_to_png_and_svg(tmp_path):
    pytest.importorskip("graphviz")
    png = tmp_path / "schools.png"
    render_model(eight_schools, (J, SIGMA, Y_SCHOOLS), filename=png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "xy.svg"
    render_model(model_XYerr, xy_args(), filename=str(svg), render_distributions=True)
    text = svg.read_text()
    assert "<svg" in text and "angle ~ Uniform" in text and ">data<" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["schools.png", "xy.svg"]
    with pytest.raises(ValueError, match="cannot tell the output format"):
        render_model(eight_schools, (J, SIGMA), filename=tmp_path / "graph.unknown")


@pytest.fixture
def no_dot_program(tmp_path_factory, monkeypatch):
    """PATH holds only an empty folder: neither hierax nor the graphviz package finds ``dot``."""
    monkeypatch.setenv("PATH", str(tmp_path_factory.mktemp("empty_path")))
    assert shutil.which("dot") is None


NO_DOT_WARNING = (r"'dot' program was not found, so '.*schools\.png' was not written; its DOT "
                  r"source was written to '.*schools\.gv' instead.*`dot -Tpng .*schools\.gv -o "
                  r".*schools\.png`.*apt install graphviz.*brew install graphviz.*"
                  r"conda install graphviz")


def test_missing_dot_program_writes_the_dot_source(tmp_path, no_dot_program):
    graphviz = pytest.importorskip("graphviz")
    target = tmp_path / "schools.png"
    with pytest.warns(UserWarning, match=NO_DOT_WARNING):
        graph = render_model(eight_schools, (J, SIGMA, Y_SCHOOLS), filename=target)
    assert isinstance(graph, graphviz.Digraph) and "subgraph cluster_J" in graph.source
    assert not target.exists()
    assert (tmp_path / "schools.gv").read_text(encoding="utf-8") == graph.source
    assert sorted(p.name for p in tmp_path.iterdir()) == ["schools.gv"]


def test_dot_found_but_not_runnable_falls_back_the_same_way(tmp_path, no_dot_program,
                                                            monkeypatch):
    """``dot`` seen by hierax but not by the graphviz package: the same fallback."""
    pytest.importorskip("graphviz")
    monkeypatch.setattr(graph_module, "_find_dot_executable", lambda: "/missing/dot")
    target = tmp_path / "schools.png"
    with pytest.warns(UserWarning, match=NO_DOT_WARNING):
        graph = render_model(eight_schools, (J, SIGMA, Y_SCHOOLS), filename=target)
    assert not target.exists()
    assert (tmp_path / "schools.gv").read_text(encoding="utf-8") == graph.source


def test_missing_graphviz_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)
    with pytest.raises(ImportError, match=r'pip install "hierax\[plot\]"'):
        render_model(eight_schools, (J, SIGMA))
    assert "subgraph cluster_J" in to_dot(model_relations(eight_schools, (J, SIGMA)))
