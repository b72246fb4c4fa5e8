"""A model (or a raw potential) as pure functions of one flat position vector.

Samplers move a flat ``(d,)`` vector; models speak in dicts of named,
constrained sites. A :class:`ModelProgram` bridges the two for fixed model
arguments:

- ``potential(z, dynamic_args)``: potential energy at the flat unconstrained ``z``;
- ``postprocess(z, dynamic_args)``: constrained latent values and deterministic sites;
- ``initial_positions(keys, dynamic_args)``: valid starts, one per key.

Array arguments of the model are passed as ``dynamic_args`` (traced inputs),
so compiled samplers are reused when the model is run again on new data of
the same shapes. Other arguments (Python numbers, strings, ...) are static:
they may set shapes or control flow.
"""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from hierax.infer.initialization import (
    MAX_INIT_TRIES,
    _check_latents,
    _diagnose_invalid_start,
    _initial_trace,
    _unconstrained_init,
    init_to_uniform,
)
from hierax.infer.util import ModelInfo, ParamInfo, constrain_fn, latent_sites, potential_energy

__all__ = [
    "ModelProgram",
    "PotentialProgram",
    "build_kernel_program",
    "find_valid_initial_params",
    "initialize_model",
    "split_arguments",
]

# Errors JAX raises when a model needs a concrete value of a traced argument.
_NEEDS_CONCRETE_VALUES = (jax.errors.TracerArrayConversionError,
                          jax.errors.ConcretizationTypeError)


class ArgumentSplit(NamedTuple):
    """Model arguments split into traced arrays and a hashable static remainder."""

    dynamic: tuple
    static_key: Any
    treedef: Any
    is_dynamic: tuple


def _is_array(leaf) -> bool:
    return isinstance(leaf, (jax.Array, np.ndarray, np.generic))


def _hashable(leaf):
    if _is_array(leaf):
        array = np.asarray(leaf)
        digest = hashlib.sha1(np.ascontiguousarray(array).view(np.uint8)).hexdigest()
        return ("array", array.shape, str(array.dtype), digest)
    try:
        hash(leaf)
        return leaf
    except TypeError:
        return ("unhashable", id(leaf))


def split_arguments(model_args, model_kwargs, arrays_static=False) -> ArgumentSplit:
    """Separate array leaves (dynamic) from everything else (static) in the arguments.

    With ``arrays_static=True`` arrays are static too (constants of the compiled
    program, keyed by their content), for models that need concrete values.
    """
    leaves, treedef = jax.tree_util.tree_flatten((tuple(model_args), dict(model_kwargs)))
    is_dynamic = tuple(_is_array(leaf) and not arrays_static for leaf in leaves)
    dynamic = tuple(leaf for leaf, dyn in zip(leaves, is_dynamic, strict=True) if dyn)
    static = tuple(
        _hashable(leaf) for leaf, dyn in zip(leaves, is_dynamic, strict=True) if not dyn
    )
    signature = tuple((jnp.shape(x), jnp.result_type(x)) for x in dynamic)
    return ArgumentSplit(dynamic, (treedef, static, is_dynamic, signature), treedef, is_dynamic)


def _join_arguments(split: ArgumentSplit, static_leaves, dynamic):
    dynamic_iter = iter(dynamic)
    static_iter = iter(static_leaves)
    leaves = [next(dynamic_iter) if dyn else next(static_iter) for dyn in split.is_dynamic]
    return jax.tree_util.tree_unflatten(split.treedef, leaves)


class FlatLayout:
    """Where each named array sits in one flat vector (static: built from shapes only).

    Args:
        example: dict name -> array or ``jax.ShapeDtypeStruct``.
    """

    def __init__(self, example):
        self.names = tuple(sorted(example))
        self.shapes = {name: tuple(example[name].shape) for name in self.names}
        sizes = [int(np.prod(self.shapes[name], dtype=int)) for name in self.names]
        self.offsets = dict(zip(self.names, np.cumsum([0, *sizes[:-1]]).tolist(), strict=True))
        self.sizes = dict(zip(self.names, sizes, strict=True))
        self.size = int(sum(sizes))
        dtypes = {jnp.dtype(example[name].dtype) for name in self.names}
        self.dtype = jnp.result_type(*dtypes) if dtypes else jnp.dtype(jnp.float32)

    def unravel(self, z):
        """dict name -> array from the flat ``z`` of shape ``(size,)``."""
        return {
            name: jnp.reshape(
                jax.lax.dynamic_slice_in_dim(z, self.offsets[name], self.sizes[name]),
                self.shapes[name])
            for name in self.names
        }

    def indices(self) -> dict:
        """dict name -> NumPy array of the flat positions of that entry (static)."""
        return {name: np.arange(self.offsets[name], self.offsets[name] + self.sizes[name])
                .reshape(self.shapes[name]) for name in self.names}

    def ravel(self, params):
        """The flat ``(size,)`` vector of ``params`` (dict name -> array)."""
        if not self.names:
            return jnp.zeros((0,), self.dtype)
        return jnp.concatenate([jnp.ravel(jnp.asarray(params[name], self.dtype))
                                for name in self.names])


class ModelProgram:
    """``model`` with its static arguments fixed, over flat unconstrained positions.

    Args:
        model: the model function.
        model_args, model_kwargs: example arguments (their static parts are kept).
        init_strategy: an init strategy (see :mod:`hierax.infer.initialization`).
        rng_key: key used to trace the model once and fix the latent layout.
    """

    def __init__(self, model, model_args, model_kwargs, init_strategy=init_to_uniform,
                 rng_key=None, jit_model_args=None):
        self.model = model
        self.init_strategy = init_strategy
        rng_key = jax.random.PRNGKey(0) if rng_key is None else rng_key
        self.arrays_are_static = False
        try:
            self._use_arguments(model_args, model_kwargs, arrays_static=False)
            self._check_model(rng_key, model_args, model_kwargs)
        except _NEEDS_CONCRETE_VALUES as error:
            if jit_model_args:
                raise ValueError(
                    "the model needs concrete values of its array arguments (e.g. "
                    "np.unique(x) or Python control flow on data), so they cannot be traced "
                    "inputs: use jit_model_args=False, or compute those values outside the "
                    f"model. JAX said: {type(error).__name__}."
                ) from error
            # NumPyro's default: the data become constants of the compiled program.
            self.arrays_are_static = True
            self._use_arguments(model_args, model_kwargs, arrays_static=True)
            self._check_model(rng_key, model_args, model_kwargs)
        dynamic = self.split.dynamic
        layout = jax.eval_shape(
            lambda key, dyn: _unconstrained_init(self._trace(key, dyn)), rng_key, dynamic)
        self._layout = FlatLayout(layout)
        self.dimension = self._layout.size
        self.dtype = self._layout.dtype
        self.latent_names = tuple(layout)

    def _use_arguments(self, model_args, model_kwargs, arrays_static):
        self.split = split_arguments(model_args, model_kwargs, arrays_static=arrays_static)
        leaves = jax.tree_util.tree_leaves((tuple(model_args), dict(model_kwargs)))
        self._static_leaves = [
            leaf for leaf, dyn in zip(leaves, self.split.is_dynamic, strict=True) if not dyn
        ]

    def _trace(self, key, dynamic):
        args, kwargs = self.arguments(dynamic)
        return _initial_trace(key, self.model, self.init_strategy, args, kwargs)

    def _check_model(self, rng_key, model_args, model_kwargs):
        """Trace the model once (abstractly) to give clear errors about its latent sites."""

        def latents(key, dynamic):
            model_trace = self._trace(key, dynamic)
            _check_latents(model_trace)
            return {name: site["value"] for name, site in latent_sites(model_trace).items()}

        if not jax.eval_shape(latents, rng_key, self.split.dynamic):
            raise ValueError(
                "the model has no continuous latent sample sites to infer; every site is "
                "observed or deterministic."
            )

    @property
    def static_key(self):
        return self.split.static_key

    def arguments(self, dynamic):
        """``(model_args, model_kwargs)`` rebuilt from the dynamic arrays."""
        return _join_arguments(self.split, self._static_leaves, dynamic)

    def unravel(self, z):
        """The dict of unconstrained site values for the flat ``z`` of shape ``(d,)``."""
        return self._layout.unravel(z)

    def flat_indices(self) -> dict:
        """dict latent site -> its positions in the flat vector (NumPy, static)."""
        return self._layout.indices()

    def ravel(self, params) -> jax.Array:
        """Flatten a dict of unconstrained site values to shape ``(d,)``."""
        missing = set(self.latent_names) - set(params)
        if missing:
            raise ValueError(f"init_params is missing the latent sites {sorted(missing)}.")
        return self._layout.ravel(params)

    def potential(self, z, dynamic):
        args, kwargs = self.arguments(dynamic)
        return potential_energy(self.model, args, kwargs, self.unravel(z))

    def postprocess(self, z, dynamic):
        args, kwargs = self.arguments(dynamic)
        return constrain_fn(self.model, args, kwargs, self.unravel(z), return_deterministic=True)

    def _candidate(self, key, dynamic):
        z = self.ravel(_unconstrained_init(self._trace(key, dynamic)))
        energy, grad = jax.value_and_grad(self.potential)(z, dynamic)
        return z, jnp.isfinite(energy) & jnp.all(jnp.isfinite(grad))

    def _find_valid(self, key, dynamic):
        """A valid start from ``key``: up to ``MAX_INIT_TRIES`` candidates in one loop."""

        def keep_trying(carry):
            attempt, _, valid = carry
            return (~valid) & (attempt < MAX_INIT_TRIES)

        def try_next(carry):
            attempt, _, _ = carry
            z, valid = self._candidate(jax.random.fold_in(key, attempt), dynamic)
            return attempt + 1, z, valid

        start = (jnp.int32(0), jnp.zeros(self.dimension, self.dtype), jnp.bool_(False))
        _, z, valid = jax.lax.while_loop(keep_trying, try_next, start)
        return z, valid

    def find_initial_positions(self, rng_key, num_chains: int, dynamic):
        """Starts ``(num_chains, d)`` and whether each is valid ``(num_chains,)``, each chain
        retrying up to ``MAX_INIT_TRIES`` keys (pure; jit-able with ``num_chains`` static)."""
        keys = jax.random.split(rng_key, num_chains)
        return jax.vmap(self._find_valid, in_axes=(0, None))(keys, dynamic)

    def require_valid(self, positions, valid, dynamic) -> None:
        """Raise a ``ValueError`` naming the sites whose density or gradient is not finite
        at the first start that ``valid`` (from :meth:`find_initial_positions`) rejects."""
        valid = np.asarray(valid)
        if valid.all():
            return
        bad = int(np.argmin(valid))
        args, kwargs = self.arguments(dynamic)
        params = self.unravel(positions[bad])
        grad = jax.grad(lambda p: potential_energy(self.model, args, kwargs, p))(params)
        raise ValueError(_diagnose_invalid_start(self.model, args, kwargs, params, grad))

    def initial_positions(self, rng_key, num_chains, dynamic):
        """Valid starting positions ``(num_chains, d)``, each chain retrying up to 100 keys.

        Raises:
            ValueError: naming the sites whose density or gradient is not finite.
        """
        if not hasattr(self, "_initializer"):
            self._initializer = jax.jit(self.find_initial_positions, static_argnums=1)
        positions, valid = self._initializer(rng_key, num_chains, dynamic)
        self.require_valid(positions, valid, dynamic)
        return positions

    def check_positions(self, positions, dynamic):
        """Raise if any given start has a non-finite potential or gradient."""
        energy, grad = jax.vmap(jax.value_and_grad(self.potential), in_axes=(0, None))(
            positions, dynamic)
        finite = np.asarray(jnp.isfinite(energy) & jnp.all(jnp.isfinite(grad), axis=-1))
        if not finite.all():
            bad = int(np.argmin(finite))
            args, kwargs = self.arguments(dynamic)
            params = self.unravel(positions[bad])
            grads = jax.grad(lambda p: potential_energy(self.model, args, kwargs, p))(params)
            raise ValueError(
                "init_params: " + _diagnose_invalid_start(self.model, args, kwargs, params, grads)
            )


class PotentialProgram:
    """A user-supplied ``potential_fn`` over a pytree of parameters, on flat positions.

    Args:
        potential_fn: ``params -> scalar`` negative log density.
        example_params: a pytree with the layout of the parameters (e.g. ``init_params``).
    """

    def __init__(self, potential_fn, example_params):
        self.potential_fn = potential_fn
        flat, self._unravel = ravel_pytree(example_params)
        self.dimension = int(flat.shape[0])
        self.dtype = flat.dtype
        self.split = split_arguments((), {})
        self.latent_names = ()

    @property
    def static_key(self):
        return (id(self.potential_fn), self.dimension, str(self.dtype))

    def unravel(self, z):
        return self._unravel(z)

    def ravel(self, params):
        return ravel_pytree(params)[0]

    def flat_indices(self) -> dict:
        """dict parameter -> its positions in the flat vector (for a dict of parameters)."""
        example = self._unravel(np.arange(self.dimension, dtype=np.float64))
        if not isinstance(example, dict):
            return {}
        return {name: np.asarray(value).astype(int) for name, value in example.items()}

    def potential(self, z, dynamic):
        return self.potential_fn(self.unravel(z))

    def postprocess(self, z, dynamic):
        params = self.unravel(z)
        return params if isinstance(params, dict) else {"z": params}

    def check_positions(self, positions, dynamic):
        energy = jax.vmap(self.potential, in_axes=(0, None))(positions, dynamic)
        if not bool(jnp.all(jnp.isfinite(energy))):
            raise ValueError("init_params: the potential energy is not finite at a given start.")


def build_kernel_program(kernel, rng_key, model_args, model_kwargs, init_params, num_chains=1,
                         jit_model_args=None):
    """The program of a kernel built from ``model=`` or ``potential_fn=``.

    ``kernel`` has ``model``, ``potential_fn`` (one of them set) and
    ``init_strategy``. With a potential, the parameter layout comes from
    ``init_params`` (one chain's values, or values with a leading ``num_chains`` axis).
    """
    if kernel.model is not None:
        return ModelProgram(kernel.model, model_args, model_kwargs, kernel.init_strategy,
                            rng_key, jit_model_args=jit_model_args)
    if init_params is None:
        raise ValueError(f"{type(kernel).__name__}(potential_fn=...) needs init_params in "
                         "MCMC.run to know the parameter layout.")
    leaves = jax.tree_util.tree_leaves(init_params)
    batched = bool(leaves) and all(jnp.ndim(x) and jnp.shape(x)[0] == num_chains
                                   for x in leaves)
    example = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[0], init_params) \
        if batched else init_params
    return PotentialProgram(kernel.potential_fn, example)


def find_valid_initial_params(rng_key, model, *, init_strategy=init_to_uniform,
                              model_args=(), model_kwargs=None):
    """A start with finite potential energy and gradient, retrying up to 100 keys.

    Returns:
        ``(ParamInfo(z, potential_energy, z_grad), is_valid)`` with ``z`` a dict
        of unconstrained site values.

    Raises:
        ValueError: when no valid start is found, naming the sites whose log
        density or gradient is not finite.
    """
    model_kwargs = {} if model_kwargs is None else model_kwargs
    program = ModelProgram(model, model_args, model_kwargs, init_strategy, rng_key)
    dynamic = program.split.dynamic
    z = program.initial_positions(rng_key, 1, dynamic)[0]
    energy, grad = jax.value_and_grad(program.potential)(z, dynamic)
    return ParamInfo(program.unravel(z), energy, program.unravel(grad)), True


def initialize_model(rng_key, model, *, init_strategy=init_to_uniform, model_args=(),
                     model_kwargs=None):
    """Everything a sampler needs to run ``model``.

    Returns:
        :class:`~hierax.infer.util.ModelInfo`: the initial ``ParamInfo``
        (unconstrained ``z``, potential, gradient), ``potential_fn(z)``,
        ``postprocess_fn(z)`` (constrained latents and deterministic sites) and
        the trace of the initial run.
    """
    model_kwargs = {} if model_kwargs is None else model_kwargs
    param_info, _ = find_valid_initial_params(rng_key, model, init_strategy=init_strategy,
                                              model_args=model_args, model_kwargs=model_kwargs)

    def potential_fn(params):
        return potential_energy(model, model_args, model_kwargs, params)

    def postprocess_fn(params):
        return constrain_fn(model, model_args, model_kwargs, params, return_deterministic=True)

    model_trace = _initial_trace(rng_key, model, init_strategy, model_args, model_kwargs)
    return ModelInfo(param_info, potential_fn, postprocess_fn, model_trace)
