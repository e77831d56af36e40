"""Make mlx fast on a Linux CPU before it is first imported.

The mlx-cpu wheel links a reference BLAS that is about 35x slower at matmul than OpenBLAS; loading
the system OpenBLAS globally first makes mlx resolve cblas_sgemm to it (greedy outputs unchanged).
"""
import ctypes
import os
import sys

OPENBLAS_PATHS = (
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3",
    "/usr/lib/aarch64-linux-gnu/openblas-pthread/libblas.so.3",
)
_state: dict = {}


def ensure_fast_blas() -> str | None:
    """Preload OpenBLAS if present (Linux only); returns its path, or None when mlx keeps its own BLAS."""
    if "blas" in _state:
        return _state["blas"]
    found = None
    if sys.platform.startswith("linux") and os.environ.get("HARNESS_NO_OPENBLAS") != "1":
        if "mlx.core" in sys.modules:
            found = None  # too late to swap the BLAS mlx already bound
        else:
            for path in OPENBLAS_PATHS:
                if os.path.exists(path):
                    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
                    found = path
                    break
    _state["blas"] = found
    return found
