"""Import NVIDIA's When2Call test set (when2call_test_llm_judge.jsonl) as a suite.

Each row: `uuid`, `question`, `correct_answer` (tool_call, request_for_info or cannot_answer),
`answers` (one candidate reply per class, plus `direct`), `target_tool` and `tools` (JSON strings
in BFCL's type dialect). A row becomes one case: id = uuid, category = the correct answer, and the
expectation a call to the target tool, "ask" or "decline". candidate_cases() instead makes four
cases per row, one per candidate reply, each expecting that reply's own kind: replaying the
candidates then measures the response-kind classifier.
"""
import json
from pathlib import Path

from harness.bfcl import to_tool
from harness.errors import InputError
from harness.jsonl import json_lines

EXPECT = {"request_for_info": "ask", "cannot_answer": "decline"}  # tool_call: a call to the target tool
CLASSES = ("tool_call", "request_for_info", "cannot_answer")
CANDIDATE_KINDS = {"direct": "answer", "tool_call": "call", "request_for_info": "ask", "cannot_answer": "decline"}
FIX = "use an unmodified When2Call test file (when2call_test_llm_judge.jsonl)"


def load_when2call(path: str | Path) -> list[tuple[dict, dict]]:
    """(suite case, the row's candidate answers) per row, in file order."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; pass the path of when2call_test_llm_judge.jsonl")
    rows, seen = [], set()
    with path.open(encoding="utf-8") as f:
        for number, row in json_lines(f, str(path), FIX):
            where = f"{path}:{number}"
            case, answers = _convert(row, where)
            if case["id"] in seen:
                raise InputError(f"{where}: uuid {case['id']!r} appears twice; every row needs its own uuid")
            seen.add(case["id"])
            rows.append((case, answers))
    if not rows:
        raise InputError(f"{path}: no rows; {FIX}")
    return rows


def candidate_cases(rows: list[tuple[dict, dict]]) -> tuple[list[dict], list[dict]]:
    """(cases, replay lines): per row and candidate, a case `<uuid>:<candidate>` expecting the
    candidate's kind (category = the candidate, tag "correct" on the row's right one) and its reply."""
    cases, replies = [], []
    for case, answers in rows:
        for candidate, kind in CANDIDATE_KINDS.items():
            case_id = f"{case['id']}:{candidate}"
            tags = [f"row:{case['category']}"] + (["correct"] if candidate == case["category"] else [])
            cases.append({**case, "id": case_id, "category": candidate, "tags": tags, "expect": kind})
            replies.append({"id": case_id, "output": answers[candidate]})
    return cases, replies


def _convert(row, where: str) -> tuple[dict, dict]:
    if not isinstance(row, dict):
        raise InputError(f"{where}: a row must be a JSON object; {FIX}")
    uuid = _field(row, "uuid", str, where)
    question = _field(row, "question", str, where)
    correct = _field(row, "correct_answer", str, where)
    if correct not in CLASSES:
        raise InputError(f"{where}: field 'correct_answer' is {correct!r}; expected one of {', '.join(CLASSES)}")
    raw_tools = _field(row, "tools", list, where)
    tools = [_tool(item, where, f"tools[{i}]") for i, item in enumerate(raw_tools)]
    answers = _field(row, "answers", dict, where)
    for candidate in CANDIDATE_KINDS:
        if not isinstance(answers.get(candidate), str):
            raise InputError(f"{where}: field 'answers.{candidate}' is missing or not a string; {FIX}")
    case = {"id": uuid, "category": correct, "messages": [{"role": "user", "content": question}], "tools": tools}
    if correct != "tool_call":
        return {**case, "expect": EXPECT[correct]}, answers
    if row.get("target_tool") is None:
        raise InputError(f"{where}: field 'target_tool' is empty on a tool_call row; {FIX}")
    target = _tool(row["target_tool"], where, "target_tool")["name"]
    if target not in {t["name"] for t in tools}:
        raise InputError(f"{where}: field 'target_tool' names {target!r}, which is not among the row's tools; {FIX}")
    return {**case, "expect": {"call": target}}, answers


def _tool(item, where: str, name: str) -> dict:
    """A tool given as a JSON string (the dataset's form) or as an object, in BFCL's dialect."""
    if isinstance(item, str):
        try:
            item = json.loads(item)
        except json.JSONDecodeError as e:
            raise InputError(f"{where}: field {name!r} is not valid JSON ({e.msg} at column {e.colno}); {FIX}") from None
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
        raise InputError(f"{where}: field {name!r} is not a tool with a 'name' string; {FIX}")
    if not isinstance(item.get("parameters", {}), dict):
        raise InputError(f"{where}: field {name!r}: 'parameters' must be an object; {FIX}")
    return to_tool(item)


def _field(row: dict, key: str, kind: type, where: str):
    value = row.get(key)
    if not isinstance(value, kind) or (kind is str and not value):
        raise InputError(f"{where}: field {key!r} is missing or not a {'non-empty string' if kind is str else kind.__name__}; {FIX}")
    return value
