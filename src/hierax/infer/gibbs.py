"""NUTS within Gibbs: slice sampling on a few named sites, NUTS on the rest.

:class:`NUTSWithinGibbs` is an MCMC kernel for :class:`~hierax.infer.MCMC`. The
latent sites are split into two blocks: the sites named in ``slice_sites`` (block
``S``) and all the others (block ``N``). One transition is

1. a sweep of univariate slice updates of ``z_S`` (Neal 2003: stepping out, then
   shrinkage) along adapted directions, with ``z_N`` held fixed, exactly the sweep
   of :class:`~hierax.infer.slice.Slice` applied to the conditional density
   ``p(z_S | z_N)``;
2. then one NUTS transition (Hoffman & Gelman 2014, with the multinomial
   trajectory sampling and generalized U-turn criterion of
   :func:`~hierax.infer.kernels.nuts.nuts_step`) of ``z_N`` with ``z_S`` held at
   its new value, on the conditional density ``p(z_N | z_S)``. The potential and
   its gradient are recomputed at the start of this update, after the slice
   sweep has moved ``z_S``, so the trajectory never starts from a gradient
   cached at the old ``z_S``.

Why the composition is valid: each update is a Markov kernel on the block it
moves that leaves the corresponding full conditional invariant (slice sampling:
Neal 2003, section 4; NUTS: Hoffman & Gelman 2014, section 3, via detailed
balance of the multinomial trajectory sampler). A kernel that leaves
``p(z_S | z_N)`` invariant and does not touch ``z_N`` leaves the joint
``p(z_S, z_N) = p(z_N) p(z_S | z_N)`` invariant, and likewise for the NUTS block;
a composition of kernels that each leave ``p`` invariant leaves ``p`` invariant.
This is the Metropolis-within-Gibbs (more generally "MCMC-within-Gibbs")
argument: the exact conditional draws of the Gibbs sampler may be replaced by
any conditional-invariant kernel (Tierney 1994, section 2.4; Robert & Casella
2004, section 10.3.3). Irreducibility follows from that of the two blocks'
updates for the usual positive, connected targets.

Warmup adapts each block as its own kernel does, independently:

- the slice block: the widths (Robbins-Monro toward as many expansions as
  contractions) and directions (Cholesky factor of the block's covariance over
  doubling windows with 25-iteration buffers), as :class:`~hierax.infer.slice.Slice`;
- the NUTS block: Stan's warmup as :class:`~hierax.infer.NUTS`: the step-size
  heuristic, dual averaging toward ``target_accept_prob``, and a windowed
  diagonal (or dense) inverse mass matrix over that block only.

After warmup both kernels are fixed, so the sampling chain is a homogeneous
Markov chain with the posterior as invariant distribution.

Purpose: in a population likelihood estimated by Monte Carlo sums, the
likelihood is a step function of sharp mass edges (``mmin_pl_0``, ``mmax_pl_0``);
Hamiltonian trajectories lose energy at every jump and NUTS trees saturate
(``docs/pop_sampler.md``, section 1). Slice sampling is exact along a line
whatever its discontinuities, while NUTS stays efficient on the smooth
hyperparameters given the edges.

References:
    Neal, R. M. (2003). Slice sampling. Annals of Statistics 31(3), 705-767.
    Hoffman, M. D. & Gelman, A. (2014). The No-U-Turn Sampler. JMLR 15, 1593-1623.
    Tierney, L. (1994). Markov chains for exploring posterior distributions.
    Annals of Statistics 22(4), 1701-1728.
    Robert, C. P. & Casella, G. (2004). Monte Carlo Statistical Methods, 2nd ed.
    Springer.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hierax.infer.hmc import NUTS, HMCKernelState
from hierax.infer.initialization import init_to_uniform
from hierax.infer.kernels.hmc import HMCState
from hierax.infer.kernels.hmc import init as hmc_init
from hierax.infer.kernels.mass_matrix import WelfordState
from hierax.infer.kernels.nuts import NUTSInfo
from hierax.infer.kernels.step_size import DualAveragingState
from hierax.infer.program import build_kernel_program
from hierax.infer.slice import Slice, SliceInfo, SliceState

__all__ = ["NUTSWithinGibbs", "NUTSWithinGibbsInfo", "NUTSWithinGibbsState"]


class NUTSWithinGibbsState(NamedTuple):
    """State of one chain of :class:`NUTSWithinGibbs`, warmup included.

    At the start of every transition ``potential_energy`` and
    ``potential_energy_grad`` are those of ``position``.

    Attributes:
        position: ``(d,)`` flat unconstrained position (both blocks).
        potential_energy: scalar potential energy at ``position``.
        potential_energy_grad: ``(d_N,)`` gradient of the potential with respect to
            the NUTS block at ``position``.
        slice_directions: ``(d_S, d_S)``; column ``j`` is the slice block's ``j``-th
            update direction.
        slice_widths: ``(d_S,)`` bracket width along each direction.
        slice_adaptation_count: int32 warmup updates since the widths were last reset.
        slice_welford: running (dense) covariance of the slice block's window.
        step_size: the NUTS step size.
        inverse_mass_matrix: ``(d_N,)`` diagonal or ``(d_N, d_N)`` dense.
        dual_averaging: the step-size adaptation state.
        nuts_welford: running (co)variance of the NUTS block's window.
    """

    position: Any
    potential_energy: Any
    potential_energy_grad: Any
    slice_directions: Any
    slice_widths: Any
    slice_adaptation_count: Any
    slice_welford: WelfordState
    step_size: Any
    inverse_mass_matrix: Any
    dual_averaging: DualAveragingState
    nuts_welford: WelfordState


class NUTSWithinGibbsInfo(NamedTuple):
    """Statistics of one transition: the slice sweep's, then the NUTS transition's."""

    slice: SliceInfo
    nuts: NUTSInfo


def _conditional_kernel_only(params):  # pragma: no cover - never evaluated
    raise RuntimeError("NUTSWithinGibbs: an inner kernel was asked for its own potential; "
                       "it only runs on the conditional programs it is given.")


class _Block:
    """The potential of one block of the flat position, the other block held fixed.

    It plays the part of a program for the inner ``Slice`` and ``NUTS`` kernels:
    they call ``potential(u, dynamic)`` with ``u`` the block's sub-vector.
    """

    def __init__(self, program, position, indices):
        self._program = program
        self._position = position
        self._indices = indices
        self.dimension = int(indices.shape[0])
        self.dtype = program.dtype

    def potential(self, u, dynamic):
        return self._program.potential(self._position.at[self._indices].set(u), dynamic)


class _GibbsProgram:
    """A model's program plus the flat indices of the two blocks (static).

    Everything else (``potential``, ``postprocess``, ``split``, initial positions...)
    is the wrapped program's.
    """

    def __init__(self, program, slice_sites):
        self.base = program
        self.slice_sites = tuple(slice_sites)
        index = program.flat_indices()
        slice_indices = np.concatenate([np.ravel(index[name]) for name in slice_sites])
        self.slice_indices = np.sort(slice_indices).astype(np.int32)
        mask = np.ones(program.dimension, bool)
        mask[self.slice_indices] = False
        self.nuts_indices = np.flatnonzero(mask).astype(np.int32)

    @property
    def static_key(self):
        return (self.base.static_key, ("NUTSWithinGibbs", self.slice_sites))

    def __getattr__(self, name):
        if name == "base":  # not set yet (e.g. while unpickling)
            raise AttributeError(name)
        return getattr(self.base, name)


class NUTSWithinGibbs:
    """Slice sampling on ``slice_sites``, then NUTS on the other sites (module docstring).

    Runs in :class:`~hierax.infer.MCMC` as ``NUTS`` and ``Slice`` do; the state is a
    :class:`NUTSWithinGibbsState` pytree, so chains run vectorized, in threads or
    one after the other with the same draws, and runs are saved, checkpointed and
    resumed like any other kernel's.

    Statistics per draw: ``diverging``, ``accept_prob``, ``num_steps`` (leapfrog
    steps), ``tree_depth``, ``energy`` and ``step_size`` of the NUTS update;
    ``num_evaluations``, ``expansions`` and ``contractions`` (per direction) and
    ``slice_width`` (mean width) of the slice sweep; ``potential_energy`` of the
    new position. One transition costs ``num_evaluations`` potential evaluations,
    one potential-and-gradient evaluation after the sweep, and ``num_steps``
    gradient evaluations. ``energy`` is the Hamiltonian of the NUTS update, whose
    potential changes with the slice block between transitions, so an E-BFMI
    computed from it is not the diagnostic it is for plain NUTS.

    Args:
        model: the model; or give ``potential_fn`` instead (a negative log density
            over a dict of parameters; then ``MCMC.run`` needs ``init_params``).
        slice_sites: names of the latent sites updated by slice sampling (a name or
            a list of names); every other latent site is updated by NUTS. At least
            one site must be left to NUTS (otherwise use :class:`~hierax.infer.Slice`).
        target_accept_prob: NUTS dual-averaging target.
        max_tree_depth: NUTS maximum tree depth.
        dense_mass: ``True`` for a dense NUTS mass matrix over the NUTS block.
        slice_width: initial bracket width of the slice updates.
        max_steps_out: most stepping-out expansions per slice update.
        adapt_slice_directions: update the slice block along the Cholesky factor of
            its estimated covariance (``False``: along the coordinate axes).
        init_strategy: where chains start (default :func:`init_to_uniform`).

    Example::

        >>> import jax, jax.numpy as jnp, hierax, hierax.distributions as dist
        >>> from hierax.infer import MCMC, NUTSWithinGibbs
        >>> def model():
        ...     edge = hierax.sample("edge", dist.Uniform(0.0, 1.0))
        ...     hierax.sample("x", dist.Normal(0.0, 1.0))
        ...     hierax.factor("step", jnp.where(edge > 0.5, 1.0, 0.0))
        >>> kernel = NUTSWithinGibbs(model, slice_sites=["edge"])
        >>> mcmc = MCMC(kernel, num_warmup=100, num_samples=100, progress_bar=False)
        >>> mcmc.run(jax.random.PRNGKey(0))
        >>> mcmc.get_samples()["edge"].shape
        (100,)
    """

    def __init__(self, model=None, slice_sites=None, *, potential_fn=None,
                 target_accept_prob=0.8, max_tree_depth=10, dense_mass=False, slice_width=1.0,
                 max_steps_out=16, adapt_slice_directions=True, init_strategy=init_to_uniform):
        if (model is None) == (potential_fn is None):
            raise ValueError("NUTSWithinGibbs: give exactly one of model= and potential_fn=.")
        if isinstance(slice_sites, str):
            slice_sites = [slice_sites]
        if slice_sites is None or not len(slice_sites):
            raise ValueError("NUTSWithinGibbs: slice_sites must name at least one latent site "
                             "(to update every site by NUTS, use NUTS).")
        slice_sites = tuple(slice_sites)
        if not all(isinstance(name, str) for name in slice_sites):
            raise ValueError(f"NUTSWithinGibbs: slice_sites must be site names, got "
                             f"{slice_sites!r}.")
        if len(set(slice_sites)) != len(slice_sites):
            raise ValueError(f"NUTSWithinGibbs: slice_sites names a site twice: "
                             f"{slice_sites!r}.")
        if dense_mass not in (True, False):
            raise ValueError("NUTSWithinGibbs: dense_mass must be True or False (block "
                             "groups are not supported).")
        self.model = model
        self.potential_fn = potential_fn
        self.slice_sites = slice_sites
        self.init_strategy = init_strategy
        # The inner kernels hold the settings and the adaptation rules; they only run on
        # the conditional programs (``_Block``) this kernel hands them.
        self._slice = Slice(potential_fn=_conditional_kernel_only, width=slice_width,
                            max_steps_out=max_steps_out,
                            adapt_directions=adapt_slice_directions)
        self._nuts = NUTS(potential_fn=_conditional_kernel_only,
                          target_accept_prob=target_accept_prob,
                          max_tree_depth=max_tree_depth, dense_mass=bool(dense_mass))
        self.target_accept_prob = self._nuts.target_accept_prob
        self.max_tree_depth = self._nuts.max_tree_depth
        self.dense_mass = bool(dense_mass)
        self.slice_width = self._slice.width
        self.max_steps_out = self._slice.max_steps_out

    # -- what the driver calls --------------------------------------------------

    def build_program(self, rng_key, model_args, model_kwargs, init_params, num_chains=1,
                      jit_model_args=None):
        """The model (or potential) as functions of a flat position, with the two blocks.

        Raises:
            ValueError: when ``slice_sites`` names a site that is not a latent site,
                or names every latent site.
        """
        program = build_kernel_program(self, rng_key, model_args, model_kwargs, init_params,
                                       num_chains, jit_model_args)
        index = program.flat_indices()
        if not index:
            raise ValueError("NUTSWithinGibbs(potential_fn=...) needs the parameters as a dict "
                             "of named arrays, so that slice_sites can name them.")
        unknown = [name for name in self.slice_sites if name not in index]
        if unknown:
            raise ValueError(f"NUTSWithinGibbs: slice_sites names unknown latent sites "
                             f"{unknown}; the latent sites are {sorted(index)}.")
        if set(self.slice_sites) == set(index) or all(
                np.size(index[name]) == 0 for name in index if name not in self.slice_sites):
            raise ValueError("NUTSWithinGibbs: slice_sites covers every latent site, leaving "
                             "nothing to NUTS; use Slice.")
        if all(np.size(index[name]) == 0 for name in self.slice_sites):
            raise ValueError("NUTSWithinGibbs: the slice_sites have no unconstrained "
                             "dimensions; use NUTS.")
        return _GibbsProgram(program, self.slice_sites)

    def _slice_view(self, state, program) -> SliceState:
        return SliceState(state.position[..., program.slice_indices], -state.potential_energy,
                          state.slice_directions, state.slice_widths,
                          state.slice_adaptation_count, state.slice_welford)

    def _nuts_view(self, state, program) -> HMCKernelState:
        hmc = HMCState(state.position[..., program.nuts_indices], state.potential_energy,
                       state.potential_energy_grad)
        return HMCKernelState(hmc, state.step_size, state.inverse_mass_matrix,
                              state.dual_averaging, state.nuts_welford)

    @staticmethod
    def _with_slice_adaptation(state, view: SliceState):
        return state._replace(slice_directions=view.directions, slice_widths=view.widths,
                              slice_adaptation_count=view.adaptation_count,
                              slice_welford=view.welford)

    @staticmethod
    def _with_nuts_adaptation(state, view: HMCKernelState):
        return state._replace(step_size=view.step_size,
                              inverse_mass_matrix=view.inverse_mass_matrix,
                              dual_averaging=view.dual_averaging, nuts_welford=view.welford)

    def init_state(self, position, program, dynamic, num_warmup):
        """The initial :class:`NUTSWithinGibbsState` at ``position`` (pure; jit-able)."""
        slice_block = _Block(program, position, program.slice_indices)
        nuts_block = _Block(program, position, program.nuts_indices)
        nuts = self._nuts.init_state(position[program.nuts_indices], nuts_block, dynamic,
                                     num_warmup)
        slice_ = self._slice.init_state(position[program.slice_indices], slice_block, dynamic,
                                        num_warmup)
        return NUTSWithinGibbsState(
            position, nuts.hmc.potential_energy, nuts.hmc.potential_energy_grad,
            slice_.directions, slice_.widths, slice_.adaptation_count, slice_.welford,
            nuts.step_size, nuts.inverse_mass_matrix, nuts.dual_averaging, nuts.welford)

    def step(self, key, state, program, dynamic):
        """A slice sweep over the slice block, then one NUTS transition of the rest."""
        key_slice, key_nuts = jax.random.split(key)
        slice_view = self._slice_view(state, program)
        slice_view, slice_info = self._slice.step(
            key_slice, slice_view, _Block(program, state.position, program.slice_indices),
            dynamic)
        position = state.position.at[program.slice_indices].set(slice_view.position)

        # The slice sweep moved the slice block: the potential and its gradient are
        # evaluated afresh at the new position before the trajectory starts.
        nuts_block = _Block(program, position, program.nuts_indices)
        hmc = hmc_init(position[program.nuts_indices], lambda u: nuts_block.potential(u, dynamic))
        nuts_view = self._nuts_view(state, program)._replace(hmc=hmc)
        nuts_view, nuts_info = self._nuts.step(key_nuts, nuts_view, nuts_block, dynamic)
        position = position.at[program.nuts_indices].set(nuts_view.hmc.position)
        state = state._replace(position=position,
                               potential_energy=nuts_view.hmc.potential_energy,
                               potential_energy_grad=nuts_view.hmc.potential_energy_grad)
        return state, NUTSWithinGibbsInfo(slice_info, nuts_info)

    def warmup_before(self, key, state, iteration, num_warmup, program, dynamic):
        """Before warmup transition ``iteration``: NUTS's step-size heuristic where Stan
        runs it (the slice block has nothing to do before a transition)."""
        view = self._nuts.warmup_before(
            key, self._nuts_view(state, program), iteration, num_warmup,
            _Block(program, state.position, program.nuts_indices), dynamic)
        return self._with_nuts_adaptation(state, view)

    def warmup_after(self, key, state, info, iteration, num_warmup, program, dynamic):
        """After warmup transition ``iteration``: each block's adaptation, independently."""
        key_slice, key_nuts = jax.random.split(key)
        slice_view = self._slice.warmup_after(
            key_slice, self._slice_view(state, program), info.slice, iteration, num_warmup,
            _Block(program, state.position, program.slice_indices), dynamic)
        nuts_view = self._nuts.warmup_after(
            key_nuts, self._nuts_view(state, program), info.nuts, iteration, num_warmup,
            _Block(program, state.position, program.nuts_indices), dynamic)
        state = self._with_slice_adaptation(state, slice_view)
        return self._with_nuts_adaptation(state, nuts_view)

    @staticmethod
    def position(state):
        return state.position

    @staticmethod
    def step_size(state):
        """The NUTS step size (what the progress bar shows)."""
        return state.step_size

    def info_layout(self, program):
        """dtype and per-draw shape of each recorded statistic."""
        dtype = program.dtype
        num_slice = int(program.slice_indices.shape[0])
        return {"diverging": (jnp.bool_, ()), "accept_prob": (dtype, ()),
                "num_steps": (jnp.int32, ()), "tree_depth": (jnp.int32, ()),
                "energy": (dtype, ()), "potential_energy": (dtype, ()),
                "step_size": (dtype, ()), "num_evaluations": (jnp.int32, ()),
                "expansions": (jnp.int32, (num_slice,)),
                "contractions": (jnp.int32, (num_slice,)), "slice_width": (dtype, ())}

    def info_fields(self, info, state):
        """Per-draw statistics (see the class docstring)."""
        dtype = state.position.dtype
        nuts = info.nuts
        return {"diverging": nuts.is_divergent,
                "accept_prob": nuts.acceptance_rate.astype(dtype),
                "num_steps": jnp.asarray(nuts.num_integration_steps, jnp.int32),
                "tree_depth": jnp.asarray(nuts.tree_depth, jnp.int32),
                "energy": nuts.energy.astype(dtype),
                "potential_energy": state.potential_energy.astype(dtype),
                "step_size": jnp.asarray(state.step_size, dtype),
                "num_evaluations": info.slice.num_evaluations,
                "expansions": info.slice.expansions.astype(jnp.int32),
                "contractions": info.slice.contractions.astype(jnp.int32),
                "slice_width": jnp.mean(state.slice_widths).astype(dtype)}
