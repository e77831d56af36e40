"""Transcendental functions for mlx on a CPU, where mlx computes exp one scalar at a time (~10 ns an
element): in a small model's forward pass the softmax and the SwiGLU gate cost more than the matrix
products. Inside a decode step the graph stays lazy (one evaluation per step), so exp is a polynomial built
from elementwise ops, compiled into one kernel where the shapes repeat from step to step; over a prefill's
big arrays numpy's SIMD exp is faster still, at the cost of evaluating there.
"""
import numpy as np

from harness.backends.mlx_env import ensure_fast_blas

ensure_fast_blas()  # before mlx is first imported, whoever imports this module first
import mlx.core as mx  # noqa: E402

# exp(x) = 2^k * 2^f: k by the round-to-nearest trick (adding 1.5 * 2^23 leaves k in the low mantissa
# bits), 2^k assembled from k's bits, 2^f for f in [-1/2, 1/2] by a degree-6 polynomial (~1e-7 relative)
LOG2E = 1.4426950408889634
ROUND = 12582912.0
ROUND_BITS = 0x4B400000
EXP2_POLY = (1.535336188319500e-4, 1.339887440266574e-3, 9.618437357674640e-3, 5.550332471162809e-2,
             2.402264791363012e-1, 6.931472028550421e-1)


def exp(x: mx.array) -> mx.array:
    """exp(x) in float32 for x <= 0 (scores minus their row max), lazily; below e^-87 it returns ~1e-38,
    not 0. The bit tricks need float32, so half-precision scores are widened first."""
    y = mx.maximum(x.astype(mx.float32) * LOG2E, -126.0)
    t = y + ROUND
    f = y - (t - ROUND)
    p = EXP2_POLY[0]
    for c in EXP2_POLY[1:]:
        p = p * f + c
    scale = mx.view((mx.view(t, mx.int32) - (ROUND_BITS - 127)) * (1 << 23), mx.float32)
    return (p * f + 1.0) * scale


# compiled per shape (mx.view rules out shapeless compilation): for arrays whose shape a decode step repeats
exp_shifted = mx.compile(lambda x, top: exp(x - top))


@mx.compile
def _swiglu_lazy(gate: mx.array, x: mx.array) -> mx.array:
    g = gate.astype(mx.float32)
    e = exp(-mx.abs(g))
    return (g * mx.where(g >= 0, 1.0, e) / (1.0 + e)).astype(gate.dtype) * x


def swiglu(gate: mx.array, x: mx.array) -> mx.array:
    """silu(gate) * x, as mlx-lm's swiglu: lazily for one token a sequence (a decode step), through numpy
    for a prefill's tokens."""
    if gate.ndim < 2 or gate.shape[-2] == 1:
        return _swiglu_lazy(gate, x)
    g = np.asarray(gate.astype(mx.float32))
    with np.errstate(over="ignore"):  # exp(-g) is inf for very negative g, and g / inf the exact 0 wanted
        silu = g / (1.0 + np.exp(-g))
    return mx.array(silu).astype(gate.dtype) * x
