"""The in-process mlx-lm backend: every call into mlx and mlx-lm lives here (and in mlx_build.py).

Prompts are rendered with the model's own chat template and `tools=`; generation is greedy unless
the model entry sets a temperature.
"""
import hashlib
import time
from pathlib import Path
from typing import Iterator

from harness.backends.base import Backend, Generation, LoadInfo, Request
from harness.backends.mlx_env import ensure_fast_blas
from harness.errors import InputError
from harness.suite import openai_tools

WEIGHT_SUFFIXES = (".safetensors", ".npz", ".gguf", ".bin")


def weights_size(path: Path) -> int:
    """Bytes of the weight files in a model (or adapter) folder."""
    return sum(p.stat().st_size for p in Path(path).iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)


class MLXBackend(Backend):
    name = "mlx"
    option_keys = ("path", "adapter_path")
    required_keys = ("path",)

    def load(self) -> LoadInfo:
        blas = ensure_fast_blas()
        path = self.spec.options["path"]
        if path == "demo":
            from harness.backends.mlx_build import demo_model_path

            path = str(demo_model_path(progress=lambda m: print(m, flush=True)))
        if not Path(path).is_dir():
            raise InputError(f"{self.spec.source}: model folder '{path}' does not exist; set 'path' to a folder with config.json")
        adapter = self.spec.options.get("adapter_path")
        if adapter and not Path(adapter).is_dir():
            raise InputError(f"{self.spec.source}: adapter folder '{adapter}' does not exist; fix 'adapter_path'")
        import mlx.core as mx
        from mlx_lm import load

        mx.reset_peak_memory()
        t0 = time.perf_counter()
        try:
            self.model, self.tokenizer = load(path, adapter_path=adapter)
        except Exception as e:  # mlx-lm raises many kinds for a bad folder; say which folder
            raise InputError(f"{self.spec.source}: mlx-lm could not load '{path}': {type(e).__name__}: {e}") from None
        load_s = time.perf_counter() - t0
        for token in self.spec.extra_eos_tokens:
            self.tokenizer.add_eos_token(token)
        self.path = path
        size = weights_size(Path(path)) + (weights_size(Path(adapter)) if adapter else 0)
        import mlx_lm

        details = {"path": str(Path(path).resolve()), "adapter_path": adapter, "mlx_version": mx.__version__,
                   "mlx_lm_version": mlx_lm.__version__, "device": str(mx.default_device()), "blas": blas or "bundled"}
        return LoadInfo(load_s=load_s, size_bytes=size, details=details)

    def render(self, request: Request) -> list[int]:
        case = request.case
        kwargs = dict(self.spec.chat_template_kwargs)
        return self.tokenizer.apply_chat_template(case.messages, tools=openai_tools(case.tools) or None,
                                                  add_generation_prompt=True, **kwargs)

    def generate(self, requests: list[Request]) -> Iterator[Generation]:
        from mlx_lm import stream_generate
        from mlx_lm.sample_utils import make_sampler
        import mlx.core as mx

        sampler = make_sampler(temp=self.spec.temperature, top_p=self.spec.top_p)
        for request in requests:
            mx.random.seed(self.spec.seed + request.sample)
            ids = self.render(request)
            digest = hashlib.sha256(repr(ids).encode()).hexdigest()
            text, ttft, last = "", None, None
            t0 = time.perf_counter()
            for last in stream_generate(self.model, self.tokenizer, prompt=ids, max_tokens=self.spec.max_tokens,
                                        sampler=sampler):
                if ttft is None:
                    ttft = time.perf_counter() - t0
                text += last.text
            latency = time.perf_counter() - t0
            yield Generation(
                case_id=request.case.id, sample=request.sample, output=text, prompt_sha256=digest,
                prompt_tokens=len(ids), completion_tokens=last.generation_tokens if last else 0,
                latency_s=latency, ttft_s=ttft, finish_reason=last.finish_reason if last else None,
                timing="sequential",
            )

    def peak_memory_bytes(self) -> int | None:
        import mlx.core as mx

        return int(mx.get_peak_memory())
