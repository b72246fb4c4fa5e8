"""Inferred mass distributions for ``hierax-pop report``: dR/dm1 and dR/dq per draw.

For the mass part of the population (the same mass components and smoothing;
spins, tilts and eccentricity integrate to one; redshift is left out, so the rates
are local, at ``z = 0``), in Gpc^-3 yr^-1 per unit mass or mass ratio:

    dR/dm1 = int rho(m1, m2) dm2,      dR/dq = int rho(m1, q m1) m1 dm1,

each integral by the trapezoid rule on a fixed grid (``m2 = m_low + u (m1 - m_low)``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["mass_rate_curves"]

_M2_POINTS = 200
_M1_POINTS = 240
_Q_POINTS = 120
_M_LOW = 1.0


def _mass_model(options: dict):
    from hierax.pop.models import PopulationModel

    return PopulationModel(options["n_pl"], options["n_g"], n_plp=options.get("n_plp", 0),
                           n_bp2p=options.get("n_bp2p", 0), smoothing=options["smoothing"])


def mass_rate_curves(options: dict, hyper: dict, m_high: float):
    """``(m1_grid, dR/dm1 (draws, M), q_grid, dR/dq (draws, Q))`` for draws of ``hyper``.

    ``options`` are the model options (``n_pl``, ``n_g``, ``n_plp``, ``n_bp2p``,
    ``smoothing``); ``hyper``
    maps names to ``(draws,)`` arrays (names the mass model does not read are ignored).
    """
    import jax
    import jax.numpy as jnp

    model = _mass_model(options)
    draws = {n: jnp.asarray(np.asarray(hyper[n], dtype=np.float32))
             for n in model.hyperparameter_names}
    m1 = np.linspace(_M_LOW, m_high, _M1_POINTS)
    u = np.linspace(0.0, 1.0, _M2_POINTS)
    q = np.linspace(_M_LOW / m_high, 1.0, _Q_POINTS)
    m2_grid = _M_LOW + u[None, :] * (m1[:, None] - _M_LOW)
    theta_m1 = np.stack(np.broadcast_arrays(m1[:, None], m2_grid), axis=-1).astype(np.float32)
    theta_q = np.stack(np.broadcast_arrays(m1[None, :], q[:, None] * m1[None, :]),
                       axis=-1).astype(np.float32)

    def curves(h):
        rho_m1 = jnp.exp(model.log_rate_density(jnp.asarray(theta_m1), h))
        dr_dm1 = jnp.trapezoid(rho_m1, jnp.asarray(u), axis=-1) * (m1 - _M_LOW)
        rho_q = jnp.exp(model.log_rate_density(jnp.asarray(theta_q), h)) * m1[None, :]
        dr_dq = jnp.trapezoid(rho_q, jnp.asarray(m1), axis=-1)
        return dr_dm1, dr_dq

    dr_dm1, dr_dq = jax.jit(jax.vmap(curves))(draws)
    return m1, np.asarray(dr_dm1), q, np.asarray(dr_dq)
