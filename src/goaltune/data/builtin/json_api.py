"""Built-in dataset `builtin:json-api`: natural-language requests answered with strict JSON.

Every request states all the values of one record; the answer is the compact JSON object
(`json.dumps(obj, ensure_ascii=False)`) with a fixed key set per record type. The test split
uses its own templates and a disjoint part of every vocabulary pool, so memorising the
training set does not solve it.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

Split = Literal["train", "test"]
Facts = dict[str, str]
Builder = Callable[[random.Random, Split], tuple[dict[str, Any], Facts]]

RECORD_TYPES: tuple[str, ...] = ("person", "order", "event", "product", "book", "flight")

_TEST_SHARE = 4  # one in every _TEST_SHARE pool values / templates is reserved for the test split


def _tuples(value: Any) -> Any:
    """JSON lists as tuples, so the vocabularies stay immutable as when they were literals."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


# The words and sentence templates live in a data file beside this module: the record schemas;
# the vocabulary pools; context and "JSON only" sentences; how each boolean fact is said
# ((phrasings when true), (phrasings when false)); and the request templates per record type.
# Every fourth pool value and template of each type is reserved for the test split.
# `{x_cap}` in a template is `{x}` with its first letter capitalised.
_TEXT = json.loads((Path(__file__).parent / "json_api_text.json").read_text(encoding="utf-8"))
RECORD_SCHEMAS: dict[str, dict] = _TEXT["record_schemas"]
_POOLS: dict[str, tuple[Any, ...]] = {k: _tuples(v) for k, v in _TEXT["pools"].items()}
_CONTEXTS: tuple[str, ...] = _tuples(_TEXT["contexts"])
_JSON_ONLY: tuple[str, ...] = _tuples(_TEXT["json_only"])
_CLAUSES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    k: _tuples(v) for k, v in _TEXT["clauses"].items()
}
TEMPLATES: dict[str, tuple[str, ...]] = {k: _tuples(v) for k, v in _TEXT["templates"].items()}


def _is_test_index(index: int) -> bool:
    return index % _TEST_SHARE == _TEST_SHARE - 1


def _part(values: Sequence[Any], split: Split) -> tuple[Any, ...]:
    """The share of `values` reserved for `split` (test: every fourth item, train: the rest)."""
    return tuple(v for i, v in enumerate(values) if _is_test_index(i) == (split == "test"))


def _pick(rng: random.Random, pool: str, split: Split) -> Any:
    return rng.choice(_part(_POOLS[pool], split))


def _sample(rng: random.Random, pool: str, split: Split, low: int, high: int) -> list[Any]:
    return rng.sample(_part(_POOLS[pool], split), rng.randint(low, high))


# ---------------------------------------------------------------- rendering helpers


def _num(value: float) -> str:
    """A number written exactly as it appears in the JSON answer."""
    return json.dumps(value)


def _join(words: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _lines(rng: random.Random, pairs: Sequence[tuple[str, str]], bullet: str) -> str:
    """Facts as 'label: value' lines in a random order."""
    shuffled = list(pairs)
    rng.shuffle(shuffled)
    return "\n".join(f"{bullet}{label}: {value}" for label, value in shuffled)


def _key_pairs(record: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Flatten a record into ('address.city', 'Lisbon')-style pairs, JSON literals for scalars."""
    pairs: list[tuple[str, str]] = []
    for key, value in record.items():
        if isinstance(value, dict):
            pairs += _key_pairs(value, f"{prefix}{key}.")
        elif isinstance(value, list):
            pairs.append((prefix + key, ", ".join(value)))
        elif isinstance(value, str):
            pairs.append((prefix + key, value))
        else:
            pairs.append((prefix + key, json.dumps(value)))
    return pairs


def _facts(
    rng: random.Random, labelled: Sequence[tuple[str, str]], record: dict[str, Any], **fields: str
) -> Facts:
    """Template fields plus the shuffled bullet list ({bullets}) and key-value lines ({kv})."""
    bullets, kv = _lines(rng, labelled, "- "), _lines(rng, _key_pairs(record), "")
    return {**fields, "bullets": bullets, "kv": kv}


def _date(rng: random.Random) -> str:
    return f"{rng.randint(2025, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _full_name(rng: random.Random, split: Split) -> tuple[str, str]:
    return _pick(rng, "first_names", split), _pick(rng, "surnames", split)


def _count(n: int, noun: str) -> str:
    """'1 year', '3 years'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


# ---------------------------------------------------------------- record builders


def _clause(rng: random.Random, name: str, flag: bool, value: str = "") -> str:
    yes, no = _CLAUSES[name]
    return rng.choice(yes if flag else no).format(value)


def _price(rng: random.Random, low: int, high: int) -> float:
    """A shop-style price such as 19.99, 24.95 or 7.49."""
    return round(rng.randint(low, high) - rng.choice((0.01, 0.05, 0.51)), 2)


def _email(rng: random.Random, first: str, last: str, split: Split) -> str:
    local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randint(1, 99)}"))
    return f"{local.lower()}@{_pick(rng, 'email_domains', split)}"


def _person(rng: random.Random, split: Split) -> tuple[dict[str, Any], Facts]:
    first, last = _full_name(rng, split)
    name, (city, country) = f"{first} {last}", _pick(rng, "cities", split)
    age, email, member = rng.randint(18, 79), _email(rng, first, last, split), rng.random() < 0.5
    record = {
        "name": name,
        "age": age,
        "email": email,
        "address": {"city": city, "country": country},
        "is_member": member,
    }
    labelled = [
        ("Name", name),
        ("Age", str(age)),
        ("Email", email),
        ("City", city),
        ("Country", country),
        ("Member", _yes_no(member)),
    ]
    return record, _facts(
        rng,
        labelled,
        record,
        name=name,
        first=first,
        age=str(age),
        email=email,
        city=city,
        country=country,
        member=f"{first} {_clause(rng, 'member', member)}",
        member_yn=_yes_no(member),
    )


def _items_text(rng: random.Random, items: list[dict[str, Any]]) -> str:
    style = rng.choice(("{q} x {p}", "{p} (qty {q})", "{q}x {p}"))
    return _join([style.format(q=item["quantity"], p=item["product"]) for item in items])


def _order(rng: random.Random, split: Split) -> tuple[dict[str, Any], Facts]:
    customer = " ".join(_full_name(rng, split))
    goods = _sample(rng, "goods", split, 1, 2)
    items = [{"product": product, "quantity": rng.randint(1, 4)} for product in goods]
    order_id, total = f"ORD-{rng.randint(10000, 99999)}", _price(rng, 5, 400)
    paid = rng.random() < 0.5
    record = {
        "order_id": order_id,
        "customer": customer,
        "items": items,
        "total": total,
        "paid": paid,
    }
    items_text = _items_text(rng, items)
    labelled = [
        ("Order ID", order_id),
        ("Customer", customer),
        ("Items", items_text),
        ("Total", _num(total)),
        ("Paid", _yes_no(paid)),
    ]
    return record, _facts(
        rng,
        labelled,
        {**record, "items": [items_text]},
        order_id=order_id,
        customer=customer,
        items=items_text,
        total=_num(total),
        paid=_clause(rng, "paid", paid),
    )


def _event(rng: random.Random, split: Split) -> tuple[dict[str, Any], Facts]:
    title = " ".join(
        _pick(rng, pool, split) for pool in ("event_prefixes", "event_topics", "event_kinds")
    )
    venue, city = _pick(rng, "venues", split), _pick(rng, "cities", split)[0]
    date, capacity = _date(rng), rng.choice((20, 40, 50, 80, 120, 150, 200, 300, 500, 1200))
    tags, free = _sample(rng, "event_tags", split, 1, 2), rng.random() < 0.5
    record = {
        "title": title,
        "date": date,
        "location": {"venue": venue, "city": city},
        "capacity": capacity,
        "tags": tags,
        "free": free,
    }
    labelled = [
        ("Event", title),
        ("Date", date),
        ("Venue", venue),
        ("City", city),
        ("Capacity", str(capacity)),
        ("Tags", ", ".join(tags)),
        ("Free", _yes_no(free)),
    ]
    return record, _facts(
        rng,
        labelled,
        record,
        title=title,
        date=date,
        venue=venue,
        city=city,
        capacity=str(capacity),
        tags=_join(tags),
        free=_clause(rng, "free", free),
    )


def _product_name(rng: random.Random, split: Split) -> str:
    words = _pick(rng, "goods", split).split()
    return " ".join([_pick(rng, "brands", split)] + [w[:1].upper() + w[1:] for w in words])


def _sku(rng: random.Random) -> str:
    letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2))
    return f"{letters}-{rng.randint(1000, 9999)}"


def _product(rng: random.Random, split: Split) -> tuple[dict[str, Any], Facts]:
    name, sku, price = _product_name(rng, split), _sku(rng), _price(rng, 3, 300)
    in_stock, tags = rng.random() < 0.5, _sample(rng, "product_tags", split, 1, 2)
    warranty = rng.randint(1, 5)
    record = {
        "name": name,
        "sku": sku,
        "price": price,
        "in_stock": in_stock,
        "tags": tags,
        "warranty_years": warranty,
    }
    labelled = [
        ("Product", name),
        ("SKU", sku),
        ("Price", _num(price)),
        ("In stock", _yes_no(in_stock)),
        ("Tags", ", ".join(tags)),
        ("Warranty", _count(warranty, "year")),
    ]
    return record, _facts(
        rng,
        labelled,
        record,
        name=name,
        sku=sku,
        price=_num(price),
        tags=_join(tags),
        warranty=str(warranty),
        warranty_years=_count(warranty, "year"),
        stock=_clause(rng, "stock", in_stock),
    )


def _book(rng: random.Random, split: Split) -> tuple[dict[str, Any], Facts]:
    title = f"The {_pick(rng, 'title_adjectives', split)} {_pick(rng, 'title_nouns', split)}"
    author = " ".join(_full_name(rng, split))
    year, pages = rng.randint(1950, 2024), rng.randint(120, 900)
    genres = _sample(rng, "genres", split, 1, 2)
    series = _pick(rng, "series", split) if rng.random() < 0.5 else None
    record = {
        "title": title,
        "author": author,
        "year": year,
        "pages": pages,
        "genres": genres,
        "series": series,
    }
    labelled = [
        ("Title", title),
        ("Author", author),
        ("Year", str(year)),
        ("Pages", str(pages)),
        ("Genres", ", ".join(genres)),
        ("Series", series or "none (standalone)"),
    ]
    return record, _facts(
        rng,
        labelled,
        record,
        title=title,
        author=author,
        year=str(year),
        pages=str(pages),
        genres=_join(genres),
        series=_clause(rng, "series", series is not None, series or ""),
    )


def _flight(rng: random.Random, split: Split) -> tuple[dict[str, Any], Facts]:
    origin, destination = (city for city, _ in rng.sample(_part(_POOLS["cities"], split), 2))
    flight_number = f"{_pick(rng, 'airlines', split)}{rng.randint(100, 999)}"
    passenger = " ".join(_full_name(rng, split))
    seat, bags = f"{rng.randint(1, 40)}{rng.choice('ABCDEF')}", rng.randint(0, 3)
    departure = f"{rng.randint(5, 22):02d}:{rng.choice(range(0, 60, 5)):02d}"
    record = {
        "flight_number": flight_number,
        "origin": origin,
        "destination": destination,
        "departure": departure,
        "passenger": {"name": passenger, "seat": seat},
        "checked_bags": bags,
    }
    labelled = [
        ("Flight", flight_number),
        ("From", origin),
        ("To", destination),
        ("Departure", departure),
        ("Passenger", passenger),
        ("Seat", seat),
        ("Checked bags", str(bags)),
    ]
    return record, _facts(
        rng,
        labelled,
        record,
        flight_number=flight_number,
        origin=origin,
        destination=destination,
        departure=departure,
        passenger=passenger,
        seat=seat,
        bags=_count(bags, "checked bag"),
    )


_BUILDERS: dict[str, Builder] = {
    "person": _person,
    "order": _order,
    "event": _event,
    "product": _product,
    "book": _book,
    "flight": _flight,
}


def split_templates(record_type: str, split: Split) -> tuple[str, ...]:
    """The request templates of `record_type` used by `split` (the test ones are test-only)."""
    return _part(TEMPLATES[record_type], split)


# ---------------------------------------------------------------- generation


def _request(rng: random.Random, template: str, facts: Facts, split: Split) -> str:
    """Fill a template, sometimes adding a sentence of context and a 'JSON only' instruction."""
    fields = {**facts, **{f"{k}_cap": v[:1].upper() + v[1:] for k, v in facts.items()}}
    text = template.format(**fields)
    if rng.random() < 0.3:
        text = f"{rng.choice(_part(_CONTEXTS, split))} {text}"
    if rng.random() < 0.5:
        separator = "\n" if "\n" in text else " " if text[-1] in ".?!" else ". "
        text += separator + rng.choice(_part(_JSON_ONLY, split))
    return text


def _examples(n: int, seed: int, split: Split) -> list[tuple[str, str, str]]:
    """`n` (record_type, request, json_text) triples, record types balanced and shuffled."""
    rng = random.Random(seed)
    types = [RECORD_TYPES[i % len(RECORD_TYPES)] for i in range(n)]
    rng.shuffle(types)
    out = []
    for record_type in types:
        record, facts = _BUILDERS[record_type](rng, split)
        request = _request(rng, rng.choice(split_templates(record_type, split)), facts, split)
        out.append((record_type, request, json.dumps(record, ensure_ascii=False)))
    return out


def generate_train(n: int = 600, seed: int = 0) -> list[dict]:
    """`n` chat examples: a user request and the assistant's JSON answer, plus `record_type`."""
    return [
        {
            "messages": [
                {"role": "user", "content": request},
                {"role": "assistant", "content": answer},
            ],
            "record_type": record_type,
        }
        for record_type, request, answer in _examples(n, seed, "train")
    ]


def generate_test(n: int = 100, seed: int = 1) -> list[dict]:
    """`n` held-out prompts with the reference JSON and the JSON Schema it must satisfy."""
    return [
        {
            "id": f"json-api-test-{i:04d}",
            "messages": [{"role": "user", "content": request}],
            "reference": answer,
            "schema": copy.deepcopy(RECORD_SCHEMAS[record_type]),
            "record_type": record_type,
        }
        for i, (record_type, request, answer) in enumerate(_examples(n, seed, "test"), start=1)
    ]
