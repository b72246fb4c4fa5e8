"""Chunked MCMC (slice and NUTS) with checkpoints: a run interrupted after a chunk and
resumed ends with the draws of an uninterrupted run; chunk sizes; atomic chunk files."""

import numpy as np
import pytest

import hierax
import hierax.distributions as dist
from hierax.cli import samplers
from hierax.cli.outputs import ChunkStore
from hierax.cli.sampler_config import parse_sampler_config

pytest.importorskip("xarray")

MCMC_SETTINGS = {"num_warmup": 40, "num_samples": 30, "num_chains": 2, "progress_bar": False}
KERNELS = {"nuts": {"kernel": {"max_tree_depth": 4}}, "slice": {"slice": {}}}
# A per-draw statistic each kernel records, compared exactly after resuming.
COUNTERS = {"nuts": "n_steps", "slice": "n_evaluations"}


def model():
    hierax.sample("x", dist.Normal(1.0, 2.0))
    hierax.sample("s", dist.LogNormal(0.0, 0.5))


def _run(config, folder, resume=False):
    return samplers.run_mcmc_chunked(model, config, 3, folder, resume=resume,
                                     log_print=lambda *a, **k: None)


def _run_until_chunk(monkeypatch, config, folder, stop_index):
    """Run into ``folder`` and stop with a Ctrl-C as chunk ``stop_index`` is written."""
    original = ChunkStore.append

    def append_then_stop(self, index, arrays):
        if index == stop_index:
            raise KeyboardInterrupt
        original(self, index, arrays)

    monkeypatch.setattr(ChunkStore, "append", append_then_stop)
    with pytest.raises(KeyboardInterrupt):
        _run(config, folder)
    monkeypatch.setattr(ChunkStore, "append", original)


@pytest.mark.parametrize("chain_method", ["vectorized", "sequential", "parallel"])
@pytest.mark.parametrize("kind", ["slice", "nuts"])
def test_interrupted_run_resumes_to_the_same_draws(tmp_path, monkeypatch, kind, chain_method):
    monkeypatch.setattr(samplers, "CHUNK_DRAWS", 10)
    monkeypatch.setattr(samplers, "CHECKPOINT_SECONDS", 0.0)
    config = parse_sampler_config(
        {**KERNELS[kind], "mcmc": {**MCMC_SETTINGS, "chain_method": chain_method}})
    reference, reference_stats = _run(config, tmp_path / "whole")
    assert reference["x"].shape == (2, 30) and reference_stats["diverging"].shape == (2, 30)
    _run_until_chunk(monkeypatch, config, tmp_path / "cut", 1)
    assert ChunkStore(tmp_path / "cut").indices() == [0]
    resumed, resumed_stats = _run(config, tmp_path / "cut", resume=True)
    assert ChunkStore(tmp_path / "cut").indices() == [0, 1, 2]
    for name in ("x", "s"):
        np.testing.assert_allclose(resumed[name], reference[name], rtol=1e-5)
    counter = COUNTERS[kind]
    np.testing.assert_array_equal(resumed_stats[counter], reference_stats[counter])


def test_a_run_cut_before_its_first_checkpoint_restarts_to_the_same_draws(tmp_path,
                                                                         monkeypatch):
    monkeypatch.setattr(samplers, "CHUNK_DRAWS", 10)
    monkeypatch.setattr(samplers, "CHECKPOINT_SECONDS", 3600.0)
    config = parse_sampler_config({**KERNELS["nuts"], "mcmc": MCMC_SETTINGS})
    reference, _ = _run(config, tmp_path / "whole")
    assert (tmp_path / "whole" / "checkpoint.nc").is_file()  # the end is always saved
    _run_until_chunk(monkeypatch, config, tmp_path / "cut", 2)
    assert not (tmp_path / "cut" / "checkpoint.nc").exists()
    resumed, _ = _run(config, tmp_path / "cut", resume=True)
    assert ChunkStore(tmp_path / "cut").indices() == [0, 1, 2]
    np.testing.assert_allclose(resumed["x"], reference["x"], rtol=1e-5)


def test_chunk_sizes_divide_the_run_and_respect_thinning():
    assert samplers.chunk_iterations(1000, 1) == 100
    assert samplers.chunk_iterations(250, 1) == 50
    assert samplers.chunk_iterations(30, 1) == 30
    assert samplers.chunk_iterations(997, 1) == 100  # no divisor near 100: a shorter last chunk
    assert samplers.chunk_iterations(300, 2) % 2 == 0


def test_chunk_store_keeps_only_checkpointed_chunks(tmp_path):
    store = ChunkStore(tmp_path)
    for index in range(3):
        store.append(index, {"x": np.full((2, 4), index)})
    store.keep_first(2)
    assert store.indices() == [0, 1]
    np.testing.assert_array_equal(store.read(2)["x"][0], [0, 0, 0, 0, 1, 1, 1, 1])
    assert not list(tmp_path.glob(".*"))
