"""One sampler on one model, measured in this (fresh) interpreter; prints one JSON line.

    python -m bench.measure MODEL SAMPLER [--quick]

Protocol:

1. first run: warmup + sampling in one call, in a fresh process (tracing and
   compilation included);
2. second run: the same with new keys, as warmup and then sampling (each library's
   ``warmup`` / continue API), so that the sampling phase is timed on its own for the
   floor ratio; compiled programs are reused where the library can.

Compile time is the time JAX reports for tracing, lowering and XLA compilation during
run 1 (``jax.monitoring`` events). ESS is the minimum bulk ESS (hierax.diagnostics)
over every element of the model's latent sites, on constrained draws. Gradient
evaluations are the leapfrog steps of the sampling phase (one gradient each).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time

_COMPILE_EVENTS = ("/jax/core/compile/jaxpr_trace_duration",
                   "/jax/core/compile/jaxpr_to_mlir_module_duration",
                   "/jax/core/compile/backend_compile_duration")


class CompileClock:
    """Sums JAX's tracing/lowering/compilation event durations."""

    def __init__(self):
        from jax import monitoring

        self.total = 0.0
        monitoring.register_event_duration_secs_listener(self._listen)

    def _listen(self, event, duration, **_):
        if event in _COMPILE_EVENTS:
            self.total += duration


def _timed(clock, fn, *args):
    compile_before, start = clock.total, time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start, clock.total - compile_before


def _min_ess(draws):
    import numpy as np

    from hierax.diagnostics import effective_sample_size

    values = [np.min(effective_sample_size(np.asarray(x, np.float64))) for x in draws.values()]
    return float(min(values))


def _moments(draws):
    """Per-element posterior mean, sd and MCSE of the mean (flattened per site)."""
    import numpy as np

    from hierax.diagnostics import mcse

    out = {}
    for name, x in draws.items():
        x = np.asarray(x, np.float64)
        out[name] = {"mean": x.mean(axis=(0, 1)).ravel().tolist(),
                     "mcse": np.asarray(mcse(x)).ravel().tolist()}
    return out


class _WithSettings:
    """A model module whose problems use other warmup / draws / chains."""

    def __init__(self, module, num_warmup, num_samples, num_chains):
        self._module, self._sizes = module, (num_warmup, num_samples, num_chains)

    def __getattr__(self, name):
        return getattr(self._module, name)

    def build(self, *args, **kwargs):
        problem = self._module.build(*args, **kwargs)
        warmup, samples, chains = self._sizes
        settings = dataclasses.replace(problem.settings, num_warmup=warmup,
                                       num_samples=samples, num_chains=chains)
        return dataclasses.replace(problem, settings=settings)


def measure(model: str, sampler: str, quick: bool, sizes=None, seed: int = 0) -> dict:
    """Every figure of one (model, sampler) pair. Run 1 uses key ``seed``; run 2 warms
    up with ``seed + 1`` and samples with ``seed + 2``."""
    start = time.perf_counter()
    import jax

    from bench.models.registry import load
    from bench.samplers.common import make_runner

    clock = CompileClock()
    module = load(model) if sizes is None else _WithSettings(load(model), *sizes)
    runner = make_runner(sampler, module, quick)
    first, first_s, first_compile = _timed(clock, runner.run, seed)
    _, warmup_s, warmup_compile = _timed(clock, runner.warmup, seed + 1)
    second, sampling_s, sampling_compile = _timed(clock, runner.sample, seed + 2)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    warmup_gradients = runner.warmup_gradients(seed + 1)  # after the timed phases
    settings = runner.problem.settings
    result = {
        "model": model, "sampler": sampler, "quick": quick, "seed": seed,
        "settings": settings.__dict__,
        "first_run_s": first_s, "second_run_s": warmup_s + sampling_s,
        "compile_s": first_compile, "second_run_compile_s": warmup_compile + sampling_compile,
        "warmup_s": warmup_s, "warmup_gradient_evaluations": warmup_gradients,
        "sampling_s": sampling_s, "sampling_compile_s": sampling_compile,
        "min_ess_first": _min_ess(first.draws), "min_ess": _min_ess(second.draws),
        "gradient_evaluations": int(second.num_steps.sum()),
        "divergences": second.num_divergences,
        "peak_rss_mb": peak_rss_mb,
        "moments": _moments(second.draws),
    }
    from bench.floor import Floor

    floor = Floor(module, quick)
    result["floor_s"] = floor.seconds(result["gradient_evaluations"], repeats=2 if quick else 3)
    result["total_s"] = time.perf_counter() - start
    result["device"] = str(jax.devices()[0].device_kind)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("sampler")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0,
                        help="PRNG key of run 1 (run 2 uses seed + 1 and seed + 2)")
    parser.add_argument("--sizes", type=int, nargs=3, default=None,
                        metavar=("WARMUP", "DRAWS", "CHAINS"))
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.model, args.sampler, args.quick, args.sizes, args.seed)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
