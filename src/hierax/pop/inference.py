"""Population inference as a hierax model: priors, the likelihood factor, MC diagnostics.

:func:`population_model` is the hierax model behind ``hierax-pop infer``::

    model = PopulationModel(n_pl=1)
    spec = parse_prior_config("prior.json", model.hyperparameter_names,
                              ordered_pairs=ordered_hyperparameter_pairs(model))
    likelihood = DiscreteLikelihood(events, model, selection)
    mcmc = run_nuts(population_model, jax.random.PRNGKey(0), model, spec, likelihood)
    mcmc.print_summary()

Every evaluation records the Monte Carlo diagnostics of the likelihood estimate
(Talbot & Golomb 2023, MNRAS 526, 3495; Farr 2019, RNAAS 3, 66) as
``deterministic`` sites, so each posterior draw carries them:
``mu``, ``log_likelihood_variance``, ``min_event_effective_samples``,
``selection_effective_draws`` and ``mc_error_violated`` (True where a threshold
of :func:`hierax.pop.likelihood.record_diagnostics` is violated).
"""

from __future__ import annotations

import functools
import inspect
import re

import jax
import numpy as np

from hierax.handlers import seed
from hierax.pop.likelihood import describe_unsupported_events, record_diagnostics
from hierax.pop.models.hyperparameters import MASS_FAMILIES
from hierax.pop.priors import sample_hyperparameters
from hierax.primitives import deterministic, factor

__all__ = [
    "DIAGNOSTIC_SITES",
    "default_chain_method",
    "explain_invalid_start",
    "ordered_hyperparameter_pairs",
    "population_model",
    "run_nuts",
    "sharp_edge_hyperparameters",
    "unsupported_events",
]

DIAGNOSTIC_SITES = ("mu", "log_likelihood_variance", "min_event_effective_samples",
                    "selection_effective_draws", "mc_error_violated")
"""Deterministic sites :func:`population_model` records at every draw."""


_ORDERED_STEMS = (("mmin", "mmax"), ("m1_low", "m1_high"), ("m2_low", "m2_high"),
                  ("eccentricity_low", "eccentricity_high"), ("mmin", "m_break"),
                  ("m_break", "mmax"))


_FAMILIES = "|".join(MASS_FAMILIES)


def ordered_hyperparameter_pairs(population) -> tuple[tuple[str, str], ...]:
    """Pairs ``(a, b)`` of hyperparameters the population needs with ``a < b``.

    E.g. ``("mmin_pl_0", "mmax_pl_0")``; pass them as ``ordered_pairs`` to
    :func:`hierax.pop.priors.parse_prior_config`, which then rejects a prior
    under which ``mmin_pl_0 >= mmax_pl_0`` always holds.
    """
    names = set(population.hyperparameter_names)
    pairs = []
    for name in population.hyperparameter_names:
        for low, high in _ORDERED_STEMS:
            match = re.fullmatch(rf"{low}(_(?:{_FAMILIES})_[0-9]+)", name)
            if match and f"{high}{match.group(1)}" in names:
                pairs.append((name, f"{high}{match.group(1)}"))
    return tuple(pairs)


_EDGE_PATTERN = re.compile(
    r"(mmax_(?:pl|plp|bp2p)|m[12]_(?:low|high)_g|eccentricity_(?:low|high)|redshift_z_max)"
    r"(?:_(?:pl|g|plp|bp2p))?_[0-9]+")


def sharp_edge_hyperparameters(population, free_names) -> tuple[str, ...]:
    """The free hyperparameters at which the Monte Carlo likelihood jumps: the edges of
    a support (``mmax`` of every power law, ``mmin`` of the unsmoothed ones, the bounds
    of truncated Gaussians and eccentricities, ``z_max``). Each time such an edge crosses
    a posterior sample the likelihood estimate steps, so gradient-based samplers cannot
    move them (``docs/pop_sampler.md``, section 1); slice updates can.

    The low-mass edge of PowerLaw+Peak and BrokenPowerLaw+2 peaks, and of smoothed power
    laws, is tapered over ``delta_m``, so the density is continuous in it.
    """
    names = set(free_names)
    edges = []
    for name in population.hyperparameter_names:
        if name not in names:
            continue
        sharp_mmin = re.fullmatch(r"mmin_pl_[0-9]+", name) and not population.smoothing
        if sharp_mmin or _EDGE_PATTERN.fullmatch(name):
            edges.append(name)
    return tuple(edges)


def population_model(population, prior_spec, likelihood, *, penalty=None, mc_error_rule=None,
                     mc_thresholds=None, selection_uncertainty=False):
    """The hierax model of a population inference (a function to give to NUTS).

    Args:
        population: a :class:`hierax.pop.models.PopulationModel` (used for the
            hyperparameter check; the likelihood holds its rate density).
        prior_spec: a :class:`hierax.pop.priors.PriorSpec` over
            ``population.hyperparameter_names``.
        likelihood: a :class:`hierax.pop.likelihood.DiscreteLikelihood` (or any
            callable ``hyper -> LikelihoodTerms``).
        mc_error_rule: what a draw whose Monte Carlo error exceeds a threshold gets:
            ``"warn"`` (recorded only), ``"cut"`` or ``"penalty"``
            (:func:`hierax.pop.likelihood.record_diagnostics`); ``None`` is ``"warn"``.
        penalty: the scale of the ``"penalty"`` rule (or, without a rule, a constant
            subtracted where a threshold is violated).
        mc_thresholds: keyword overrides of the thresholds
            (:data:`hierax.pop.defaults.MONTE_CARLO_THRESHOLDS`).
        selection_uncertainty: marginalise the Monte Carlo uncertainty of ``mu_hat``:
            ``E[exp(-mu)]`` over ``mu ~ Normal(mu_hat, Var(mu_hat))`` adds
            ``Var(mu_hat) / 2`` to ``ln L`` (Farr 2019, RNAAS 3, 66, for the likelihood
            with an explicit rate); valid while ``Var(mu_hat)`` is small against
            ``mu_hat``, which the selection threshold ensures.

    Sites: one ``sample`` site per free hyperparameter, ``deterministic`` sites for
    constants, ties and :data:`DIAGNOSTIC_SITES`, and the ``factor`` site
    ``log_likelihood`` (with ``mc_error_penalty`` under a rule that acts).
    """
    from hierax.pop.defaults import MONTE_CARLO_THRESHOLDS

    wanted = tuple(population.hyperparameter_names)
    if tuple(prior_spec.hyperparameter_names) != wanted:
        raise ValueError(
            f"population_model: the prior covers {prior_spec.hyperparameter_names}, the "
            f"population needs {wanted}.")
    hyper = sample_hyperparameters(prior_spec)
    terms = likelihood(hyper)
    log_l = terms.log_likelihood
    if selection_uncertainty:
        log_l = log_l + 0.5 * terms.selection_variance
    factor("log_likelihood", log_l)
    thresholds = {**MONTE_CARLO_THRESHOLDS, **(mc_thresholds or {})}
    violated = record_diagnostics(terms, penalty=penalty,
                                  rule=None if mc_error_rule == "warn" else mc_error_rule,
                                  **thresholds)
    deterministic("mc_error_violated", violated)


NO_VALID_START = "Cannot find a valid initial point"
"""How the samplers' error begins when no starting point has a finite log density."""

START_CHECK_DRAWS = 32
"""Hyperparameter values drawn from the prior by :func:`unsupported_events`."""


def _event_log_likelihoods(likelihood, prior_spec, key):
    hyper = seed(functools.partial(sample_hyperparameters, prior_spec), rng_seed=key)()
    return likelihood(hyper).event_log_likelihoods


def unsupported_events(likelihood, prior_spec, rng_key, num_draws: int = START_CHECK_DRAWS):
    """Indices of the events whose likelihood is zero at every hyperparameter value tried.

    ``num_draws`` values are drawn from the prior ``prior_spec`` and the per-event
    ``ln L_n`` of ``likelihood`` (a :class:`hierax.pop.likelihood.DiscreteLikelihood`)
    evaluated at each, one after the other. An event that is ``-inf`` at all of them
    is one no population of the prior explains, e.g. one whose samples all lie
    outside every mass range the prior allows; a sampler cannot start with it.
    """
    keys = jax.random.split(rng_key, num_draws)
    values = jax.lax.map(functools.partial(_event_log_likelihoods, likelihood, prior_spec), keys)
    return np.flatnonzero(np.all(np.isneginf(np.asarray(values)), axis=0))


def explain_invalid_start(likelihood, prior_spec, rng_key) -> str | None:
    """A message naming the events no hyperparameter value supports, or ``None`` if every
    event is supported somewhere (:func:`unsupported_events`); for when a sampler finds no
    valid starting point."""
    indices = unsupported_events(likelihood, prior_spec, rng_key)
    if indices.size == 0:
        return None
    return "no valid starting point: " + describe_unsupported_events(
        likelihood.events, indices,
        f"the likelihood of {{these}} is zero at each of {START_CHECK_DRAWS} hyperparameter "
        "values drawn from the prior (the samples may lie outside every population the "
        "prior allows)")


def run_nuts(model, rng_key, *model_args, num_warmup=None, num_samples=None, num_chains=None,
             chain_method=None, progress_bar=False, kernel_kwargs=None, **model_kwargs):
    """Run NUTS on ``model(*model_args, **model_kwargs)``; returns the finished ``MCMC``.

    The arguments are bound to the model (they may be any Python objects, such
    as a population and a likelihood). Defaults come from
    :data:`hierax.pop.defaults.NUTS_SETTINGS`. ``chain_method`` None takes
    :func:`default_chain_method`. ``kernel_kwargs`` go to ``NUTS``. When ``model`` is
    :func:`population_model` and no valid start is found, the ``ValueError`` names the
    events no hyperparameter value supports (:func:`explain_invalid_start`).
    """
    from hierax.infer import MCMC, NUTS
    from hierax.pop.defaults import NUTS_SETTINGS as settings

    kernel = {"target_accept_prob": settings["target_accept_prob"],
              "max_tree_depth": settings["max_tree_depth"], **(kernel_kwargs or {})}
    chains = settings["num_chains"] if num_chains is None else num_chains
    bound = functools.partial(model, *model_args, **model_kwargs)
    mcmc = MCMC(NUTS(bound, **kernel),
                num_warmup=settings["num_warmup"] if num_warmup is None else num_warmup,
                num_samples=settings["num_samples"] if num_samples is None else num_samples,
                num_chains=chains,
                chain_method=chain_method or default_chain_method(chains),
                progress_bar=progress_bar)
    try:
        mcmc.run(rng_key)
    except ValueError as error:
        message = None
        if NO_VALID_START in str(error) and model is population_model:
            arguments = inspect.signature(model).bind(*model_args, **model_kwargs).arguments
            message = explain_invalid_start(arguments["likelihood"], arguments["prior_spec"],
                                            rng_key)
        if message is None:
            raise
        raise ValueError(message) from error
    return mcmc


def default_chain_method(num_chains: int) -> str:
    """How to run ``num_chains`` chains on this machine's devices.

    ``"parallel"`` when several devices can share the chains, and on one CPU
    device, where :class:`hierax.infer.MCMC` then runs each chain in its own host
    thread; ``"vectorized"`` on one accelerator. A CPU has no spare lanes for a
    batch of chains (the likelihood already fills its cores), so vectorized chains
    only wait at every iteration for the chain with the longest NUTS tree or slice
    bracket, while concurrent chains fill the cores that one chain leaves idle
    (2-core CPU, 138-event catalog, 4 NUTS chains with the generic likelihood
    path: 72 s vectorized, 40 s sequential, 34 s in threads;
    ``bench/pop_time_to_ess.py``, BENCHMARKS.md).
    The draws are the same in every case.
    """
    devices = jax.local_devices()
    if num_chains > 1 and len(devices) > 1 and any(
            num_chains % d == 0 for d in range(2, len(devices) + 1)):
        return "parallel"
    if devices[0].platform == "cpu":
        return "parallel" if num_chains > 1 else "sequential"
    return "vectorized"
