"""The SwiGLU gate for mlx on a CPU, where mlx computes exp one scalar at a time (~10 ns an element): in a
small model's forward pass the gate costs more than the matrix products, and numpy's SIMD exp is several
times faster, at the cost of evaluating there.
"""
import numpy as np

from harness.backends.mlx_env import ensure_fast_blas

ensure_fast_blas()  # before mlx is first imported, whoever imports this module first
import mlx.core as mx  # noqa: E402


def swiglu(gate: mx.array, x: mx.array) -> mx.array:
    """silu(gate) * x, as mlx-lm's swiglu, the silu in numpy (float32; half-precision gates are widened)."""
    g = np.asarray(gate.astype(mx.float32))
    with np.errstate(over="ignore"):  # exp(-g) is inf for very negative g, and g / inf the exact 0 wanted
        silu = g / (1.0 + np.exp(-g))
    return mx.array(silu).astype(gate.dtype) * x
