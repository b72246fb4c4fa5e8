"""Pure HMC/NUTS transition kernels and Stan-style warmup over a flat potential.

Everything here works on a flat ``(d,)`` position and a ``potential_fn(position) ->
scalar`` (negative log density); states are ``NamedTuple`` pytrees, so the functions
can be ``jit``-ed, ``vmap``-ed over chains and ``lax.scan``-ed over iterations.
"""

from .adaptation import (
    MAX_HMC_STEPS_FROM_LENGTH,
    AdaptationState,
    WindowAdaptation,
    make_kernel,
    run_sampling,
    run_warmup,
    window_adaptation,
)
from .hmc import HMCInfo, HMCState, hmc_step, init
from .integrators import IntegratorState, new_integrator_state, velocity_verlet
from .mass_matrix import WelfordState, welford_covariance, welford_init, welford_update
from .metrics import Metric, gaussian_euclidean
from .nuts import NUTSInfo, nuts_step
from .schedule import WarmupSchedule, build_schedule
from .step_size import (
    DualAveragingState,
    dual_averaging_final,
    dual_averaging_init,
    dual_averaging_update,
    find_reasonable_step_size,
)

__all__ = [
    "MAX_HMC_STEPS_FROM_LENGTH",
    "AdaptationState",
    "DualAveragingState",
    "HMCInfo",
    "HMCState",
    "IntegratorState",
    "Metric",
    "NUTSInfo",
    "WarmupSchedule",
    "WelfordState",
    "WindowAdaptation",
    "build_schedule",
    "dual_averaging_final",
    "dual_averaging_init",
    "dual_averaging_update",
    "find_reasonable_step_size",
    "gaussian_euclidean",
    "hmc_step",
    "init",
    "make_kernel",
    "new_integrator_state",
    "nuts_step",
    "run_sampling",
    "run_warmup",
    "velocity_verlet",
    "welford_covariance",
    "welford_init",
    "welford_update",
    "window_adaptation",
]
