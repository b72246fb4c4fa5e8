"""Export an MCMC run to ArviZ's ``InferenceData``.

:func:`to_inference_data` gathers the draws, the sampler statistics, the
observed data and the pointwise log-likelihood of a finished
:class:`~hierax.infer.MCMC` run, and optionally prior and posterior
predictive draws, into one ``arviz.InferenceData`` (Kumar, Carroll, Hartikainen
& Martin 2019, "ArviZ a unified library for exploratory analysis of Bayesian
models in Python", JOSS 4(33), 1143). Each group is an ``xarray.Dataset``
whose leading dims are ``chain`` and ``draw``.

Dimension names come from the model's plates: a site's batch dim that belongs
to ``plate("J", 8)`` is called ``"J"`` (coordinates ``0 .. 7``) in every group,
so ``theta``, the observed ``obs`` and its log-likelihood line up. Other dims
are named ``{site}_dim_{k}``, ``k`` being the position in the site's shape
(chain and draw excluded). ``coords`` and ``dims`` given by the user take
precedence.

:func:`inference_groups` builds these groups as ``xarray.Dataset`` objects;
:func:`to_inference_data` wraps them in an ``InferenceData`` and
:func:`hierax.infer.checkpoint.save` writes them to a run file, so a run read
back with :func:`hierax.load` gives the same groups without its model.

ArviZ is an optional dependency (the ``plot`` extra) and is imported only when
one of these functions is called.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hierax.handlers import seed, trace
from hierax.infer.checkpoint import SavedRun
from hierax.infer.util import log_likelihood as pointwise_log_likelihood

__all__ = ["inference_groups", "to_inference_data"]

# hierax's per-draw statistic -> ArviZ's name for it in ``sample_stats``.
_SAMPLE_STAT_NAMES = {
    "diverging": "diverging",
    "energy": "energy",
    "tree_depth": "tree_depth",
    "num_steps": "n_steps",
    "step_size": "step_size",
    "accept_prob": "acceptance_rate",
}


def _import_arviz():
    try:
        import arviz
    except ImportError as error:
        raise ImportError(
            "hierax.to_inference_data needs ArviZ: pip install \"hierax[plot]\" "
            "(or pip install arviz)."
        ) from error
    return arviz


def _library_attrs() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    try:
        library_version = version("hierax")
    except PackageNotFoundError:
        library_version = "unknown"
    return {"inference_library": "hierax", "inference_library_version": library_version}


# ----------------------------------------------------------------------------
# the model behind the run


def _model_arguments(mcmc, model_args, model_kwargs):
    """``(args, kwargs)`` of the run, each replaced by the explicit one when given.

    A run on a ``potential_fn`` (no model) has no arguments.
    """
    program = getattr(mcmc, "_program", None)
    dynamic = getattr(mcmc, "_dynamic", None)
    if hasattr(program, "arguments") and dynamic is not None:
        run_args, run_kwargs = program.arguments(dynamic)
    else:
        run_args, run_kwargs = (), {}
    args = tuple(run_args) if model_args is None else tuple(model_args)
    kwargs = dict(run_kwargs) if model_kwargs is None else dict(model_kwargs)
    return args, kwargs


def _model_trace(model, args, kwargs) -> dict:
    """One trace of ``model`` (latent sites drawn from the prior): plates and observations."""
    if model is None:
        return {}
    return trace(seed(model, rng_seed=0)).get_trace(*args, **kwargs)


def _is_observation(site) -> bool:
    return (site["type"] == "sample" and site["is_observed"]
            and not site["infer"].get("is_auxiliary", False))


def _observed_values(model_trace) -> dict:
    """dict observed site -> its value as a NumPy array (auxiliary sites excluded)."""
    return {name: np.asarray(site["value"]) for name, site in model_trace.items()
            if _is_observation(site)}


# ----------------------------------------------------------------------------
# dimension names


class _DimNames:
    """Dimension names and coordinates of each site, read from the plates of a trace.

    Args:
        model_trace: a trace of the model (may be empty: then every dim gets a default name).
        coords: user coordinates, dim name -> values (override the plates' ``0 .. size-1``).
        dims: user dims, site -> list of dim names (override the plate-derived names).
    """

    def __init__(self, model_trace, coords=None, dims=None):
        self.model_trace = model_trace
        self.user_dims = dict(dims or {})
        plate_coords = {}
        for site in model_trace.values():
            for frame in site.get("cond_indep_stack", ()):
                plate_coords.setdefault(frame.name, np.arange(frame.size))
        self.coords = {**plate_coords, **dict(coords or {})}

    def _event_ndim(self, name) -> int:
        site = self.model_trace.get(name)
        if site is None or site["type"] != "sample":
            return 0
        return len(getattr(site["fn"], "event_shape", ()))

    def names(self, name, shape, batch_only=False) -> list:
        """Dim names for site ``name`` whose value (without chain/draw) has ``shape``.

        The plate at ``dim = -i`` names the ``i``-th batch dim from the right
        when the sizes agree; every other dim is ``{name}_dim_{k}``. With
        ``batch_only`` the value has no event dims (e.g. a log-likelihood).
        """
        if name in self.user_dims:
            return list(self.user_dims[name])
        names = [f"{name}_dim_{k}" for k in range(len(shape))]
        site = self.model_trace.get(name)
        if site is None:
            return names
        event_ndim = 0 if batch_only else self._event_ndim(name)
        batch_ndim = max(len(shape) - event_ndim, 0)
        for frame in site.get("cond_indep_stack", ()):
            axis = batch_ndim + frame.dim
            if 0 <= axis < batch_ndim and shape[axis] == frame.size:
                names[axis] = frame.name
        return names

    def dataset(self, arviz, data, sample_ndim=2, batch_only=False):
        """``xarray.Dataset`` of ``data``: dict site -> array, ``sample_ndim`` leading dims."""
        dims = {name: self.names(name, np.shape(value)[sample_ndim:], batch_only)
                for name, value in data.items()}
        return arviz.dict_to_dataset(
            data, attrs=_library_attrs(), coords=self.coords, dims=dims,
            default_dims=[] if sample_ndim == 0 else None)


# ----------------------------------------------------------------------------
# groups


def _sample_stats(mcmc) -> dict:
    """ArviZ-named sampler statistics, each of shape ``(chains, draws)``."""
    fields = {k: np.asarray(v) for k, v in mcmc.get_extra_fields(group_by_chain=True).items()}
    stats = {arviz_name: fields[name] for name, arviz_name in _SAMPLE_STAT_NAMES.items()
             if name in fields}
    if "potential_energy" in fields:
        stats["lp"] = -fields["potential_energy"]
    return stats


def _as_numpy_dict(draws, group) -> dict:
    if not isinstance(draws, Mapping):
        raise TypeError(
            f"to_inference_data: {group} must be a dict site -> array (e.g. the output of "
            f"Predictive), got {type(draws).__name__}."
        )
    arrays = {name: np.asarray(value) for name, value in draws.items()}
    for name, value in arrays.items():
        if value.ndim == 0:
            raise ValueError(
                f"to_inference_data: {group} site '{name}' has shape (); expected a leading "
                "draw dim."
            )
    return arrays


def _prior_with_chain_dim(prior) -> dict:
    """Prior draws ``(draws, ...)`` as one chain: ``(1, draws, ...)``."""
    return {name: value[None] for name, value in _as_numpy_dict(prior, "prior").items()}


def _predictive_with_chain_dims(predictive, num_chains, num_draws) -> dict:
    """Posterior predictive draws shaped ``(chains, draws, ...)``.

    A leading dim of ``chains * draws`` (draws stacked chain after chain, as
    ``mcmc.get_samples()`` gives them) is split; values already shaped
    ``(chains, draws, ...)`` are kept; any other draws count as one chain.
    """
    result = {}
    for name, value in _as_numpy_dict(predictive, "posterior_predictive").items():
        if value.shape[0] == num_chains * num_draws:
            result[name] = value.reshape((num_chains, num_draws) + value.shape[1:])
        elif value.shape[:2] == (num_chains, num_draws):
            result[name] = value
        else:
            result[name] = value[None]
    return result


def _log_likelihood(model, samples, args, kwargs) -> dict:
    values = pointwise_log_likelihood(model, samples, *args, batch_ndims=2, **kwargs)
    return {name: np.asarray(value) for name, value in values.items()}


def _observation_groups(arviz, names, model, samples, args, kwargs, with_log_likelihood):
    """``observed_data`` and (optionally) ``log_likelihood`` datasets of the run."""
    observed = _observed_values(names.model_trace)
    if not observed:
        return {}
    groups = {"observed_data": names.dataset(arviz, observed, sample_ndim=0)}
    if with_log_likelihood:
        values = _log_likelihood(model, samples, args, kwargs)
        if values:
            groups["log_likelihood"] = names.dataset(arviz, values, batch_only=True)
    return groups


def _observed_names(run, names) -> set:
    """The observed sites: from the model's trace, or the saved ``observed_data`` group."""
    if isinstance(run, SavedRun):
        stored = run.groups.get("observed_data")
        return set() if stored is None else {str(name) for name in stored.data_vars}
    return {name for name, site in names.model_trace.items() if _is_observation(site)}


def _prior_groups(arviz, names, prior, observed) -> dict:
    """``prior`` (latent sites) and ``prior_predictive`` (sites in ``observed``) datasets."""
    draws = _prior_with_chain_dim(prior)
    groups = {}
    latent = {k: v for k, v in draws.items() if k not in observed}
    predictive = {k: v for k, v in draws.items() if k in observed}
    if latent:
        groups["prior"] = names.dataset(arviz, latent)
    if predictive:
        groups["prior_predictive"] = names.dataset(arviz, predictive)
    return groups


def _posterior_predictive_group(arviz, names, samples, posterior_predictive):
    """The ``posterior_predictive`` dataset, draws split into the chains of ``samples``."""
    num_chains, num_draws = next(iter(samples.values())).shape[:2]
    draws = _predictive_with_chain_dims(posterior_predictive, num_chains, num_draws)
    return names.dataset(arviz, draws)


def _check_run(run) -> None:
    """Refuse anything without the ``get_samples`` and ``get_extra_fields`` of a run."""
    if not hasattr(run, "get_samples") or not hasattr(run, "get_extra_fields"):
        raise TypeError(
            f"to_inference_data: expected a hierax MCMC object, got {type(run).__name__}."
        )


def _saved_run_groups(arviz, run, log_likelihood, names) -> dict:
    """``posterior`` and the other groups stored in a :class:`SavedRun`, ArviZ's statistics."""
    stored = dict(run.groups)
    groups = {"posterior": stored.pop("posterior"),
              "sample_stats": names.dataset(arviz, _sample_stats(run))}
    if not log_likelihood:
        stored.pop("log_likelihood", None)
    groups.update(stored)
    return groups


def _mcmc_groups(arviz, mcmc, samples, log_likelihood, names, model, args, kwargs) -> dict:
    """``posterior``, ``sample_stats`` and the observation groups of a finished MCMC."""
    groups = {"posterior": names.dataset(arviz, samples),
              "sample_stats": names.dataset(arviz, _sample_stats(mcmc))}
    groups.update(_observation_groups(arviz, names, model, samples, args, kwargs,
                                      log_likelihood))
    return groups


def inference_groups(run, prior=None, posterior_predictive=None, log_likelihood=True,
                     coords=None, dims=None, model_args=None, model_kwargs=None) -> dict:
    """The groups of :func:`to_inference_data` as a dict name -> ``xarray.Dataset``.

    Takes the same arguments as :func:`to_inference_data`. For a
    :class:`~hierax.infer.checkpoint.SavedRun` the groups saved with it are
    returned as they were saved (``log_likelihood`` only when asked for), with
    ``sample_stats`` rebuilt from its statistics; ``prior`` and
    ``posterior_predictive`` given here replace the saved ones and, the model
    being unknown, get default dim names (or the user's ``dims``); the sites of
    the saved ``observed_data`` go to ``prior_predictive``.
    """
    arviz = _import_arviz()
    _check_run(run)
    samples = {k: np.asarray(v) for k, v in run.get_samples(group_by_chain=True).items()}
    if isinstance(run, SavedRun):
        names = _DimNames({}, coords, dims)
        groups = _saved_run_groups(arviz, run, log_likelihood, names)
    else:
        args, kwargs = _model_arguments(run, model_args, model_kwargs)
        model = getattr(getattr(run, "sampler", None), "model", None)
        names = _DimNames(_model_trace(model, args, kwargs), coords, dims)
        groups = _mcmc_groups(arviz, run, samples, log_likelihood, names, model, args, kwargs)
    if prior is not None:
        groups.update(_prior_groups(arviz, names, prior, _observed_names(run, names)))
    if posterior_predictive is not None:
        groups["posterior_predictive"] = _posterior_predictive_group(arviz, names, samples,
                                                                     posterior_predictive)
    return groups


def to_inference_data(mcmc, prior=None, posterior_predictive=None, log_likelihood=True,
                      coords=None, dims=None, model_args=None, model_kwargs=None):
    """An ``arviz.InferenceData`` holding a finished MCMC run.

    Groups (each variable shaped ``(chain, draw, ...)`` unless said otherwise):

    - ``posterior``: every site of ``mcmc.get_samples(group_by_chain=True)``,
      deterministic sites included.
    - ``sample_stats``: ``diverging``, ``energy`` (Hamiltonian at the draw),
      ``tree_depth`` (NUTS only), ``n_steps`` (leapfrog steps), ``step_size``,
      ``acceptance_rate`` and ``lp``. ``lp`` is minus the potential energy:
      the log density of the *unconstrained* parameters, Jacobians of the
      transforms included, up to a constant; it is not the log density of the
      constrained values.
    - ``observed_data``: the value of each observed site (shape as in the
      model, no chain or draw dims), from a trace of the model run with the
      run's arguments.
    - ``log_likelihood`` (when ``log_likelihood=True``): the log density of
      each observation of each observed site at every draw, shaped
      ``(chain, draw) + site batch shape``; what ``arviz.loo`` and
      ``arviz.waic`` read.
    - ``prior`` and ``prior_predictive`` (when ``prior`` is given): draws
      ``(draws, ...)`` such as ``Predictive(model, num_samples=n)(key, *args)``,
      stored as one chain ``(1, draws, ...)``; observed sites go to
      ``prior_predictive``, the others to ``prior``.
    - ``posterior_predictive`` (when given): draws from
      ``Predictive(model, mcmc.get_samples())``; a leading dim of
      ``chains * draws`` is split into ``(chains, draws)``, values already
      shaped ``(chains, draws, ...)`` are kept, other draws count as one chain.

    A batch dim of a site that comes from a plate is named after the plate
    (the plate at ``dim=-1`` names the site's last batch dim, ``dim=-2`` the
    one before, ...) with coordinates ``0 .. size-1``, the same in every
    group; the other dims are named ``{site}_dim_{k}``.

    A run read back by :func:`hierax.load` has no model: its groups are those
    saved with it (see :func:`hierax.infer.checkpoint.save`), the same as
    ``to_inference_data`` gave for the original run with the same arguments;
    see :func:`inference_groups`.

    Args:
        mcmc: a :class:`~hierax.infer.MCMC` object after ``run``, or a
            :class:`~hierax.infer.checkpoint.SavedRun` holding draws.
        prior: optional dict site -> prior draws ``(draws, ...)``.
        posterior_predictive: optional dict site -> posterior predictive draws.
        log_likelihood: compute the ``log_likelihood`` group.
        coords: dict dim name -> coordinate values (overrides the plates' ranges).
        dims: dict site -> list of dim names, without ``chain`` and ``draw``
            (overrides the plate-derived names).
        model_args, model_kwargs: the model's arguments; default: those of the run.

    Returns:
        ``arviz.InferenceData``.

    Raises:
        ImportError: ArviZ is not installed.
        RuntimeError: the MCMC object has not been run.
        ValueError: the saved run holds no draws (it was saved after warmup only).
        TypeError: ``mcmc`` is not an MCMC object, or ``prior`` /
            ``posterior_predictive`` is not a dict.
    """
    arviz = _import_arviz()
    return arviz.InferenceData(**inference_groups(
        mcmc, prior=prior, posterior_predictive=posterior_predictive,
        log_likelihood=log_likelihood, coords=coords, dims=dims, model_args=model_args,
        model_kwargs=model_kwargs))
