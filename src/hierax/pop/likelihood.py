r"""The hierarchical population likelihood of a catalog with selection effects.

For ``N`` detected events, event ``n`` represented by ``M_n`` posterior samples
``theta_ni`` drawn under a reference prior ``pi_n``, and a population of rate
density ``rho(theta | Lambda)`` observed for a time ``T``,

    ln L(Lambda) = -mu(Lambda) + N ln T
                   + sum_n [ logsumexp_i (ln rho(theta_ni | Lambda) - ln pi_n(theta_ni))
                             - ln M_n ],

the inhomogeneous-Poisson likelihood with the per-event evidence integrals
replaced by Monte Carlo averages over the posterior samples (Mandel, Farr &
Gair 2019, MNRAS 486, 1086; Thrane & Talbot 2019, PASA 36, e010, eq. 48).
``mu(Lambda)``, the expected number of detections, comes from a
:class:`hierax.pop.selection.SelectionEstimator`.

Monte Carlo error, reported at every evaluation:

- per event, the effective number of samples ``(sum_i w_i)^2 / sum_i w_i^2`` with
  ``w_i = rho / pi_n``;
- the variance of the ``ln L`` estimate (Talbot & Golomb 2023, MNRAS 526, 3495,
  eqs. 9-11): ``sum_n (1 / N_eff,n - 1 / M_n) + Var(mu_hat)``;
- the effective number of selection draws ``mu_hat^2 / Var(mu_hat)``, which should
  exceed ``4 N`` (Farr 2019, RNAAS 3, 66).

Layout: the samples of all events are concatenated; per-event reductions use
``jax.ops.segment_max``/``segment_sum`` over the sorted event index (no padding).
Alternatively ``n_buckets`` groups events of similar sample counts into padded,
masked blocks; both give the same value to rounding. With several JAX devices
the sample axis is sharded across them.

Precision: ``ln rho`` is evaluated in the caller's precision; the reductions
(exponentials, sums, logs) run in float64 inside a scoped
``jax.enable_x64(True)`` whatever the caller's setting, with the backward pass
re-entering the scope (:func:`hierax.pop.selection.base.in_float64`). Values are
cast back to the caller's precision, so a float32 ``ln L`` equals the float64
one to the float32 rounding of ``ln rho`` and of the result.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .data import EventSamples
from .selection.base import SelectionEstimator, in_float64, shifted_moments

__all__ = [
    "DiscreteLikelihood",
    "LikelihoodTerms",
    "MonteCarloErrorWarning",
    "check_monte_carlo_error",
    "record_diagnostics",
]


class LikelihoodTerms(NamedTuple):
    """One evaluation of the likelihood and its Monte Carlo diagnostics.

    Attributes:
        log_likelihood: ``ln L(Lambda)`` (scalar).
        log_mu: ``ln mu_hat``.
        mu: ``mu_hat``, the expected number of detections.
        event_log_likelihoods: ``(N,)`` ``logsumexp_i(ln rho - ln pi_n) - ln M_n``.
        event_effective_samples: ``(N,)`` ``(sum w)^2 / sum w^2``.
        log_likelihood_variance: variance of the ``ln L`` estimate (Talbot & Golomb 2023).
        selection_effective_draws: ``mu_hat^2 / Var(mu_hat)`` (Farr 2019).
        selection_variance: ``Var(mu_hat)``.
    """

    log_likelihood: jax.Array
    log_mu: jax.Array
    mu: jax.Array
    event_log_likelihoods: jax.Array
    event_effective_samples: jax.Array
    log_likelihood_variance: jax.Array
    selection_effective_draws: jax.Array
    selection_variance: jax.Array


class DiscreteLikelihood:
    """``ln L(Lambda)`` of a catalog (module docstring); call with the hyperparameter dict.

    Args:
        events: the catalog's posterior samples.
        log_rate_density_fn: ``(theta (..., d), hyper) -> (...)``, ``ln rho``; normally
            ``PopulationModel.log_rate_density``.
        selection: the estimator of ``mu``; its columns must match the events'.
        time: ``T`` of the ``N ln T`` term in years (default: ``selection.time``).
        n_buckets: ``None`` for segment reductions over the concatenated samples, or
            the number of padded buckets of events with similar sample counts.
        shard: shard the sample axis over ``jax.devices()``; ``None`` does so when more
            than one device is present (segment layout only).
    """

    def __init__(
        self,
        events: EventSamples,
        log_rate_density_fn: Callable,
        selection: SelectionEstimator,
        time: float | None = None,
        n_buckets: int | None = None,
        shard: bool | None = None,
    ):
        if not isinstance(events, EventSamples):
            raise TypeError(
                f"DiscreteLikelihood: events must be EventSamples, got {type(events).__name__}."
            )
        if tuple(events.parameter_names) != tuple(selection.parameter_names):
            raise ValueError(
                f"DiscreteLikelihood: event columns {events.parameter_names} differ from the "
                f"selection columns {selection.parameter_names}."
            )
        if n_buckets is not None and (not isinstance(n_buckets, int) or n_buckets < 1):
            raise ValueError(
                f"DiscreteLikelihood: n_buckets must be a positive int or None, got {n_buckets!r}."
            )
        self.events = events
        self.log_rate_density_fn = log_rate_density_fn
        self.selection = selection
        self.time = float(selection.time if time is None else time)
        if not self.time > 0:
            raise ValueError(f"DiscreteLikelihood: time must be > 0, got {time}.")
        self.n_buckets = None if n_buckets is None else min(n_buckets, events.num_events)
        devices = jax.devices()
        self._shard = (len(devices) > 1) if shard is None else bool(shard)
        if self.n_buckets is None:
            self._layout = _SegmentLayout(events, devices if self._shard else None)
        else:
            self._layout = _BucketLayout(events, self.n_buckets)
        self._evaluate_jit = jax.jit(self._evaluate)

    @property
    def num_events(self) -> int:
        return self.events.num_events

    def __call__(self, hyper) -> LikelihoodTerms:
        """All terms at ``hyper`` (a dict of scalar arrays); pure and jit-able."""
        return self._evaluate_jit(hyper)

    def _evaluate(self, hyper) -> LikelihoodTerms:
        selection = self.selection.terms(self.log_rate_density_fn, hyper)
        event_ll, event_neff, event_var = self._layout.reduce(self.log_rate_density_fn, hyper)
        log_time_term = self.num_events * float(np.log(self.time))

        def combine(parts):
            event_ll, mu, event_var, mu_var = parts
            total = jnp.sum(event_ll.astype(jnp.float64)) - mu.astype(jnp.float64)
            variance = jnp.sum(event_var.astype(jnp.float64)) + mu_var.astype(jnp.float64)
            return ((total + log_time_term).astype(event_ll.dtype),
                    variance.astype(event_ll.dtype))

        log_l, variance = in_float64(combine)(
            (event_ll, selection.mu, event_var, selection.variance)
        )
        return LikelihoodTerms(
            log_likelihood=log_l,
            log_mu=selection.log_mu,
            mu=selection.mu,
            event_log_likelihoods=event_ll,
            event_effective_samples=event_neff,
            log_likelihood_variance=variance,
            selection_effective_draws=selection.effective_draws,
            selection_variance=selection.variance,
        )

    def log_likelihood(self, hyper) -> jax.Array:
        """``ln L(Lambda)`` only."""
        return self(hyper).log_likelihood


def _event_statistics(peak, first, second, counts):
    """``(event ln L, N_eff, Var(ln L_n))`` from shifted moments (float64 scope)."""
    positive = first > 0
    safe_first = jnp.where(positive, first, 1.0)
    event_ll = jnp.where(positive, peak + jnp.log(safe_first), -jnp.inf) - jnp.log(counts)
    neff = jnp.where(positive, safe_first**2 / jnp.where(positive, second, 1.0), 0.0)
    variance = jnp.where(positive, second / safe_first**2 - 1.0 / counts, jnp.inf)
    return event_ll, neff, variance


class _SegmentLayout:
    """Concatenated samples and segment reductions (optionally sharded)."""

    def __init__(self, events: EventSamples, devices):
        self.num_events = events.num_events
        theta, log_prior, index = events.theta, events.log_prior, events.event_index
        self.sharding = None
        if devices is not None and len(devices) > 1:
            pad = (-theta.shape[0]) % len(devices)
            theta = np.concatenate([theta, np.repeat(theta[:1], pad, axis=0)])
            log_prior = np.concatenate([log_prior, np.zeros(pad)])
            index = np.concatenate([index, np.full(pad, self.num_events, np.int32)])
            mesh = jax.sharding.Mesh(np.asarray(devices), ("samples",))
            self.sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("samples"))
        self.theta, self.log_prior, self.index = theta, log_prior, index.astype(np.int32)
        self.counts = events.counts.astype(np.float64)

    def _constrain(self, x):
        if self.sharding is None:
            return x
        return jax.lax.with_sharding_constraint(x, self.sharding)

    def reduce(self, fn, hyper):
        theta = self._constrain(jnp.asarray(self.theta, dtype=jnp.result_type(float)))
        log_rho = self._constrain(fn(theta, hyper))
        segments = self.num_events + (self.sharding is not None)
        index, log_prior, counts = self.index, self.log_prior, self.counts
        n = self.num_events

        def reduce(log_rho):
            idx = jnp.asarray(index)
            terms = log_rho.astype(jnp.float64) - jnp.asarray(log_prior, jnp.float64)
            peak = jax.ops.segment_max(terms, idx, segments, indices_are_sorted=True)
            peak = jax.lax.stop_gradient(jnp.where(jnp.isfinite(peak), peak, 0.0))
            scaled = jnp.exp(terms - peak[idx])
            first = jax.ops.segment_sum(scaled, idx, segments, indices_are_sorted=True)
            second = jax.ops.segment_sum(scaled**2, idx, segments, indices_are_sorted=True)
            stats = _event_statistics(peak[:n], first[:n], second[:n],
                                      jnp.asarray(counts, jnp.float64))
            return tuple(value.astype(log_rho.dtype) for value in stats)

        return in_float64(reduce)(log_rho)


class _BucketLayout:
    """Events sorted by sample count, split into padded, masked buckets."""

    def __init__(self, events: EventSamples, n_buckets: int):
        order = np.argsort(events.counts, kind="stable")
        self.order = order
        self.inverse = np.argsort(order)
        self.buckets = []
        offsets = np.concatenate([[0], np.cumsum(events.counts)])
        for members in np.array_split(order, n_buckets):
            width = int(events.counts[members].max())
            rows = np.zeros((members.size, width), dtype=np.int64)
            mask = np.zeros((members.size, width), dtype=bool)
            for row, n in enumerate(members):
                count = int(events.counts[n])
                rows[row, :count] = np.arange(offsets[n], offsets[n] + count)
                rows[row, count:] = offsets[n]
                mask[row, :count] = True
            self.buckets.append(
                (
                    events.theta[rows],
                    events.log_prior[rows],
                    mask,
                    events.counts[members].astype(np.float64),
                )
            )

    def reduce(self, fn, hyper):
        results = []
        for theta, log_prior, mask, counts in self.buckets:
            log_rho = fn(jnp.asarray(theta, dtype=jnp.result_type(float)), hyper)
            results.append(in_float64(_masked_reduction(log_prior, mask, counts))(log_rho))
        inverse = jnp.asarray(self.inverse)
        return tuple(jnp.concatenate(parts)[inverse] for parts in zip(*results, strict=True))


def _masked_reduction(log_prior, mask, counts):
    def reduce(log_rho):
        terms = log_rho.astype(jnp.float64) - jnp.asarray(log_prior, jnp.float64)
        terms = jnp.where(jnp.asarray(mask), terms, -jnp.inf)
        peak, first, second = shifted_moments(terms, axis=-1)
        stats = _event_statistics(peak, first, second, jnp.asarray(counts))
        return tuple(value.astype(log_rho.dtype) for value in stats)

    return reduce


class MonteCarloErrorWarning(UserWarning):
    """Posterior draws whose likelihood estimate has too large a Monte Carlo error."""


def _violations(event_neff_min, variance, selection_neff, num_events, thresholds):
    min_event, max_variance, selection_ratio = thresholds
    return {
        "min_event_effective_samples": event_neff_min < min_event,
        "log_likelihood_variance": variance > max_variance,
        "selection_effective_draws": selection_neff < selection_ratio * num_events,
    }


def record_diagnostics(
    terms: LikelihoodTerms,
    *,
    min_event_effective_samples: float = 10.0,
    max_log_likelihood_variance: float = 1.0,
    min_selection_ratio: float = 4.0,
    penalty: float | None = None,
    prefix: str = "",
) -> jax.Array:
    """Record the Monte Carlo diagnostics as ``deterministic`` sites in a hierax model.

    Sites (with ``prefix``): ``mu``, ``log_likelihood_variance``,
    ``min_event_effective_samples``, ``selection_effective_draws``. With a
    ``penalty``, a ``factor`` site ``mc_error_penalty`` subtracts it from the log
    density where any threshold is violated (``float("inf")`` rejects such draws).
    Thresholds: per-event effective samples, the variance of ``ln L``
    (Talbot & Golomb 2023 suggest 1) and ``N_eff(selection) >= ratio * N`` (Farr 2019: 4).

    Returns:
        A boolean scalar, True when any threshold is violated.
    """
    from ..primitives import deterministic, factor

    num_events = terms.event_effective_samples.shape[-1]
    event_min = jnp.min(terms.event_effective_samples, axis=-1)
    deterministic(prefix + "mu", terms.mu)
    deterministic(prefix + "log_likelihood_variance", terms.log_likelihood_variance)
    deterministic(prefix + "min_event_effective_samples", event_min)
    deterministic(prefix + "selection_effective_draws", terms.selection_effective_draws)
    checks = _violations(
        event_min,
        terms.log_likelihood_variance,
        terms.selection_effective_draws,
        num_events,
        (min_event_effective_samples, max_log_likelihood_variance, min_selection_ratio),
    )
    violated = jnp.any(jnp.stack(list(checks.values())))
    if penalty is not None:
        if not penalty >= 0:
            raise ValueError(f"record_diagnostics: penalty must be >= 0, got {penalty}.")
        factor(prefix + "mc_error_penalty", jnp.where(violated, -penalty, 0.0))
    return violated


def check_monte_carlo_error(
    samples: Mapping,
    num_events: int,
    *,
    min_event_effective_samples: float = 10.0,
    max_log_likelihood_variance: float = 1.0,
    min_selection_ratio: float = 4.0,
    prefix: str = "",
    warn: bool = True,
) -> dict[str, float]:
    """Fractions of posterior draws that violate each Monte Carlo threshold.

    Args:
        samples: posterior samples holding the sites of :func:`record_diagnostics`.
        num_events: ``N``, the number of events of the catalog.
        warn: issue a :class:`MonteCarloErrorWarning` naming each violated check.

    Returns:
        ``{check name: fraction of draws violating it}``.
    """
    names = ("min_event_effective_samples", "log_likelihood_variance", "selection_effective_draws")
    missing = [prefix + n for n in names if prefix + n not in samples]
    if missing:
        raise ValueError(
            f"check_monte_carlo_error: samples lack the sites {missing}; record them with "
            "record_diagnostics."
        )
    values = [np.asarray(samples[prefix + n], dtype=np.float64) for n in names]
    checks = _violations(
        *values,
        num_events,
        (min_event_effective_samples, max_log_likelihood_variance, min_selection_ratio),
    )
    fractions = {name: float(np.mean(flags)) for name, flags in checks.items()}
    bad = {name: f for name, f in fractions.items() if f > 0}
    if warn and bad:
        details = ", ".join(f"{name}: {100 * f:.1f}% of draws" for name, f in bad.items())
        warnings.warn(
            f"Monte Carlo error too large ({details}); thresholds: event effective samples >= "
            f"{min_event_effective_samples}, Var(ln L) <= {max_log_likelihood_variance}, "
            f"selection effective draws >= {min_selection_ratio} x {num_events} events. "
            "Use more posterior samples or selection draws.",
            MonteCarloErrorWarning,
            stacklevel=2,
        )
    return fractions
