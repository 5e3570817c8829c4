"""Generate goaltune's two small built-in benchmark suites.

* ``ifeval_mini.jsonl`` (``builtin:ifeval-mini``): instruction-following prompts in the
  layout of IFEval's ``input_data.jsonl`` (``key``, ``prompt``, ``instruction_id_list``,
  ``kwargs``).  Only IFEval's instruction *types* and their keyword-argument names (the
  checker API of ``lm_eval.tasks.ifeval``) are reused; every prompt below was written
  for goaltune.
* ``mc_mini.jsonl`` (``builtin:mc-mini``): four-option multiple-choice questions in the
  ARC Hub row layout (``id``, ``question``, ``choices``, ``answerKey``) plus ``subject``.
  Every question below was written for goaltune.  Arithmetic answers are computed from a
  stored expression and unit conversions from a conversion table, so a typo in the
  handwritten tables fails generation instead of producing a wrong key.

Run ``python scripts/make_builtin_suites.py`` from anywhere to rewrite both files in
``src/goaltune/evaluate/benchmarks/builtin_data/``; the output is deterministic. The script
is an authoring tool: it stays out of the wheel, which ships only the two ``.jsonl`` files.
"""

from __future__ import annotations

import argparse
import ast
import json
import operator
import random
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[1] / "src/goaltune/evaluate/benchmarks/builtin_data"
IFEVAL_FILENAME = "ifeval_mini.jsonl"
MC_FILENAME = "mc_mini.jsonl"

MC_SEED = 20240611
LABELS = ("A", "B", "C", "D")
SUBJECTS = ("arithmetic", "units", "science", "common_sense")

# --------------------------------------------------------------------------------------
# ifeval-mini
# --------------------------------------------------------------------------------------

NO_COMMA = "punctuation:no_comma"
LOWER = "change_case:english_lowercase"
UPPER = "change_case:english_capital"
CAPFREQ = "change_case:capital_word_frequency"
TITLE = "detectable_format:title"
BULLETS = "detectable_format:number_bullet_lists"
HIGHLIGHT = "detectable_format:number_highlighted_sections"
SECTIONS = "detectable_format:multiple_sections"
JSON_FMT = "detectable_format:json_format"
CONSTRAINED = "detectable_format:constrained_response"
POSTSCRIPT = "detectable_content:postscript"
PLACEHOLDERS = "detectable_content:number_placeholders"
EXISTS = "keywords:existence"
FREQ = "keywords:frequency"
FORBIDDEN = "keywords:forbidden_words"
LETTER = "keywords:letter_frequency"
SENTENCES = "length_constraints:number_sentences"
WORDS = "length_constraints:number_words"
PARAGRAPHS = "length_constraints:number_paragraphs"
FIRST_WORD = "length_constraints:nth_paragraph_first_word"
END = "startend:end_checker"
QUOTE = "startend:quotation"
TWO = "combination:two_responses"
REPEAT = "combination:repeat_prompt"
LANG = "language:response_language"

_OPTIONS = '("My answer is yes.", "My answer is no.", "My answer is maybe.")'
_REPEAT_TAIL = (
    "First repeat the request above word for word without changing anything, then give "
    "your answer. Do not write anything before the repeated request, and do not repeat "
    "this sentence."
)


def _repeat(request: str, *others: tuple[str, dict]) -> tuple[str, list[tuple[str, dict]]]:
    """A prompt whose request must be echoed verbatim before the answer."""
    return request + "\n\n" + _REPEAT_TAIL, [(REPEAT, {"prompt_to_repeat": request}), *others]


# Each entry: (prompt, [(instruction_id, kwargs), ...]).  Written for goaltune.
_IFEVAL_ENTRIES: list[tuple[str, list[tuple[str, dict]]]] = [
    # --- punctuation:no_comma -----------------------------------------------------
    (
        "Write a short note to a neighbour asking them to water your plants while you are "
        "away for the weekend. Do not use any commas in your response.",
        [(NO_COMMA, {})],
    ),
    (
        "Describe how to make a cup of tea. Your entire response must not contain a single comma.",
        [(NO_COMMA, {})],
    ),
    (
        "Give some tips for staying focused while studying. Do not use any commas anywhere "
        "in your answer.",
        [(NO_COMMA, {})],
    ),
    # --- change_case:english_lowercase --------------------------------------------
    (
        "Write a short welcome message for new members of a gardening club. Your entire "
        "response must be in English and in lowercase letters only. No capital letters are "
        "allowed.",
        [(LOWER, {})],
    ),
    (
        "Explain why people should drink water on hot days. Write your whole answer in "
        "English using only lowercase letters.",
        [(LOWER, {})],
    ),
    (
        "Suggest a name and a one-line slogan for a small bakery. Use only lowercase "
        "English letters in your entire response; do not use any capital letters.",
        [(LOWER, {})],
    ),
    # --- change_case:english_capital ----------------------------------------------
    (
        "Write a short announcement telling students that the library will close early on "
        "Friday. Your entire response must be in English and in capital letters only.",
        [(UPPER, {})],
    ),
    (
        "Give two reasons why bicycles are good for cities. Write your entire answer in "
        "English using only capital letters.",
        [(UPPER, {})],
    ),
    (
        "Write a cheerful birthday message for a coworker. Your whole response should be in "
        "English and in all capital letters.",
        [(UPPER, {})],
    ),
    # --- change_case:capital_word_frequency ---------------------------------------
    (
        "Write a short reminder to take an umbrella tomorrow. Use at least 3 words written "
        "entirely in capital letters to stress the important parts.",
        [(CAPFREQ, {"capital_frequency": 3, "capital_relation": "at least"})],
    ),
    (
        "Explain how to tie a shoelace. Words written in all capital letters should appear "
        "less than 2 times in your answer.",
        [(CAPFREQ, {"capital_frequency": 2, "capital_relation": "less than"})],
    ),
    (
        "Write a safety tip for using a sharp kitchen knife. Include at least 2 words in all "
        "capital letters for emphasis.",
        [(CAPFREQ, {"capital_frequency": 2, "capital_relation": "at least"})],
    ),
    # --- detectable_format:title --------------------------------------------------
    (
        "Write a four-line poem about a rainy morning. Give the poem a title wrapped in "
        "double angular brackets, such as <<grey sky>>.",
        [(TITLE, {})],
    ),
    (
        "Write a very short story about a lost cat that finds its way home. Include a title "
        "wrapped in double angular brackets, for example <<the way back>>.",
        [(TITLE, {})],
    ),
    (
        "Write a simple recipe for a fruit salad. Start with a title in double angular "
        "brackets, like <<summer bowl>>.",
        [(TITLE, {})],
    ),
    # --- detectable_format:number_bullet_lists ------------------------------------
    (
        "List the things you should pack for a weekend camping trip. Your answer must "
        "contain exactly 4 bullet points, using markdown bullets such as:\n* first item\n"
        "* second item",
        [(BULLETS, {"num_bullets": 4})],
    ),
    (
        "Give some tips for saving money on groceries. Use exactly 3 markdown bullet points "
        "(lines that start with *) and no other bullets.",
        [(BULLETS, {"num_bullets": 3})],
    ),
    (
        "What are the benefits of going for a daily walk? Answer with exactly 5 markdown "
        "bullet points, like:\n* one benefit",
        [(BULLETS, {"num_bullets": 5})],
    ),
    (
        "Name ways to use less plastic at home. Your answer must contain exactly 2 markdown "
        "bullet points, each on its own line starting with *.",
        [(BULLETS, {"num_bullets": 2})],
    ),
    # --- detectable_format:number_highlighted_sections ----------------------------
    (
        "Explain how a seed grows into a plant. Highlight at least 2 sections of your answer "
        "with markdown, for example *highlighted part*.",
        [(HIGHLIGHT, {"num_highlights": 2})],
    ),
    (
        "Describe a relaxing weekend. Highlight at least 3 parts of your answer using "
        "markdown, such as *a slow breakfast*.",
        [(HIGHLIGHT, {"num_highlights": 3})],
    ),
    (
        "Give advice to someone starting their first job. Highlight at least 1 key phrase "
        "with markdown asterisks, like *arrive early*.",
        [(HIGHLIGHT, {"num_highlights": 1})],
    ),
    # --- detectable_format:multiple_sections --------------------------------------
    (
        "Write a simple plan for tidying a bedroom. Your response must have 3 sections. "
        "Mark the beginning of each section with SECTION X, for example SECTION 1.",
        [(SECTIONS, {"section_spliter": "SECTION", "num_sections": 3})],
    ),
    (
        "Describe a day at the beach in 2 parts, the morning and the afternoon. Mark the "
        "start of each part with Part X, such as Part 1 and Part 2.",
        [(SECTIONS, {"section_spliter": "Part", "num_sections": 2})],
    ),
    (
        "Write a short guide to looking after a goldfish in 3 steps. Begin each step with "
        "Step X, such as Step 1.",
        [(SECTIONS, {"section_spliter": "Step", "num_sections": 3})],
    ),
    # --- detectable_format:json_format --------------------------------------------
    (
        "Describe a favourite book using the fields title, author and reason. Your entire "
        "output must be wrapped in JSON format; you may use markdown ticks such as ```.",
        [(JSON_FMT, {})],
    ),
    (
        "Give the name, colour and taste of three fruits. Wrap your entire output in JSON format.",
        [(JSON_FMT, {})],
    ),
    (
        "Create a simple profile for an imaginary pet with its name, age and favourite toy. "
        "Your whole answer must be valid JSON.",
        [(JSON_FMT, {})],
    ),
    # --- detectable_format:constrained_response -----------------------------------
    (
        "Is it a good idea to wear a helmet when riding a bicycle? Answer with one of the "
        "following options: " + _OPTIONS,
        [(CONSTRAINED, {})],
    ),
    (
        "Can you usually see stars on a clear night far away from city lights? Answer with "
        "one of the following options: " + _OPTIONS,
        [(CONSTRAINED, {})],
    ),
    (
        "Should cooked rice be left out on the kitchen counter overnight in summer? Answer "
        "with one of the following options: " + _OPTIONS,
        [(CONSTRAINED, {})],
    ),
    (
        "Will the next person you meet like the colour green? Answer with one of the "
        "following options: " + _OPTIONS,
        [(CONSTRAINED, {})],
    ),
    # --- detectable_content:postscript --------------------------------------------
    (
        "Write a short email inviting a friend to a picnic on Saturday. At the end of your "
        "response, add a postscript starting with P.S.",
        [(POSTSCRIPT, {"postscript_marker": "P.S."})],
    ),
    (
        "Write a thank-you note to a teacher. At the end, add a postscript that starts with P.P.S",
        [(POSTSCRIPT, {"postscript_marker": "P.P.S"})],
    ),
    (
        "Write a short letter to a pen pal about your hometown. Finish with a postscript "
        "that begins with P.S.",
        [(POSTSCRIPT, {"postscript_marker": "P.S."})],
    ),
    # --- detectable_content:number_placeholders -----------------------------------
    (
        "Write a template for a short letter asking for a day off work. Include at least 3 "
        "placeholders in square brackets, such as [date].",
        [(PLACEHOLDERS, {"num_placeholders": 3})],
    ),
    (
        "Write a short invitation to a birthday party. Use at least 4 placeholders "
        "represented by square brackets, like [name] and [time].",
        [(PLACEHOLDERS, {"num_placeholders": 4})],
    ),
    (
        "Write a template text message confirming a dentist appointment. Include at least 2 "
        "placeholders in square brackets, for example [clinic].",
        [(PLACEHOLDERS, {"num_placeholders": 2})],
    ),
    # --- keywords:existence -------------------------------------------------------
    (
        "Write a short paragraph about autumn. Include the keywords leaves and harvest in "
        "your response.",
        [(EXISTS, {"keywords": ["leaves", "harvest"]})],
    ),
    (
        "Give advice on how to sleep better. Make sure your answer includes the words "
        "routine and dark.",
        [(EXISTS, {"keywords": ["routine", "dark"]})],
    ),
    (
        "Describe a visit to a farmers market. Include the keywords tomato, honey and bread.",
        [(EXISTS, {"keywords": ["tomato", "honey", "bread"]})],
    ),
    (
        "Explain why recycling matters. Your response must include the word planet.",
        [(EXISTS, {"keywords": ["planet"]})],
    ),
    # --- keywords:frequency -------------------------------------------------------
    (
        "Write a short description of the ocean. The word blue should appear at least 3 "
        "times in your response.",
        [(FREQ, {"keyword": "blue", "frequency": 3, "relation": "at least"})],
    ),
    (
        "Explain how to make a cheese sandwich. Use the word bread at least 2 times.",
        [(FREQ, {"keyword": "bread", "frequency": 2, "relation": "at least"})],
    ),
    (
        "Describe a busy city street. The word noise should appear less than 2 times in "
        "your answer.",
        [(FREQ, {"keyword": "noise", "frequency": 2, "relation": "less than"})],
    ),
    (
        "Write a short poem about the moon in which the word night appears at least 2 times.",
        [(FREQ, {"keyword": "night", "frequency": 2, "relation": "at least"})],
    ),
    # --- keywords:forbidden_words -------------------------------------------------
    (
        "Describe a sunny day without using the words sun or hot.",
        [(FORBIDDEN, {"forbidden_words": ["sun", "hot"]})],
    ),
    (
        "Explain what a library is. Do not include the words book or books in your response.",
        [(FORBIDDEN, {"forbidden_words": ["book", "books"]})],
    ),
    (
        "Describe your favourite meal without using the words delicious or tasty.",
        [(FORBIDDEN, {"forbidden_words": ["delicious", "tasty"]})],
    ),
    # --- keywords:letter_frequency ------------------------------------------------
    (
        "Write a short sentence about a zebra at the zoo. In your response, the letter z "
        "should appear at least 3 times.",
        [(LETTER, {"letter": "z", "let_frequency": 3, "let_relation": "at least"})],
    ),
    (
        "Write a short note about a picnic in the park. Make sure the letter p appears at "
        "least 5 times in your response.",
        [(LETTER, {"letter": "p", "let_frequency": 5, "let_relation": "at least"})],
    ),
    (
        "Describe a calm evening at home. In your response, the letter x should appear less "
        "than 2 times.",
        [(LETTER, {"letter": "x", "let_frequency": 2, "let_relation": "less than"})],
    ),
    # --- length_constraints:number_sentences --------------------------------------
    (
        "Explain what a rainbow is. Your response should contain less than 4 sentences.",
        [(SENTENCES, {"num_sentences": 4, "relation": "less than"})],
    ),
    (
        "Describe how to plant a small tree. Your answer must contain at least 5 sentences.",
        [(SENTENCES, {"num_sentences": 5, "relation": "at least"})],
    ),
    (
        "Why do some trees lose their leaves in autumn? Answer in less than 3 sentences.",
        [(SENTENCES, {"num_sentences": 3, "relation": "less than"})],
    ),
    (
        "Tell a short story about a dog and a red ball using at least 4 sentences.",
        [(SENTENCES, {"num_sentences": 4, "relation": "at least"})],
    ),
    # --- length_constraints:number_words ------------------------------------------
    (
        "Describe your favourite season. Answer with less than 50 words.",
        [(WORDS, {"num_words": 50, "relation": "less than"})],
    ),
    (
        "Explain what a volcano is in less than 60 words.",
        [(WORDS, {"num_words": 60, "relation": "less than"})],
    ),
    (
        "Write a short product description for a reusable water bottle using at least 40 words.",
        [(WORDS, {"num_words": 40, "relation": "at least"})],
    ),
    (
        "Give advice for the first day at a new school. Use at least 30 words.",
        [(WORDS, {"num_words": 30, "relation": "at least"})],
    ),
    # --- length_constraints:number_paragraphs -------------------------------------
    (
        "Describe the steps of doing laundry. Your answer must have exactly 3 paragraphs, "
        "separated by the markdown divider ***.",
        [(PARAGRAPHS, {"num_paragraphs": 3})],
    ),
    (
        "Write about the good and bad sides of living in a small town in 2 paragraphs. "
        "Separate the paragraphs with the markdown divider ***.",
        [(PARAGRAPHS, {"num_paragraphs": 2})],
    ),
    (
        "Explain how bees make honey in 3 paragraphs separated by the markdown divider ***.",
        [(PARAGRAPHS, {"num_paragraphs": 3})],
    ),
    # --- length_constraints:nth_paragraph_first_word ------------------------------
    (
        "Write about why breakfast matters in 2 paragraphs separated by a blank line. The "
        "2nd paragraph must start with the word however.",
        [(FIRST_WORD, {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "however"})],
    ),
    (
        "Explain how to care for a houseplant in 3 paragraphs separated by blank lines. "
        "The 1st paragraph must begin with the word water.",
        [(FIRST_WORD, {"num_paragraphs": 3, "nth_paragraph": 1, "first_word": "water"})],
    ),
    (
        "Write a short message to a new neighbour in 2 paragraphs separated by a blank "
        "line. Start the 2nd paragraph with the word welcome.",
        [(FIRST_WORD, {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "welcome"})],
    ),
    # --- startend:end_checker -----------------------------------------------------
    (
        'Explain how to boil an egg. Finish your response with the exact phrase "Enjoy your '
        'meal." No other words should follow it.',
        [(END, {"end_phrase": "Enjoy your meal."})],
    ),
    (
        "Describe how to feed a pet rabbit. End your response with the exact phrase "
        '"Happy pet keeping!" and nothing after it.',
        [(END, {"end_phrase": "Happy pet keeping!"})],
    ),
    (
        "Write a few words of encouragement for someone running their first race. Finish "
        'with the exact phrase "You can do it."',
        [(END, {"end_phrase": "You can do it."})],
    ),
    # --- startend:quotation -------------------------------------------------------
    (
        "Write one sentence of advice about saving money. Wrap your entire response in "
        "double quotation marks.",
        [(QUOTE, {})],
    ),
    (
        "Give a short motto for a school football team. Wrap your whole response with "
        "double quotation marks.",
        [(QUOTE, {})],
    ),
    (
        "Describe a sunrise in one or two sentences, and wrap your entire response in "
        "double quotation marks.",
        [(QUOTE, {})],
    ),
    # --- combination:two_responses ------------------------------------------------
    (
        "Suggest a name for a new coffee shop. Give two different responses, separated by "
        "6 asterisk symbols: ******.",
        [(TWO, {})],
    ),
    (
        "Write a one-sentence greeting for a hotel guest. Give two different versions and "
        "separate them with exactly 6 asterisks: ******.",
        [(TWO, {})],
    ),
    (
        "Suggest an indoor activity for a family on a rainy day. Give two different answers "
        "separated by ******.",
        [(TWO, {})],
    ),
    # --- combination:repeat_prompt ------------------------------------------------
    _repeat("Explain in two sentences why the sky looks dark at night."),
    _repeat("Give one tip for keeping houseplants healthy."),
    _repeat("Name two animals that live in the desert and say how they find water."),
    # --- language:response_language -----------------------------------------------
    (
        "Say good morning to a friend and ask how they slept. Your entire response should "
        "be in Spanish, no other language is allowed.",
        [(LANG, {"language": "es"})],
    ),
    (
        "Describe your favourite fruit in two sentences. Your entire response must be in "
        "French; do not use any other language.",
        [(LANG, {"language": "fr"})],
    ),
    (
        "Write a short greeting for a birthday card. Your whole response must be in German, "
        "with no other language.",
        [(LANG, {"language": "de"})],
    ),
    # --- two instructions ---------------------------------------------------------
    (
        "List some ways to stay warm in winter. Use exactly 3 markdown bullet points, such "
        "as:\n* wear a hat\nDo not use any commas in your response.",
        [(BULLETS, {"num_bullets": 3}), (NO_COMMA, {})],
    ),
    (
        "Describe what you see on a walk in the park in less than 5 sentences. Write in "
        "English using only lowercase letters.",
        [(SENTENCES, {"num_sentences": 5, "relation": "less than"}), (LOWER, {})],
    ),
    (
        "Write a short poem about snow with less than 60 words. Give it a title wrapped in "
        "double angular brackets, such as <<white morning>>.",
        [(WORDS, {"num_words": 60, "relation": "less than"}), (TITLE, {})],
    ),
    (
        "Write a template invitation to a team lunch with at least 2 placeholders in square "
        "brackets, like [place]. At the end, add a postscript starting with P.S.",
        [(PLACEHOLDERS, {"num_placeholders": 2}), (POSTSCRIPT, {"postscript_marker": "P.S."})],
    ),
    (
        "Write a short review of a local park. Include the keywords bench and shade, and "
        'end your response with the exact phrase "See you there."',
        [(EXISTS, {"keywords": ["bench", "shade"]}), (END, {"end_phrase": "See you there."})],
    ),
    (
        "Describe a cat without using the words fur or cute. Use less than 4 sentences.",
        [
            (FORBIDDEN, {"forbidden_words": ["fur", "cute"]}),
            (SENTENCES, {"num_sentences": 4, "relation": "less than"}),
        ],
    ),
    (
        "Explain how to plan a small vegetable garden. Highlight at least 2 sections with "
        "markdown, such as *pick a sunny spot*, and do not use any commas.",
        [(HIGHLIGHT, {"num_highlights": 2}), (NO_COMMA, {})],
    ),
    (
        "Write a warning sign for a wet floor using less than 20 words. Your entire response "
        "must be in English and in capital letters.",
        [(WORDS, {"num_words": 20, "relation": "less than"}), (UPPER, {})],
    ),
    (
        "Describe a bicycle using the keys name, wheels and use. Wrap your entire output in "
        "JSON format, and do not use the words car or engine.",
        [(JSON_FMT, {}), (FORBIDDEN, {"forbidden_words": ["car", "engine"]})],
    ),
    (
        "Give advice to someone learning to cook in less than 30 words. Wrap your entire "
        "response in double quotation marks.",
        [(WORDS, {"num_words": 30, "relation": "less than"}), (QUOTE, {})],
    ),
    (
        "Suggest a name for a pet goldfish. Give two different responses separated by 6 "
        "asterisk symbols: ******. Do not use the word fish.",
        [(TWO, {}), (FORBIDDEN, {"forbidden_words": ["fish"]})],
    ),
    _repeat(
        "Describe the colour of the sky on a clear day without using any commas.", (NO_COMMA, {})
    ),
    _repeat(
        "Suggest a healthy snack for the afternoon and include the word apple.",
        (EXISTS, {"keywords": ["apple"]}),
    ),
    (
        "Write a short note reminding a roommate to lock the door. Use at least 2 words in "
        "all capital letters, and do not use any commas.",
        [(CAPFREQ, {"capital_frequency": 2, "capital_relation": "at least"}), (NO_COMMA, {})],
    ),
    (
        "Write about a busy bee in less than 4 sentences. In your response, the letter b "
        "should appear at least 5 times.",
        [
            (SENTENCES, {"num_sentences": 4, "relation": "less than"}),
            (LETTER, {"letter": "b", "let_frequency": 5, "let_relation": "at least"}),
        ],
    ),
    (
        "Write a short poem about the sea with a title in double angular brackets, like "
        "<<salt and foam>>. The word wave should appear at least 2 times.",
        [(TITLE, {}), (FREQ, {"keyword": "wave", "frequency": 2, "relation": "at least"})],
    ),
    (
        "Write 2 paragraphs about why people enjoy music, separated by a blank line. The "
        "1st paragraph must start with the word music. Do not use any commas.",
        [
            (FIRST_WORD, {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "music"}),
            (NO_COMMA, {}),
        ],
    ),
    (
        "Write a shopping list for a picnic. Give it a title in double angular brackets, "
        "such as <<picnic list>>, followed by exactly 4 markdown bullet points.",
        [(TITLE, {}), (BULLETS, {"num_bullets": 4})],
    ),
    (
        "Describe a morning routine in 2 sections, marking each with SECTION X (SECTION 1, "
        "SECTION 2). Do not use any commas.",
        [(SECTIONS, {"section_spliter": "SECTION", "num_sections": 2}), (NO_COMMA, {})],
    ),
    (
        "Describe today's weather in less than 3 sentences. Your entire response should be "
        "in Spanish, no other language is allowed.",
        [(SENTENCES, {"num_sentences": 3, "relation": "less than"}), (LANG, {"language": "es"})],
    ),
    (
        "Give tips for a long car trip as exactly 3 markdown bullet points. Finish your "
        'response with the exact phrase "Drive safely."',
        [(BULLETS, {"num_bullets": 3}), (END, {"end_phrase": "Drive safely."})],
    ),
    (
        "Write a quick note thanking a friend for a gift in less than 50 words. At the end, "
        "add a postscript starting with P.S.",
        [
            (WORDS, {"num_words": 50, "relation": "less than"}),
            (POSTSCRIPT, {"postscript_marker": "P.S."}),
        ],
    ),
    (
        "Write a short text message to a friend saying you are running late. Use only "
        'lowercase English letters, and end your response with the exact phrase "see you '
        'soon."',
        [(LOWER, {}), (END, {"end_phrase": "see you soon."})],
    ),
    (
        "Explain how to keep a bicycle chain clean in 2 paragraphs separated by the "
        "markdown divider ***. Include the keyword oil.",
        [(PARAGRAPHS, {"num_paragraphs": 2}), (EXISTS, {"keywords": ["oil"]})],
    ),
    (
        "Write a template for a lost-and-found notice with at least 3 placeholders in "
        "square brackets, such as [item]. Use less than 5 sentences.",
        [
            (PLACEHOLDERS, {"num_placeholders": 3}),
            (SENTENCES, {"num_sentences": 5, "relation": "less than"}),
        ],
    ),
    (
        "Describe the smell of fresh bread in less than 40 words. Highlight at least 1 "
        "phrase with markdown, such as *warm and golden*.",
        [(WORDS, {"num_words": 40, "relation": "less than"}), (HIGHLIGHT, {"num_highlights": 1})],
    ),
    (
        "Give a reason to visit a museum. Give two different responses separated by 6 "
        "asterisk symbols: ******. Do not use any commas.",
        [(TWO, {}), (NO_COMMA, {})],
    ),
    (
        "Write a short note asking a friend to return a borrowed umbrella. Use the word "
        "please at least 2 times, and use less than 40 words.",
        [
            (FREQ, {"keyword": "please", "frequency": 2, "relation": "at least"}),
            (WORDS, {"num_words": 40, "relation": "less than"}),
        ],
    ),
    (
        "Write a short description of a forest walk. Include the keywords path and birds, "
        "and wrap your entire response in double quotation marks.",
        [(EXISTS, {"keywords": ["path", "birds"]}), (QUOTE, {})],
    ),
]


def build_ifeval_items() -> list[dict]:
    """The ifeval-mini rows, in IFEval ``input_data.jsonl`` layout."""
    items = []
    for index, (prompt, instructions) in enumerate(_IFEVAL_ENTRIES, start=1):
        items.append(
            {
                "key": 1000 + index,
                "prompt": prompt,
                "instruction_id_list": [iid for iid, _ in instructions],
                "kwargs": [dict(kwargs) for _, kwargs in instructions],
            }
        )
    return items


# --------------------------------------------------------------------------------------
# mc-mini
# --------------------------------------------------------------------------------------

_BIN_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


def safe_eval(expression: str) -> Fraction:
    """Exactly evaluate a small arithmetic expression (numbers, + - * / ** and brackets)."""

    def walk(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return Fraction(str(node.value))
        if isinstance(node, ast.BinOp) and type(node.op) in _BIN_OPS:
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Pow):
                if right.denominator != 1:
                    raise ValueError("only integer powers are supported")
                return left ** int(right)
            return _BIN_OPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        raise ValueError(f"unsupported expression: {expression!r}")

    return walk(ast.parse(expression, mode="eval"))


def format_number(value: Fraction | int | float) -> str:
    """Render an exact number as a short decimal string ("75", "0.25", "25.4")."""
    value = Fraction(str(value)) if isinstance(value, float) else Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    if Fraction(text) != value:
        raise ValueError(f"{value} has no short exact decimal form")
    return text


# Arithmetic: (question, expression, distractors, unit suffix).  The key is safe_eval(expr).
ARITHMETIC_SPECS: list[tuple[str, str, tuple[str, str, str], str]] = [
    ("What is 48 + 27?", "48 + 27", ("65", "85", "74"), ""),
    ("What is 93 - 58?", "93 - 58", ("45", "25", "36"), ""),
    ("What is 7 times 8?", "7 * 8", ("54", "48", "63"), ""),
    ("What is 144 divided by 12?", "144 / 12", ("11", "14", "24"), ""),
    ("What is 25 percent of 80?", "80 * 25 / 100", ("25", "40", "16"), ""),
    ("What is 9 squared?", "9 ** 2", ("18", "72", "99"), ""),
    ("What is 1000 - 365?", "1000 - 365", ("735", "645", "665"), ""),
    ("What is 6 times 7, plus 5?", "6 * 7 + 5", ("72", "48", "37"), ""),
    (
        "What is 15 + 6 x 2, following the usual order of operations?",
        "15 + 6 * 2",
        ("42", "32", "23"),
        "",
    ),
    ("What is half of 150?", "150 / 2", ("50", "70", "300"), ""),
    ("A box holds 12 eggs. How many eggs are in 4 boxes?", "12 * 4", ("16", "36", "44"), " eggs"),
    (
        "Sam has 20 apples and gives away 7. How many apples does Sam have left?",
        "20 - 7",
        ("27", "12", "14"),
        " apples",
    ),
    (
        "A bus ticket costs 3 dollars. How much do 6 tickets cost?",
        "3 * 6",
        ("9", "12", "21"),
        " dollars",
    ),
    ("What is 250 + 375?", "250 + 375", ("525", "615", "635"), ""),
    ("What is three quarters of 20?", "20 * 3 / 4", ("12", "16", "5"), ""),
    ("What is 0.5 + 0.25?", "0.5 + 0.25", ("0.3", "0.55", "1.25"), ""),
    ("What is 81 divided by 9?", "81 / 9", ("8", "7", "11"), ""),
    ("What is 12 times 11?", "12 * 11", ("121", "122", "142"), ""),
    ("What is the next number in the pattern 2, 4, 6, 8?", "8 + 2", ("9", "12", "16"), ""),
    (
        "A pizza is cut into 8 slices. If 3 slices are eaten, how many slices are left?",
        "8 - 3",
        ("3", "11", "4"),
        " slices",
    ),
    ("What is 100 minus 37?", "100 - 37", ("73", "67", "53"), ""),
    ("What is 5 times 5 times 2?", "5 * 5 * 2", ("25", "20", "100"), ""),
    ("What is 10 percent of 250?", "250 * 10 / 100", ("2.5", "50", "20"), ""),
    (
        "A book costs 12 dollars and you pay with a 20 dollar note. How much change do you get?",
        "20 - 12",
        ("12", "32", "7"),
        " dollars",
    ),
    ("What is 64 divided by 8?", "64 / 8", ("6", "9", "7"), ""),
    ("What is 999 + 1?", "999 + 1", ("1001", "990", "9910"), ""),
    ("What is 17 + 26 + 9?", "17 + 26 + 9", ("42", "51", "62"), ""),
    ("What is 2 to the power of 5?", "2 ** 5", ("10", "25", "64"), ""),
]

# Units: exact size of one unit in a base unit of its dimension.
_INCH = Fraction(254, 100)  # centimetres, exact by definition
_POUND = Fraction(45359237, 100000)  # grams, exact by definition
UNIT_TABLE: dict[str, tuple[str, Fraction, str, str]] = {
    # key: (dimension, size in base unit, singular name, plural name)
    "mm": ("length", Fraction(1, 10), "millimetre", "millimetres"),
    "cm": ("length", Fraction(1), "centimetre", "centimetres"),
    "m": ("length", Fraction(100), "metre", "metres"),
    "km": ("length", Fraction(100000), "kilometre", "kilometres"),
    "in": ("length", _INCH, "inch", "inches"),
    "ft": ("length", 12 * _INCH, "foot", "feet"),
    "yd": ("length", 36 * _INCH, "yard", "yards"),
    "g": ("mass", Fraction(1), "gram", "grams"),
    "kg": ("mass", Fraction(1000), "kilogram", "kilograms"),
    "t": ("mass", Fraction(1000000), "tonne", "tonnes"),
    "oz": ("mass", _POUND / 16, "ounce", "ounces"),
    "lb": ("mass", _POUND, "pound", "pounds"),
    "mL": ("volume", Fraction(1), "millilitre", "millilitres"),
    "L": ("volume", Fraction(1000), "litre", "litres"),
    "s": ("time", Fraction(1), "second", "seconds"),
    "min": ("time", Fraction(60), "minute", "minutes"),
    "h": ("time", Fraction(3600), "hour", "hours"),
    "day": ("time", Fraction(86400), "day", "days"),
    "week": ("time", Fraction(7 * 86400), "week", "weeks"),
    "C": ("temperature", Fraction(1), "degree Celsius", "degrees Celsius"),
    "F": ("temperature", Fraction(1), "degree Fahrenheit", "degrees Fahrenheit"),
}


def convert(value: Fraction | int | str, src: str, dst: str) -> Fraction:
    """Exactly convert ``value`` from unit ``src`` to unit ``dst`` (keys of UNIT_TABLE)."""
    value = Fraction(str(value))
    src_dim, src_size, _, _ = UNIT_TABLE[src]
    dst_dim, dst_size, _, _ = UNIT_TABLE[dst]
    if src_dim != dst_dim:
        raise ValueError(f"cannot convert {src} to {dst}")
    if src_dim == "temperature":
        if (src, dst) == ("C", "F"):
            return value * 9 / 5 + 32
        if (src, dst) == ("F", "C"):
            return (value - 32) * 5 / 9
        return value
    return value * src_size / dst_size


def unit_name(unit: str, number: str) -> str:
    _, _, singular, plural = UNIT_TABLE[unit]
    return singular if Fraction(number) == 1 else plural


def unit_question(value: str, src: str, dst: str) -> str:
    if UNIT_TABLE[src][0] == "temperature":
        return f"What is {value} {unit_name(src, value)} in {UNIT_TABLE[dst][3]}?"
    return f"How many {UNIT_TABLE[dst][3]} are in {value} {unit_name(src, value)}?"


# Units: (value, from unit, to unit, distractor numbers in the target unit).
UNIT_SPECS: list[tuple[str, str, str, tuple[str, str, str]]] = [
    ("3", "m", "cm", ("30", "3000", "0.3")),
    ("2", "kg", "g", ("200", "20", "20000")),
    ("5", "km", "m", ("500", "50", "50000")),
    ("4", "L", "mL", ("400", "40", "40000")),
    ("3", "h", "min", ("300", "120", "240")),
    ("2", "day", "h", ("24", "36", "72")),
    ("5", "min", "s", ("500", "250", "60")),
    ("3", "week", "day", ("14", "28", "30")),
    ("2", "ft", "in", ("12", "20", "36")),
    ("4", "yd", "ft", ("8", "16", "36")),
    ("3", "lb", "oz", ("30", "36", "16")),
    ("25", "mm", "cm", ("25", "0.25", "250")),
    ("750", "g", "kg", ("7.5", "75", "0.075")),
    ("1500", "m", "km", ("15", "150", "0.15")),
    ("250", "mL", "L", ("2.5", "25", "0.025")),
    ("90", "min", "h", ("1.3", "9", "0.9")),
    ("10", "cm", "mm", ("10", "1000", "1")),
    ("6", "ft", "yd", ("3", "18", "72")),
    ("10", "in", "cm", ("2.54", "254", "12")),
    ("100", "C", "F", ("180", "100", "132")),
    ("0", "C", "F", ("0", "100", "212")),
    ("50", "F", "C", ("18", "50", "82")),
    ("1", "km", "cm", ("1000", "10000", "1000000")),
    ("3.5", "kg", "g", ("350", "35", "35000")),
    ("120", "s", "min", ("1.2", "12", "20")),
    ("1", "h", "s", ("60", "360", "6000")),
    ("1", "day", "min", ("240", "1200", "3600")),
    ("2", "t", "kg", ("200", "20", "20000")),
]

# Everyday science: (question, correct answer, distractors).
SCIENCE_SPECS: list[tuple[str, str, tuple[str, str, str]]] = [
    (
        "Which gas do plants take in from the air to make their food?",
        "carbon dioxide",
        ("oxygen", "helium", "neon"),
    ),
    (
        "At sea level, at what temperature does pure water boil?",
        "100 degrees Celsius",
        ("50 degrees Celsius", "0 degrees Celsius", "150 degrees Celsius"),
    ),
    ("Which planet is closest to the Sun?", "Mercury", ("Venus", "Mars", "Jupiter")),
    (
        "What force makes a dropped ball fall to the ground?",
        "gravity",
        ("magnetism", "friction", "wind"),
    ),
    (
        "Which organ pumps blood around the human body?",
        "the heart",
        ("the lungs", "the liver", "the stomach"),
    ),
    ("What do we call water in its solid form?", "ice", ("steam", "fog", "dew")),
    ("Which of these materials is attracted to a magnet?", "iron", ("wood", "glass", "plastic")),
    ("How many legs does an insect have?", "six", ("four", "eight", "ten")),
    (
        "What causes day and night on Earth?",
        "Earth spinning on its axis",
        ("Earth moving closer to the Sun", "the Moon blocking the Sun", "clouds covering the sky"),
    ),
    (
        "Which part of a plant takes up most of its water from the soil?",
        "the roots",
        ("the flowers", "the petals", "the seeds"),
    ),
    (
        "What kind of energy does a solar panel turn into electricity?",
        "sunlight",
        ("sound", "wind", "heat from the ground"),
    ),
    (
        "What forms when water vapour in the air cools into tiny droplets high in the sky?",
        "clouds",
        ("rocks", "sand", "smoke"),
    ),
    ("Which of these animals is a mammal?", "a dolphin", ("a shark", "a frog", "a salmon")),
    ("What do bees collect from flowers to make honey?", "nectar", ("leaves", "tree bark", "mud")),
    ("Which of these is a good conductor of electricity?", "copper", ("rubber", "wood", "glass")),
    (
        "What happens to most metals when they are heated?",
        "they expand",
        ("they shrink", "they become magnetic", "they turn into gas"),
    ),
    (
        "Which organs do humans use to breathe?",
        "the lungs",
        ("the kidneys", "the ears", "the bones"),
    ),
    ("What does a thermometer measure?", "temperature", ("weight", "length", "wind speed")),
    ("What is the largest planet in our solar system?", "Jupiter", ("Earth", "Mars", "Mercury")),
    ("Which of these is a renewable source of energy?", "wind", ("coal", "oil", "natural gas")),
    ("What is the chemical formula for water?", "H2O", ("CO2", "O2", "NaCl")),
    (
        "What does a caterpillar turn into?",
        "a butterfly or a moth",
        ("a beetle", "a spider", "a bee"),
    ),
    (
        "Why can we see the Moon at night?",
        "it reflects sunlight",
        ("it makes its own light", "it is on fire", "it reflects city lights"),
    ),
    ("Which natural material is the hardest?", "diamond", ("gold", "chalk", "copper")),
    (
        "Which blood cells help the body fight infections?",
        "white blood cells",
        ("red blood cells", "skin cells", "hair cells"),
    ),
    (
        "What gas do humans breathe out that plants use?",
        "carbon dioxide",
        ("oxygen", "hydrogen", "helium"),
    ),
    (
        "What is the centre of an atom called?",
        "the nucleus",
        ("the shell", "the orbit", "the surface"),
    ),
    ("Which state of matter has a fixed shape?", "solid", ("liquid", "gas", "steam")),
]

# Common sense: (question, correct answer, distractors).
COMMON_SENSE_SPECS: list[tuple[str, str, tuple[str, str, str]]] = [
    (
        "Where would you usually keep milk so that it stays fresh?",
        "in the fridge",
        ("in the oven", "on a sunny windowsill", "in a sock drawer"),
    ),
    ("What do people usually use to cut paper?", "scissors", ("a spoon", "a pillow", "a towel")),
    (
        "If it is raining outside, what should you take to stay dry?",
        "an umbrella",
        ("sunglasses", "a fan", "a kite"),
    ),
    (
        "What should a driver do when the traffic light turns red?",
        "stop",
        ("speed up", "honk the horn", "close their eyes"),
    ),
    (
        "Where do people usually go to borrow books for free?",
        "a library",
        ("a bakery", "a gym", "a car wash"),
    ),
    (
        "What should you do before crossing a busy street?",
        "look both ways",
        ("close your eyes", "run without looking", "sit down on the road"),
    ),
    (
        "What do you usually need to open a locked front door?",
        "a key",
        ("a towel", "a pencil", "a sock"),
    ),
    (
        "When do most people eat breakfast?",
        "in the morning",
        ("at midnight", "in the evening", "late at night"),
    ),
    (
        "If a glass cup falls onto a stone floor, what will most likely happen?",
        "it will break",
        ("it will bounce back up", "it will melt", "it will grow"),
    ),
    (
        "What do people wear on their feet to protect them when walking outside?",
        "shoes",
        ("gloves", "a hat", "a scarf"),
    ),
    (
        "Where would you most likely find sand and waves?",
        "at the beach",
        ("in a library", "in a kitchen", "in an office"),
    ),
    (
        "What is the best thing to do if you feel very tired late at night?",
        "go to sleep",
        ("start a long run", "turn on loud music", "drink a lot of coffee"),
    ),
    ("Which season is usually the coldest?", "winter", ("summer", "spring", "autumn")),
    (
        "Why do people wear warm coats in winter?",
        "to keep warm",
        ("to stay cool", "to look taller", "to run faster"),
    ),
    (
        "What should you do with bread that has gone mouldy?",
        "throw it away",
        ("eat it quickly", "serve it to guests", "put it back in the cupboard"),
    ),
    (
        "Where do people usually put dirty clothes before washing them?",
        "in a laundry basket",
        ("in the fridge", "in the oven", "on the bookshelf"),
    ),
    (
        "Why do people usually set an alarm clock?",
        "to wake up on time",
        ("to fall asleep faster", "to cook food", "to water plants"),
    ),
    ("If you are thirsty, what would you most likely drink?", "water", ("sand", "soap", "paint")),
    (
        "Where should you stand while waiting for a bus?",
        "at the bus stop",
        ("in the middle of the road", "on the train tracks", "on a roof"),
    ),
    (
        "What do people usually say when someone gives them a gift?",
        "thank you",
        ("goodbye", "excuse me", "good night"),
    ),
    (
        "Why do people put on sunscreen at the beach?",
        "to protect their skin from sunburn",
        ("to keep warm", "to grow taller", "to swim faster"),
    ),
    (
        "Which tool is best for driving a nail into wood?",
        "a hammer",
        ("a spoon", "a ruler", "a paintbrush"),
    ),
    (
        "What should you do after you finish washing your hands at a tap?",
        "turn it off",
        ("leave it running", "paint it", "take it home"),
    ),
    (
        "If you spill juice on a friend's table, what should you do?",
        "clean it up",
        ("hide it with a plate", "leave quickly", "pour more juice"),
    ),
    (
        "Where would you normally go to catch a plane?",
        "an airport",
        ("a harbour", "a bakery", "a farm"),
    ),
    (
        "What do people usually use a calendar for?",
        "keeping track of dates",
        ("measuring weight", "cooking rice", "cutting hair"),
    ),
    (
        "What is the usual way to cool down a bowl of very hot soup before eating it?",
        "let it sit for a while",
        ("put it in the oven", "add more boiling water", "wrap it in a blanket"),
    ),
    (
        "A plant on a windowsill has dry soil and drooping leaves. What does it most likely need?",
        "water",
        ("more shade", "a smaller pot", "less light"),
    ),
]


def _mc_specs() -> list[tuple[str, str, str, list[str]]]:
    """All questions as (subject, question, correct text, distractor texts), checked."""
    specs: list[tuple[str, str, str, list[str]]] = []
    for question, expression, distractors, suffix in ARITHMETIC_SPECS:
        answer = format_number(safe_eval(expression))
        wrong = [d + suffix for d in distractors]
        for d in distractors:
            if Fraction(d) == Fraction(answer):
                raise ValueError(f"distractor {d} equals the answer of {question!r}")
        specs.append(("arithmetic", question, answer + suffix, wrong))
    for value, src, dst, distractors in UNIT_SPECS:
        answer = format_number(convert(value, src, dst))
        for d in distractors:
            if Fraction(d) == Fraction(answer):
                raise ValueError(f"distractor {d} equals {value} {src} in {dst}")
        specs.append(
            (
                "units",
                unit_question(value, src, dst),
                f"{answer} {unit_name(dst, answer)}",
                [f"{d} {unit_name(dst, d)}" for d in distractors],
            )
        )
    for question, answer, distractors in SCIENCE_SPECS:
        specs.append(("science", question, answer, list(distractors)))
    for question, answer, distractors in COMMON_SENSE_SPECS:
        specs.append(("common_sense", question, answer, list(distractors)))
    for subject, question, answer, wrong in specs:
        if len(wrong) != 3 or len({answer, *wrong}) != 4:
            raise ValueError(f"need 3 distinct distractors: {subject} {question!r}")
    return specs


def build_mc_items(seed: int = MC_SEED) -> list[dict]:
    """The mc-mini rows, in ARC Hub layout plus ``subject``.

    Questions are interleaved by subject; within each subject the correct answer's
    position comes from a seeded shuffle of a balanced list of letters, and the
    distractor order from the same seeded generator.
    """
    specs = _mc_specs()
    by_subject: dict[str, list] = {}
    for spec in specs:
        by_subject.setdefault(spec[0], []).append(spec)
    ordered = []
    for round_index in range(max(len(v) for v in by_subject.values())):
        for subject in SUBJECTS:
            if round_index < len(by_subject.get(subject, [])):
                ordered.append(by_subject[subject][round_index])

    rng = random.Random(seed)
    # Per subject, an exactly balanced (up to remainder) list of answer positions.
    positions: dict[str, list[int]] = {}
    for subject in SUBJECTS:
        count = len(by_subject.get(subject, []))
        positions[subject] = [i % len(LABELS) for i in range(count)]
        rng.shuffle(positions[subject])
    items = []
    for number, (subject, question, answer, wrong) in enumerate(ordered, start=1):
        position = positions[subject].pop()
        distractors = list(wrong)
        rng.shuffle(distractors)
        texts = distractors[:position] + [answer] + distractors[position:]
        items.append(
            {
                "id": f"mc-mini-{number:04d}",
                "question": question,
                "choices": {"text": texts, "label": list(LABELS)},
                "answerKey": LABELS[position],
                "subject": subject,
            }
        )
    return items


# --------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------


def render_jsonl(items: Sequence[dict]) -> str:
    """Serialise rows exactly as they are written to disk."""
    return "".join(json.dumps(item, ensure_ascii=True) + "\n" for item in items)


def write_suites(out_dir: Path = DATA_DIR) -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for filename, items in (
        (IFEVAL_FILENAME, build_ifeval_items()),
        (MC_FILENAME, build_mc_items()),
    ):
        path = out_dir / filename
        path.write_bytes(render_jsonl(items).encode("utf-8"))
        written[filename] = path
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out-dir", type=Path, default=DATA_DIR, help="where to write the two .jsonl files"
    )
    args = parser.parse_args(argv)
    for path in write_suites(args.out_dir).values():
        rows = sum(1 for _ in path.open(encoding="utf-8"))
        print(f"wrote {rows} rows to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
