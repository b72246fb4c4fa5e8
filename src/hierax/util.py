"""Process-wide settings a user may choose before running models.

These functions change JAX's global configuration on the user's request;
hierax itself never calls them.
"""

from __future__ import annotations

import os
import re

import jax

__all__ = ["enable_x64", "set_host_device_count", "set_platform"]


def enable_x64(use_x64: bool = True) -> None:
    """Use double precision (float64) by default for the rest of the process."""
    jax.config.update("jax_enable_x64", bool(use_x64))


def set_platform(platform: str | None = None) -> None:
    """Choose the JAX platform: ``"cpu"``, ``"gpu"`` or ``"tpu"`` (default: JAX's choice)."""
    if platform is None:
        return
    if platform not in ("cpu", "gpu", "tpu", "cuda", "rocm"):
        raise ValueError(f"set_platform: unknown platform {platform!r}; use cpu, gpu or tpu.")
    jax.config.update("jax_platforms", platform)


def set_host_device_count(n: int) -> None:
    """Expose ``n`` CPU devices to JAX, so chains can run in parallel on a CPU.

    Takes effect only if called before JAX initialises its CPU backend (before
    the first computation). hierax's ``chain_method="parallel"`` does not
    need it: with a single device it runs chains vectorized instead.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_host_device_count: n must be a positive int, got {n!r}.")
    flags = os.environ.get("XLA_FLAGS", "")
    flags = re.sub(r"--xla_force_host_platform_device_count=\S+", "", flags).split()
    flags.append(f"--xla_force_host_platform_device_count={n}")
    os.environ["XLA_FLAGS"] = " ".join(flags)
    try:
        jax.config.update("jax_num_cpu_devices", n)
    except (AttributeError, RuntimeError, ValueError):
        pass  # the backend is already initialised: the flag applies to new processes
