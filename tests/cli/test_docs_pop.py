"""docs/pop.md runs as written (at a small size): mock -> n_sage_n_pls_m_gs -> report."""

import json
import re

import numpy as np
import pytest

from tests.cli._pop_pipeline import DOCS, docs_commands, docs_pipeline

arviz = pytest.importorskip("arviz")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return docs_pipeline(str(tmp_path_factory.getbasetemp() / "docs_pop"))


def test_docs_hold_the_seed_command():
    commands = docs_commands()
    programs = [c[0] if c[0] != "hierax-pop" else f"hierax-pop {c[1]}" for c in commands]
    assert programs == ["hierax-pop config-template", "hierax-pop mock",
                        "n_sage_n_pls_m_gs", "hierax-pop report"]
    seed = commands[2]
    assert seed[seed.index("--posterior-columns") + 1:seed.index("--pmean-cfg")] == [
        "mass_1_source", "mass_2_source"]
    assert seed[seed.index("--n-buckets") + 1] == "10"


def test_every_command_succeeds(pipeline):
    _, results = pipeline
    assert [(argv[0], code) for argv, code in results] == [(argv[0], 0) for argv, _ in results]


def test_inference_outputs(pipeline):
    folder, _ = pipeline
    out = folder / "numpyro_inference"
    data = arviz.from_netcdf(out / "inference.nc")
    names = ["log_rate_0", "alpha_pl_0", "beta_pl_0", "mmin_pl_0", "mmax_pl_0"]
    assert sorted(data.posterior.data_vars) == sorted(names)
    assert data.posterior["alpha_pl_0"].shape == (2, 60)
    for stat in ("diverging", "acceptance_rate", "tree_depth", "min_event_effective_samples",
                 "log_likelihood_variance", "selection_effective_draws", "mc_error_violated"):
        assert stat in data.sample_stats
    assert json.loads(data.attrs["prior_config"])["mmin_pl_0"]["dist"] == "Uniform"
    assert json.loads(data.attrs["sampler_config"])["mcmc"]["num_samples"] == 60
    verdicts = json.loads(data.attrs["verdicts"])
    assert set(verdicts) >= {"converged", "convergence", "monte_carlo", "table"}
    header = (out / "samples.dat").read_text().splitlines()[0].split()
    table = np.loadtxt(out / "samples.dat", skiprows=1)
    assert header == names and table.shape == (120, 5)
    np.testing.assert_allclose(table[:, 1], np.asarray(data.posterior["alpha_pl_0"]).ravel(),
                               rtol=1e-6)
    mmin, mmax = table[:, 3], table[:, 4]
    assert np.all((mmin > 1) & (mmin < 20) & (mmax > 30) & (mmax < 100))
    for name in ("prior.json", "sampler.json", "pmean.json", "run.json", "log.txt",
                 "summary.txt"):
        assert (out / name).is_file()
    assert "R-hat" in (out / "summary.txt").read_text() or "CONVERGED" in (
        out / "summary.txt").read_text()
    assert not list(out.glob(".*.tmp"))


def test_report_page(pipeline):
    folder, _ = pipeline
    report = folder / "numpyro_inference" / "report"
    page = (report / "index.html").read_text()
    for png in ("corner.png", "traces.png", "rate_m1.png", "rate_q.png", "mc_diagnostics.png"):
        assert (report / png).stat().st_size > 1000
        assert f'src="{png}"' in page
    truths = json.loads((folder / "data" / "realization_0" / "hyperparameters.json").read_text())
    assert truths["log_rate_0"] == 1.9
    assert "<th>truth</th>" in page and "r_hat" in page


def test_python_example_runs_the_slice_sampler(pipeline, monkeypatch, capsys):
    folder, _ = pipeline
    block = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)[-1]
    assert "Slice(population_model)" in block and "NUTS" not in block
    small = 'settings = {"num_warmup": 20, "num_samples": 20, "num_chains": 2}'
    block, replaced = re.subn(r"^settings = .*$", small, block, flags=re.MULTILINE)
    assert replaced == 1
    monkeypatch.chdir(folder)
    namespace = {}
    exec(compile(block, str(DOCS), "exec"), namespace)
    assert namespace["mcmc"].get_samples()["alpha_pl_0"].shape == (40,)
    assert "alpha_pl_0" in capsys.readouterr().out
