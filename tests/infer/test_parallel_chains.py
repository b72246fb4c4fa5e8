"""chain_method="parallel" spreads chains over several devices (shard_map).

The number of CPU devices is fixed when JAX starts, so the check runs in a
fresh interpreter with two host devices.
"""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import hierax
    hierax.set_host_device_count(2)
    import warnings
    import jax, jax.numpy as jnp, numpy as np
    import hierax.distributions as dist
    from hierax.infer import MCMC, NUTS

    def model(y):
        mu = hierax.sample("mu", dist.Normal(0.0, 10.0))
        with hierax.plate("n", y.shape[0]):
            hierax.sample("y", dist.Normal(mu, 1.0), obs=y)

    assert jax.local_device_count() == 2
    draws = {}
    for method in ("parallel", "vectorized"):
        mcmc = MCMC(NUTS(model), num_warmup=100, num_samples=100, num_chains=4,
                    chain_method=method, progress_bar=False)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            mcmc.run(jax.random.PRNGKey(0), jnp.array([1.0, 2.0]))
        assert mcmc.chain_method_used == method
        draws[method] = np.asarray(mcmc.get_samples(group_by_chain=True)["mu"])
    assert draws["parallel"].shape == (4, 100)
    np.testing.assert_allclose(draws["parallel"], draws["vectorized"], rtol=1e-6, atol=1e-6)
    print("ok")
    """
)


def test_parallel_chains_on_two_devices_match_vectorized():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
