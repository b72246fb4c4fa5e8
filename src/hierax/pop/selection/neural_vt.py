"""Sensitive volume-time from a ReLU multilayer perceptron in GWKokab's HDF5 format.

File layout (GWKokab ``gwkokab.vts``): a dataset ``names`` (byte strings, the
input columns in order) and groups ``layer_0, layer_1, ...``, group ``layer_i``
holding ``weight_i`` of shape ``(out, in)`` and ``bias_i`` of shape ``(out,)``.
The network is ``x -> W_0 x + b_0 -> relu -> ... -> W_L x + b_L`` (no activation
after the last layer) and its single output is ``ln VT``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from ..cosmology import PLANCK15, Cosmology
from .base import SelectionEstimator
from .weighted import from_weight_function

__all__ = ["NeuralVT", "neural_vt", "load_neural_vt", "save_neural_vt"]


class NeuralVT:
    """A loaded network: ``log_vt(theta, parameter_names) -> (J,)`` in float64 NumPy."""

    def __init__(
        self,
        names: Sequence[str],
        weights: Sequence[np.ndarray],
        biases: Sequence[np.ndarray],
        source: str = "neural_vt",
    ):
        self.names = tuple(names)
        self.weights = [np.asarray(w, dtype=np.float64) for w in weights]
        self.biases = [np.asarray(b, dtype=np.float64) for b in biases]
        self.source = source
        width = len(self.names)
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            if w.ndim != 2 or w.shape[1] != width or b.shape != (w.shape[0],):
                raise ValueError(
                    f"neural_vt: {source}: layer_{i} has weight {w.shape} and bias {b.shape}; "
                    f"expected ({b.shape[0] if b.ndim else '?'}, {width}) and (out,)."
                )
            width = w.shape[0]
        if width != 1:
            raise ValueError(f"neural_vt: {source}: the last layer has {width} outputs, not 1.")

    def log_vt(self, theta: np.ndarray, parameter_names: Sequence[str]) -> np.ndarray:
        """``ln VT`` at each row of ``theta (J, k)`` whose columns are ``parameter_names``."""
        names = tuple(parameter_names)
        missing = [n for n in self.names if n not in names]
        if missing:
            raise ValueError(
                f"neural_vt: {self.source} expects inputs {self.names}; the population "
                f"columns {names} lack {missing}."
            )
        x = np.asarray(theta, dtype=np.float64)[:, [names.index(n) for n in self.names]]
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = x @ w.T + b
            if i < last:
                x = np.maximum(x, 0.0)
        return x[:, 0]


def load_neural_vt(filename: str | os.PathLike) -> NeuralVT:
    """Read a network in GWKokab's neural-VT HDF5 format."""
    import h5py

    path = os.fspath(filename)
    if not os.path.exists(path):
        raise ValueError(f"neural_vt: file {path!r} does not exist.")
    with h5py.File(path, "r") as handle:
        if "names" not in handle or "layer_0" not in handle:
            raise ValueError(
                f"neural_vt: {path!r} is not a neural-VT file (needs 'names' and 'layer_0'; "
                f"has {list(handle)})."
            )
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in handle["names"][()]]
        weights, biases = [], []
        while f"layer_{len(weights)}" in handle:
            i = len(weights)
            group = handle[f"layer_{i}"]
            weights.append(np.asarray(group[f"weight_{i}"][()]))
            biases.append(np.asarray(group[f"bias_{i}"][()]))
    return NeuralVT(names, weights, biases, source=repr(path))


def save_neural_vt(filename, names: Sequence[str], weights, biases) -> None:
    """Write a network in GWKokab's neural-VT HDF5 format."""
    import h5py

    with h5py.File(os.fspath(filename), "w") as handle:
        handle.create_dataset("names", data=np.array(list(names), dtype="S"))
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            group = handle.create_group(f"layer_{i}")
            group.create_dataset(f"weight_{i}", data=np.asarray(w))
            group.create_dataset(f"bias_{i}", data=np.asarray(b))


def neural_vt(
    filename: str | os.PathLike,
    parameter_names: Sequence[str],
    *,
    time_scale: float = 1.0,
    num_samples: int = 100_000,
    mass_range: tuple[float, float] = (2.0, 200.0),
    ranges: Mapping[str, tuple[float, float]] | None = None,
    cosmology: Cosmology = PLANCK15,
    seed: int = 0,
    batch_size: int | None = None,
) -> SelectionEstimator:
    """``mu = time_scale * integral VT(theta) rho(theta) dtheta`` by fixed reference draws.

    The population must not have redshift (the VT integrates over it).
    """
    network = load_neural_vt(filename)
    network.log_vt(np.zeros((1, len(parameter_names))), parameter_names)  # checks names
    return from_weight_function(
        network.log_vt,
        parameter_names,
        kind="vt",
        time=time_scale,
        num_samples=num_samples,
        mass_range=mass_range,
        ranges=ranges,
        cosmology=cosmology,
        seed=seed,
        batch_size=batch_size,
        description=f"neural_vt({os.path.basename(os.fspath(filename))})",
    )
