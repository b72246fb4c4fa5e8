"""Slice sampling along adapted directions: exact for discontinuous densities.

:class:`Slice` is an MCMC kernel for :class:`~hierax.infer.MCMC` that needs no
gradients. Each transition updates the position along ``d`` directions in turn
(a systematic scan); along each direction it runs Neal's univariate slice
sampler (Neal 2003, section 4: "stepping out" with at most ``max_steps_out``
expansions, then "shrinkage"). Every univariate update leaves the target
invariant whatever the shape of the density along the line, so step
discontinuities (the sharp mass edges of a population likelihood estimated by
Monte Carlo) do not bias the draws, where Hamiltonian dynamics lose energy
conservation at every step and the step size collapses.

Warmup adapts the directions and widths:

- the directions are the columns of the Cholesky factor ``L`` of the posterior
  covariance, estimated over Stan's doubling windows (regularised as in
  Stan); along ``L`` the posterior is roughly white, so coordinate updates of
  the whitened position are nearly independent draws for a Gaussian-like target;
- each direction's width follows a Robbins-Monro rule toward equal numbers of
  expansions and contractions per update (Karamanis & Beutler 2021, section 3.2),
  restarted at 2 posterior standard deviations whenever the directions change.
  With ``max_steps_out=0`` there is no stepping out: the bracket only shrinks,
  and the widths (restarted at 7 standard deviations) adapt toward 1.2 rejected
  proposals per update.

After warmup the kernel is fixed, so the sampling chain is a homogeneous
Markov chain that leaves the posterior invariant.

References:
    Neal, R. M. (2003). Slice sampling. Annals of Statistics 31(3), 705-767.
    Karamanis, M. & Beutler, F. (2021). Ensemble slice sampling. Statistics and
    Computing 31, 61.
    Tibbits, M. M. et al. (2014). Automated factor slice sampling. Journal of
    Computational and Graphical Statistics 23(2), 543-563 (slice updates along
    the factors of an estimated covariance).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hierax.infer.initialization import init_to_uniform
from hierax.infer.kernels.mass_matrix import (
    WelfordState,
    welford_covariance,
    welford_init,
    welford_update,
)
from hierax.infer.kernels.schedule import build_schedule
from hierax.infer.program import build_kernel_program

__all__ = [
    "Slice",
    "SliceInfo",
    "SliceState",
    "slice_along",
]

# Warmup windows: the slice kernel has no step size to settle before the first
# covariance window, so its buffers are shorter than Stan's 75 / 50.
_INIT_BUFFER, _TERM_BUFFER, _BASE_WINDOW = 25, 25, 25
# Learning-rate exponent of the width adaptation, gain (t + 1) ** -_GAIN_DECAY.
_GAIN_DECAY = 0.6
# Bracket width along the Cholesky directions, in posterior standard deviations,
# with and without stepping out.
_WHITENED_WIDTH = 2.0
_WHITENED_WIDTH_SHRINK_ONLY = 7.0
# Without stepping out, the widths adapt toward this many rejected proposals per
# update (a unit Gaussian gives about 1.2 at width 7).
_TARGET_CONTRACTIONS = 1.2


class SliceState(NamedTuple):
    """State of one chain of the slice kernel, warmup included.

    Attributes:
        position: ``(d,)`` flat unconstrained position.
        log_density: scalar, minus the potential energy at ``position``.
        directions: ``(d, d)``; column ``j`` is the ``j``-th update direction.
        widths: ``(d,)`` initial bracket width along each direction.
        adaptation_count: int32 warmup updates since the widths were last reset.
        welford: running covariance of the current slow window (dense).
    """

    position: Any
    log_density: Any
    directions: Any
    widths: Any
    adaptation_count: Any
    welford: WelfordState


class SliceInfo(NamedTuple):
    """Statistics of one transition (a sweep over all directions).

    Attributes:
        num_evaluations: int32 log-density evaluations in the sweep.
        expansions: ``(d,)`` int32 stepping-out expansions per direction.
        contractions: ``(d,)`` int32 rejected proposals (shrinkage steps) per direction.
    """

    num_evaluations: Any
    expansions: Any
    contractions: Any


def _safe_log_density(log_density_fn, x):
    value = log_density_fn(x)
    return jnp.where(jnp.isnan(value), -jnp.inf, value)


def _step_out(log_density_fn, edge, level, budget, outward):
    """Move ``edge`` outward by ``outward`` while it is inside the slice, at most ``budget`` times.

    Returns ``(edge, expansions, evaluations)``.
    """

    def inside(carry):
        edge, value, left, _ = carry
        return (value > level) & (left > 0)

    def expand(carry):
        edge, _, left, count = carry
        edge = edge + outward
        return edge, log_density_fn(edge), left - 1, count + 1

    value = log_density_fn(edge)
    start = (edge, value, budget, jnp.zeros((), jnp.int32))
    edge, _, _, count = jax.lax.while_loop(inside, expand, start)
    return edge, count, count + 1


def slice_along(key, log_density_fn, x, log_density_x, direction, width, max_steps_out=16,
                max_shrinks=64):
    """One univariate slice update of ``x`` along ``direction`` (Neal 2003, Figs. 3 and 5).

    Args:
        key: a ``jax.random`` key.
        log_density_fn: ``(d,) -> scalar`` log density (``-inf`` outside the support).
        x: ``(d,)`` current position; ``log_density_x`` its log density.
        direction: ``(d,)`` the line ``x + t * direction``.
        width: scalar initial bracket width in units of ``t``.
        max_steps_out: stepping out takes at most ``max_steps_out - 1`` expansions,
            split at random between the two ends (which keeps the update
            reversible); ``0`` skips stepping out: the bracket is ``width`` wide,
            placed at random around ``x``, and only shrinks (valid for any width).
        max_shrinks: safety cap on rejected proposals; past it the position stays
            at ``x`` (valid, as ``x`` lies in every bracket).

    Returns:
        ``(x_new, log_density_new, expansions, contractions, evaluations)``.
    """
    key_level, key_offset, key_split, key_shrink = jax.random.split(key, 4)
    dtype = x.dtype
    along = functools.partial(_line_density, log_density_fn, x, direction)
    level = log_density_x - jax.random.exponential(key_level, (), dtype)
    lower = -width * jax.random.uniform(key_offset, (), dtype)
    upper = lower + width
    zero = jnp.zeros((), jnp.int32)
    grow_left = grow_right = eval_left = eval_right = zero
    if max_steps_out > 0:
        left_budget = jnp.floor(max_steps_out * jax.random.uniform(key_split, (), dtype))
        left_budget = left_budget.astype(jnp.int32)
        right_budget = max_steps_out - 1 - left_budget
        lower, grow_left, eval_left = _step_out(along, lower, level, left_budget, -width)
        upper, grow_right, eval_right = _step_out(along, upper, level, right_budget, width)
    t, value, shrinks = _shrink(along, key_shrink, lower, upper, level, max_shrinks)
    accepted = value > level
    t = jnp.where(accepted, t, jnp.zeros((), dtype))
    value = jnp.where(accepted, value, log_density_x)
    evaluations = eval_left + eval_right + jnp.minimum(shrinks + 1, max_shrinks)
    return (x + t * direction, value, grow_left + grow_right, shrinks, evaluations)


def _line_density(log_density_fn, x, direction, t):
    return _safe_log_density(log_density_fn, x + t * direction)


def _shrink(along, key, lower, upper, level, max_shrinks):
    """Propose uniformly in ``[lower, upper]``, shrinking toward 0 on rejection (Neal Fig. 5).

    Returns ``(t, log_density, rejected proposals)``.
    """

    def rejected(carry):
        _, _, value, _, count, _ = carry
        return (value <= level) & (count < max_shrinks)

    def propose(carry):
        lower, upper, _, _, count, key = carry
        key, key_now = jax.random.split(key)
        t = lower + (upper - lower) * jax.random.uniform(key_now, (), lower.dtype)
        value = along(t)
        inside = value > level
        lower = jnp.where(~inside & (t < 0), t, lower)
        upper = jnp.where(~inside & (t >= 0), t, upper)
        return lower, upper, value, t, count + jnp.where(inside, 0, 1).astype(jnp.int32), key

    minus_inf = jnp.full((), -jnp.inf, lower.dtype)
    start = (lower, upper, minus_inf, jnp.zeros((), lower.dtype), jnp.zeros((), jnp.int32), key)
    _, _, value, t, count, _ = jax.lax.while_loop(rejected, propose, start)
    return t, value, count


def _sweep(key, state: SliceState, log_density_fn, max_steps_out):
    """Update along every direction in turn; returns ``(position, log_density, SliceInfo)``."""
    d = state.position.shape[0]
    keys = jax.random.split(key, d)

    def update(carry, inputs):
        x, value = carry
        key, direction, width = inputs
        x, value, grown, shrunk, evaluations = slice_along(
            key, log_density_fn, x, value, direction, width, max_steps_out)
        return (x, value), (grown, shrunk, evaluations)

    inputs = (keys, state.directions.T, state.widths)
    (x, value), (grown, shrunk, evaluations) = jax.lax.scan(
        update, (state.position, state.log_density), inputs)
    return x, value, SliceInfo(jnp.sum(evaluations).astype(jnp.int32), grown, shrunk)


@functools.lru_cache(maxsize=32)
def _schedule(num_warmup: int):
    return build_schedule(num_warmup, init_buffer=_INIT_BUFFER, term_buffer=_TERM_BUFFER,
                          base_window=_BASE_WINDOW)


def _cholesky_directions(covariance):
    """Columns of the Cholesky factor, or the diagonal standard deviations if it fails."""
    factor = jnp.linalg.cholesky(covariance)
    fallback = jnp.diag(jnp.sqrt(jnp.diag(covariance)))
    return jnp.where(jnp.all(jnp.isfinite(factor)), factor, fallback)


class Slice:
    """Gradient-free slice sampling along adapted directions (module docstring).

    Runs in :class:`~hierax.infer.MCMC` like ``NUTS``: ``MCMC(Slice(model), num_warmup=...,
    num_samples=..., num_chains=..., chain_method="vectorized")``. One transition is
    a sweep of ``d`` univariate slice updates, each costing about 4 to 6 log-density
    evaluations (statistics ``num_evaluations``, ``expansions``, ``contractions``).

    Args:
        model: the model; or give ``potential_fn`` instead (then ``MCMC.run`` needs
            ``init_params``).
        potential_fn: a negative log density over a pytree of parameters.
        width: initial bracket width along each direction (unconstrained units
            before the first covariance window, posterior standard deviations after).
        max_steps_out: most stepping-out expansions per univariate update.
        adapt_directions: estimate the covariance during warmup and update along
            its Cholesky factor; ``False`` keeps the coordinate axes.
        adapt_width: adapt the widths during warmup.
        init_strategy: where chains start (default :func:`init_to_uniform`).

    Example::

        >>> import jax, hierax, hierax.distributions as dist
        >>> from hierax.infer import MCMC
        >>> from hierax.infer.slice import Slice
        >>> def model():
        ...     hierax.sample("x", dist.Uniform(0.0, 1.0))
        >>> mcmc = MCMC(Slice(model), num_warmup=100, num_samples=100, progress_bar=False)
        >>> mcmc.run(jax.random.PRNGKey(0))
        >>> mcmc.get_samples()["x"].shape
        (100,)
    """

    def __init__(self, model=None, potential_fn=None, *, width=1.0, max_steps_out=16,
                 adapt_directions=True, adapt_width=True, init_strategy=init_to_uniform):
        if (model is None) == (potential_fn is None):
            raise ValueError("Slice: give exactly one of model= and potential_fn=.")
        if not float(width) > 0:
            raise ValueError(f"Slice: width must be positive, got {width!r}.")
        if isinstance(max_steps_out, bool) or not isinstance(max_steps_out, int | np.integer) \
                or max_steps_out < 0:
            raise ValueError(f"Slice: max_steps_out must be a non-negative int, got "
                             f"{max_steps_out!r}.")
        self.model = model
        self.potential_fn = potential_fn
        self.width = float(width)
        self.max_steps_out = int(max_steps_out)
        self.adapt_directions = bool(adapt_directions)
        self.adapt_width = bool(adapt_width)
        self.init_strategy = init_strategy

    # -- what the driver calls --------------------------------------------------

    def build_program(self, rng_key, model_args, model_kwargs, init_params, num_chains=1,
                      jit_model_args=None):
        """The model (or potential) as functions of a flat position."""
        return build_kernel_program(self, rng_key, model_args, model_kwargs, init_params,
                                    num_chains, jit_model_args)

    @property
    def _whitened_width(self):
        return _WHITENED_WIDTH if self.max_steps_out > 0 else _WHITENED_WIDTH_SHRINK_ONLY

    @staticmethod
    def _log_density_fn(program, dynamic):
        return lambda z: -program.potential(z, dynamic)

    def init_state(self, position, program, dynamic, num_warmup):
        """The initial :class:`SliceState` at ``position`` (pure; jit-able)."""
        dtype = position.dtype
        d = position.shape[0]
        log_density = _safe_log_density(self._log_density_fn(program, dynamic), position)
        return SliceState(position, log_density, jnp.eye(d, dtype=dtype),
                          jnp.full((d,), self.width, dtype), jnp.zeros((), jnp.int32),
                          welford_init(position, dense=True))

    def step(self, key, state, program, dynamic):
        """One sweep over all directions."""
        x, value, info = _sweep(key, state, self._log_density_fn(program, dynamic),
                                self.max_steps_out)
        return state._replace(position=x, log_density=value), info

    def warmup_before(self, key, state, iteration, num_warmup, program, dynamic):
        """Nothing to do before a warmup transition."""
        return state

    def warmup_after(self, key, state, info, iteration, num_warmup, program, dynamic):
        """After warmup transition ``iteration``: width adaptation and covariance windows."""
        if self.adapt_width:
            state = self._adapt_widths(state, info)
        schedule = _schedule(num_warmup)
        if self.adapt_directions and len(schedule.windows):
            state = self._adapt_directions(state, schedule, iteration)
        return state

    def _adapt_widths(self, state, info):
        """Robbins-Monro steps on ``log w`` per direction, gain ``(t + 1) ** -0.6``.

        With stepping out the signal is ``log(2 (E + 1/2) / (E + C + 1))`` for ``E``
        expansions and ``C`` contractions (Karamanis & Beutler 2021: equal numbers);
        without, ``1.2 - C`` (clipped to ``[-3, 3]``), as ``C`` grows like the log of
        the width.
        """
        dtype = state.widths.dtype
        expansions = info.expansions.astype(dtype)
        contractions = info.contractions.astype(dtype)
        if self.max_steps_out > 0:
            signal = jnp.log(2.0 * (expansions + 0.5) / (expansions + contractions + 1.0))
        else:
            signal = jnp.clip(_TARGET_CONTRACTIONS - contractions, -3.0, 3.0)
        gain = (state.adaptation_count.astype(dtype) + 1.0) ** -_GAIN_DECAY
        widths = state.widths * jnp.exp(gain * signal)
        return state._replace(widths=widths, adaptation_count=state.adaptation_count + 1)

    def _adapt_directions(self, state, schedule, iteration):
        slow = jnp.asarray(schedule.slow)[iteration]
        window_end = jnp.asarray(schedule.window_end)[iteration]
        welford = jax.lax.cond(slow, lambda w: welford_update(w, state.position),
                               lambda w: w, state.welford)
        state = state._replace(welford=welford)

        def close_window(state):
            covariance = welford_covariance(state.welford, regularize=True)
            directions = _cholesky_directions(covariance).astype(state.directions.dtype)
            return state._replace(
                directions=directions,
                widths=jnp.full_like(state.widths, self._whitened_width),
                adaptation_count=jnp.zeros((), jnp.int32),
                welford=welford_init(state.position, dense=True))

        return jax.lax.cond(window_end, close_window, lambda s: s, state)

    @staticmethod
    def position(state):
        return state.position

    @staticmethod
    def step_size(state):
        """The mean bracket width (what the progress bar shows as the step size)."""
        return jnp.mean(state.widths, axis=-1)

    def info_layout(self, program):
        """dtype and per-draw shape of each recorded statistic."""
        d = program.dimension
        return {"diverging": (jnp.bool_, ()), "num_evaluations": (jnp.int32, ()),
                "expansions": (jnp.int32, (d,)), "contractions": (jnp.int32, (d,)),
                "potential_energy": (program.dtype, ()), "step_size": (program.dtype, ())}

    def info_fields(self, info, state):
        """Per-draw statistics; a slice update never diverges."""
        dtype = state.position.dtype
        return {"diverging": jnp.zeros((), jnp.bool_),
                "num_evaluations": info.num_evaluations,
                "expansions": info.expansions.astype(jnp.int32),
                "contractions": info.contractions.astype(jnp.int32),
                "potential_energy": (-state.log_density).astype(dtype),
                "step_size": jnp.mean(state.widths).astype(dtype)}
