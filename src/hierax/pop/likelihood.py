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

Layout: events of similar sample counts are grouped into padded, masked
``(events, width)`` buckets, chosen so that padding adds at most 10% of the
samples (a single dense block when all counts are equal), or ``n_buckets`` of
them as asked; the rows of all buckets and the selection draws are evaluated
in one call of ``ln rho`` and each bucket is a reshape of its slice. The
``"segments"`` layout (implied when the sample axis is sharded across several
JAX devices) concatenates the samples without padding and reduces with
``jax.ops.segment_max``/``segment_sum``. All layouts give the same value to
rounding.

For a single sharp power law (``PopulationModel(n_pl=1)`` over the two masses),
the event sums and ``mu_hat`` come from one pass over the samples with its
gradient in the same pass (:mod:`hierax.pop.fused_likelihood`, about twice as
fast on a CPU); ``fused=False`` forces the generic path.

Precision: ``ln rho`` is evaluated in the caller's precision; the reductions
(exponentials, sums, logs) run in float64 inside a scoped
``jax.enable_x64(True)`` whatever the caller's setting, with the backward pass
re-entering the scope (:func:`hierax.pop.selection.base.in_float64`). Values are
cast back to the caller's precision, so a float32 ``ln L`` equals the float64
one to the float32 rounding of ``ln rho`` and of the result. The one-pass sums
stay in the caller's precision (their float32 rounding is measured in
``tests/pop/test_fused_likelihood.py``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np

from .data import EventSamples
from .fused_likelihood import fused_power_law
from .selection.base import SelectionEstimator, in_float64, shifted_moments

__all__ = [
    "Bucket",
    "BucketLayout",
    "DiscreteLikelihood",
    "LikelihoodTerms",
    "RateDensity",
    "MonteCarloErrorWarning",
    "check_monte_carlo_error",
    "describe_unsupported_events",
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

    ``log_likelihood``, ``log_mu``, ``mu`` and ``event_log_likelihoods`` are
    differentiable; the Monte Carlo error diagnostics carry no gradient.
    """

    log_likelihood: jax.Array
    log_mu: jax.Array
    mu: jax.Array
    event_log_likelihoods: jax.Array
    event_effective_samples: jax.Array
    log_likelihood_variance: jax.Array
    selection_effective_draws: jax.Array
    selection_variance: jax.Array


@runtime_checkable
class RateDensity(Protocol):
    """What :class:`DiscreteLikelihood` needs of a population.

    ``log_rate_density(theta, hyper)`` is ``ln rho`` at the rows ``theta (..., d)``, row
    by row. Two optional methods open faster and safer paths, used when present:

    - ``prepare_rows(theta)``: rows with the ``Lambda``-independent quantities computed
      once (e.g. :class:`hierax.pop.models.PreparedRows`), accepted by
      ``log_rate_density`` in place of ``theta``;
    - ``unsupported_samples(theta) -> [(reason, (M,) bool mask)]``: samples no
      hyperparameter value supports; events made only of such samples are refused.

    :class:`hierax.pop.models.PopulationModel` implements all three.
    """

    def log_rate_density(self, theta, hyper) -> jax.Array: ...


class _FunctionRateDensity:
    """A bare ``ln rho`` function as a :class:`RateDensity` (no optional methods)."""

    def __init__(self, fn: Callable):
        self.log_rate_density = fn


def _as_rate_density(population) -> Any:
    if isinstance(population, RateDensity):
        return population
    if callable(population):
        return _FunctionRateDensity(population)
    raise TypeError(
        "DiscreteLikelihood: population must have a log_rate_density(theta, hyper) method "
        f"(e.g. a PopulationModel) or be such a function, got {type(population).__name__}."
    )


class DiscreteLikelihood:
    """``ln L(Lambda)`` of a catalog (module docstring); call with the hyperparameter dict.

    Args:
        events: the catalog's posterior samples.
        population: the population, a :class:`RateDensity` such as a
            :class:`hierax.pop.models.PopulationModel`, or a bare function
            ``(theta (..., d), hyper) -> (...)`` giving ``ln rho`` row by row. A bare
            function (a bound ``log_rate_density`` method included) gets the generic path
            only: no prepared rows, no check of unsupported events, no one-pass sums.
        selection: the estimator of ``mu``; its columns must match the events'.
        time: ``T`` of the ``N ln T`` term in years (default: ``selection.time``).
        n_buckets: the number of padded buckets of events with similar sample counts, or
            ``None`` to choose them so that padding adds less than ``max_padding`` of the
            samples (one bucket, no padding, when all events have the same count).
        shard: shard the sample axis over ``jax.devices()``; ``None`` does so when more
            than one device is present (segment layout).
        layout: ``"buckets"`` (default) or ``"segments"`` (segment reductions over the
            concatenated samples, no padding; implied by sharding).
        max_padding: largest fraction of padded samples the automatic buckets may add.
        fused: evaluate the event sums and ``mu_hat`` of a single sharp power law in one
            pass (:mod:`hierax.pop.fused_likelihood`, about twice as fast with its
            gradient on a CPU): ``None`` (default) where it applies, ``False`` never,
            ``True`` or a ``ValueError`` naming why it does not apply. Both give the same
            terms to rounding; the one-pass sums and diagnostics are in the caller's
            precision.
    """

    def __init__(
        self,
        events: EventSamples,
        population: RateDensity | Callable,
        selection: SelectionEstimator,
        time: float | None = None,
        n_buckets: int | None = None,
        shard: bool | None = None,
        *,
        layout: str = "buckets",
        max_padding: float = 0.1,
        fused: bool | None = None,
    ):
        _check_arguments(events, selection, n_buckets, layout, max_padding)
        population = _as_rate_density(population)
        _check_supported_events(events, population)
        self.events = events
        self.population = population
        self.log_rate_density_fn = population.log_rate_density
        self.selection = selection
        self.time = float(selection.time if time is None else time)
        if not self.time > 0:
            raise ValueError(f"DiscreteLikelihood: time must be > 0, got {time}.")
        self.n_buckets = None if n_buckets is None else min(n_buckets, events.num_events)
        devices = jax.devices()
        self._shard = (len(devices) > 1) if shard is None else bool(shard)
        if self._shard or layout == "segments":
            self._layout = _SegmentLayout(events, devices if self._shard else None)
        else:
            groups = (
                automatic_buckets(events.counts, max_padding)
                if self.n_buckets is None
                else even_buckets(events.counts, self.n_buckets)
            )
            self._layout = BucketLayout(events, groups)
        self._fused = None
        if fused is not False and isinstance(self._layout, BucketLayout):
            self._fused = fused_power_law(population, self._layout, selection)
        if fused is True and self._fused is None:
            raise ValueError(
                "DiscreteLikelihood: fused=True needs a PopulationModel with one power law "
                "and no other component or column, an unbatched selection and the bucket "
                "layout on one device."
            )
        self._rows = None
        if (self._fused is None and isinstance(self._layout, BucketLayout)
                and selection.batch_size is None):
            self._rows = _prepared_rows(population, self._layout.theta, selection.theta)
        self._evaluate_jit = jax.jit(self._evaluate)

    @property
    def fused(self) -> bool:
        """Whether the event sums and ``mu_hat`` come from the one-pass evaluation."""
        return self._fused is not None

    @property
    def num_events(self) -> int:
        return self.events.num_events

    def __call__(self, hyper) -> LikelihoodTerms:
        """All terms at ``hyper`` (a dict of scalar arrays); pure and jit-able."""
        return self._evaluate_jit(hyper)

    def _log_rates(self, hyper):
        """``(ln rho at the event rows, selection terms)``.

        With the bucket layout and an unbatched selection, ``ln rho`` is evaluated once
        over the event rows and the selection draws together, padded to a multiple of
        ``_ROW_MULTIPLE`` rows (the padding rows repeat a sample and are sliced off).
        """
        fn, selection = self.log_rate_density_fn, self.selection
        layout = self._layout
        if self._rows is None:
            return layout.log_rate(fn, hyper), selection.terms(fn, hyper)
        dtype = jnp.result_type(float)
        rows = jax.tree.map(lambda a: jnp.asarray(a, dtype=dtype), self._rows)
        log_rho = fn(rows, hyper)
        num_event_rows = layout.theta.shape[0]
        draws = log_rho[num_event_rows : num_event_rows + selection.num_draws]
        return log_rho[:num_event_rows], selection.terms_from_log_rate(draws)

    def _evaluate(self, hyper) -> LikelihoodTerms:
        if self._fused is None:
            log_rho, selection = self._log_rates(hyper)
            event_ll, event_neff, event_var = self._layout.reduce(log_rho)
        else:
            event_ll, event_neff, event_var, selection = self._fused_terms(hyper)
        log_time_term = self.num_events * float(np.log(self.time))

        def combine(parts, wide):
            event_ll, mu, event_var, mu_var = parts
            total = jnp.sum(event_ll.astype(wide)) - mu.astype(wide)
            variance = jnp.sum(event_var.astype(wide)) + mu_var.astype(wide)
            return ((total + log_time_term).astype(event_ll.dtype),
                    variance.astype(event_ll.dtype))

        parts = (event_ll, selection.mu, event_var, selection.variance)
        if self._fused is None:
            log_l, variance = in_float64(lambda p: combine(p, jnp.float64))(parts)
        else:  # the one-pass terms stay in the caller's precision (and allow forward mode)
            log_l, variance = combine(parts, event_ll.dtype)
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

    def _fused_terms(self, hyper):
        """``(event ln L, N_eff, Var(ln L_n), SelectionTerms)`` from the one-pass sums."""
        fused = self._fused(hyper)
        counts = jnp.asarray(self.events.counts, fused.event_log_sums.dtype)
        event_ll = fused.event_log_sums - jnp.log(counts)
        _, event_neff, event_var = _event_statistics(*fused.event_moments, counts)
        selection = self.selection.terms_from_moments(*fused.selection_moments)
        selection = selection._replace(log_mu=fused.log_mu, mu=jnp.exp(fused.log_mu))
        return event_ll, event_neff, event_var, selection

    def log_likelihood(self, hyper) -> jax.Array:
        """``ln L(Lambda)`` only."""
        return self(hyper).log_likelihood


# XLA:CPU (jaxlib 0.10) runs elementwise programs over arrays of odd length an order of
# magnitude slower per element than over lengths that are multiples of a small power of 2.
_ROW_MULTIPLE = 128


def _prepared_rows(population, *blocks):
    """The rows ``ln rho`` is evaluated on: the ``(n_i, d)`` blocks concatenated and padded
    to a multiple of ``_ROW_MULTIPLE`` rows by repeating the first row (a valid sample, so
    ``ln rho`` and its gradient stay finite there; the padding is sliced off).

    When the population has ``prepare_rows`` (:class:`RateDensity`), the rows are
    prepared with it once here, in float64, instead of at every evaluation.
    """
    rows = np.concatenate(blocks, axis=0)
    pad = (-rows.shape[0]) % _ROW_MULTIPLE
    if pad:
        rows = np.concatenate([rows, np.repeat(rows[:1], pad, axis=0)])
    prepare = getattr(population, "prepare_rows", None)
    return prepare(rows) if callable(prepare) else rows


def _check_arguments(events, selection, n_buckets, layout, max_padding):
    if not isinstance(events, EventSamples):
        raise TypeError(
            f"DiscreteLikelihood: events must be EventSamples, got {type(events).__name__}."
        )
    if tuple(events.parameter_names) != tuple(selection.parameter_names):
        raise ValueError(
            f"DiscreteLikelihood: event columns {events.parameter_names} differ from the "
            f"selection columns {selection.parameter_names}."
        )
    if n_buckets is not None and (
        isinstance(n_buckets, bool) or not isinstance(n_buckets, int) or n_buckets < 1
    ):
        raise ValueError(
            f"DiscreteLikelihood: n_buckets must be a positive int or None, got {n_buckets!r}."
        )
    if layout not in ("buckets", "segments"):
        raise ValueError(
            f"DiscreteLikelihood: layout must be 'buckets' or 'segments', got {layout!r}."
        )
    if not 0 <= max_padding < 1:
        raise ValueError(f"DiscreteLikelihood: max_padding must lie in [0, 1), got {max_padding}.")


def _check_supported_events(events: EventSamples, population) -> None:
    """Refuse events that no hyperparameter value can explain (a zero likelihood everywhere).

    Applies when the population has ``unsupported_samples(theta) -> [(reason, mask)]``
    (:class:`RateDensity`, :meth:`hierax.pop.models.PopulationModel.unsupported_samples`).
    """
    check = getattr(population, "unsupported_samples", None)
    if not callable(check):
        return
    starts = np.concatenate([[0], np.cumsum(events.counts)[:-1]])
    for reason, mask in check(events.theta):
        everywhere = np.logical_and.reduceat(np.asarray(mask, bool), starts)
        if np.any(everywhere):
            raise ValueError(describe_unsupported_events(
                events, np.flatnonzero(everywhere),
                f"every sample has {reason}, so no hyperparameter value gives {{these}} a "
                "nonzero likelihood"))


def describe_unsupported_events(events: EventSamples, indices, why: str) -> str:
    """One message naming the events ``indices`` (at most 10) that no population explains.

    ``why`` says what is wrong with them; ``{these}`` in it becomes "this event" or
    "these events".
    """
    indices = [int(n) for n in indices]
    named = "; ".join(events.describe_event(n) for n in indices[:10])
    more = f" and {len(indices) - 10} more" if len(indices) > 10 else ""
    these, them = ("this event", "it") if len(indices) == 1 else ("these events", "them")
    why = why.replace("{these}", these)
    return f"{named}{more}: {why}; check the columns of {these} or leave {them} out."


def even_buckets(counts, n_buckets: int) -> list[np.ndarray]:
    """Events sorted by sample count (descending), split into ``n_buckets`` groups of
    (nearly) equal numbers of events; a list of index arrays."""
    order = np.argsort(-np.asarray(counts), kind="stable")
    return [group for group in np.array_split(order, n_buckets) if group.size]


def automatic_buckets(counts, max_padding: float = 0.1) -> list[np.ndarray]:
    """Groups of events for padded buckets, with at most ``max_padding`` padding per bucket.

    Events are taken in order of decreasing sample count; a bucket is as wide as its
    first (largest) event and takes the next events while its padded rows stay within
    ``(1 + max_padding)`` times its samples. Equal counts give one bucket, no padding.
    """
    counts = np.asarray(counts, dtype=np.int64)
    order = np.argsort(-counts, kind="stable")
    groups, start, total = [], 0, 0
    for position, n in enumerate(order):
        width = counts[order[start]]
        size = position - start + 1
        if position > start and width * size > (1 + max_padding) * (total + counts[n]):
            groups.append(order[start:position])
            start, total = position, 0
        total += counts[n]
    groups.append(order[start:])
    return groups


def _event_statistics(peak, first, second, counts):
    """``(event ln L, N_eff, Var(ln L_n))`` from shifted moments (float64 scope).

    Only ``event ln L`` carries a gradient; the two Monte Carlo error
    diagnostics do not.
    """
    positive = first > 0
    safe_first = jnp.where(positive, first, 1.0)
    event_ll = jnp.where(positive, peak + jnp.log(safe_first), -jnp.inf) - jnp.log(counts)
    safe_first = jax.lax.stop_gradient(safe_first)
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

    def log_rate(self, fn, hyper):
        theta = self._constrain(jnp.asarray(self.theta, dtype=jnp.result_type(float)))
        return self._constrain(fn(theta, hyper))

    def reduce(self, log_rho):
        segments = self.num_events + (self.sharding is not None)
        index, log_prior, counts = self.index, self.log_prior, self.counts
        n = self.num_events

        def reduce(log_rho):
            idx = jnp.asarray(index)
            terms = log_rho - jnp.asarray(log_prior, log_rho.dtype)
            peak = jax.ops.segment_max(terms, idx, segments, indices_are_sorted=True)
            peak = jax.lax.stop_gradient(jnp.where(jnp.isfinite(peak), peak, 0.0))
            # As shifted_moments: exponentials in the working dtype, sums in float64.
            scaled = jnp.exp(terms - peak[idx]).astype(jnp.float64)
            first = jax.ops.segment_sum(scaled, idx, segments, indices_are_sorted=True)
            second = jax.ops.segment_sum(jax.lax.stop_gradient(scaled) ** 2, idx, segments,
                                         indices_are_sorted=True)
            stats = _event_statistics(peak[:n].astype(jnp.float64), first[:n], second[:n],
                                      jnp.asarray(counts, jnp.float64))
            return tuple(value.astype(log_rho.dtype) for value in stats)

        return in_float64(reduce)(log_rho)


class Bucket(NamedTuple):
    """One bucket of a :class:`BucketLayout`.

    Attributes:
        start: its first row in ``BucketLayout.theta``.
        size: the number of events in it.
        width: the samples per event after padding; it spans ``size * width`` rows.
        mask: ``(size, width)`` bool, False on padding rows; ``None`` when none is padded.
        counts: ``(size,)`` float64, the events' sample counts.
    """

    start: int
    size: int
    width: int
    mask: np.ndarray | None
    counts: np.ndarray


class BucketLayout:
    """Events in padded, masked ``(events, width)`` buckets laid out one after another.

    Attributes:
        theta: ``(rows, d)`` the rows of every bucket, flattened in order (padding rows
            repeat the event's first sample); a bucket is a reshape of its slice of
            ``ln rho``, so the per-event reductions need no gather or scatter.
        log_prior: ``(rows,)`` the reference prior of each row (0 on padding rows).
        buckets: the :class:`Bucket` s, in row order.
        inverse: ``(N,)`` the position of each event (in catalog order) among the
            buckets' events; ``identity_order`` is True when it is ``arange(N)``.
    """

    def __init__(self, events: EventSamples, groups):
        offsets = np.concatenate([[0], np.cumsum(events.counts)])
        order = np.concatenate(groups)
        self.inverse = np.argsort(order)
        self.identity_order = bool(np.all(order == np.arange(order.size)))
        self.buckets, rows, priors, start = [], [], [], 0
        for members in groups:
            counts = events.counts[members]
            width = int(counts.max())
            columns = np.arange(width)
            mask = columns[None, :] < counts[:, None]
            index = offsets[members][:, None] + np.where(mask, columns[None, :], 0)
            rows.append(index.reshape(-1))
            priors.append(np.where(mask, events.log_prior[index], 0.0).reshape(-1))
            full = bool(mask.all())
            self.buckets.append(Bucket(start, int(members.size), width,
                                       None if full else mask, counts.astype(np.float64)))
            start += members.size * width
        rows = np.concatenate(rows)
        self.theta = events.theta[rows]
        self.log_prior = np.concatenate(priors)

    def log_rate(self, fn, hyper):
        return fn(jnp.asarray(self.theta, dtype=jnp.result_type(float)), hyper)

    def reduce(self, log_rho):
        buckets, log_prior = self.buckets, self.log_prior
        inverse = None if self.identity_order else self.inverse

        def reduce(log_rho):
            terms = log_rho - jnp.asarray(log_prior, log_rho.dtype)
            parts = []
            for start, size, width, mask, counts in buckets:
                block = terms[start : start + size * width].reshape(size, width)
                if mask is not None:
                    block = jnp.where(jnp.asarray(mask), block, -jnp.inf)
                peak, first, second = shifted_moments(block, axis=-1)
                parts.append(_event_statistics(peak, first, second, jnp.asarray(counts)))
            stats = [jnp.concatenate(p) if len(p) > 1 else p[0] for p in zip(*parts, strict=True)]
            if inverse is not None:
                stats = [value[jnp.asarray(inverse)] for value in stats]
            return tuple(value.astype(log_rho.dtype) for value in stats)

        return in_float64(reduce)(log_rho)


class MonteCarloErrorWarning(UserWarning):
    """Posterior draws whose likelihood estimate has too large a Monte Carlo error."""


def _violations(event_neff_min, variance, selection_neff, num_events, thresholds):
    min_event, max_variance, selection_ratio = thresholds
    return {
        "min_event_effective_samples": event_neff_min < min_event,
        "log_likelihood_variance": variance > max_variance,
        "selection_effective_draws": selection_neff < selection_ratio * num_events,
    }


MC_ERROR_RULES = ("warn", "cut", "penalty")
"""What :func:`record_diagnostics` does where a Monte Carlo threshold is violated: only
record it (the run's summary warns), reject the draw (``ln p = -inf``), or subtract
``penalty`` times the relative excess over the thresholds."""


def _relative_excess(event_min, variance, selection_neff, num_events, thresholds):
    """``sum`` over the three checks of ``max(0, excess)``: ``min / N_eff - 1`` for the
    effective sample sizes, ``Var / max - 1`` for ``Var(ln L)``; 0 where all pass."""
    min_event, max_variance, selection_ratio = thresholds
    tiny = jnp.finfo(jnp.result_type(event_min)).tiny
    parts = (min_event / jnp.maximum(event_min, tiny) - 1.0,
             variance / max_variance - 1.0,
             selection_ratio * num_events / jnp.maximum(selection_neff, tiny) - 1.0)
    return sum(jnp.maximum(part, 0.0) for part in parts)


def record_diagnostics(
    terms: LikelihoodTerms,
    *,
    min_event_effective_samples: float = 10.0,
    max_log_likelihood_variance: float = 1.0,
    min_selection_ratio: float = 4.0,
    penalty: float | None = None,
    rule: str | None = None,
    prefix: str = "",
) -> jax.Array:
    """Record the Monte Carlo diagnostics as ``deterministic`` sites in a hierax model,
    and enforce them by ``rule``.

    Sites (with ``prefix``): ``mu``, ``log_likelihood_variance``,
    ``min_event_effective_samples``, ``selection_effective_draws``. Thresholds:
    per-event effective samples, the variance of ``ln L`` (Talbot & Golomb 2023, MNRAS
    526, 3495, suggest 1) and ``N_eff(selection) >= ratio * N`` (Farr 2019, RNAAS 3, 66: 4).

    Args:
        rule: one of :data:`MC_ERROR_RULES`. ``"warn"`` (default) only records;
            ``"cut"`` adds a ``factor`` site ``mc_error_penalty`` of ``-inf`` where any
            threshold is violated (as GWPopulation's ``maximum_uncertainty`` does for
            the variance); ``"penalty"`` makes it ``-penalty`` times the summed relative
            excess (``N_min / N_eff - 1``, ``Var / Var_max - 1``), continuous in the
            diagnostics and 0 where they pass. The diagnostics carry no gradient, so a
            gradient-based sampler sees the penalty only through its values.
        penalty: the scale of ``"penalty"`` (default 10); without ``rule``, a number
            keeps the older meaning: subtract it wherever a threshold is violated.

    Returns:
        A boolean scalar, True when any threshold is violated.
    """
    from ..primitives import deterministic, factor

    if rule is not None and rule not in MC_ERROR_RULES:
        raise ValueError(f"record_diagnostics: rule must be one of {MC_ERROR_RULES}, got "
                         f"{rule!r}.")
    if penalty is not None and not penalty >= 0:
        raise ValueError(f"record_diagnostics: penalty must be >= 0, got {penalty}.")
    num_events = terms.event_effective_samples.shape[-1]
    event_min = jnp.min(terms.event_effective_samples, axis=-1)
    deterministic(prefix + "mu", terms.mu)
    deterministic(prefix + "log_likelihood_variance", terms.log_likelihood_variance)
    deterministic(prefix + "min_event_effective_samples", event_min)
    deterministic(prefix + "selection_effective_draws", terms.selection_effective_draws)
    thresholds = (min_event_effective_samples, max_log_likelihood_variance, min_selection_ratio)
    values = (jax.lax.stop_gradient(event_min),
              jax.lax.stop_gradient(terms.log_likelihood_variance),
              jax.lax.stop_gradient(terms.selection_effective_draws))
    checks = _violations(*values, num_events, thresholds)
    violated = jnp.any(jnp.stack(list(checks.values())))
    if rule == "cut" or (rule is None and penalty is not None):
        cost = float("inf") if rule == "cut" else penalty
        factor(prefix + "mc_error_penalty", jnp.where(violated, -cost, 0.0))
    elif rule == "penalty":
        scale = 10.0 if penalty is None else penalty
        excess = _relative_excess(*values, num_events, thresholds)
        factor(prefix + "mc_error_penalty", -scale * excess)
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
