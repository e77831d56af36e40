"""toolcall-harness: evaluate LLM tool calling.

`harness.detect(text, tools=None)` finds tool calls in any format; `harness.load_results(run)`
gives a run as a pandas DataFrame. Both are loaded on first use so `import harness` stays light.
"""

__version__ = "0.1.0"


def __getattr__(name):
    if name == "detect":
        from harness.detect import detect

        return detect
    if name == "load_results":
        from harness.results import load_results

        return load_results
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
