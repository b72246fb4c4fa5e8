"""Selection from a user function named explicitly as ``"module:function"``.

``target`` is ``"package.module:function"`` (imported with :mod:`importlib`) or
``"path/to/file.py:function"`` (loaded from that file). The function takes
``(theta, parameter_names)`` with ``theta`` a float64 NumPy array ``(J, k)`` and
returns ``(J,)``: ``ln VT`` [Gpc^3 yr] (``quantity="log_vt"``) or ``ln p_det``
(``quantity="log_pdet"``; its columns then include ``redshift``).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Mapping, Sequence

from ..cosmology import PLANCK15, Cosmology
from .base import SelectionEstimator
from .weighted import from_weight_function

__all__ = ["custom", "load_function"]


def load_function(target: str) -> Callable:
    """The callable named by ``"pkg.module:function"`` or ``"path/file.py:function"``."""
    if not isinstance(target, str) or target.count(":") < 1:
        raise ValueError(
            f"custom: target must look like 'pkg.module:function' or 'file.py:function', "
            f"got {target!r}."
        )
    module_part, _, function_name = target.rpartition(":")
    if module_part.endswith(".py"):
        if not os.path.exists(module_part):
            raise ValueError(f"custom: file {module_part!r} does not exist.")
        spec = importlib.util.spec_from_file_location(
            f"hierax_custom_selection_{abs(hash(os.path.abspath(module_part)))}", module_part
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(module_part)
        except ImportError as error:
            raise ValueError(f"custom: cannot import module {module_part!r}: {error}") from error
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ValueError(f"custom: {module_part!r} has no function {function_name!r}.")
    return function


def custom(
    target: str | Callable,
    parameter_names: Sequence[str],
    *,
    quantity: str = "log_vt",
    time: float = 1.0,
    num_samples: int = 100_000,
    mass_range: tuple[float, float] = (2.0, 200.0),
    ranges: Mapping[str, tuple[float, float]] | None = None,
    z_max: float = 3.0,
    cosmology: Cosmology = PLANCK15,
    seed: int = 0,
    batch_size: int | None = None,
) -> SelectionEstimator:
    """Selection from a user's ``ln VT`` or ``ln p_det`` function (module docstring)."""
    kinds = {"log_vt": "vt", "log_pdet": "pdet"}
    if quantity not in kinds:
        raise ValueError(f"custom: quantity must be 'log_vt' or 'log_pdet', got {quantity!r}.")
    function = target if callable(target) else load_function(target)
    return from_weight_function(
        function,
        parameter_names,
        kind=kinds[quantity],
        time=time,
        num_samples=num_samples,
        mass_range=mass_range,
        ranges=ranges,
        z_max=z_max,
        cosmology=cosmology,
        seed=seed,
        batch_size=batch_size,
        description=f"custom({getattr(function, '__name__', target)})",
    )
