"""Per-turn and per-episode metrics from a run's records (pure; records not judged already left out).

A turn is every judged assistant turn: each turn of a scripted rollout and each case judged on one
turn (a gold-prefix case or a plain prompt). An episode is a rollout's verdict record.
"""
from collections import Counter

from harness.records import Record


def _rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def _counts(records: list[Record]) -> dict:
    passed = sum(1 for r in records if r.passed)
    return {"total": len(records), "passed": passed, "accuracy": _rate(passed, len(records))}


def turn_metrics(records: list[Record]) -> dict:
    """`episodes` and `turns` ({total, passed, accuracy}: a fixed interface), and under `multi_turn`
    the first diverging turn of failed episodes, redundant-repeat and result-use rates, per-turn accuracy."""
    episodes = [r for r in records if r.episode is True]
    turns = [r for r in records if r.episode is not True]
    call_turns = [r for r in turns if r.detection.calls]
    after_result = [r for r in turns if r.after_result]
    repeats = sum(1 for r in call_turns if r.repeat)
    used = sum(1 for r in after_result if r.used_result)
    by_turn = {}
    for t in sorted({r.turn or 0 for r in turns}):
        by_turn[str(t)] = _counts([r for r in turns if (r.turn or 0) == t])
    diverging = Counter(str(r.first_failed_turn) for r in episodes
                        if not r.passed and r.first_failed_turn is not None)
    return {
        "episodes": _counts(episodes),
        "turns": _counts(turns),
        "multi_turn": {
            "episode_reasons": dict(Counter(r.reason for r in episodes if r.reason)),
            # failed episodes by the turn (from 0) that first failed; episodes whose every turn passed
            # (max_turns after right calls) have none
            "first_diverging_turn": dict(sorted(diverging.items(), key=lambda kv: int(kv[0]))),
            # share of turns with calls that repeat a call already made with the same arguments
            "repeat_rate": {"call_turns": len(call_turns), "repeats": repeats, "rate": _rate(repeats, len(call_turns))},
            # share of turns right after a tool result whose output repeats a value of that result
            # (a JSON leaf, number, path or identifier)
            "result_use_rate": {"after_result": len(after_result), "used": used, "rate": _rate(used, len(after_result))},
            "by_turn": by_turn,
        },
    }
