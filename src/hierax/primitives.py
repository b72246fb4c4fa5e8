"""The statements a model is written in: ``sample``, ``plate``, ``deterministic``, ...

A model is a Python function that calls these primitives. On its own a
primitive just draws or returns a value; under effect handlers
(:mod:`hierax.handlers`) the same statements are recorded, conditioned,
rescaled or replayed, which is how inference reads a model.

This module sits below :mod:`hierax.distributions` in the layering: it only
relies on the distribution *interface* (``sample``, ``log_prob``,
``batch_shape``, ``event_shape``, ``expand``, ``mask``).
"""

from __future__ import annotations

import contextlib
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hierax._messenger import Messenger, apply_stack, default_message, handler_stack_is_empty

__all__ = [
    "CondIndepStackFrame",
    "deterministic",
    "factor",
    "get_mask",
    "param",
    "plate",
    "plate_stack",
    "prng_key",
    "sample",
    "subsample",
]


# ----------------------------------------------------------------------------
# sample


def sample(
    name: str,
    fn,
    obs=None,
    rng_key=None,
    sample_shape=(),
    infer: dict | None = None,
    obs_mask=None,
):
    """A random variable ``name`` with distribution ``fn``, observed if ``obs`` is given.

    Args:
        name: the site name, unique within one run of the model.
        fn: a distribution (``hierax.distributions``).
        obs: observed value; the site is then conditioned on it and ``obs`` is returned.
        rng_key: an explicit key; normally supplied by :class:`hierax.handlers.seed`.
        sample_shape: extra leading shape of independent draws.
        infer: inference hints (e.g. ``{"enumerate": "parallel"}``).
        obs_mask: boolean array, true where ``obs`` is observed; the site is
            split into ``{name}_observed`` and a latent ``{name}_unobserved``
            that fills the missing entries.

    Returns:
        The value of the site, of shape ``sample_shape + fn.batch_shape + fn.event_shape``
        (broadcast by enclosing plates).
    """
    _check_site_name(name, "sample")
    if not (hasattr(fn, "sample") and hasattr(fn, "log_prob")):
        raise TypeError(
            f"sample site '{name}': expected a distribution, got {type(fn).__name__}. "
            "Use e.g. hierax.distributions.Normal(0, 1)."
        )
    if obs_mask is not None:
        return _masked_observe(name, fn, obs, obs_mask, rng_key, sample_shape, infer)

    if handler_stack_is_empty():
        if obs is not None:
            return obs
        if rng_key is None:
            raise ValueError(
                f"sample site '{name}' needs a random key but none was given. Run the model "
                "under hierax.handlers.seed(model, rng_seed=0), or use Predictive / MCMC, "
                "or pass rng_key= to hierax.sample."
            )
        return fn(rng_key=rng_key, sample_shape=sample_shape)

    msg = default_message(
        type="sample",
        name=name,
        fn=fn,
        kwargs={"rng_key": rng_key, "sample_shape": tuple(sample_shape)},
        value=obs,
        is_observed=obs is not None,
        infer={} if infer is None else dict(infer),
    )
    msg = apply_stack(msg)
    if msg["is_observed"]:
        _check_observation_shape(msg)
    return msg["value"]


def _check_site_name(name, primitive):
    if not isinstance(name, str):
        raise TypeError(f"{primitive}: the site name must be a str, got {type(name).__name__}.")


def _check_observation_shape(msg):
    fn = msg["fn"]
    value_shape = jnp.shape(msg["value"])
    site_shape = tuple(msg["kwargs"].get("sample_shape", ())) + tuple(fn.batch_shape) + tuple(
        fn.event_shape
    )
    try:
        np.broadcast_shapes(value_shape, site_shape)
    except ValueError:
        raise ValueError(
            f"sample site '{msg['name']}': the observed value has shape {value_shape}, "
            f"which does not broadcast with the distribution's shape {site_shape} "
            f"(batch {tuple(fn.batch_shape)}, event {tuple(fn.event_shape)})."
        ) from None


def _masked_observe(name, fn, obs, obs_mask, rng_key, sample_shape, infer):
    from hierax.handlers import mask  # same layer; deferred to keep modules acyclic

    obs_mask = jnp.asarray(obs_mask)
    if obs_mask.dtype != jnp.bool_:
        raise TypeError(f"sample site '{name}': obs_mask must be boolean, got {obs_mask.dtype}.")
    with mask(mask=obs_mask):
        observed = sample(f"{name}_observed", fn, obs=obs, rng_key=rng_key,
                          sample_shape=sample_shape, infer=infer)
    with mask(mask=~obs_mask):
        unobserved = sample(f"{name}_unobserved", fn, rng_key=rng_key,
                            sample_shape=sample_shape, infer=infer)
    batch_mask = jnp.reshape(obs_mask, jnp.shape(obs_mask) + (1,) * len(fn.event_shape))
    return deterministic(name, jnp.where(batch_mask, observed, unobserved))


# ----------------------------------------------------------------------------
# deterministic, factor, param, prng_key


def deterministic(name: str, value):
    """Record ``value`` under ``name`` so it is stored with the draws; returns it."""
    _check_site_name(name, "deterministic")
    if handler_stack_is_empty():
        return value
    msg = default_message(type="deterministic", name=name, value=value)
    return apply_stack(msg)["value"]


class _LogFactor:
    """The site object behind :func:`factor`: an empty event adding ``log_factor``.

    It offers the slice of the distribution interface that handlers use, so
    that the modeling layer needs no distribution class.
    """

    event_shape = (0,)
    support = None
    is_discrete = False
    has_enumerate_support = False

    def __init__(self, log_factor):
        self.log_factor = log_factor

    @property
    def batch_shape(self):
        return tuple(jnp.shape(self.log_factor))

    def shape(self, sample_shape=()):
        return tuple(sample_shape) + self.batch_shape + self.event_shape

    def sample(self, key=None, sample_shape=()):
        return jnp.empty(self.shape(sample_shape))

    def __call__(self, *args, rng_key=None, sample_shape=(), sample_intermediates=False):
        value = self.sample(rng_key, sample_shape)
        return (value, []) if sample_intermediates else value

    def log_prob(self, value):
        return jnp.broadcast_to(self.log_factor, jnp.shape(value)[:-1])

    def expand(self, batch_shape):
        return _LogFactor(jnp.broadcast_to(self.log_factor, tuple(batch_shape)))

    def mask(self, mask):
        if mask is True:
            return self
        return _LogFactor(jnp.where(mask, self.log_factor, 0.0))


def factor(name: str, log_factor):
    """Add ``log_factor`` to the model's log density (an observed empty site)."""
    _check_site_name(name, "factor")
    site = _LogFactor(log_factor)
    return sample(name, site, obs=site.sample(), infer={"is_auxiliary": True})


def param(name: str, init_value=None, **kwargs):
    """A named parameter (optimised by SVI-style inference, fixed under MCMC).

    Args:
        name: the site name.
        init_value: its initial value, or a function of a key returning it.
        **kwargs: ``constraint`` (a constraint; default real), ``event_dim``.

    Returns:
        The current value: ``init_value`` unless a handler substitutes another.
    """
    _check_site_name(name, "param")
    if handler_stack_is_empty():
        if callable(init_value):
            raise ValueError(
                f"param site '{name}': a callable init_value needs a random key; run the "
                "model under hierax.handlers.seed."
            )
        return init_value

    if callable(init_value):
        def fn(init_fn, *args, **kwargs):
            return init_fn(prng_key())
    else:
        def fn(init_value, *args, **kwargs):
            return init_value

    msg = default_message(type="param", name=name, fn=fn, args=(init_value,), kwargs=kwargs)
    return apply_stack(msg)["value"]


def prng_key():
    """A fresh random key from the enclosing :class:`~hierax.handlers.seed` (None if unseeded)."""
    if handler_stack_is_empty():
        return None
    msg = default_message(
        type="prng_key",
        fn=lambda rng_key: rng_key,
        kwargs={"rng_key": None},
    )
    return apply_stack(msg)["value"]


# ----------------------------------------------------------------------------
# plates


class CondIndepStackFrame(NamedTuple):
    """A plate as seen by a site: its name, its (negative) batch dim and its size."""

    name: str
    dim: int
    size: int


def _subsample_indices(size, subsample_size, rng_key=None):
    if rng_key is None:
        raise ValueError(
            "plate: subsampling needs a random key; run the model under hierax.handlers.seed."
        )
    return jax.random.choice(rng_key, size, (subsample_size,), replace=False)


class plate(Messenger):
    """Declare ``size`` conditionally independent copies along a batch dimension.

    Sites inside the plate are broadcast (``fn.expand``) so that their batch
    shape has ``size`` (or ``subsample_size``) at dimension ``dim``. With
    ``subsample_size < size``, a random subset of indices is drawn, returned by
    ``__enter__``, and log densities are scaled by ``size / subsample_size``.

    Args:
        name: plate name (recorded in each site's ``cond_indep_stack``).
        size: number of copies.
        subsample_size: size of a random mini-batch (default: ``size``).
        dim: the batch dim to use, a negative int; by default the rightmost
            dim not used by an enclosing plate.
    """

    def __init__(self, name: str, size: int, subsample_size: int | None = None, dim=None):
        _check_site_name(name, "plate")
        self.name = name
        self.size = _as_plate_int(name, "size", size)
        if subsample_size is not None:
            subsample_size = _as_plate_int(name, "subsample_size", subsample_size)
            if subsample_size > self.size:
                raise ValueError(
                    f"plate '{name}': subsample_size={subsample_size} exceeds size={self.size}."
                )
        self.subsample_size = self.size if subsample_size is None else subsample_size
        self.dim = self._choose_dim(dim)
        self._indices = self._draw_indices()
        super().__init__()

    def _choose_dim(self, dim):
        used = {frame.dim for frame in _enclosing_plate_frames()}
        if dim is None:
            dim = -1
            while dim in used:
                dim -= 1
            return dim
        if not isinstance(dim, int) or dim >= 0:
            raise ValueError(f"plate '{self.name}': dim must be a negative int, got {dim!r}.")
        if dim in used:
            raise ValueError(
                f"plate '{self.name}': dim={dim} is already used by an enclosing plate; "
                "choose another dim or leave dim=None."
            )
        return dim

    def _draw_indices(self):
        if self.subsample_size == self.size:
            return jnp.arange(self.size)
        if handler_stack_is_empty():
            raise ValueError(
                f"plate '{self.name}': subsampling needs a random key; run the model under "
                "hierax.handlers.seed."
            )
        msg = default_message(
            type="plate",
            name=self.name,
            fn=_subsample_indices,
            args=(self.size, self.subsample_size),
            kwargs={"rng_key": None},
        )
        return apply_stack(msg)["value"]

    def __enter__(self):
        super().__enter__()
        return self._indices

    @property
    def _frame(self):
        return CondIndepStackFrame(self.name, self.dim, self.subsample_size)

    def process_message(self, msg):
        if msg["type"] not in ("sample", "param", "deterministic", "plate", "subsample"):
            return
        if msg["type"] == "subsample":
            self._subsample_value(msg)
            return
        msg["cond_indep_stack"] = [*msg["cond_indep_stack"], self._frame]
        if msg["type"] != "sample":
            return
        msg["fn"] = _broadcast_to_plates(msg)
        if self.size != self.subsample_size:
            ratio = self.size / self.subsample_size
            msg["scale"] = ratio if msg["scale"] is None else msg["scale"] * ratio

    def _subsample_value(self, msg):
        if self.size == self.subsample_size:
            return
        event_dim = msg["kwargs"]["event_dim"]
        value = msg["value"]
        axis = self.dim - event_dim
        if jnp.shape(value)[axis] != self.size:
            raise ValueError(
                f"subsample: data of shape {jnp.shape(value)} has size "
                f"{jnp.shape(value)[axis]} at dim {axis}, but plate '{self.name}' has size "
                f"{self.size}."
            )
        msg["value"] = jnp.take(value, self._indices, axis=axis)


def _as_plate_int(name, what, value):
    try:
        as_int = int(value)
    except (TypeError, ValueError, jax.errors.ConcretizationTypeError):
        raise TypeError(
            f"plate '{name}': {what} must be a concrete int, got {value!r}."
        ) from None
    if as_int != value or as_int < 0:
        raise ValueError(f"plate '{name}': {what} must be a non-negative int, got {value!r}.")
    return as_int


def _enclosing_plate_frames():
    from hierax._messenger import active_handlers

    return [h._frame for h in active_handlers() if isinstance(h, plate)]


def _plates_batch_shape(frames) -> tuple[int, ...]:
    if not frames:
        return ()
    ndim = max(-frame.dim for frame in frames)
    shape = [1] * ndim
    for frame in frames:
        shape[frame.dim] = frame.size
    return tuple(shape)


def _broadcast_to_plates(msg):
    """Expand the site's distribution so its batch shape covers every enclosing plate."""
    fn = msg["fn"]
    sample_shape = tuple(msg["kwargs"].get("sample_shape", ()))
    dist_batch = sample_shape + tuple(fn.batch_shape)
    plates_shape = _plates_batch_shape(msg["cond_indep_stack"])
    overlap = max(len(plates_shape) - len(dist_batch), 0)
    trailing = plates_shape[overlap:]
    try:
        broadcast = np.broadcast_shapes(trailing, dist_batch)
    except ValueError:
        raise ValueError(_plate_mismatch_message(msg, dist_batch)) from None
    if len(broadcast) > len(dist_batch) or any(
        b != d and d != 1 for b, d in zip(broadcast[-len(dist_batch):], dist_batch, strict=False)
    ):
        raise ValueError(_plate_mismatch_message(msg, dist_batch))
    if sample_shape:
        msg["kwargs"]["sample_shape"] = ()
    return fn.expand(plates_shape[:overlap] + tuple(broadcast))


def _plate_mismatch_message(msg, dist_batch):
    plates = ", ".join(
        f"'{f.name}' (size {f.size}, dim {f.dim})" for f in msg["cond_indep_stack"]
    )
    return (
        f"sample site '{msg['name']}': its batch shape {dist_batch} does not match the "
        f"enclosing plates {plates}. Each batch dim must equal the plate size at that dim "
        "or be 1; check the parameter shapes or the plate sizes."
    )


@contextlib.contextmanager
def plate_stack(prefix: str, sizes, rightmost_dim: int = -1):
    """Nested plates ``{prefix}_0, {prefix}_1, ...`` covering ``sizes`` (rightmost last)."""
    with contextlib.ExitStack() as stack:
        for i, size in enumerate(reversed(list(sizes))):
            stack.enter_context(plate(f"{prefix}_{i}", size, dim=rightmost_dim - i))
        yield


def subsample(data, event_dim: int):
    """Slice ``data`` by the indices of the enclosing subsampling plates.

    Args:
        data: array whose batch dims line up with the plates.
        event_dim: number of rightmost dims of ``data`` that are not batch dims.
    """
    if handler_stack_is_empty():
        return data
    if not isinstance(event_dim, int) or event_dim < 0:
        raise ValueError(f"subsample: event_dim must be a non-negative int, got {event_dim!r}.")
    msg = default_message(type="subsample", value=data, kwargs={"event_dim": event_dim})
    return apply_stack(msg)["value"]


def get_mask():
    """The mask in force from enclosing :class:`~hierax.handlers.mask` handlers, or None."""
    if handler_stack_is_empty():
        return None
    msg = default_message(type="mask", value=None)
    return apply_stack(msg)["value"]
