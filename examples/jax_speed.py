"""Why JAX: a black body's colour by Python loops, NumPy, ``jax.vmap`` and ``jax.jit``.

For a black body at temperature ``T`` the photon flux per unit wavelength is
(Planck's law times ``lambda / (h c)``)

    N(lambda, beta) ∝ lambda^-4 / (exp(1 / (beta lambda)) - 1),   beta = k T / (h c),

with ``lambda`` in micrometres and ``beta`` in 1/micrometre (``T = 14388 K *
beta``). Its colour through two filters with transmissions ``g(lambda)`` and
``r(lambda)`` (Gaussian curves around 0.48 and 0.62 micrometres here) is

    colour(beta) = log10( sum_lambda g N / sum_lambda r N ).

The script computes the colour for many temperatures with nested Python loops,
with NumPy (loop over temperatures, vectorized over wavelengths, as in H.
McDougall's "A Brief Introduction to NumPyro" talk, 2025), with NumPy
broadcasting, and with ``jax.vmap`` and ``jax.jit(jax.vmap(...))``, timing
the first (compiling) and second calls; then the derivative
``d colour / d beta`` by ``jax.grad``, checked against a central finite
difference of the float64 NumPy version.

Run:  python examples/jax_speed.py [--quick] [--temps 100000] [--out DIR]
"""

from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp
import numpy as np
from _common import example_parser, pyplot, save_figure

FILTERS = {"g": (0.48, 0.04), "r": (0.62, 0.045)}  # centre and width, micrometres
BETA_RANGE = (0.1, 10.0)  # about 1,400 K to 144,000 K
KELVIN_PER_BETA = 14387.8  # h c / k in micrometre kelvin


def wavelength_grid(num: int) -> np.ndarray:
    """``num`` wavelengths from 0.3 to 1.1 micrometres, float64."""
    return np.linspace(0.3, 1.1, num)


def filter_curves(wavelengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian transmissions ``g`` and ``r`` on ``wavelengths``, each shape ``(L,)``."""
    return tuple(np.exp(-0.5 * ((wavelengths - centre) / width) ** 2)
                 for centre, width in FILTERS.values())


def colour_python(betas, wavelengths, g, r) -> list[float]:
    """The colour with nested Python loops over temperatures and wavelengths."""
    wavelengths, g, r = (list(map(float, a)) for a in (wavelengths, g, r))
    colours = []
    for beta in map(float, betas):
        g_flux = r_flux = 0.0
        for lam, g_lam, r_lam in zip(wavelengths, g, r, strict=True):
            photons = lam**-4 / math.expm1(1.0 / (beta * lam))
            g_flux += g_lam * photons
            r_flux += r_lam * photons
        colours.append(math.log10(g_flux / r_flux))
    return colours


def colour_numpy_loop(betas, wavelengths, g, r) -> np.ndarray:
    """NumPy over wavelengths, a Python loop over temperatures; shape ``(T,)``."""
    colours = np.empty(len(betas))
    for i, beta in enumerate(betas):
        photons = wavelengths**-4 / np.expm1(1.0 / (beta * wavelengths))
        colours[i] = np.log10(np.sum(g * photons) / np.sum(r * photons))
    return colours


def colour_numpy(betas, wavelengths, g, r) -> np.ndarray:
    """NumPy broadcasting over temperatures ``(T, 1)`` and wavelengths ``(L,)``; ``(T,)``."""
    betas = np.asarray(betas, dtype=float)[:, None]
    photons = wavelengths**-4 / np.expm1(1.0 / (betas * wavelengths))
    return np.log10((photons @ g) / (photons @ r))


def make_colour_jax(wavelengths, g, r):
    """``colour(beta)`` for one scalar ``beta`` in ``jax.numpy`` (float32 by default)."""
    wavelengths, g, r = (jnp.asarray(a, dtype=jnp.float32) for a in (wavelengths, g, r))

    def colour(beta):
        photons = wavelengths**-4 / jnp.expm1(1.0 / (beta * wavelengths))
        return jnp.log10(jnp.sum(g * photons) / jnp.sum(r * photons))

    return colour


def timed(fn, *args):
    """``(fn(*args), seconds)``, waiting for JAX's asynchronous results."""
    start = time.perf_counter()
    result = jax.block_until_ready(fn(*args))
    return result, time.perf_counter() - start


def run_timings(betas, python_betas, wavelengths, g, r):
    """Every implementation on ``betas`` (Python loops on ``python_betas``).

    Returns ``(rows, results)``: rows ``(method, num_temperatures, seconds)``,
    and results name -> colours.
    """
    colour = make_colour_jax(wavelengths, g, r)
    betas32 = jnp.asarray(betas, dtype=jnp.float32)
    vmapped, jitted = jax.vmap(colour), jax.jit(jax.vmap(colour))
    runs = [
        ("python loops", colour_python, python_betas, (wavelengths, g, r)),
        ("numpy, loop over T", colour_numpy_loop, betas, (wavelengths, g, r)),
        ("numpy, broadcast", colour_numpy, betas, (wavelengths, g, r)),
        ("jax.vmap, 1st call", vmapped, betas32, ()),
        ("jax.vmap, 2nd call", vmapped, betas32, ()),
        ("jax.jit(vmap), 1st call (compiles)", jitted, betas32, ()),
        ("jax.jit(vmap), 2nd call", jitted, betas32, ()),
    ]
    rows, results = [], {}
    for name, fn, inputs, extra in runs:
        results[name], seconds = timed(fn, inputs, *extra)
        rows.append((name, len(inputs), seconds))
    return rows, results


def print_timings(rows) -> None:
    """The timing table, with the cost per temperature."""
    print(f"\n{'method':<36} {'temperatures':>12} {'seconds':>10} {'us / temperature':>17}")
    for name, count, seconds in rows:
        print(f"{name:<36} {count:>12} {seconds:>10.4f} {1e6 * seconds / count:>17.2f}")


def gradient_check(betas, wavelengths, g, r):
    """``jax.grad`` of the float32 colour and a float64 central difference, both ``(B,)``."""
    grad = jax.jit(jax.vmap(jax.grad(make_colour_jax(wavelengths, g, r))))
    autodiff = np.asarray(grad(jnp.asarray(betas, dtype=jnp.float32)), dtype=float)
    step = 1e-5 * np.asarray(betas, dtype=float)
    finite_difference = (colour_numpy(betas + step, wavelengths, g, r)
                         - colour_numpy(betas - step, wavelengths, g, r)) / (2 * step)
    return autodiff, finite_difference


def plot_spectra(wavelengths, g, r, betas, colours, gradient, out_dir):
    """Spectra with the filters, the colour against beta, and its derivative."""
    plt = pyplot()
    fig, (ax_spec, ax_colour, ax_grad) = plt.subplots(1, 3, figsize=(14, 3.8))
    for i, beta in enumerate((0.2, 0.35, 0.7, 2.0)):
        photons = wavelengths**-4 / np.expm1(1.0 / (beta * wavelengths))
        ax_spec.plot(wavelengths, photons / photons.max(), color=f"C{i}",
                     label=f"T = {KELVIN_PER_BETA * beta:,.0f} K")
    for curve, name, colour in ((g, "g", "green"), (r, "r", "red")):
        ax_spec.fill_between(wavelengths, curve, alpha=0.15, color=colour, label=f"{name} filter")
    ax_spec.set(xlabel="wavelength [micrometre]", ylabel="photon flux (peak = 1)",
                title="Black-body spectra and filters")
    ax_spec.legend(fontsize=7)
    ax_colour.plot(betas, colours)
    ax_colour.set(xscale="log", xlabel=r"$\beta = kT / hc$",
                  ylabel=r"$\log_{10}(f_g / f_r)$", title="Colour")
    ax_grad.plot(betas, gradient)
    ax_grad.set(xscale="log", yscale="log", xlabel=r"$\beta$",
                ylabel=r"$\partial \log_{10}(f_g / f_r) / \partial\beta$",
                title="Derivative (jax.grad)")
    for ax in (ax_colour, ax_grad):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, out_dir, "jax_speed_spectra.png")


def main(argv=None):
    """Time the implementations and check the gradient; returns the timings and arrays."""
    parser = example_parser(__doc__, mcmc=False)
    parser.add_argument("--temps", type=int, default=100_000, help="number of temperatures")
    parser.add_argument("--python-temps", type=int, default=1_000,
                        help="temperatures for the (slow) pure-Python loops")
    parser.add_argument("--wavelengths", type=int, default=500)
    args = parser.parse_args(argv)
    if args.quick:
        args.temps, args.python_temps, args.wavelengths = 2_000, 40, 200
    wavelengths = wavelength_grid(args.wavelengths)
    g, r = filter_curves(wavelengths)
    betas = np.geomspace(*BETA_RANGE, args.temps)
    python_betas = betas[:: max(1, args.temps // args.python_temps)]
    rows, results = run_timings(betas, python_betas, wavelengths, g, r)
    print_timings(rows)
    check_betas = np.exp(np.random.default_rng(args.seed).uniform(
        *np.log(BETA_RANGE), size=64))
    autodiff, finite_difference = gradient_check(np.sort(check_betas), wavelengths, g, r)
    relative = np.max(np.abs(autodiff - finite_difference) / np.abs(finite_difference))
    print(f"\njax.grad against a central finite difference at {len(check_betas)} temperatures: "
          f"max relative difference {relative:.2e}")
    plot_betas = np.geomspace(*BETA_RANGE, 400)
    gradient, _ = gradient_check(plot_betas, wavelengths, g, r)
    plot_spectra(wavelengths, g, r, plot_betas,
                 colour_numpy(plot_betas, wavelengths, g, r), gradient, args.out)
    return {
        "timings": {name: seconds for name, _, seconds in rows},
        "betas": betas,
        "python_betas": python_betas,
        "colour_numpy": results["numpy, broadcast"],
        "colour_numpy_loop": results["numpy, loop over T"],
        "colour_python": np.asarray(results["python loops"]),
        "colour_jit": np.asarray(results["jax.jit(vmap), 2nd call"]),
        "colour_vmap": np.asarray(results["jax.vmap, 2nd call"]),
        "grad_jax": autodiff,
        "grad_finite_difference": finite_difference,
    }


if __name__ == "__main__":
    main()
