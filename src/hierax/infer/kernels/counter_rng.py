"""Counter-based random numbers for the NUTS inner loop.

Multinomial sampling inside a NUTS subtree needs one uniform number per leapfrog
step (and the doubling loop needs a direction, a merge decision and a subtree key
per doubling). Drawing them with ``jax.random`` inside the ``while_loop`` costs a nested loop per
step on some backends (the rolled Threefry lowering on CPU), which blocks fusion of
the loop body. Here the Threefry-2x32 block cipher (20 rounds) is written out as plain
``uint32`` arithmetic, so a leaf's random bits are one fused elementwise computation
of (subtree key, leaf index), with the statistical quality of Threefry (the output
matches ``jax.extend.random.threefry_2x32``).

References:
    Salmon, J. K., Moraes, M. A., Dror, R. O. & Shaw, D. E. (2011). Parallel random
    numbers: as easy as 1, 2, 3. SC '11 (Threefry-2x32, rotation constants, key
    schedule with the parity constant 0x1BD11BDA).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["bits_from_counter", "key_words", "threefry2x32", "uniform_from_counter"]

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KEY_PARITY = 0x1BD11BDA


def _rotate_left(x, distance: int):
    return jnp.left_shift(x, jnp.uint32(distance)) | jnp.right_shift(
        x, jnp.uint32(32 - distance))


def threefry2x32(key0, key1, counter0, counter1):
    """Threefry-2x32 with 20 rounds on ``uint32`` words (all broadcastable arrays).

    Returns:
        The two encrypted ``uint32`` words ``(x0, x1)``.
    """
    key0, key1 = jnp.asarray(key0, jnp.uint32), jnp.asarray(key1, jnp.uint32)
    schedule = (key0, key1, key0 ^ key1 ^ jnp.uint32(_KEY_PARITY))
    x0 = jnp.asarray(counter0, jnp.uint32) + schedule[0]
    x1 = jnp.asarray(counter1, jnp.uint32) + schedule[1]
    for block in range(5):
        for distance in _ROTATIONS[block % 2]:
            x0 = x0 + x1
            x1 = _rotate_left(x1, distance) ^ x0
        x0 = x0 + schedule[(block + 1) % 3]
        x1 = x1 + schedule[(block + 2) % 3] + jnp.uint32(block + 1)
    return x0, x1


def key_words(rng_key):
    """The first two ``uint32`` words of a ``jax.random`` key (raw or typed)."""
    data = jax.random.key_data(rng_key).reshape(-1)
    return data[0], data[1]


def bits_from_counter(words, counter, stream=0):
    """Two pseudo-random ``uint32`` words for the counter ``(counter, stream)`` under ``words``."""
    return threefry2x32(words[0], words[1], jnp.asarray(counter).astype(jnp.uint32),
                        jnp.asarray(stream).astype(jnp.uint32))


def uniform_from_counter(words, counter, dtype, stream=0):
    """A uniform number on ``[0, 1)`` in ``dtype`` for the counter ``(counter, stream)``.

    Uses ``min(32, nmant + 1)`` random bits, so every value is exactly representable
    and ``1.0`` is never returned.
    """
    bits, _ = bits_from_counter(words, counter, stream)
    mantissa_bits = min(jnp.finfo(dtype).nmant + 1, 32)
    bits = jnp.right_shift(bits, jnp.uint32(32 - mantissa_bits))
    return bits.astype(dtype) * (2.0 ** -mantissa_bits)
