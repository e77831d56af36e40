"""The response-kind classifier on outputs written here: each kind, in English, German, French,
Spanish and Chinese; questions, requests without a question mark, polite forms, offers of more
help, refusals that still call, calls with prose, reasoning, and cues that conflict."""
import json

import pytest

from harness.detect import detect
from harness.kinds import classify, hallucinations, mentioned_parameters

WEATHER = {"name": "get_weather", "description": "Current weather for a place.",
           "parameters": {"type": "object", "required": ["location"],
                          "properties": {"location": {"type": "string", "description": "The city, e.g. Paris."},
                                         "unit": {"type": "string", "enum": ["c", "f"]}}}}
TOOLS = [WEATHER]


def kind(text, tools=TOOLS):
    return classify(text, detect(text, tools), tools)


def hermes(name, **arguments):
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


@pytest.mark.parametrize("text", [
    "Which city would you like the weather for?",
    "Could you please tell me the location?",
    "To check the forecast I need to know the city you are in.",  # a request without a question mark
    "Please specify the city.",
    "Sure! Just to confirm, do you mean Paris in France or Paris in Texas?",
    "Für welche Stadt möchten Sie das Wetter wissen?",
    "Könnten Sie mir bitte sagen, in welcher Stadt Sie sind?",
    "Pour quelle ville voulez-vous la météo ?",
    "Veuillez préciser la ville, s'il vous plaît.",
    "¿Para qué ciudad quieres el pronóstico?",
    "Por favor, indique la ciudad.",
    "请问您想查询哪个城市的天气？",
    "I can't check the weather without knowing the city. Where are you?",  # a conditional refusal asks
    "Sure, I can help with that. Would you like the results in Celsius or Fahrenheit?",  # after a pleasantry
    "Happy to look it up. Could you let me know:\n\n1. **The city**\n2. The day\n\nJust give me those and I\u2019ll check.",
    "To get the forecast I\u2019ll need the city.",  # a curly apostrophe reads as a straight one
])
def test_asks(text):
    assert kind(text).kind == "ask", kind(text)


@pytest.mark.parametrize("text", [
    "I'm sorry, but I can't book flights.",
    "Unfortunately, I don't have a tool for sending emails.",
    "Apologies, I'm unable to do that as I don't have real-time access.",
    "None of the available tools can order food.",
    "That is beyond my capabilities with these tools.",
    "I'm afraid that's not something I can do.",
    "Es tut mir leid, aber ich kann keine Flüge buchen.",
    "Leider habe ich keinen Zugriff auf Ihren Kalender.",
    "Désolé, je ne peux pas réserver de restaurant.",
    "Lo siento, no puedo acceder a información en tiempo real.",
    "抱歉，我无法帮您预订机票。",
    "I\u2019m sorry, but I don\u2019t have a tool that can book tables.",
])
def test_declines(text):
    assert kind(text).kind == "decline", kind(text)


@pytest.mark.parametrize("text", [
    "It is 18 degrees and sunny in Paris.",
    "Why is the sky blue? Because air scatters blue light more than red.",  # a question it answers itself
    "Paris is sunny today. Would you like the forecast for tomorrow as well?",  # an offer, not an ask
    "Paris is sunny today. Let me know if you need anything else!",
    "I'm sorry, I can't book a table, but I can tell you the number: 555-0100.",  # partial refusal that helps
    "I\u2019m not able to fetch live data, but I can give you an overview.\n\n- Mild.\n\nLet me know the dates if you need more.",
    "Ich kann Ihnen sagen, dass es in Berlin regnet.",  # "kann ... nicht" must not match across a clause
    "好的，根据我的数据，北京今天晴。",
])
def test_answers(text):
    assert kind(text).kind == "answer", kind(text)


def test_calls_win_over_prose_questions_and_refusals():
    call = hermes("get_weather", location="Paris")
    k = kind("Let me check that for you.\n" + call)
    assert k.kind == "call" and "get_weather" in k.cue
    k = kind("I can't be sure without looking it up, so I cannot answer directly.\n" + call)
    assert k.kind == "call" and "the call wins over the refusal" in k.cue
    assert kind("Which city? " + call).kind == "call"


def test_malformed_and_empty():
    k = kind('<tool_call>\n{"name": "get_weather", "arguments": {"location": "Pa')
    assert k.kind == "malformed" and "get_weather" in k.cue
    assert kind("").kind == "unsure" and kind("").cue == "empty output"
    assert kind("<think>maybe ask which city</think>").cue == "only reasoning, nothing visible"


def test_reasoning_and_code_are_not_read():
    # the question and the refusal sit in reasoning and in a code fence; what the user sees is an answer
    text = "<think>Should I ask which city? I cannot know.</think>It is sunny in Paris."
    assert kind(text).kind == "answer"
    text = "Here is the snippet:\n```python\nask = input('Which city?')\n```\nIt prints the prompt."
    assert kind(text).kind == "answer"


def test_conflicting_cues_are_unsure_unless_the_question_names_a_parameter():
    k = kind("I'm unable to search flights. What else would you like to talk about?")
    assert k.kind == "unsure" and "conflict" in k.cue
    k = kind("I can't look that up yet. Which location do you mean?")
    assert k.kind == "ask" and "'location'" in k.cue


def test_cue_names_the_missing_parameter_and_keeps_the_question():
    k = kind("Which city should I use?")
    assert k.kind == "ask" and "'location'" in k.cue  # matched through the description ("The city, ...")
    assert k.asks == ("Which city should I use?",)


def test_mentioned_parameters_by_name_spoken_form_and_description():
    tools = [{"name": "t", "parameters": {"properties": {
        "start_date": {"type": "string"}, "userId": {"type": "string"},
        "location": {"type": "string", "description": "The city where the theater is located."}}}}]
    assert mentioned_parameters("What start date do you want?", tools) == ["start_date"]
    assert mentioned_parameters("Could you give me the user ID?", tools) == ["userId"]
    assert mentioned_parameters("Which theater?", tools) == ["location"]
    assert mentioned_parameters("Which one?", tools) == []
    assert mentioned_parameters("Which path?", None, only=["path"]) == ["path"]


def test_hallucinations_count_unknown_tools_and_undeclared_arguments():
    d = detect(hermes("get_weather", location="Paris", hourly=True) + hermes("book_flight", to="Rome"), TOOLS)
    h = hallucinations(d, TOOLS)
    assert (h.tools, h.arguments, h.offered) == (["book_flight"], ["get_weather.hourly"], 1)
    assert hallucinations(detect(hermes("get_weather", location="Paris"), TOOLS), TOOLS).tools == []
    h = hallucinations(detect(hermes("get_weather", location="Paris"), []), [])
    assert (h.tools, h.offered) == (["get_weather"], 0)  # a call when no tools were offered
    open_schema = [{"name": "f", "parameters": {"type": "object", "additionalProperties": True}}]
    assert hallucinations(detect(hermes("f", anything=1), open_schema), open_schema).arguments == []
    # the OpenAI-wrapped tool form counts the same
    wrapped = [{"type": "function", "function": WEATHER}]
    assert hallucinations(detect(hermes("get_weather", city="x"), wrapped), wrapped).arguments == ["get_weather.city"]


def test_untrusted_output_never_breaks_the_classifier():
    for text in (None, "\ud800?", "?" * 10_000, "{" * 500, "\x00\x01 can't"):
        assert classify(text, detect(text or "", TOOLS), TOOLS).kind in ("ask", "answer", "decline", "unsure")
    assert classify("Which city?", detect("Which city?"), [{"bad": 1}, "x", {"name": "n", "parameters": 3}]).kind == "ask"
