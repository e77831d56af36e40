"""`harness init [--tools FILE | --openai-tools FILE] [--model-path DIR | --base-url URL] -o DIR`:
a starter suite (a tool case per tool, direct cases) and a models.toml entry, ready to run."""
import argparse
import json
import re
from pathlib import Path

from harness.errors import InputError

# Questions no tool can help with: the model should answer them directly, whatever its tools are.
DIRECT_PROMPTS = (
    "What does the HTTP status code 404 mean?",
    "Explain the difference between a list and a tuple in Python in two sentences.",
    "Write a haiku about autumn.",
)
EXAMPLE_TOOL = {"name": "search_docs", "description": "Search the product documentation and return matching passages.",
                "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}
BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def add_arguments(p: argparse.ArgumentParser) -> None:
    tools = p.add_mutually_exclusive_group()
    tools.add_argument("--tools", metavar="FILE.json",
                       help="tool definitions: a JSON list of {name, description, parameters} (JSON Schema)")
    tools.add_argument("--openai-tools", metavar="FILE.json",
                       help='OpenAI-style tools: a JSON list of {"type": "function", "function": {...}}, '
                            'or a request body with a "tools" list')
    model = p.add_mutually_exclusive_group()
    model.add_argument("--model-path", metavar="DIR", help="a local mlx model folder (config.json, weights, tokenizer)")
    model.add_argument("--base-url", metavar="URL", help="an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1")
    p.add_argument("--server-model", default="default", help="the model name the server expects (with --base-url)")
    p.add_argument("--name", help="suite and model entry name (default: the output folder's name)")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="folder to write suite.toml and models.toml into")
    p.add_argument("--force", action="store_true", help="overwrite suite.toml and models.toml if they exist")


def main(args) -> int:
    from harness.suite import load_suite

    out = Path(args.out)
    name = _name(args.name or out.resolve().name)
    if args.tools:
        tools = read_tools(Path(args.tools), openai=False)
    elif args.openai_tools:
        tools = read_tools(Path(args.openai_tools), openai=True)
    else:
        tools = [EXAMPLE_TOOL]
    suite_path, models_path = out / "suite.toml", out / "models.toml"
    for path in (suite_path, models_path):
        if path.exists() and not args.force:
            raise InputError(f"{path}: already exists; pass --force to overwrite it or choose another -o DIR")
    models_text = models_toml(name, args)
    out.mkdir(parents=True, exist_ok=True)
    suite_path.write_text(suite_toml(name, tools, example=not (args.tools or args.openai_tools)), encoding="utf-8")
    models_path.write_text(models_text, encoding="utf-8")
    suite = load_suite(suite_path)  # what we wrote must load: a bug here is ours, not the user's
    print(f"wrote {suite_path} ({len(tools)} tool cases, {len(DIRECT_PROMPTS)} direct cases, "
          f"{len(suite.cases)} in all) and {models_path} ([models.{name}])")
    print("next: edit the prompts to real requests, then")
    print(f"  harness validate {suite_path}")
    print(f"  harness run {suite_path} --model {name} --models {models_path}")
    return 0


def _name(raw: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", raw).strip("-")
    return name or "starter"


def read_tools(path: Path, openai: bool) -> list[dict]:
    """Tool definitions as the suite stores them (flat), each checked for a name and a schema."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such tools file; give a JSON file with a list of tool definitions") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({e}); fix the file") from None
    if openai and isinstance(raw, dict) and "tools" in raw:
        raw = raw["tools"]  # a whole chat-completions request body
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{path}: expected a non-empty JSON list of tool definitions")
    tools, seen = [], set()
    for i, t in enumerate(raw):
        where = f"{path}: tool [{i}]"
        if openai:
            if not (isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("function"), dict)):
                raise InputError(f'{where}: an OpenAI tool is {{"type": "function", "function": {{name, description, '
                                 f'parameters}}}}; for flat definitions use --tools')
            t = t["function"]
        if not isinstance(t, dict) or not isinstance(t.get("name"), str) or not BARE_KEY.match(t["name"]):
            raise InputError(f"{where}: needs a 'name' of letters, digits, '_' or '-'")
        if t["name"] in seen:
            raise InputError(f"{where}: duplicate tool name '{t['name']}'")
        seen.add(t["name"])
        description = t.get("description", "")
        params = t.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(description, str):
            raise InputError(f"{where} ('{t['name']}'): 'description' must be a string")
        if not isinstance(params, dict):
            raise InputError(f"{where} ('{t['name']}'): 'parameters' must be a JSON Schema object")
        _check_toml(params, f"{where} ('{t['name']}'): parameters")
        tools.append({"name": t["name"], "description": description, "parameters": params})
    return tools


def _check_toml(value, where: str) -> None:
    """TOML has no null: a schema holding one cannot be written into a suite."""
    if value is None:
        raise InputError(f"{where}: holds a null, which TOML cannot store; remove it (e.g. a \"default\": null)")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_toml(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_toml(v, f"{where}[{i}]")


def toml_value(value) -> str:
    """A JSON value as a TOML inline value (JSON string escapes are valid TOML basic-string escapes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    items = ", ".join(f"{k if BARE_KEY.match(k) else json.dumps(k, ensure_ascii=False)} = {toml_value(v)}"
                      for k, v in value.items())
    return "{ " + items + " }" if items else "{}"


def suite_toml(name: str, tools: list[dict], example: bool) -> str:
    lines = ["# Starter suite written by `harness init`. Replace each prompt with a real request of your",
             "# users; add { arguments = { PARAM = MATCHER } } to an expect to check values (see README, Suites).",
             f"name = {toml_value(name)}",
             'system = "You are a helpful assistant. Use a tool when the request needs one; otherwise answer directly."',
             ""]
    if example:
        lines.insert(2, "# No tools were given (--tools / --openai-tools): search_docs is an example to replace.")
    for t in tools:
        lines += ["[[tools]]", f"name = {toml_value(t['name'])}", f"description = {toml_value(t['description'])}",
                  f"parameters = {toml_value(t['parameters'])}", ""]
    lines.append("# --- one case per tool: the request needs it, so the model should call it --------------")
    for t in tools:
        # descriptions are mostly imperative ("Search the docs ..."): "Please search the docs ..." asks for it
        about = t["description"].strip().rstrip(".") or f"use {t['name']}"
        prompt = f"Please {about[0].lower()}{about[1:]}."
        lines += ["[[cases]]", f"id = {toml_value('call-' + t['name'])}", f"category = {toml_value(t['name'])}",
                  f"prompt = {toml_value(prompt)}", f"expect = {{ call = {toml_value(t['name'])} }}", ""]
    lines.append("# --- direct cases: no tool can help, so the model should answer directly ---------------")
    for i, prompt in enumerate(DIRECT_PROMPTS, 1):
        lines += ["[[cases]]", f'id = "direct-{i}"', 'category = "direct"', f"prompt = {toml_value(prompt)}",
                  'expect = "direct"', ""]
    return "\n".join(lines)


def models_toml(name: str, args) -> str:
    head = "# Written by `harness init`; keys per backend: README (Models, Backends) and docs/backends.md.\n"
    if args.base_url:
        if not args.base_url.startswith(("http://", "https://")):
            raise InputError(f"--base-url {args.base_url!r}: give an http(s) URL such as http://127.0.0.1:8080/v1")
        return (f"{head}[models.{name}]\nbackend = \"openai\"\nbase_url = {toml_value(args.base_url)}\n"
                f"model = {toml_value(args.server_model)}         # the name the server serves\n"
                "max_tokens = 256\n# api_key_env = \"OPENAI_API_KEY\"  # for a hosted API: the variable holding the key\n")
    if args.model_path:
        path = Path(args.model_path)
        if not (path / "config.json").is_file():
            raise InputError(f"--model-path {path}: not a model folder (no config.json); give the folder mlx_lm.load reads")
        return f"{head}[models.{name}]\nbackend = \"mlx\"\npath = {toml_value(str(path.resolve()))}\nmax_tokens = 256\n"
    return (f"{head}# No --model-path or --base-url given: the built-in demo model, to try the suite end to end.\n"
            f"[models.{name}]\nbackend = \"mlx\"\npath = \"demo\"\nmax_tokens = 64\n")
