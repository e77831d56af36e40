"""Response kinds: whether an output calls a tool, answers, asks for missing information or declines.

classify() reads the detection and the visible text (reasoning and code fences removed) with
phrase lists in English, German, French, Spanish and Chinese. It is deterministic and pure; when
the cues contradict each other it says `unsure` rather than guess. hallucinations() lists the
calls and arguments the offered tools do not define, whatever the case expects.
"""
import re
from dataclasses import dataclass

from harness.calls import Detection
from harness.detect.prose import fences, strip_end_tokens
from harness.detect.reasoning import split_reasoning
from harness.text import excerpt

CUE_CHARS = 60


@dataclass(frozen=True)
class Kind:
    """The kind of a response (records.KINDS) and what decided it."""
    kind: str  # one of KINDS
    cue: str  # what decided it, for people
    asks: tuple[str, ...] = ()  # the sentences that ask the user for something, verbatim


@dataclass(frozen=True)
class Hallucination:
    """Names and arguments a call used that the offered tools do not declare."""
    tools: list[str]  # called names that are not among the offered tools
    arguments: list[str]  # "tool.argument" for arguments an offered tool's schema does not declare
    offered: int  # how many tools the case offered


def _any(*patterns: str) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


# "I can't" / "unable" and their kin: a statement that the assistant cannot do the task.
_REFUSAL = _any(
    r"\bi(?:'m| am)\s+(?:\w+\s+){0,2}?(?:unable|not able|not capable|incapable)\b",
    r"\bi\s+(?:\w+\s+)?(?:can ?not|can't|won't be able|will not be able)\b",
    r"\bi\s+(?:\w+\s+)?(?:do not|don't|lack|have no)\s+(?:have\s+)?(?:the\s+|any\s+|a\s+|an\s+)?"
    r"(?:ability|capabilit|access|real-time|tools?|functions?|permission|means|way)",
    r"\b(?:beyond|outside(?: of)?|not within)\s+(?:my|the)\s+(?:\w+\s+)?(?:capabilit|scope|abilit)",
    r"\bbeyond what i\b", r"\bnot (?:possible for me|something i(?:'m| am)? (?:can|could|able))",
    r"\bi(?:'m| am)\s+(?:not\s+(?:equipped|designed|programmed|permitted|allowed|authorized)|only\s+(?:able|designed))\b",
    r"\bi\s+(?:must|have to|need to)\s+decline\b",
    r"\b(?:none of|no)\s+(?:the\s+|my\s+)?(?:available\s+|provided\s+|given\s+|offered\s+|suitable\s+)?"
    r"(?:tools?|functions?)\s+(?:\w+\s+){0,3}?(?:can|could|support|allows?|lets?|is able|are able|for|to|that)\b",
    r"\b(?:there (?:is|are)|i have|i've got)\s+no\s+(?:\w+\s+)?(?:tools?|functions?|way|means)\b",
    r"(?:\bnot|n't)\s+supported\s+by\s+(?:the|my|any)\s+(?:\w+\s+)?(?:tools?|functions?)",
    r"\b(?:the|my)\s+(?:available\s+|provided\s+)?(?:tools?|functions?)\s+(?:\w+\s+){0,2}?"
    r"(?:do not|don't|does not|doesn't|cannot|can't)\s+(?:support|allow|cover|include|provide|let)",
    # German
    r"\bich\s+(?:\w+\s+){0,3}?(?:kann|könnte)\s+(?:(?!dass\b|aber\b|und\b)\w+\s+){0,4}?(?:nicht|keine?[nmrs]?)\b",
    r"\b(?:nicht in der lage|keinen zugriff|nicht möglich|keine möglichkeit)\b",
    # French
    r"\bje\s+ne\s+(?:peux|pourrai|suis pas en mesure|dispose|sais pas)\b",
    r"\bje\s+n'ai\s+pas\s+(?:accès|la capacité|les outils|la possibilité|les moyens)",
    r"\b(?:je suis incapable|il m'est impossible|impossible pour moi|pas en mesure de)\b",
    # Spanish
    r"\bno\s+(?:puedo|podré|soy capaz|estoy en condiciones|me es posible)\b",
    r"\bno\s+tengo\s+(?:acceso|la capacidad|la posibilidad|herramientas|forma)",
    # Chinese
    r"我(?:目前|暂时|现在)?(?:无法|不能|没有办法|没办法|做不到)", r"我没有(?:权限|能力|访问|相关的?工具)",
    r"超出了我的能力", r"(?:无法|不能)为(?:您|你)",
)
# A refusal made conditional ("I can't book it without the date") asks for what is missing.
_CONDITION = _any(r"\b(?:without|unless|until|ohne|sans|sin|sauf si)\b", r"除非|没有.{0,8}(?:的话|之前)")
# "..., but I can ..." after a refusal: the rest of the reply answers after all.
_PARTIAL = _any(
    r"\b(?:but|however),?\s+i\s+(?:can|could|am able to|'m able to|will|'ll)\s+(?!not\b|n't)(?!\w+\s+you\s+to\b)",
    r"\bhere(?:'s| is| are| it is)\b",
    r"\b(?:aber|jedoch)\s+(?:ich\s+)?kann\s+ich\b", r"\b(?:mais|cependant),?\s+je\s+peux\b",
    r"\b(?:pero|sin embargo),?\s+(?:sí\s+)?puedo\b", r"但(?:是)?我可以",
)
# Requests for information that need no question mark.
_REQUEST = _any(
    r"\b(?:please|kindly)\s+(?:\w+\s+){0,2}?(?:specify|provide|tell me (?!if)|confirm|clarify|share|give|indicate|"
    r"send|enter|choose|select)\b",
    r"\bi(?:'ll| will| would)?\s+(?:need|require)\b", r"\bi\s+must know\b",
    r"^\W*(?:just\s+|please\s+)?(?:(?:give|tell|send|show)\s+me|provide|specify|share|paste|name)\s+"
    r"(?:the|your|its|which|what|me|those|these|that)\b",
    r"\b(?:could|can|would) you (?:please )?(?:let me know|tell me|provide|specify|share|confirm|clarify|give me)\b",
    r"\blet me know\s+(?!if you (?:need|have|want|would)|if there)(?:which|what|the|your|if|whether|how|when|where)\b",
    r"\bich\s+(?:benötige|brauche)\b", r"\bbitte\s+(?:\w+\s+){0,2}?(?:geben|nennen|teilen|sagen)\s+sie\b",
    r"\bj'ai besoin\b", r"\bveuillez\s+(?:\w+\s+)?(?:préciser|indiquer|fournir|me dire)\b",
    r"\bnecesito\s+(?:saber|conocer|que me)\b",
    r"\bpor favor,?\s+(?:\w+\s+)?(?:indique|especifique|proporcione|dime|indícame)\b",
    r"请(?:您)?(?:提供|告诉|说明|指定|确认|问)", r"我需要(?:知道|了解|您)",
)
# Questions that offer more help after an answer rather than ask for something missing.
_OFFER = _any(
    r"^\W*(?:would you like\s+(?:me to|more|any|anything|further|additional|to (?:proceed|book|continue|order|"
    r"know|see|hear|try|learn|get)|that|those|these|this|it)\b)",
    r"^\W*(?:do you want me to|want me to|shall (?:i|we)|should i (?:go ahead|proceed|continue)|is there (?:anything|something)|"
    r"anything else|any other questions|does that help|how does that sound|do you need (?:anything|more|any|further|help)|"
    r"(?:can|may|how (?:else )?can|what else can) i (?:help|assist|do))",
    r"^\W*(?:möchten sie (?:noch|weitere|mehr)|kann ich (?:sonst|noch|ihnen))",
    r"^\W*(?:souhaitez-vous (?:que je|d'autres|plus)|puis-je vous)", r"^\W*¿?(?:desea (?:que|algo)|puedo ayudar)",
    r"^\W*(?:还有什么|需要我)",
)
_WOULD_YOU = _any(r"^\W*would you like\b", r"^\W*möchten sie\b", r"^\W*souhaitez-vous\b", r"^\W*¿?desea\b",
                  r"^\W*(?:您|你)(?:想|需要)")
# Openers that say yes without answering anything.
_PLEASANTRY = _any(r"^\W*(?:sure|of course|certainly|absolutely|great|okay|ok|no problem|gladly|happy to|glad to|"
                   r"i(?:'d| would) be (?:happy|glad)|i can help|that's great|that sounds)\b", r"\bhelp (?:you )?with that\b",
                   r"^\W*(?:gerne|natürlich|bien sûr|avec plaisir|claro|por supuesto|好的|当然)")
# Second person, which a question addressed to the user carries.
_YOU = _any(r"\b(?:you|your|du|dich|dir|sie|ihr|ihre|vous|votre|tu|ton|ta|usted|su|tú|te)\b", r"您|你")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])|\n+")


def classify(text: str | None, detection: Detection, tools: list[dict] | None = None) -> Kind:
    """The kind of one output. `tools` (the case's offered tools) lets a question name the missing parameter."""
    names = ", ".join(repr(c.name) for c in detection.calls)
    visible = _visible(text)
    if detection.outcome == "call":
        fmt = f"{detection.format} " if detection.format else ""
        cue = f"{fmt}call to {names}"
        if m := _REFUSAL.search(visible):
            return Kind("call", f"{cue}; the call wins over the refusal {_quote(m[0])}")
        return Kind("call", cue)
    if detection.outcome == "malformed":
        return Kind("malformed", f"malformed call{' to ' + names if names else ''}"
                                 f"{': ' + detection.near_miss if detection.near_miss else ''}")
    if not visible.strip():
        return Kind("unsure", "empty output" if not (text or "").strip() else "only reasoning, nothing visible")
    sentences = [s.strip() for s in _SENTENCE_END.split(visible) if s.strip()]
    refusal = next((s for s in sentences if _REFUSAL.search(s) and not _CONDITION.search(s)), None)
    asks = _asks(sentences)
    about = next((s for s in asks if mentioned_parameters(s, tools)), None)
    partial = _PARTIAL.search(visible, visible.find(refusal)) if refusal else None
    if partial:
        return Kind("answer", f"refusal {_quote(refusal)} then an answer after {_quote(partial[0])}")
    if refusal and asks:
        if about:
            return Kind("ask", f"asks for {mentioned_parameters(about, tools)[0]!r} despite the refusal "
                               f"{_quote(refusal)}", tuple(asks))
        return Kind("unsure", f"refusal {_quote(refusal)} and question {_quote(asks[0])} conflict")
    if refusal:
        return Kind("decline", f"refusal {_quote(refusal)}")
    if asks:
        if about:
            return Kind("ask", f"asks for {mentioned_parameters(about, tools)[0]!r}: {_quote(about)}", tuple(asks))
        return Kind("ask", f"asks the user: {_quote(asks[0])}", tuple(asks))
    near = f" (near miss: {detection.near_miss})" if detection.near_miss else ""
    return Kind("answer", f"no call, question or refusal{near}")


def mentioned_parameters(text: str, tools: list[dict] | None, only: list[str] | None = None) -> list[str]:
    """Parameters of the offered tools (or the names in `only`) the text names, by name or description.

    A name counts in its spoken form too (`start_date`, `startDate` -> "start date"); a description
    counts when one of its first four content words appears ("The city where ..." -> "city")."""
    lowered = text.lower()
    found = []
    for name, description in _parameters(tools, only):
        spoken = re.sub(r"(?<=[a-z])(?=[A-Z])|[_\-.]+", " ", name).lower().strip()
        words = [w for w in re.findall(r"\w{3,}", description.lower()) if w not in _STOP][:4]
        if spoken and (re.search(rf"\b{re.escape(spoken)}\b", lowered) or name.lower() in lowered) \
                or any(re.search(rf"\b{re.escape(w)}\b", lowered) for w in words):
            found.append(name)
    return found


def hallucinations(detection: Detection, tools: list[dict] | None) -> Hallucination:
    """Calls to tools the case did not offer and arguments an offered tool's schema does not declare."""
    offered = tool_schemas(tools)
    bad_tools, bad_args = [], []
    for call in detection.calls:
        if call.name not in offered:
            bad_tools.append(call.name)
            continue
        schema = offered[call.name]
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        if schema.get("additionalProperties") not in (None, False):  # the schema lets any argument in
            continue
        bad_args += [f"{call.name}.{arg}" for arg in call.arguments or {} if arg not in props]
    return Hallucination(bad_tools, bad_args, len(offered))


def tool_schemas(tools: list[dict] | None) -> dict[str, dict]:
    """Tool name -> its parameters schema ({} when missing or not an object); flat and OpenAI-wrapped tools."""
    schemas = {}
    for tool in tools or []:
        spec = tool.get("function", tool) if isinstance(tool, dict) else None
        if isinstance(spec, dict) and isinstance(spec.get("name"), str):
            schemas[spec["name"]] = spec.get("parameters") if isinstance(spec.get("parameters"), dict) else {}
    return schemas


def kind_mismatch(want: str, about: list[str], kind: Kind, tools: list[dict] | None) -> tuple[str, str] | None:
    """(failure reason, detail) when a reply of `kind` does not meet a response-kind expectation
    (`want`, and for an ask the parameters it must name), else None."""
    got = kind.kind
    if want == got:
        missing = [p for p in about if not any(mentioned_parameters(s, tools, [p]) for s in kind.asks)]
        return ("vague_ask", f"asked, but not about {', '.join(map(repr, missing))}: {kind.cue}") if missing else None
    if got == "malformed":
        return "malformed_call", f"expected {_article(want)}, got a malformed call: {kind.cue}"
    if want == "call":
        return "no_call", f"expected a call, got {_article(got)}: {kind.cue}"
    if got == "call":
        return "unexpected_call", f"expected {_article(want)}, got a call: {kind.cue}"
    return _KIND_MISSES.get(want, "wrong_kind"), f"expected {_article(want)}, got {_article(got)}: {kind.cue}"


def outcome_fields(text: str | None, detection: Detection, tools: list[dict] | None, judged: bool,
                   kind: Kind | None = None) -> dict:
    """The record fields of issue 16: the reply's kind (`kind`: settled elsewhere, by the judge; else
    classified here) and cue, and what it invented (counted whatever the case expects); a reply the model
    was never judged on is unsure."""
    if not judged:
        kind = Kind("unsure", "not judged: nothing to classify")
    kind = kind or classify(text, detection, tools)
    found = hallucinations(detection, tools)
    return {"response_kind": kind.kind, "kind_cue": kind.cue, "hallucinated_tools": found.tools,
            "hallucinated_arguments": found.arguments, "tools_offered": found.offered}


_KIND_MISSES = {"ask": "no_ask", "decline": "no_decline"}  # else wrong_kind


def _article(kind: str) -> str:
    return {"ask": "a question", "decline": "a refusal", "unsure": "an unclear reply"}.get(
        kind, f"an {kind}" if kind[0] in "aeiou" else f"a {kind}")


_STOP = {"the", "and", "for", "are", "which", "that", "this", "with", "its", "from", "where", "when", "what",
         "who", "how", "will", "should", "can", "used", "use", "specified", "given", "optional", "required",
         "default", "value", "list", "string", "number", "name", "type", "user", "one", "all", "any"}


def _parameters(tools: list[dict] | None, only: list[str] | None) -> list[tuple[str, str]]:
    found = {}
    for tool in tools or []:
        spec = tool.get("function", tool) if isinstance(tool, dict) else {}
        params = spec.get("parameters") if isinstance(spec, dict) else None
        props = params.get("properties") if isinstance(params, dict) else None
        for name, prop in (props if isinstance(props, dict) else {}).items():
            desc = prop.get("description") if isinstance(prop, dict) else None
            found.setdefault(name, desc if isinstance(desc, str) else "")
    for name in only or []:
        found.setdefault(name, "")
    return [(name, found[name]) for name in (only or found)]


def _visible(text: str | None) -> str:
    """What the user sees: no reasoning, no end tokens, code fences blanked (code is not a question)."""
    visible = strip_end_tokens(split_reasoning(text or "").visible).replace("\u2019", "'")  # I\u2019m reads as I'm
    for fence in reversed(fences(visible)):
        visible = visible[:fence.start] + " " + visible[fence.end:]
    return visible


def _asks(sentences: list[str]) -> list[str]:
    """Sentences that ask the user for something: requests, and questions addressed to the user or
    ending the reply (a question answered right after it is rhetorical); offers of more help are not."""
    asks = []
    for i, s in enumerate(sentences):
        question = _is_question(s)
        # "Would you like ...?" after an answer offers more; after "Sure, I can help." it asks
        answered = any(not _is_question(p) and not _PLEASANTRY.search(p) for p in sentences[:i])
        offer = _OFFER.search(s) or (answered and _WOULD_YOU.search(s))
        if question and not offer and (_YOU.search(s) or i == len(sentences) - 1):
            asks.append(s)
        elif not question and _REQUEST.search(s):
            asks.append(s)
    return asks


def _is_question(s: str) -> bool:
    return s.endswith(("?", "？")) or s.startswith("¿")


def _quote(s: str) -> str:
    return repr(excerpt(s, CUE_CHARS))
