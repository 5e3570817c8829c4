"""Style checks (`eval.style`): deterministic, IFEval-like rules that say why an answer fails.

A check is `{check: NAME, value: ...}`. Each reports a metric `style:NAME` (1 pass, 0 fail; two
checks of one kind share the name and must both pass), and `style_pass` is 1 when every check
passes. `{field}` in the value of a text check is filled from the test item's fields. An item's
own `style_checks` list replaces the config's. The failed checks of an item, each with its
reason, are kept in the item's `style_failed` list in eval/before.json and after.json.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from goaltune.errors import DataError

# Words: runs of letters or digits, joined by inner apostrophes or hyphens ("don't", "e-mail").
_WORD = re.compile(r"\w+(?:['’-]\w+)*")
# Sentences end after . ! or ? followed by space, and at every line break (a greeting line or a
# sign-off is a sentence of its own); abbreviations such as "e.g." also end one.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")
_BULLET = re.compile(r"^[ \t]*(?:[-*•+]|\d+[.)])[ \t]+\S", re.MULTILINE)
_HEADER = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+\S", re.MULTILINE)
_FENCE = re.compile(r"^[ \t]*```[ \t]*([^\s`]*)[^\n]*\n.*?^[ \t]*```", re.MULTILINE | re.DOTALL)
_FIELD = re.compile(r"\{(\w+)\}")
CASES = ("lower", "upper", "title")


def words(text: str) -> list[str]:
    """The words of a text, as every word-count check (and `length_ratio`) counts them."""
    return _WORD.findall(text)


def sentences(text: str) -> list[str]:
    """The sentences of a text that contain at least one word."""
    return [s.strip() for s in _SENTENCE_BREAK.split(text) if words(s)]


def _snippet(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _quoted(values: list[str]) -> str:
    return ", ".join(repr(v) for v in values)


# ---------------------------------------------------------------- arguments (config time)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("needs a non-empty string")
    return value


def _texts(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) and v for v in items):
        raise ValueError("needs a string or a non-empty list of non-empty strings")
    return list(items)


def _count(minimum: int, default: int | None = None) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if value is None and default is not None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"needs a whole number >= {minimum}")
        return value

    return parse


def _flag(value: Any) -> None:
    if value not in (None, True):
        raise ValueError("takes no value; remove the check to turn it off")


def _grade(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError("needs a positive number, a school grade")
    return float(value)


@cache
def _language_codes() -> tuple[str, ...]:
    import os

    from langdetect.detector_factory import PROFILES_DIRECTORY

    return tuple(sorted(os.listdir(PROFILES_DIRECTORY)))


def _language(value: Any) -> str:
    if value not in _language_codes():
        raise ValueError("needs a langdetect code such as 'en' or 'de'")
    return str(value)


def _case(value: Any) -> str:
    if value not in CASES:
        raise ValueError(f"needs one of {', '.join(CASES)}")
    return str(value)


def _fence_language(value: Any) -> str | None:
    return None if value is None else _text(value)


# ---------------------------------------------------------------- tests (per answer)
# Each returns None when the answer passes, else the reason it fails.


def _starts_with(output: str, prefix: str) -> str | None:
    text = output.lstrip()
    if text.startswith(prefix):
        return None
    return f"starts {_snippet(text[: len(prefix) + 20])}, not {prefix!r}"


def _ends_with(output: str, suffix: str) -> str | None:
    text = output.rstrip()
    if text.endswith(suffix):
        return None
    return f"ends {_snippet(text[-(len(suffix) + 20) :])}, not {suffix!r}"


def _contains_all(output: str, phrases: list[str]) -> str | None:
    lowered = output.lower()
    missing = [p for p in phrases if p.lower() not in lowered]
    return f"missing {_quoted(missing)}" if missing else None


def _contains_any(output: str, phrases: list[str]) -> str | None:
    lowered = output.lower()
    return None if any(p.lower() in lowered for p in phrases) else f"none of {_quoted(phrases)}"


def _forbidden_words(output: str, banned: list[str]) -> str | None:
    # Lookarounds rather than \b, so phrases that start or end with punctuation still match.
    used = [w for w in banned if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", output, re.IGNORECASE)]
    return f"uses {_quoted(used)}" if used else None


def _max_words(output: str, limit: int) -> str | None:
    n = len(words(output))
    return f"{n} words > {limit}" if n > limit else None


def _min_words(output: str, limit: int) -> str | None:
    n = len(words(output))
    return f"{n} words < {limit}" if n < limit else None


def _max_sentences(output: str, limit: int) -> str | None:
    n = len(sentences(output))
    return f"{n} sentences > {limit}" if n > limit else None


def _max_sentence_words(output: str, limit: int) -> str | None:
    longest = max(sentences(output), key=lambda s: len(words(s)), default="")
    n = len(words(longest))
    return f"a sentence of {n} words > {limit}: {_snippet(longest)}" if n > limit else None


def _no_exclamation(output: str, _: None) -> str | None:
    n = output.count("!")
    return f"{n} exclamation mark{'s' if n > 1 else ''}" if n else None


def _reading_grade_max(output: str, limit: float) -> str | None:
    import textstat

    grade = float(textstat.flesch_kincaid_grade(output))
    return f"Flesch-Kincaid grade {grade:.1f} > {limit:g}" if grade > limit else None


@cache
def _detector_factory() -> Any:
    # A factory of our own with a fixed seed: langdetect is random per call otherwise, and this
    # leaves the library's global factory as other code set it.
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)
    return factory


def _language_is(output: str, code: str) -> str | None:
    from langdetect.lang_detect_exception import LangDetectException

    detector = _detector_factory().create()
    detector.append(output)
    try:
        found = detector.detect()
    except LangDetectException:
        return "no language detected"
    return None if found == code else f"language {found!r}, not {code!r}"


def _bullet_list(output: str, minimum: int) -> str | None:
    n = len(_BULLET.findall(output))
    return f"{n} bullet lines < {minimum}" if n < minimum else None


def _markdown_headers(output: str, minimum: int) -> str | None:
    n = len(_HEADER.findall(output))
    return f"{n} markdown headers < {minimum}" if n < minimum else None


def _code_fence(output: str, language: str | None) -> str | None:
    tags = [m.group(1).lower() for m in _FENCE.finditer(output)]
    if not tags:
        return "no closed ``` code fence"
    if language is not None and language.lower() not in tags:
        return f"no ```{language} fence (fences: {_quoted(tags)})"
    return None


def _case_is(output: str, case: str) -> str | None:
    if case == "title":
        lower = [w for w in words(output) if w[0].isalpha() and not w[0].isupper()]
        return f"words not capitalised: {_quoted(lower[:3])}" if lower else None
    converted = output.lower() if case == "lower" else output.upper()
    if output == converted:
        return None
    wrong = [w for w in words(output) if w != (w.lower() if case == "lower" else w.upper())]
    return f"not {case} case: {_quoted(wrong[:3])}"


@dataclass(frozen=True)
class Check:
    """One kind of check: its argument's parser (config time) and its test of an answer."""

    parse: Callable[[Any], Any]
    test: Callable[[str, Any], str | None]
    templated: bool = False  # `{field}` in the value is filled from the item


CHECKS: dict[str, Check] = {
    "starts_with": Check(_text, _starts_with, templated=True),
    "ends_with": Check(_text, _ends_with, templated=True),
    "contains_all": Check(_texts, _contains_all, templated=True),
    "contains_any": Check(_texts, _contains_any, templated=True),
    "forbidden_words": Check(_texts, _forbidden_words, templated=True),
    "max_words": Check(_count(1), _max_words),
    "min_words": Check(_count(1), _min_words),
    "max_sentences": Check(_count(1), _max_sentences),
    "max_sentence_words": Check(_count(1), _max_sentence_words),
    "no_exclamation": Check(_flag, _no_exclamation),
    "reading_grade_max": Check(_grade, _reading_grade_max),
    "language": Check(_language, _language_is),
    "bullet_list": Check(_count(1, default=1), _bullet_list),
    "markdown_headers": Check(_count(1, default=1), _markdown_headers),
    "code_fence": Check(_fence_language, _code_fence),
    "case": Check(_case, _case_is),
}


def check_name(name: Any) -> str:
    """`name` if it is a known check, else ValueError listing the known ones."""
    if name not in CHECKS:
        raise ValueError(f"unknown style check {name!r} (known: {', '.join(CHECKS)})")
    return str(name)


def check_argument(name: str, value: Any) -> Any:
    """A check's argument as its test uses it; ValueError saying what it needs otherwise."""
    try:
        return CHECKS[name].parse(value)
    except ValueError as error:
        raise ValueError(f"{name} {error}") from None


# ---------------------------------------------------------------- scoring one item


def _fill(value: Any, item: dict[str, Any], name: str) -> Any:
    """`{field}` in a text (or in each text of a list) replaced by the item's field."""
    if isinstance(value, list):
        return [_fill(v, item, name) for v in value]

    def field(match: re.Match[str]) -> str:
        key = match.group(1)
        if item.get(key) is None:
            raise DataError(
                f"item {item.get('id')}: style check {name} needs the field '{key}' ({value!r})"
            )
        return str(item[key])

    return _FIELD.sub(field, value)


def _item_checks(item: dict[str, Any]) -> list[tuple[str, Any]]:
    """The item's checks as (name, argument), validated; DataError naming the item otherwise."""
    raw = item.get("style_checks")
    if not isinstance(raw, list) or not raw:
        raise DataError(
            f"item {item.get('id')}: metric style_pass needs style checks "
            "(eval.style, or a 'style_checks' list in the item)"
        )
    checks = []
    for index, entry in enumerate(raw):
        where = f"item {item.get('id')}: style_checks[{index}]"
        if not isinstance(entry, dict):
            raise DataError(f"{where}: expected {{check: NAME, value: ...}}, got {entry!r}")
        try:
            name = check_name(entry.get("check"))
        except ValueError as error:
            raise DataError(f"{where}.check: {error}") from None
        try:
            value = check_argument(name, entry.get("value"))
        except ValueError as error:
            raise DataError(f"{where}.value: {error} (got {entry.get('value')!r})") from None
        checks.append((name, _fill(value, item, name) if CHECKS[name].templated else value))
    return checks


def run_checks(output: str, item: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(check name, reason it failed or None) for each of the item's checks, in order."""
    return [(name, CHECKS[name].test(output, value)) for name, value in _item_checks(item)]


def style_pass(output: str, item: dict[str, Any]) -> dict[str, float]:
    """`style:NAME` per kind of check (1 when all of that kind pass) and `style_pass` overall."""
    results = run_checks(output, item)
    values = {f"style:{name}": 1.0 for name, _ in results}
    for name, reason in results:
        if reason is not None:
            values[f"style:{name}"] = 0.0
    values["style_pass"] = float(all(reason is None for _, reason in results))
    return values


def style_failed(output: str, item: dict[str, Any]) -> dict[str, Any]:
    """The per-item explanation: `style_failed`, one 'check: reason' line per failed check."""
    failed = [
        f"{name}: {reason}" for name, reason in run_checks(output, item) if reason is not None
    ]
    return {"style_failed": failed}
