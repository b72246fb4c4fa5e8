"""Selection effects: the expected number of detections ``mu(Lambda)`` from fixed draws."""

from .analytic import AnalyticDetector, analytic_pdet, angular_factor_survival
from .base import SelectionEstimator, SelectionTerms
from .config import (
    AnalyticPdetConfig,
    CustomConfig,
    InjectionConfig,
    NeuralVTConfig,
    VTGridConfig,
    from_config,
    parse_selection_config,
)
from .custom import custom
from .injection import injection, write_injection_npz
from .lvk_injections import (
    InjectionSet,
    combine_injection_sets,
    lvk_injection_layout,
    lvk_injections,
    read_lvk_injections,
)
from .neural_vt import NeuralVT, load_neural_vt, neural_vt, save_neural_vt
from .vt_grid import vt_grid

__all__ = [
    "AnalyticDetector",
    "AnalyticPdetConfig",
    "CustomConfig",
    "InjectionConfig",
    "InjectionSet",
    "NeuralVT",
    "NeuralVTConfig",
    "SelectionEstimator",
    "SelectionTerms",
    "VTGridConfig",
    "analytic_pdet",
    "angular_factor_survival",
    "combine_injection_sets",
    "custom",
    "from_config",
    "injection",
    "load_neural_vt",
    "lvk_injection_layout",
    "lvk_injections",
    "neural_vt",
    "parse_selection_config",
    "read_lvk_injections",
    "save_neural_vt",
    "vt_grid",
    "write_injection_npz",
]
