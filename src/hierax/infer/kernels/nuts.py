"""The No-U-Turn Sampler with multinomial trajectory sampling, built iteratively.

One transition draws a momentum and doubles a trajectory in a random direction until
the generalized no-U-turn criterion fires, a leapfrog step diverges, or the depth cap
is reached. The state is drawn from the trajectory with weights ``exp(-H)``: uniformly
(multinomially) inside each new subtree, and with *biased progressive* sampling when a
subtree is merged into the existing tree (Betancourt 2017, A.3.2).

The recursion of the original algorithm is unrolled into two ``lax.while_loop``s: an
outer loop over doublings and an inner loop over the ``2^depth`` leapfrog steps of the
new subtree. Inside a subtree the U-turn criterion is checked on every completed
sub-block (``2, 4, 8, ...`` leaves) from checkpoints of the leaves that start the open
blocks, kept in ``max_tree_depth - 1`` slots indexed by bit counts (Phan, Pradhan &
Jankowiak 2019). At every merge, besides the criterion on the merged block, the two
extra checks Stan uses since 2.25 are applied: across the left half plus the first
state of the right half, and across the last state of the left half plus the right
half.

Each leapfrog step costs one gradient evaluation; the per-step bookkeeping is one
unconditional checkpoint row write (odd leaves write to a scratch row, so the
buffers are updated in place), the U-turn checks of the completed blocks and one
counter-based random number (:mod:`.counter_rng`). For small ``d`` the checks are
four ``(max_tree_depth - 1, d)`` matrix-vector products with no nested loop; from
``d = 512`` on, only the rows of the completed blocks are read (on average one per
leaf), which keeps the bookkeeping at a few ``d``-vector passes per step.

References:
    Hoffman, M. D. & Gelman, A. (2014). The No-U-Turn Sampler. JMLR 15.
    Betancourt, M. (2017). A conceptual introduction to Hamiltonian Monte Carlo.
    arXiv:1701.02434.
    Phan, D., Pradhan, N. & Jankowiak, M. (2019). Composable effects for flexible and
    accelerated probabilistic programming in NumPyro. arXiv:1912.11554.
    Stan Development Team. Stan reference manual, "Hamiltonian Monte Carlo sampling".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .counter_rng import bits_from_counter, key_words, uniform_from_counter
from .hmc import HMCState, as_dtype_of, energy_error
from .integrators import IntegratorState, velocity_verlet
from .metrics import Metric, gaussian_euclidean, turning_from_velocities

__all__ = ["NUTSInfo", "nuts_step"]


class NUTSInfo(NamedTuple):
    """Diagnostics of one NUTS transition (all scalars).

    Attributes:
        acceptance_rate: mean over every leapfrog state built of ``min(1, exp(-dH))``;
            the statistic targeted by dual averaging (Hoffman & Gelman 2014, sec. 3.2).
        is_divergent: a leapfrog step had ``dH > max_delta_energy`` or a non-finite ``H``.
        energy: Hamiltonian of the selected state (with its momentum), for E-BFMI.
        num_integration_steps: leapfrog steps taken (``<= 2^max_tree_depth - 1``).
        tree_depth: number of merged doublings (``<= max_tree_depth``), as in Stan: a
            rejected (turning or divergent) last subtree is not counted, so
            ``2^depth - 1 <= num_integration_steps <= 2^(depth + 1) - 1``.
        is_turning: the trajectory stopped because of a U-turn.
    """

    acceptance_rate: jax.Array
    is_divergent: jax.Array
    energy: jax.Array
    num_integration_steps: jax.Array
    tree_depth: jax.Array
    is_turning: jax.Array


class _Proposal(NamedTuple):
    position: jax.Array
    potential_energy: jax.Array
    potential_energy_grad: jax.Array
    energy: jax.Array


class _Checkpoints(NamedTuple):
    """What the U-turn checks need about the first leaf ``s`` of each open block.

    With ``B_s`` the sum of the subtree momenta before leaf ``s``, every check of a
    block ending at the current leaf ``n`` reduces to dot products of these stored rows
    with ``Q = C_n - p_n / 2`` (``C_n``: momentum sum through ``n``) or with ``M^{-1} p_n``.
    """

    velocity: jax.Array  # (slots, d) M^{-1} p_s
    start_offset: jax.Array  # (slots, d) B_s + p_s / 2
    start_dot: jax.Array  # (slots,) velocity . start_offset
    previous_velocity: jax.Array  # (slots, d) M^{-1} p_{s-1}
    previous_offset: jax.Array  # (slots, d) B_s - p_{s-1} / 2
    previous_dot: jax.Array  # (slots,) previous_velocity . previous_offset
    left_half_turning: jax.Array  # (slots,) U-turn of [s - 2^t, s] (t: trailing zeros of s)


def _empty_checkpoints(num_slots: int, momentum) -> _Checkpoints:
    """Checkpoint rows for ``num_slots`` slots plus one scratch row (the last).

    Odd leaves write their row to the scratch row, so every leaf writes one row
    unconditionally and the update never reads the row it replaces: XLA then updates
    the ``(slots + 1, d)`` buffers in place instead of copying them at each leaf.
    """
    def rows():
        return jnp.zeros((num_slots + 1,) + momentum.shape, momentum.dtype)

    def scalars(dtype=momentum.dtype):
        return jnp.zeros((num_slots + 1,), dtype)

    return _Checkpoints(rows(), rows(), scalars(), rows(), rows(), scalars(), scalars(bool))


class _Subtree(NamedTuple):
    frontier: IntegratorState
    frontier_velocity: jax.Array
    proposal: _Proposal
    log_weight: jax.Array
    momentum_sum: jax.Array
    checkpoints: _Checkpoints
    num_leaves: jax.Array
    sum_accept: jax.Array
    is_turning: jax.Array
    is_divergent: jax.Array


class _Tree(NamedTuple):
    left: IntegratorState
    right: IntegratorState
    velocity_left: jax.Array
    velocity_right: jax.Array
    momentum_sum: jax.Array
    proposal: _Proposal
    log_weight: jax.Array
    depth: jax.Array
    num_steps: jax.Array
    sum_accept: jax.Array
    is_turning: jax.Array
    is_divergent: jax.Array


class _Constants(NamedTuple):
    """Loop invariants of one transition."""

    step: Callable
    metric: Metric
    step_size: jax.Array
    initial_energy: jax.Array
    max_delta_energy: float
    rng_words: tuple
    num_slots: int


def _select(predicate, on_true, on_false):
    return jax.tree.map(lambda a, b: jnp.where(predicate, a, b), on_true, on_false)


def _checkpoint_slots(leaf_index):
    """Slots of the blocks completed at ``leaf_index`` and the slot written there.

    Returns ``(slot_min, slot_max)``: the blocks of sizes ``2, 4, ..., 2^k`` ending at
    an odd leaf with ``k`` trailing one bits have their first leaf in slots
    ``slot_max, slot_max - 1, ..., slot_min``; an even leaf completes no block
    (``slot_min > slot_max``) and writes its own checkpoint at ``slot_max``.
    """
    slot_max = jax.lax.population_count(leaf_index >> 1)
    trailing_ones = jax.lax.population_count(leaf_index ^ (leaf_index + 1)) - 1
    return slot_max - trailing_ones + 1, slot_max


def _write_row(stored, row, new):
    return jax.lax.dynamic_update_index_in_dim(stored, new, row, 0)


def _store_checkpoint(checkpoints, slot, leaf_index, momentum, velocity, sum_before,
                      previous_momentum, previous_velocity) -> _Checkpoints:
    """Write the row of leaf ``s = leaf_index`` (even leaves to ``slot``, odd to scratch).

    An even ``s > 0`` starts the right half of the block ``[s - 2^t, s + 2^t)``; that
    block's first leaf sits in ``slot - 1``. Its extra check across the left half plus
    ``s`` only involves stored leaves, so it is evaluated once here, from the rows
    after the write (row ``slot - 1`` is not the one written).
    """
    scratch = checkpoints.start_dot.shape[0] - 1
    row = jnp.where(leaf_index % 2 == 0, slot, scratch)
    start_offset = sum_before + 0.5 * momentum
    previous_offset = sum_before - 0.5 * previous_momentum
    ck = checkpoints._replace(
        velocity=_write_row(checkpoints.velocity, row, velocity),
        start_offset=_write_row(checkpoints.start_offset, row, start_offset),
        start_dot=_write_row(checkpoints.start_dot, row, jnp.dot(velocity, start_offset)),
        previous_velocity=_write_row(checkpoints.previous_velocity, row, previous_velocity),
        previous_offset=_write_row(checkpoints.previous_offset, row, previous_offset),
        previous_dot=_write_row(checkpoints.previous_dot, row,
                                jnp.dot(previous_velocity, previous_offset)))
    left_start = jnp.maximum(slot - 1, 0)
    left_velocity = jax.lax.dynamic_index_in_dim(ck.velocity, left_start, 0, False)
    left_offset = jax.lax.dynamic_index_in_dim(ck.start_offset, left_start, 0, False)
    rho = start_offset - left_offset
    left_half_turning = (leaf_index > 0) & (
        (jnp.dot(left_velocity, rho) <= 0) | (jnp.dot(velocity, rho) <= 0))
    return ck._replace(left_half_turning=_write_row(ck.left_half_turning, row,
                                                    left_half_turning))


# From this many dimensions on, only the rows of completed blocks are read (a short
# loop, on average one row per leaf) instead of products with every row.
_ROW_LOOP_MIN_DIMENSION = 512


def _slot_turning(ck: _Checkpoints, q, velocity, velocity_dot_q, slot):
    """U-turn of the block starting at ``slot``'s leaf (rho with its start row)."""
    row = lambda rows: jax.lax.dynamic_index_in_dim(rows, slot, 0, False)  # noqa: E731
    return ((jnp.dot(row(ck.velocity), q) - row(ck.start_dot) <= 0)
            | (velocity_dot_q - jnp.dot(row(ck.start_offset), velocity) <= 0))


def _half_turning(ck: _Checkpoints, q, velocity, velocity_dot_q, slot):
    """Stan's two extra checks of a block whose right half starts at ``slot``'s leaf."""
    row = lambda rows: jax.lax.dynamic_index_in_dim(rows, slot, 0, False)  # noqa: E731
    right_part = ((jnp.dot(row(ck.previous_velocity), q) - row(ck.previous_dot) <= 0)
                  | (velocity_dot_q - jnp.dot(row(ck.previous_offset), velocity) <= 0))
    return right_part | row(ck.left_half_turning)


def _completed_blocks_turning(checkpoints, slot_min, slot_max, momentum, velocity,
                              momentum_sum):
    """U-turn on any block completed at the current leaf ``n``, with Stan's extra checks.

    For the block whose first leaf ``s`` is in slot ``i``: the whole block is checked
    with ``rho = Q - start_offset_i``; for blocks of four or more leaves the leaf ``m``
    starting the right half is in slot ``i + 1``, giving the checks across
    ``[s, m]`` (precomputed flag) and ``[m - 1, n]`` (``rho = Q - previous_offset_m``).
    All trapezoidal ``rho`` (Betancourt 2017, A.4.2) reduce to dot products with
    stored rows: for small ``d`` four ``(slots, d)`` matrix-vector products, for
    large ``d`` a loop over the completed slots only.
    """
    ck = checkpoints
    q = momentum_sum - 0.5 * momentum
    velocity_dot_q = jnp.dot(velocity, q)
    if momentum.shape[-1] >= _ROW_LOOP_MIN_DIMENSION:
        def check_slot(slot, turning):
            halves = _half_turning(ck, q, velocity, velocity_dot_q, slot + 1)
            return (turning | _slot_turning(ck, q, velocity, velocity_dot_q, slot)
                    | ((slot < slot_max) & halves))

        return jax.lax.fori_loop(slot_min, slot_max + 1, check_slot, jnp.zeros((), bool))
    whole = ((ck.velocity @ q - ck.start_dot <= 0)
             | (velocity_dot_q - ck.start_offset @ velocity <= 0))
    right_part = ((ck.previous_velocity @ q - ck.previous_dot <= 0)
                  | (velocity_dot_q - ck.previous_offset @ velocity <= 0))
    halves = jnp.roll(right_part | ck.left_half_turning, -1)
    slots = jnp.arange(ck.velocity.shape[0])
    completed = (slots >= slot_min) & (slots <= slot_max)
    has_halves = completed & (slots < slot_max)
    return jnp.any((completed & whole) | (has_halves & halves))


def _checkpoint_and_check(checkpoints, leaf_index, momentum, velocity, sum_before,
                          previous_momentum, previous_velocity):
    """Record leaf ``leaf_index`` of a subtree and test the blocks it completes.

    Args:
        checkpoints: :class:`_Checkpoints` (see :func:`_empty_checkpoints`).
        leaf_index: int32 index of the leaf within the subtree (0-based).
        momentum, velocity: ``(d,)`` momentum of the leaf and ``M^{-1}`` times it.
        sum_before: ``(d,)`` sum of the momenta of the subtree leaves before this one.
        previous_momentum, previous_velocity: the same for the preceding state.

    Returns:
        ``(checkpoints, is_turning)``.
    """
    slot_min, slot_max = _checkpoint_slots(leaf_index)
    checkpoints = _store_checkpoint(checkpoints, slot_max, leaf_index, momentum, velocity,
                                    sum_before, previous_momentum, previous_velocity)
    turning = _completed_blocks_turning(checkpoints, slot_min, slot_max, momentum, velocity,
                                        sum_before + momentum)
    return checkpoints, turning


def _leaf_weight_and_accept(consts: _Constants, state: IntegratorState, velocity):
    energy = state.potential_energy + 0.5 * jnp.dot(state.momentum, velocity)
    delta_energy = energy_error(energy, consts.initial_energy)
    log_weight = -delta_energy
    accept_prob = jnp.exp(jnp.minimum(log_weight, 0.0))
    return energy, log_weight, accept_prob, delta_energy > consts.max_delta_energy


def _subtree_leaf(consts: _Constants, signed_step, subtree_words, sub: _Subtree) -> _Subtree:
    """Take one leapfrog step and fold the new leaf into the subtree being built."""
    leaf = consts.step(sub.frontier, signed_step)
    velocity = consts.metric.velocity(leaf.momentum)
    energy, leaf_log_weight, accept_prob, diverged = _leaf_weight_and_accept(
        consts, leaf, velocity)

    index = sub.num_leaves
    log_weight = jnp.logaddexp(sub.log_weight, leaf_log_weight)
    uniform = uniform_from_counter(subtree_words, index, leaf.position.dtype)
    take_leaf = (index == 0) | (jnp.log(uniform) < leaf_log_weight - log_weight)
    leaf_proposal = _Proposal(leaf.position, leaf.potential_energy,
                              leaf.potential_energy_grad, energy)
    proposal = _select(take_leaf, leaf_proposal, sub.proposal)

    checkpoints, turning = _checkpoint_and_check(
        sub.checkpoints, index, leaf.momentum, velocity, sub.momentum_sum,
        sub.frontier.momentum, sub.frontier_velocity)
    momentum_sum = sub.momentum_sum + leaf.momentum
    return _Subtree(leaf, velocity, proposal, log_weight, momentum_sum, checkpoints,
                    index + 1, sub.sum_accept + accept_prob, turning & ~diverged, diverged)


def _build_subtree(consts: _Constants, tree: _Tree, going_right, depth, subtree_words):
    """Run up to ``2^depth`` leapfrog steps from one end of ``tree``.

    Building stops early when a completed block turns or a step diverges; such a
    subtree is invalid and is not merged.
    """
    start = _select(going_right, tree.right, tree.left)
    start_velocity = jnp.where(going_right, tree.velocity_right, tree.velocity_left)
    signed_step = jnp.where(going_right, consts.step_size, -consts.step_size)
    initial = _Subtree(
        frontier=start,
        frontier_velocity=start_velocity,
        proposal=tree.proposal,
        log_weight=jnp.full((), -jnp.inf, start.momentum.dtype),
        momentum_sum=jnp.zeros_like(start.momentum),
        checkpoints=_empty_checkpoints(consts.num_slots, start.momentum),
        num_leaves=jnp.zeros((), jnp.int32),
        sum_accept=jnp.zeros((), start.momentum.dtype),
        is_turning=jnp.zeros((), bool),
        is_divergent=jnp.zeros((), bool),
    )
    target_leaves = jnp.left_shift(jnp.ones((), jnp.int32), depth)

    def keep_building(sub: _Subtree):
        return (sub.num_leaves < target_leaves) & ~sub.is_turning & ~sub.is_divergent

    def add_leaf(sub: _Subtree):
        return _subtree_leaf(consts, signed_step, subtree_words, sub)

    return jax.lax.while_loop(keep_building, add_leaf, initial)


def _merged_tree_turning(tree: _Tree, sub: _Subtree, going_right, momentum_sum):
    """U-turn across the merged trajectory, with Stan's two checks around the seam."""
    new_end, new_end_velocity = sub.frontier, sub.frontier_velocity
    # Slot 0 is written only by leaf 0, for which B_0 = 0: start_offset = p_0 / 2.
    first_momentum = 2.0 * sub.checkpoints.start_offset[0]
    first_velocity = sub.checkpoints.velocity[0]
    far, far_velocity = _select(going_right, (tree.left, tree.velocity_left),
                                (tree.right, tree.velocity_right))
    near, near_velocity = _select(going_right, (tree.right, tree.velocity_right),
                                  (tree.left, tree.velocity_left))
    whole = turning_from_velocities(far_velocity, new_end_velocity, far.momentum,
                                    new_end.momentum, momentum_sum)
    old_plus_first = turning_from_velocities(
        far_velocity, first_velocity, far.momentum, first_momentum,
        tree.momentum_sum + first_momentum)
    near_plus_new = turning_from_velocities(
        near_velocity, new_end_velocity, near.momentum, new_end.momentum,
        sub.momentum_sum + near.momentum)
    return whole | old_plus_first | near_plus_new


def _merge(tree: _Tree, sub: _Subtree, going_right, uniform) -> _Tree:
    """Merge a subtree into the tree with biased progressive sampling (Betancourt 2017)."""
    valid = ~sub.is_turning & ~sub.is_divergent
    take_subtree = valid & (jnp.log(uniform) < sub.log_weight - tree.log_weight)
    proposal = _select(take_subtree, sub.proposal, tree.proposal)
    log_weight = jnp.where(valid, jnp.logaddexp(tree.log_weight, sub.log_weight),
                           tree.log_weight)
    momentum_sum = tree.momentum_sum + sub.momentum_sum
    turning = valid & _merged_tree_turning(tree, sub, going_right, momentum_sum)
    left, velocity_left = _select(going_right, (tree.left, tree.velocity_left),
                                  (sub.frontier, sub.frontier_velocity))
    right, velocity_right = _select(going_right, (sub.frontier, sub.frontier_velocity),
                                    (tree.right, tree.velocity_right))
    return _Tree(
        left=left,
        right=right,
        velocity_left=velocity_left,
        velocity_right=velocity_right,
        momentum_sum=momentum_sum,
        proposal=proposal,
        log_weight=log_weight,
        depth=tree.depth + valid.astype(jnp.int32),
        num_steps=tree.num_steps + sub.num_leaves,
        sum_accept=tree.sum_accept + sub.sum_accept,
        is_turning=sub.is_turning | turning,
        is_divergent=sub.is_divergent,
    )


_DIRECTION_STREAM, _MERGE_STREAM, _SUBTREE_STREAM = 1, 2, 3


def _double(consts: _Constants, tree: _Tree) -> _Tree:
    """One doubling: pick a direction, build a subtree of ``2^depth`` steps, merge it."""
    direction_bits, _ = bits_from_counter(consts.rng_words, tree.depth, _DIRECTION_STREAM)
    going_right = jnp.right_shift(direction_bits, jnp.uint32(31)) == 1
    subtree_words = bits_from_counter(consts.rng_words, tree.depth, _SUBTREE_STREAM)
    sub = _build_subtree(consts, tree, going_right, tree.depth, subtree_words)
    merge_uniform = uniform_from_counter(consts.rng_words, tree.depth,
                                         tree.log_weight.dtype, _MERGE_STREAM)
    return _merge(tree, sub, going_right, merge_uniform)


def _initial_tree(consts: _Constants, start: IntegratorState, velocity) -> _Tree:
    dtype = start.momentum.dtype
    proposal = _Proposal(start.position, start.potential_energy, start.potential_energy_grad,
                         consts.initial_energy)
    return _Tree(
        left=start,
        right=start,
        velocity_left=velocity,
        velocity_right=velocity,
        momentum_sum=start.momentum,
        proposal=proposal,
        log_weight=jnp.zeros((), dtype),
        depth=jnp.zeros((), jnp.int32),
        num_steps=jnp.zeros((), jnp.int32),
        sum_accept=jnp.zeros((), dtype),
        is_turning=jnp.zeros((), bool),
        is_divergent=jnp.zeros((), bool),
    )


def _check_max_tree_depth(max_tree_depth):
    if isinstance(max_tree_depth, bool) or not isinstance(max_tree_depth, int):
        raise TypeError(
            f"nuts_step: max_tree_depth must be a Python int, got {max_tree_depth!r}"
        )
    if not 1 <= max_tree_depth <= 30:
        raise ValueError(
            f"nuts_step: max_tree_depth must be between 1 and 30, got {max_tree_depth}"
        )


def nuts_step(
    rng_key,
    state: HMCState,
    potential_fn: Callable,
    step_size,
    inverse_mass_matrix,
    max_tree_depth: int = 10,
    max_delta_energy=1000.0,
) -> tuple[HMCState, NUTSInfo]:
    """One NUTS transition (multinomial sampling, generalized U-turn criterion).

    Args:
        rng_key: a ``jax.random`` key.
        state: current :class:`~.hmc.HMCState` with a ``(d,)`` position.
        potential_fn: ``(d,) -> scalar`` negative log density.
        step_size: scalar leapfrog step size (may be traced).
        inverse_mass_matrix: ``(d,)`` diagonal or ``(d, d)`` dense inverse mass matrix.
        max_tree_depth: static cap on the number of doublings; at most
            ``2^max_tree_depth - 1`` leapfrog steps are taken.
        max_delta_energy: energy error ``H - H0`` above which a step is divergent.

    Returns:
        ``(new_state, info)`` with ``info`` a :class:`NUTSInfo`.
    """
    _check_max_tree_depth(max_tree_depth)
    position = state.position
    metric = gaussian_euclidean(as_dtype_of(inverse_mass_matrix, position))
    key_momentum, key_tree = jax.random.split(rng_key)
    momentum = metric.sample_momentum(key_momentum, position)
    velocity = metric.velocity(momentum)
    initial_energy = state.potential_energy + 0.5 * jnp.dot(momentum, velocity)
    consts = _Constants(
        step=velocity_verlet(potential_fn, metric),
        metric=metric,
        step_size=as_dtype_of(step_size, position),
        initial_energy=initial_energy,
        max_delta_energy=max_delta_energy,
        rng_words=key_words(key_tree),
        num_slots=max(max_tree_depth - 1, 1),
    )
    start = IntegratorState(position, momentum, state.potential_energy,
                            state.potential_energy_grad)

    def keep_doubling(tree: _Tree):
        return (tree.depth < max_tree_depth) & ~tree.is_turning & ~tree.is_divergent

    tree = jax.lax.while_loop(keep_doubling, lambda t: _double(consts, t),
                              _initial_tree(consts, start, velocity))
    proposal = tree.proposal
    info = NUTSInfo(
        acceptance_rate=tree.sum_accept / jnp.maximum(tree.num_steps, 1).astype(
            tree.sum_accept.dtype),
        is_divergent=tree.is_divergent,
        energy=proposal.energy,
        num_integration_steps=tree.num_steps,
        tree_depth=tree.depth,
        is_turning=tree.is_turning,
    )
    new_state = HMCState(proposal.position, proposal.potential_energy,
                         proposal.potential_energy_grad)
    return new_state, info
