"""gwkokab's side of ``bench/pop_throughput.py``: its discrete-method likelihood, timed.

Run by the interpreter of the virtual environment that has gwkokab installed
(``python bench/pop_throughput.py --setup-peer DIR`` makes one); imports
gwkokab, NumPyro and JAX only, never hierax.

    PEER_PYTHON bench/gwkokab_side.py --catalog CATALOG.npz --dtype float32 \
        --selection on --repeats 7 --number 10

What is timed is gwkokab's own code path of a discrete (per-event posterior
samples) analysis of the ``n_pls_m_gs`` model with 1 power law + 1 Gaussian:

- the events are bucketed and padded by ``gwkokab.analysis.utils.jenks.pad_and_stack``
  (what ``DiscreteBase.read_data`` does; 100 events of 4,000 samples make one bucket);
- the population is ``gwkokab.models.NPowerlawMGaussian(N_pl=1, N_g=1, **hyper)``,
  the ``ScaledMixture`` its analyses build from the hyperparameters at every call;
- ln L is ``gwkokab.inference.discrete_poisson_likelihood_fn`` (the function both
  its NumPyro and flowMC discrete likelihoods call), without the variance cut;
- the selection term: an estimator with the same formula as gwkokab's
  sensitivity-injection estimator (``mu = T / N_draw * sum_j exp(ln p(theta_j) - ln q_j)``
  and its variance), but with the mixture's ``log_prob`` evaluated on all draws at
  once instead of gwkokab's ``jax.lax.map`` one draw at a time, so both sides do the
  same vectorised work; ``--selection off`` makes mu zero (events term only).

The data are arguments of the compiled function (as in gwkokab's flowMC
path), not constants folded into it. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", required=True, help="catalog .npz from pop_throughput.py")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--selection", choices=("on", "off"), default="on")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=10, help="calls per timed repeat")
    return parser.parse_args()


def read_catalog(path, dtype):
    """``(catalog arrays, per-event samples, per-event log priors, hyperparameters)``.

    Also used by the hierax side (``pop_throughput.py``), so both read one file alike.
    """
    import numpy as np

    with np.load(path) as npz:
        catalog = {key: npz[key] for key in npz.files}
    edges = np.concatenate([[0], np.cumsum(catalog["counts"])])
    theta = catalog["theta"].astype(dtype)
    log_prior = catalog["log_prior"].astype(dtype)
    events = [theta[a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]
    priors = [log_prior[a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]
    hyper = {
        str(name): np.asarray(value, dtype=dtype)
        for name, value in zip(catalog["hyper_names"], catalog["hyper_values"], strict=True)
    }
    return catalog, events, priors, hyper


def load_catalog(path, dtype):
    """Per-event lists of samples and log priors, the draws and the hyperparameters."""
    import numpy as np

    catalog, events, priors, hyper = read_catalog(path, dtype)
    draws = {
        "samples": catalog["draw_theta"].astype(dtype),
        "log_weights": catalog["draw_log_density"].astype(dtype),
        "T_obs": np.asarray(catalog["time"], dtype=dtype),
        "total_draws": np.asarray(catalog["total_draws"], dtype=dtype),
    }
    return events, priors, hyper, draws


def no_selection(scaled_mixture, T_obs, **unused):
    """mu = 0: the events term only."""
    from jax import numpy as jnp

    del scaled_mixture, unused
    return jnp.zeros_like(T_obs), jnp.zeros_like(T_obs)


def build(events, priors, draws, selection_on):
    """``(log_likelihood(hyper, data), data)`` on gwkokab's discrete path."""
    import jax
    from gwkokab.analysis.utils.jenks import pad_and_stack
    from gwkokab.inference import discrete_poisson_likelihood_fn
    from gwkokab.models import NPowerlawMGaussian
    from jax import numpy as jnp

    data_group, prior_group, mask_group = pad_and_stack(events, priors, n_buckets=None)
    prior_group = [jnp.where(m, p, 0.0) for m, p in zip(mask_group, prior_group, strict=True)]
    n_pes = tuple(jnp.sum(m, axis=-1).astype(draws["T_obs"].dtype) for m in mask_group)
    from gwkokab_selection import injection_mean  # bench/ is on the path of a script

    estimator = injection_mean if selection_on else no_selection
    data = {
        "data_group": tuple(data_group),
        "log_ref_priors_group": tuple(prior_group),
        "masks_group": tuple(mask_group),
        "pmean_kwargs": {key: jnp.asarray(value) for key, value in draws.items()},
        "N_pes": n_pes,
    }

    def log_likelihood(hyper, data):
        model = NPowerlawMGaussian(N_pl=1, N_g=1, **hyper)
        return discrete_poisson_likelihood_fn(
            model,
            estimator,
            data["data_group"],
            data["log_ref_priors_group"],
            data["masks_group"],
            data["pmean_kwargs"],
            data["N_pes"],
            None,
        )

    return log_likelihood, jax.device_put(data), len(data_group)


def time_calls(fn, args, repeats, number):
    """Median seconds per call of an already compiled ``fn`` over ``repeats`` x ``number``."""
    import jax

    per_call = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            out = fn(*args)
        jax.block_until_ready(out)
        per_call.append((time.perf_counter() - start) / number)
    return statistics.median(per_call), per_call


def measure(args):
    import jax
    import numpy as np

    events, priors, hyper, draws = load_catalog(args.catalog, args.dtype)
    log_likelihood, data, n_buckets = build(events, priors, draws, args.selection == "on")
    hyper = jax.device_put(hyper)
    value_fn = jax.jit(log_likelihood)
    grad_fn = jax.jit(jax.value_and_grad(log_likelihood))

    start = time.perf_counter()
    value = jax.block_until_ready(value_fn(hyper, data))
    value_first = time.perf_counter() - start
    start = time.perf_counter()
    value_again, grad = jax.block_until_ready(grad_fn(hyper, data))
    grad_first = time.perf_counter() - start

    value_s, value_all = time_calls(value_fn, (hyper, data), args.repeats, args.number)
    grad_s, grad_all = time_calls(grad_fn, (hyper, data), args.repeats, args.number)
    return {
        "side": "gwkokab",
        "dtype": str(np.asarray(value).dtype),
        "selection": args.selection,
        "n_buckets": n_buckets,
        "log_likelihood": float(value),
        "log_likelihood_from_grad_fn": float(value_again),
        "grad": {name: float(g) for name, g in grad.items()},
        "first_call_value_s": value_first,
        "first_call_grad_s": grad_first,
        "value_s": value_s,
        "grad_s": grad_s,
        "value_s_all": value_all,
        "grad_s_all": grad_all,
        "versions": versions(),
    }


def versions():
    from importlib.metadata import version

    return {pkg: version(pkg) for pkg in ("gwkokab", "jax", "jaxlib", "numpyro", "numpy")}


def main():
    args = parse_args()
    import jax

    scope = jax.enable_x64(True) if args.dtype == "float64" else contextlib.nullcontext()
    with scope:
        result = measure(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
