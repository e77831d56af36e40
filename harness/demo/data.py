"""Synthetic training conversations for the built-in demo model.

The demo learns to call a tool for requests that need the repository and answer directly otherwise;
to ask for the file or the search text when a request needs a tool but omits them, and decline
requests no tool can do (bookings, orders, messages); and to act on a tool's result: read the file a
failing test names, summarise type-checker and linter output with its counts, retry a search that
found nothing without its def/class keyword, and search for a file a read could not find. Its
prompts are generated from word lists here and never reuse the reference suite's prompts, so the
reference suite stays a held-out test.
"""
import random

SYSTEM = (
    "You are a coding assistant working inside the user's repository. Use a tool when the answer "
    "depends on the repository's files or on running a command; otherwise answer directly."
)

TOOLS = [
    {
        "name": "execute_code",
        "description": "Run a shell command in the repository (type checkers, linters, test runners) and return its output.",
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string", "description": "The shell command to run."}},
            "required": ["code"],
        },
    },
    {
        "name": "read_file",
        "description": "Read a file of the repository and return its contents.",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string", "description": "Path relative to the repository root."}},
            "required": ["path"],
        },
    },
    {
        "name": "search_code",
        "description": "Search the repository's code for a pattern and return matching lines.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "Text or regular expression to look for."}},
            "required": ["query"],
        },
    },
]

_DIRS = ["src", "lib", "app", "api", "tools", "cli", "config", "pkg", "core", "web", "services", "db",
         "billing", "orders", "auth", "jobs", "net", "storage", "scripts", "utils", "ui", "infra"]
_NAMES = ["main", "utils", "models", "parser", "export", "loader", "routes", "views", "client", "server",
          "cache", "tokens", "worker", "engine", "schema", "report", "queue", "helpers", "store", "session"]
_EXTS = [".py"] * 6 + [".yaml", ".toml", ".md", ".json", ".cfg", ".txt"]
_WORDS = ["load", "save", "parse", "send", "fetch", "build", "render", "check", "compute", "open", "close",
          "user", "order", "config", "token", "file", "queue", "cache", "price", "report", "retry", "page"]

# (phrasings, command) per kind of run; {t} is a file or folder.
_RUNS = [
    (["Type-check {t} with mypy.", "Run mypy on {t}.", "Check the types in {t}.", "Are there type errors in {t}?",
      "Does {t} pass the type checker?", "Run the type checker over {t}.", "Run pyright on {t}.",
      "Check {t} with mypy --strict.", "Find the type errors in {t}."],
     ["mypy {t}"] * 6 + ["pyright {t}", "mypy --strict {t}", "mypy {t}"]),
    (["Lint {t} with ruff.", "Run ruff on {t}.", "Check {t} for lint errors.", "Run the linter on {t}.",
      "Does {t} pass ruff check?", "Find style problems in {t}.", "Any unused imports in {t}?",
      "Run ruff check over {t}."],
     ["ruff check {t}"] * 8),
    (["Run the tests in {t}.", "Run pytest on {t}.", "Do the tests for {t} pass?", "Execute the test suite for {t}.",
      "Run pytest -x on {t}.", "Which tests in {t} fail?", "Run the unit tests of {t}."],
     ["pytest {t}"] * 4 + ["pytest -x {t}", "pytest {t}", "pytest {t}"]),
]
_READS = ["Show me {f}.", "Read {f}.", "Open {f}.", "What is in {f}?", "Print the contents of {f}.",
          "Read {f} and summarise it.", "Display the file {f}.", "Show the contents of {f}.", "Open the file {f}."]
_SEARCHES = ["Where is {s} defined?", "Search the code for {s}.", "Find all uses of {s}.", "Which files call {s}?",
             "Grep the repository for {s}.", "Find where {s} is used.", "Look for {s} in the code.",
             "Find every call to {s}.", "Search for the function {s}."]
_PREFIXES = ["", "", "", "Please: ", "Quick one. ", "Hey, ", "Can you help? "]
_SUFFIXES = ["", "", "", " Thanks.", " Tell me what it reports.", " Report back.", " I need it now.",
             " List the problems.", " Keep it short."]

# General questions with short direct answers.
_DIRECT = [
    ("What is a Python generator?", "A generator is a function that yields values lazily, one at a time."),
    ("Explain what a hash map is.", "A hash map stores key-value pairs and finds a key by its hash."),
    ("How do I sort a dict by value in Python?", "Use sorted(d.items(), key=lambda kv: kv[1])."),
    ("Why is recursion sometimes slow?", "Each call adds a stack frame, and naive recursion can repeat work."),
    ("What is the difference between git merge and git pull?", "git pull fetches and then merges; git merge only joins branches."),
    ("What is a deadlock?", "A deadlock is when threads wait on each other's locks forever."),
    ("What does HTTP 500 mean?", "500 means the server failed while handling the request."),
    ("How do I copy a list in Python?", "Use new = old.copy() or new = list(old)."),
    ("What is the difference between == and is?", "== compares values; is compares identity."),
    ("Explain unit tests in one sentence.", "Unit tests check small pieces of code in isolation, automatically."),
    ("What is JSON?", "JSON is a text format for objects, arrays, strings, numbers, booleans and null."),
    ("Why does 0.1 + 0.2 not equal 0.3?", "0.1 and 0.2 have no exact binary form, so the sum is rounded."),
]
_CONCEPTS = ["a coroutine", "a dataclass", "inheritance", "a lambda", "polymorphism", "a context manager",
             "garbage collection", "a linked list", "a binary tree", "dependency injection", "an iterator",
             "a semaphore", "caching", "a hash function", "an enum", "a heap", "a queue", "a stack",
             "an interface", "duck typing", "a thread pool", "a socket", "recursion", "a pointer", "a regex",
             "a mutex", "a compiler", "an interpreter", "a closure", "a module", "a package", "a commit"]
_TASKS = ["merge two dicts", "flatten a list", "parse a date", "format a float", "remove duplicates",
          "count words", "check if a key exists", "read an environment variable", "sleep for a second",
          "get the current time", "split a string", "round a number", "reverse a list", "sort a list"]
_GENERAL = [("What is {x}?", "{x} is a common programming idea; in short, it is a building block of clean code."),
            ("Explain {x}.", "In short, {x} is a standard concept in programming."),
            ("Explain {x} in one paragraph.", "In short, {x} is a standard concept in programming."),
            ("Define {x} in one sentence.", "{x}: a standard concept in programming."),
            ("Why would I use {x}?", "You use {x} to keep code simple and correct."),
            ("What does {x} mean in programming?", "It means {x}, a standard concept in programming.")]
_HOWTO = [("How do I {t} in Python?", "You can {t} with a short call from the standard library."),
          ("What is the easiest way to {t}?", "The easiest way to {t} is a one-line standard-library call.")]

# Requests a tool fits but whose required argument is missing, and the question that asks for it.
_ASKS = [
    (["Read the file.", "Open the file.", "Show me the file.", "Read that file.", "Open it and summarise it.",
      "What is in the file?", "Show me what that file contains.", "Read it.", "Display that file.",
      "Print the file.", "Open the config file.", "Can you open the file?", "Could you show me that file?",
      "Please read the file and tell me what it does."],
     ["Which file should I read? Please give me its path.", "Sure. What is the path of the file?"]),
    (["Search the code.", "Search the repository.", "Find it in the code.", "Look for it in the code.",
      "Grep the repository.", "Search for it.", "Find where it is used.", "Run a search over the code.",
      "Can you search the repository for me?", "Could you look through the code?"],
     ["What should I search for? Tell me the text or pattern to look for.",
      "Which text or pattern should I look for in the code?"]),
]
# Requests none of the tools can do, and the refusal.
_DECLINE_TASKS = ["Book a hotel room in {c} for {w}.", "Book a table for two in {c} {w}.", "Book a train ticket to {c} {w}.",
                  "Order {o} {d}.", "Send an email to {p} saying {m}.", "Tell {p} that {m}.", "Call {p} {w}.",
                  "What will the weather be like in {c} {w}?", "Buy two concert tickets in {c} for {w}.",
                  "Set an alarm for 7 am {w}.", "Transfer 50 euros to {p}.", "Play some jazz music for {p}."]
_CITIES = ["Madrid", "Rome", "Paris", "Tokyo", "Vienna", "Prague", "Dublin", "Warsaw", "Athens", "Boston"]
_WHEN = ["tonight", "on Monday", "next week", "this weekend", "tomorrow morning", "on the 3rd of May"]
_ORDERS = ["a burger", "sushi", "a coffee", "some flowers", "groceries", "a new laptop", "two sandwiches"]
_DELIVERY = ["for lunch", "to my home", "for tomorrow", "to the hotel", "right away"]
_PEOPLE = ["my boss", "my team", "Anna", "the landlord", "my sister", "the client", "Tom"]
_MESSAGES = ["I am sick", "the meeting moved", "I will be there soon", "the demo works", "lunch is ready"]
_DECLINES = ["Sorry, I can't do that. My tools only read files, search the code and run commands in this repository.",
             "I'm unable to help with that: none of my tools can do it. I can only work with this repository."]


_MYPY_ERRORS = ["Incompatible return value type", "Missing return statement", "Argument 1 has incompatible type",
                "Name is not defined", "Item None has no attribute", "Need type annotation"]


def _call(name: str, **arguments) -> dict:
    return {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": name, "arguments": arguments}}]}


def _result(content: str) -> dict:
    return {"role": "tool", "content": content}


def _file(rng: random.Random) -> str:
    return f"{rng.choice(_DIRS)}/{rng.choice(_NAMES)}.py"


def _after_pytest(rng: random.Random) -> list[dict]:
    """A failing test run: read the file the failure points at."""
    target, source, line = rng.choice(_DIRS), _file(rng), rng.randrange(5, 300)
    test = f"test_{rng.choice(_WORDS)}"
    out = (f"FAILED tests/test_{rng.choice(_NAMES)}.py::{test} - AssertionError ({source}:{line})\n"
           f"1 failed, {rng.randrange(1, 40)} passed")
    return [{"role": "user", "content": _dress(rng, rng.choice(_RUNS[2][0]).format(t=target))},
            _call("execute_code", code=f"pytest {target}"), _result(out), _call("read_file", path=source)]


def _after_mypy(rng: random.Random) -> list[dict]:
    """Type-checker output: summarise it with its counts."""
    target, n, files = rng.choice(_DIRS), rng.randrange(0, 6), rng.randrange(1, 4)
    lines = [f"{_file(rng)}:{rng.randrange(1, 200)}: error: {rng.choice(_MYPY_ERRORS)}" for _ in range(n)]
    checked = rng.randrange(files, 30)
    if n:
        files = min(files, n)
        lines.append(f"Found {n} error{'s' * (n > 1)} in {files} file{'s' * (files > 1)} (checked {checked} source files)")
        answer = f"mypy found {n} error{'s' * (n > 1)} in {files} file{'s' * (files > 1)}; the first: {lines[0]}."
    else:
        lines.append(f"Success: no issues found in {checked} source files")
        answer = f"mypy found no errors in {target} ({checked} source files checked)."
    return [{"role": "user", "content": _dress(rng, rng.choice(_RUNS[0][0]).format(t=target))},
            _call("execute_code", code=f"mypy {target}"), _result("\n".join(lines)),
            {"role": "assistant", "content": answer}]


def _after_ruff(rng: random.Random) -> list[dict]:
    target, n = rng.choice(_DIRS), rng.randrange(0, 5)
    if n:
        out = "\n".join(f"{_file(rng)}:{rng.randrange(1, 99)}:1: F401 unused import" for _ in range(n)) + f"\nFound {n} errors."
        answer = f"ruff found {n} errors in {target}, all unused imports."
    else:
        out, answer = "All checks passed!", f"ruff found no problems in {target}."
    return [{"role": "user", "content": _dress(rng, rng.choice(_RUNS[1][0]).format(t=target))},
            _call("execute_code", code=f"ruff check {target}"), _result(out), {"role": "assistant", "content": answer}]


def _after_empty_search(rng: random.Random) -> list[dict]:
    """A search with the def/class keyword found nothing: search again for the bare name."""
    symbol = _symbol(rng)
    keyword = "class" if symbol[0].isupper() else "def"
    return [{"role": "user", "content": _dress(rng, rng.choice(_SEARCHES).format(s=symbol))},
            _call("search_code", query=f"{keyword} {symbol}"), _result("No matches."),
            _call("search_code", query=symbol)]


def _after_read_error(rng: random.Random) -> list[dict]:
    """A read failed because the file is not there: search for its name instead."""
    path = _file(rng)
    stem = path.rsplit("/", 1)[1].removesuffix(".py")
    return [{"role": "user", "content": _dress(rng, rng.choice(_READS).format(f=path))},
            _call("read_file", path=path), _result(f"Error: FileNotFoundError: no such file: {path}"),
            _call("search_code", query=stem)]


def _after_search(rng: random.Random) -> list[dict]:
    """Search hits: say where the symbol is, with the file and line from the result."""
    symbol, path, line = _symbol(rng), _file(rng), rng.randrange(1, 400)
    return [{"role": "user", "content": _dress(rng, rng.choice(_SEARCHES).format(s=symbol))},
            _call("search_code", query=symbol), _result(f"{path}:{line}: {symbol}()"),
            {"role": "assistant", "content": f"{symbol} is at {path}:{line}."}]


_TOOL_RESULT_KINDS = [_after_pytest, _after_mypy, _after_ruff, _after_empty_search, _after_read_error, _after_search]


def _path(rng: random.Random) -> str:
    if rng.random() < 0.25:
        return rng.choice(_DIRS)
    return f"{rng.choice(_DIRS)}/{rng.choice(_NAMES)}{rng.choice(_EXTS)}"


def _symbol(rng: random.Random) -> str:
    a, b = rng.choice(_WORDS), rng.choice(_WORDS + _NAMES)
    return f"{a}_{b}" if rng.random() < 0.7 else f"{a.title()}{b.title()}"


def _dress(rng: random.Random, text: str) -> str:
    return rng.choice(_PREFIXES) + text + rng.choice(_SUFFIXES)


def conversations(n_per_kind: int = 80, seed: int = 0) -> list[dict]:
    """Seeded conversations in mlx-lm's chat format: {"messages": [...], "tools": [...]}."""
    rng = random.Random(seed)
    system = {"role": "system", "content": SYSTEM}
    out = []
    for phrasings, commands in _RUNS:
        for _ in range(n_per_kind):
            i = rng.randrange(len(phrasings))
            target = _path(rng)
            user = _dress(rng, phrasings[i].format(t=target))
            out.append([system, {"role": "user", "content": user}, _call("execute_code", code=commands[i].format(t=target))])
    for _ in range(n_per_kind):
        f = _path(rng)
        out.append([system, {"role": "user", "content": _dress(rng, rng.choice(_READS).format(f=f))}, _call("read_file", path=f)])
    for _ in range(n_per_kind):
        s = _symbol(rng)
        out.append([system, {"role": "user", "content": _dress(rng, rng.choice(_SEARCHES).format(s=s))}, _call("search_code", query=s)])
    for _ in range(n_per_kind):
        prompts, replies = rng.choice(_ASKS)
        out.append([system, {"role": "user", "content": _dress(rng, rng.choice(prompts))},
                    {"role": "assistant", "content": rng.choice(replies)}])
        task = rng.choice(_DECLINE_TASKS).format(c=rng.choice(_CITIES), w=rng.choice(_WHEN), o=rng.choice(_ORDERS),
                                                 d=rng.choice(_DELIVERY), p=rng.choice(_PEOPLE), m=rng.choice(_MESSAGES))
        out.append([system, {"role": "user", "content": _dress(rng, task)},
                    {"role": "assistant", "content": rng.choice(_DECLINES)}])
    direct = list(_DIRECT)
    for _ in range(n_per_kind):
        q, a = rng.choice(_GENERAL)
        x = rng.choice(_CONCEPTS)
        direct.append((q.format(x=x), a.format(x=x)))
        q, a = rng.choice(_HOWTO)
        t = rng.choice(_TASKS)
        direct.append((q.format(t=t), a.format(t=t)))
    for question, answer in direct:
        out.append([system, {"role": "user", "content": _dress(rng, question)}, {"role": "assistant", "content": answer}])
    for kind in _TOOL_RESULT_KINDS:  # the turn after a tool result: the last assistant message is learned
        out += [[system] + kind(rng) for _ in range(n_per_kind // 2)]
    rng.shuffle(out)
    return [{"messages": m, "tools": TOOLS} for m in out]
