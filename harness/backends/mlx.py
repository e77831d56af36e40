"""The in-process mlx-lm backend: every call into mlx and mlx-lm lives here (and in mlx_build.py, mlx_batch.py).

Prompts are rendered with the model's own chat template and `tools=`; generation is greedy unless
the model entry sets a temperature. Cases are generated in batches from a shared prefix cache
(mlx_batch.py) unless latency_mode is "sequential" or the model's cache type cannot batch exactly.
"""
import hashlib
import sys
import time
from pathlib import Path
from typing import Iterator

from harness.backends.base import Backend, CallProbe, Generation, LoadInfo, Request
from harness.backends.mlx_env import ensure_fast_blas
from harness.backends.mlx_inspect import model_folder
from harness.errors import InputError
from harness.options import Option
from harness.suite import openai_tools

WEIGHT_SUFFIXES = (".safetensors", ".npz", ".gguf", ".bin")
LATENCY_MODES = ("batched", "sequential")
# A batch draws all its rows from one random stream; one case at a time, each case and sample has its own seed.
SAMPLED_ALONE = "temperature > 0: each case and sample is sampled alone from its own seed"


def weights_size(path: Path) -> int:
    """Bytes of the weight files in a model (or adapter) folder."""
    return sum(p.stat().st_size for p in Path(path).iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)


def latency_options(spec) -> tuple[str, int | None]:
    """latency_mode and batch_size from a models.toml entry or `harness run` flags (checked by models.py)."""
    return spec.options.get("latency_mode", "batched"), spec.options.get("batch_size")


def fingerprint(folder: Path) -> str:
    """A cheap hash of a folder's weight files: names, sizes and their first and last MiB."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES):
        size = path.stat().st_size
        digest.update(f"{path.name}\0{size}\0".encode())
        with path.open("rb") as f:
            digest.update(f.read(1 << 20))
            f.seek(max(0, size - (1 << 20)))
            digest.update(f.read(1 << 20))
    return digest.hexdigest()[:16]


class MLXBackend(Backend):
    options = {
        "path": Option(str, "model folder (or 'demo')", required=True),
        "adapter_path": Option(str, "LoRA adapter folder"),
        "latency_mode": Option(str, "batched or sequential", choices=LATENCY_MODES),
        "batch_size": Option(int, "cases per batch", min=1),
    }
    continuous = True  # refill batch slots as cases finish; False (fixed batches) only for comparisons

    def load(self) -> LoadInfo:
        self.latency_mode, self.batch_size = latency_options(self.spec)
        self.details: dict = {}
        blas = ensure_fast_blas()
        # stderr: stdout carries the report, which may be JSON
        path = str(model_folder(self.spec, progress=lambda m: print(m, file=sys.stderr, flush=True)))
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
        from harness.backends.mlx_tokens import PieceEncoder

        self.prompt_encoder = PieceEncoder(self.tokenizer)
        self.path = path
        size = weights_size(Path(path)) + (weights_size(Path(adapter)) if adapter else 0)
        import mlx_lm

        details = {"path": str(Path(path).resolve()), "adapter_path": adapter, "mlx_version": mx.__version__,
                   "mlx_lm_version": mlx_lm.__version__, "device": str(mx.default_device()), "blas": blas or "bundled"}
        return LoadInfo(load_s=load_s, size_bytes=size, details=details)

    def identity(self) -> dict:
        folder = model_folder(self.spec, progress=lambda m: print(m, file=sys.stderr, flush=True))
        adapter = self.spec.options.get("adapter_path")
        return {"path": str(Path(folder).resolve()), "weights": fingerprint(folder),
                "adapter": fingerprint(Path(adapter)) if adapter and Path(adapter).is_dir() else None}

    def setup_warnings(self) -> list[str]:
        from harness import doctor

        try:
            return doctor.setup_warnings(doctor.model_checks(self.tokenizer, Path(self.path), self.spec))
        except Exception as e:  # a checker bug must not cost the run
            return [f"doctor could not check the setup: {type(e).__name__}: {e}"]

    def render(self, request: Request) -> list[int]:
        case = request.case
        kwargs = dict(self.spec.chat_template_kwargs)
        text = self.tokenizer.apply_chat_template(request.messages, tools=openai_tools(case.tools) or None,
                                                  add_generation_prompt=True, tokenize=False, **kwargs)
        return self.prompt_encoder.encode(text)

    def generate(self, requests: list[Request]) -> Iterator[Generation]:
        return self._generate(requests, [self.render(r) for r in requests])

    def _generate(self, requests: list[Request], prompts: list[list[int]], lead: str = "") -> Iterator[Generation]:
        """Generate from token prompts; `lead` is text the prompts end with that belongs to the output
        (a prefilled call marker), so the output stays what the assistant turn holds."""
        from mlx_lm.sample_utils import make_sampler

        from harness.backends import mlx_batch

        t0 = time.perf_counter()
        sampler = make_sampler(temp=self.spec.temperature, top_p=self.spec.top_p)
        reason = "latency_mode is sequential" if self.latency_mode == "sequential" else \
            SAMPLED_ALONE if self.spec.temperature > 0 else mlx_batch.unsupported_reason(self.model)
        if reason:
            timing, self.details = "sequential", {"mode": "sequential", "reason": reason}
            finished = (self._generate_one(i, r, ids, sampler) for i, (r, ids) in enumerate(zip(requests, prompts)))
        else:
            groups = mlx_batch.plan_groups(prompts, [mlx_batch.prefix_key(r.case) for r in requests],
                                           self.spec.max_tokens, mlx_batch.kv_bytes_per_token(self.model),
                                           self.batch_size)
            paths = [mlx_batch.attention_path(self.model, g.prefix_tokens) for g in groups]
            timing, self.details = "batched", {
                "mode": "batched", "reason": None, "batch_size": max((g.batch_size for g in groups), default=0),
                "continuous": self.continuous,
                "attention": ",".join(sorted(set(paths))),
                "groups": [{"cases": len(g.indices), "prefix_tokens": g.prefix_tokens, "batch_size": g.batch_size,
                            "attention": path} for g, path in zip(groups, paths)]}
            finished = mlx_batch.generate_groups(self.model, self.tokenizer, prompts, groups, self.spec.max_tokens,
                                                 sampler, continuous=self.continuous)
        tokens = 0
        for done, f in enumerate(finished, 1):
            request, ids = requests[f.index], prompts[f.index]
            tokens += f.completion_tokens
            elapsed = time.perf_counter() - t0
            self.details.update(generate_s=elapsed, cases_per_s=done / elapsed, generated_tokens_per_s=tokens / elapsed)
            yield Generation(
                case_id=request.case.id, sample=request.sample, output=lead + f.text,
                prompt_sha256=hashlib.sha256(repr(ids).encode()).hexdigest(), prompt_tokens=len(ids),
                completion_tokens=f.completion_tokens, latency_s=f.latency_s, ttft_s=f.ttft_s,
                finish_reason=f.finish_reason, timing=timing,
            )

    # --- decision probes (issue 17): the mlx work is in mlx_probe.py -----------------------------
    def call_marker(self):
        """The text that starts a call in this model's template (harness.probe.CallMarker), found once."""
        if getattr(self, "_marker", None) is None:
            from harness import doctor, probe
            from harness.backends import mlx_inspect

            kwargs = dict(self.spec.chat_template_kwargs)
            self._marker = probe.call_marker(doctor.probe_template(self.tokenizer, kwargs),
                                             mlx_inspect.reasons_by_default(self.tokenizer, kwargs))
        return self._marker

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False) if text else []

    def probe(self, requests: list[Request]) -> list[CallProbe]:
        import math

        from harness.backends import mlx_batch, mlx_probe

        marker = self.call_marker()
        prompts = [self.render(r) for r in requests]
        if marker.na or not requests:
            return [CallProbe(r.case.id, r.sample, None, na=marker.na, prompt_tokens=len(ids))
                    for r, ids in zip(requests, prompts)]
        given, forced = self._ids(marker.given), self._ids(marker.marker)
        scores = mlx_probe.forced_logprobs(self.model, prompts, [given + forced] * len(prompts),
                                           [mlx_batch.prefix_key(r.case) for r in requests], [len(given)] * len(prompts))
        return [CallProbe(r.case.id, r.sample, math.exp(sum(s.logprobs[len(given):])), marker=marker.marker,
                          top_tokens=[(self.tokenizer.decode([t]), p) for t, p in s.top], prompt_tokens=len(ids))
                for r, ids, s in zip(requests, prompts, scores)]

    def generate_forced(self, requests: list[Request]) -> Iterator[Generation]:
        """Generation with the call marker prefilled: if the model had decided to call, what would it write?"""
        marker = self.call_marker()
        if marker.na:
            raise InputError(f"{self.spec.source}: cannot force a call: {marker.na}")
        lead = self._ids(marker.given) + self._ids(marker.marker)
        return self._generate(requests, [self.render(r) + lead for r in requests], marker.given + marker.marker)

    def score_candidates(self, request: Request, continuations: list[str]) -> list[float]:
        from harness.backends import mlx_batch, mlx_probe

        targets = [self._ids(c) for c in continuations]
        if not all(targets):
            raise InputError(f"case {request.case.id}: candidate continuation {targets.index([]) + 1} is empty; "
                             "give each candidate some text")
        prompt, key = self.render(request), mlx_batch.prefix_key(request.case)
        scores = mlx_probe.forced_logprobs(self.model, [prompt] * len(targets), targets, [key] * len(targets))
        return [sum(s.logprobs) / len(s.logprobs) for s in scores]

    def _generate_one(self, index: int, request: Request, ids: list[int], sampler):
        """Unbatched generation of one case: per-case latency and time to first token."""
        import mlx.core as mx
        from mlx_lm import stream_generate

        from harness.backends.mlx_batch import Finished

        mx.random.seed(request.seed if request.seed is not None else self.spec.seed + request.sample)
        text, ttft, last = "", None, None
        t0 = time.perf_counter()
        for last in stream_generate(self.model, self.tokenizer, prompt=ids, max_tokens=self.spec.max_tokens,
                                    sampler=sampler):
            if ttft is None:
                ttft = time.perf_counter() - t0
            text += last.text
        return Finished(index=index, text=text, completion_tokens=last.generation_tokens if last else 0,
                        finish_reason=last.finish_reason if last else None,
                        latency_s=time.perf_counter() - t0, ttft_s=ttft)

    def generation_details(self) -> dict:
        return self.details

    def peak_memory_bytes(self) -> int | None:
        import mlx.core as mx

        return int(mx.get_peak_memory())
