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
from .neural_vt import NeuralVT, load_neural_vt, neural_vt, save_neural_vt
from .vt_grid import vt_grid

__all__ = [
    "AnalyticDetector",
    "AnalyticPdetConfig",
    "CustomConfig",
    "InjectionConfig",
    "NeuralVT",
    "NeuralVTConfig",
    "SelectionEstimator",
    "SelectionTerms",
    "VTGridConfig",
    "analytic_pdet",
    "angular_factor_survival",
    "custom",
    "from_config",
    "injection",
    "load_neural_vt",
    "neural_vt",
    "parse_selection_config",
    "save_neural_vt",
    "vt_grid",
    "write_injection_npz",
]
