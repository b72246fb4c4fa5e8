"""MCMC diagnostics: effective sample size, R-hat, Monte Carlo standard errors,
credible intervals and summary tables.

All functions run on the host with NumPy and accept NumPy or JAX arrays laid
out as ``(num_chains, num_draws, *param_shape)``; they are vectorised over the
parameter dimensions.
"""

from hierax.diagnostics.correlation import autocorrelation, autocovariance
from hierax.diagnostics.ess import effective_sample_size, ess_bulk, ess_tail
from hierax.diagnostics.intervals import equal_tailed_interval, hpdi, quantiles
from hierax.diagnostics.mcse import mcse
from hierax.diagnostics.rhat import gelman_rubin, rank_normalized_rhat, rhat, split_gelman_rubin
from hierax.diagnostics.summary import format_summary, print_summary, summary

__all__ = [
    "autocorrelation",
    "autocovariance",
    "effective_sample_size",
    "equal_tailed_interval",
    "ess_bulk",
    "ess_tail",
    "format_summary",
    "gelman_rubin",
    "hpdi",
    "mcse",
    "print_summary",
    "quantiles",
    "rank_normalized_rhat",
    "rhat",
    "split_gelman_rubin",
    "summary",
]
