"""The astronomy examples run (``--quick``) and recover their true parameters.

``examples/gaia_cluster.py``: hierarchical parallax model of a synthetic
cluster catalog (``examples/data_gaia.py``); ``examples/hr_diagram.py``:
hierarchical HR-diagram line from photon counts. Each example runs once per
module (module-scoped fixtures); the tests read its returned results.
"""

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))

import data_gaia  # noqa: E402
import gaia_cluster  # noqa: E402
import hr_diagram  # noqa: E402

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def gaia_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gaia")
    return gaia_cluster.main(["--quick", "--out", str(out)]), out


@pytest.fixture(scope="module")
def hr_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("hr")
    return hr_diagram.main(["--quick", "--out", str(out)]), out


# -- the synthetic Gaia catalog ----------------------------------------------


def test_catalog_is_reproducible_and_gaia_like():
    catalog = data_gaia.make_catalog()
    again = data_gaia.make_catalog()
    assert len(catalog) == data_gaia.NUM_STARS
    np.testing.assert_array_equal(catalog.parallax, again.parallax)
    low, high = data_gaia.PARALLAX_ERROR_RANGE_MAS
    assert catalog.parallax_error.min() >= np.float32(low)
    assert catalog.parallax_error.max() <= np.float32(high)
    # parallax = 1000 / r + noise: standardized residuals are N(0, 1)
    residual = (catalog.parallax - 1000.0 / catalog.distance) / catalog.parallax_error
    n = len(catalog)
    assert abs(residual.mean()) < 5.0 / np.sqrt(n)
    assert abs(residual.std() - 1.0) < 5.0 / np.sqrt(2.0 * n)
    q = data_gaia.TRUE_MEMBER_FRACTION
    assert abs(catalog.is_member.mean() - q) < 5.0 * np.sqrt(q * (1 - q) / n)


def test_catalog_distances_follow_the_truths():
    catalog = data_gaia.make_catalog()
    log_r = np.log(catalog.distance[catalog.is_member])
    width = data_gaia.TRUE_LOG_WIDTH
    assert abs(log_r.mean() - np.log(data_gaia.TRUE_DISTANCE_PC)) < 5.0 * width / np.sqrt(
        log_r.size)
    # field: r = 0.5 L u with u ~ Chi2(6), so E[r] = 3 L and sd[r] = sqrt(3) L
    field = catalog.distance[~catalog.is_member]
    length = data_gaia.TRUE_LENGTH_SCALE_PC
    assert abs(field.mean() - 3.0 * length) < 5.0 * np.sqrt(3.0) * length / np.sqrt(field.size)


def test_catalog_rejects_bad_arguments():
    with pytest.raises(ValueError, match="member_fraction must lie in"):
        data_gaia.make_catalog(member_fraction=1.5)
    with pytest.raises(ValueError, match="num_stars must be a positive integer"):
        data_gaia.make_catalog(num_stars=0)
    with pytest.raises(ValueError, match=r"num_stars must lie in \[1, 10\]"):
        data_gaia.subsample(data_gaia.make_catalog(num_stars=10), 11)


# -- gaia_cluster.py ----------------------------------------------------------


@pytest.mark.slow
def test_gaia_cluster_recovers_the_cluster_distance(gaia_run):
    result, _ = gaia_run
    row = result["population"]["D"]
    low, high = row["interval"]
    assert row["truth"] == data_gaia.TRUE_DISTANCE_PC
    assert low <= data_gaia.TRUE_DISTANCE_PC <= high, row
    assert high - low < 30.0  # a few hundred stars pin D to a few pc, not the prior's width
    assert result["num_divergences"] == 0


@pytest.mark.slow
def test_gaia_cluster_membership_separates_members(gaia_run):
    """Membership probabilities rank true members above field stars (AUC)."""
    result, _ = gaia_run
    assert result["num_stars"] == gaia_cluster.QUICK_STARS
    p, member = np.asarray(result["membership"]), np.asarray(result["is_member"])
    assert p.shape == member.shape and np.all((p >= 0.0) & (p <= 1.0))
    # field stars near the cluster distance are indistinguishable by parallax alone,
    # so the ranking is good but not perfect
    auc = np.mean(p[member][:, None] > p[~member][None, :])
    assert auc > 0.85, auc
    assert p[member].mean() > p[~member].mean() + 0.4


@pytest.mark.slow
def test_gaia_single_star_matches_quadrature(gaia_run):
    """The MCMC posterior median of one star's distance against a 1-D quadrature."""
    result, _ = gaia_run
    single = result["single_star"]
    plx, err = single["parallax"], single["parallax_error"]
    length = 370.0  # the default L of gaia_single_model
    r = np.linspace(1.0, 20000.0, 200_001)
    log_post = 2 * np.log(r) - r / length - 0.5 * ((plx - 1000.0 / r) / err) ** 2
    weights = np.exp(log_post - log_post.max())
    cdf = np.cumsum(weights) / weights.sum()
    median = np.interp(0.5, cdf, r)
    mean = np.sum(weights * r) / weights.sum()
    sd = np.sqrt(np.sum(weights * (r - mean) ** 2) / weights.sum())
    min_ess = 200.0  # conservative for NUTS on this 1-D posterior (2 chains x 300 draws)
    standard_error = np.sqrt(np.pi / 2.0) * sd / np.sqrt(min_ess)
    assert abs(single["median"] - median) < 5.0 * standard_error, (single, median, sd)


def test_gaia_cluster_writes_its_figures(gaia_run):
    result, out = gaia_run
    names = {"gaia_cmd.png", "gaia_ppc.png", "gaia_cluster_distance.png"}
    assert {Path(path).name for path in result["figures"]} == names
    for name in names:
        assert (out / name).stat().st_size > 1000


# -- hr_diagram.py ------------------------------------------------------------


def test_hr_diagram_recovers_slope_offset_spread(hr_run):
    result, _ = hr_run
    table = result["recovery"]
    assert set(table) == {"slope", "offset", "spread"}
    for name, row in table.items():
        assert row["truth"] == hr_diagram.TRUTHS[name]
        assert row["z"] < 2.0, (name, row)


def test_hr_diagram_writes_its_figures(hr_run):
    """Every file the example reports exists: no phantom model graph without ``dot``."""
    result, out = hr_run
    assert (out / "hr_diagram.png").stat().st_size > 1000
    names = {Path(path).name for path in result["figures"]}
    assert "hr_diagram.png" in names
    assert names <= {"hr_diagram.png", "hr_model.png", "hr_model.gv"}
    for path in result["figures"]:
        assert Path(path).stat().st_size > 100, path


@pytest.mark.skipif(shutil.which("dot") is None,
                    reason="the Graphviz 'dot' program is not installed (apt install graphviz)")
def test_hr_model_graph_is_rendered_with_dot(tmp_path, capsys):
    pytest.importorskip("graphviz")
    path = hr_diagram.draw_model_graph(hr_diagram.simulate_clusters(), tmp_path)
    assert path == tmp_path / "hr_model.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000
    assert capsys.readouterr().out == f"wrote {path}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hr_model.png"]


def test_hr_model_graph_without_dot_writes_its_source(tmp_path, capsys, monkeypatch):
    """``dot`` absent (empty PATH): one line says so and names the DOT source written."""
    pytest.importorskip("graphviz")
    monkeypatch.setenv("PATH", str(tmp_path / "empty_path"))
    assert shutil.which("dot") is None
    out = tmp_path / "out"
    out.mkdir()
    (out / "hr_model.png").write_bytes(b"stale image of an earlier run")
    path = hr_diagram.draw_model_graph(hr_diagram.simulate_clusters(), out)
    assert path == out / "hr_model.gv"
    assert path.read_text(encoding="utf-8").startswith("digraph {")
    assert not (out / "hr_model.png").exists()
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1 and "wrote " + str(out / "hr_model.png") not in printed
    for needed in ("no hr_model.png", "'dot' program is not installed", "apt install graphviz",
                   "brew install graphviz", "conda install graphviz",
                   f"wrote its DOT source {path} instead"):
        assert needed in printed, printed


def test_hr_simulation_matches_the_model_prior():
    data = hr_diagram.simulate_clusters(num_clusters=4000, stars_per_cluster=1, seed=3)
    d = data["distance"]
    assert d.min() >= hr_diagram.min_dist and d.max() <= hr_diagram.max_dist
    # p(d) ~ d^2 on [a, b]: E[d] = 3 (b^4 - a^4) / (4 (b^3 - a^3))
    a, b = hr_diagram.min_dist, hr_diagram.max_dist
    expected = 3.0 * (b**4 - a**4) / (4.0 * (b**3 - a**3))
    assert abs(d.mean() - expected) < 5.0 * d.std() / np.sqrt(d.size)
