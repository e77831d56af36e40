"""The backend contract: load a model once, then turn cases into raw generations.

A backend yields one Generation per request, in any order, as each finishes: the runner writes
each as it arrives, so batching and concurrency never delay or lose a finished result.
"""
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Iterator

from harness.models import ModelSpec
from harness.options import Option
from harness.suite import Case


@dataclass
class Request:
    """One generation asked of a backend: a case, its sample and seed, and the turns so far."""
    case: Case
    sample: int = 0
    seed: int | None = None  # this case and sample's own sampling seed (runner.case_seed)
    extra: list[dict] = field(default_factory=list)  # a rollout's turns so far, after the case's messages
    turn: int | None = None  # the assistant turn asked for (from 0); replay looks outputs up by it

    @property
    def messages(self) -> list[dict]:
        return self.case.messages + self.extra


@dataclass
class Generation:
    """What a backend returned for one request: the raw output, token counts, timings, or its error."""
    case_id: str
    sample: int
    output: str  # raw text, verbatim (reasoning included)
    tool_calls: list | None = None  # structured calls an API returned beside the text
    prompt_sha256: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None
    ttft_s: float | None = None
    finish_reason: str | None = None
    # "sequential" | "batched" (latency measured inside a batch) | "concurrent" (requests overlapped) | "replayed"
    timing: str = "sequential"
    error: str | None = None  # set when the backend failed: recorded as backend_error, not a model failure
    sampler: dict | None = None  # the settings a recorded output was generated with (replay)
    truncated_output: bool = False  # the backend stopped reading a reply past its size limit


@dataclass
class CallProbe:
    """The model's own probability of starting a call at the first assistant token (backend.probe())."""
    case_id: str
    sample: int
    p_call: float | None  # None: not measurable here, `na` says why
    na: str | None = None
    marker: str | None = None  # the text whose probability p_call is
    top_tokens: list[tuple[str, float]] = field(default_factory=list)  # most likely first tokens
    prompt_tokens: int | None = None


@dataclass
class LoadInfo:
    """What loading a model cost and what the backend found out about it."""
    load_s: float | None = None
    size_bytes: int | None = None
    details: dict = field(default_factory=dict)  # backend-specific facts for the manifest


class Backend(ABC):
    """Subclass, declare `options`, and implement load() and generate(). Use as a context manager:
    close() runs however the run ends."""

    options: dict[str, Option] = {}  # keys a models.toml entry may carry for this backend, with types and ranges
    # the first plugin API, still accepted: keys without types (their values are the backend's to check)
    option_keys: tuple[str, ...] = ()
    required_keys: tuple[str, ...] = ()
    # Whether a streak of backend errors means the backend is gone (a server) rather than a fixed fact
    # about some cases (replay without a recorded output): only then does a failing run stop early.
    can_become_unavailable = True

    def __init__(self, spec: ModelSpec):
        self.spec = spec

    @classmethod
    def declared_options(cls) -> dict[str, Option]:
        return cls.options or {k: Option(object, required=k in cls.required_keys) for k in cls.option_keys}

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @abstractmethod
    def load(self) -> LoadInfo:
        ...

    @abstractmethod
    def generate(self, requests: list[Request]) -> Iterator[Generation]:
        ...

    def recorded_sampler(self) -> dict | None:
        """The sampler settings the outputs were generated with, when they were not generated now (replay)."""
        return None

    def identity(self) -> dict:
        """What identifies the model beyond its spec (a fingerprint of the weights, the served model), known
        before load(): a resumed run must match it."""
        return {}

    def peak_memory_bytes(self) -> int | None:
        return None

    # --- decision probes (issue 17): backends that see token probabilities override these -------
    def probe(self, requests: list[Request]) -> list[CallProbe]:
        """p_call per request, in request order, without generating."""
        why = f"backend '{self.name}' gives no token probabilities"
        return [CallProbe(case_id=r.case.id, sample=r.sample, p_call=None, na=why) for r in requests]

    def score_candidates(self, request: Request, continuations: list[str]) -> list[float]:
        """Length-normalised log-likelihood (mean log-probability per token) of each continuation of the
        request's rendered prompt; what it continues is the assistant turn, so include its end token if wanted."""
        raise NotImplementedError(f"backend '{self.name}' cannot score candidate continuations")

    def setup_warnings(self) -> list[str]:
        """Flaws in the model's setup found after load() (one line each), for the report's warnings."""
        return []

    def generation_details(self) -> dict:
        """How generate() ran (mode, batch size, throughput), known only afterwards; the manifest's "generation"."""
        return {}

    def close(self) -> None:
        pass
