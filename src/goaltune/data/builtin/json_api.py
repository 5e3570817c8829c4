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
from typing import Any, Literal

Split = Literal["train", "test"]
Facts = dict[str, str]
Builder = Callable[[random.Random, Split], tuple[dict[str, Any], Facts]]

RECORD_TYPES: tuple[str, ...] = ("person", "order", "event", "product", "book", "flight")

_TEST_SHARE = 4  # one in every _TEST_SHARE pool values / templates is reserved for the test split


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    """A closed JSON Schema object whose keys are all required."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _schema(title: str, properties: dict[str, Any]) -> dict[str, Any]:
    """A top-level draft 2020-12 schema for one record type."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        **_object(properties),
    }


_STR = {"type": "string", "minLength": 1}
_INT = {"type": "integer", "minimum": 0}
_NUM = {"type": "number", "minimum": 0}
_BOOL = {"type": "boolean"}
_DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
_STR_LIST = {"type": "array", "items": _STR, "minItems": 1}

RECORD_SCHEMAS: dict[str, dict] = {
    "person": _schema(
        "person",
        {
            "name": _STR,
            "age": _INT,
            "email": _STR,
            "address": _object({"city": _STR, "country": _STR}),
            "is_member": _BOOL,
        },
    ),
    "order": _schema(
        "order",
        {
            "order_id": _STR,
            "customer": _STR,
            "items": {
                "type": "array",
                "items": _object({"product": _STR, "quantity": {"type": "integer", "minimum": 1}}),
                "minItems": 1,
            },
            "total": _NUM,
            "paid": _BOOL,
        },
    ),
    "event": _schema(
        "event",
        {
            "title": _STR,
            "date": _DATE,
            "location": _object({"venue": _STR, "city": _STR}),
            "capacity": _INT,
            "tags": _STR_LIST,
            "free": _BOOL,
        },
    ),
    "product": _schema(
        "product",
        {
            "name": _STR,
            "sku": _STR,
            "price": _NUM,
            "in_stock": _BOOL,
            "tags": _STR_LIST,
            "warranty_years": _INT,
        },
    ),
    "book": _schema(
        "book",
        {
            "title": _STR,
            "author": _STR,
            "year": _INT,
            "pages": _INT,
            "genres": _STR_LIST,
            "series": {"type": ["string", "null"]},
        },
    ),
    "flight": _schema(
        "flight",
        {
            "flight_number": _STR,
            "origin": _STR,
            "destination": _STR,
            "departure": {"type": "string", "pattern": r"^\d{2}:\d{2}$"},
            "passenger": _object({"name": _STR, "seat": _STR}),
            "checked_bags": _INT,
        },
    ),
}

# ---------------------------------------------------------------- vocabularies

_POOLS: dict[str, tuple[Any, ...]] = {
    "first_names": (
        "Maya",
        "Lena",
        "Tomas",
        "Aisha",
        "Kenji",
        "Sofia",
        "Mateo",
        "Priya",
        "Lukas",
        "Amara",
        "Noah",
        "Ingrid",
        "Rafael",
        "Yuki",
        "Omar",
        "Clara",
        "Diego",
        "Hana",
        "Felix",
        "Zara",
        "Emil",
        "Nadia",
        "Jonas",
        "Leila",
        "Arjun",
        "Elena",
        "Marco",
        "Freya",
        "Samir",
        "Ines",
        "Hugo",
        "Mei",
        "Oskar",
        "Lucia",
        "Tariq",
        "Greta",
        "Nikolai",
        "Rosa",
        "Kwame",
        "Astrid",
        "Pablo",
        "Keiko",
        "Anton",
        "Selin",
        "Idris",
        "Vera",
        "Milo",
        "Chiara",
    ),
    "surnames": (
        "Okafor",
        "Fischer",
        "Novak",
        "Haddad",
        "Tanaka",
        "Rossi",
        "Alvarez",
        "Sharma",
        "Berg",
        "Mensah",
        "Larsen",
        "Costa",
        "Duarte",
        "Kowalski",
        "Nakamura",
        "Ibrahim",
        "Moreau",
        "Lindqvist",
        "Petrov",
        "Brennan",
        "Yilmaz",
        "Silva",
        "Horvat",
        "Nguyen",
        "Schmidt",
        "Castillo",
        "Adeyemi",
        "Varga",
        "Holm",
        "Romero",
        "Kaur",
        "Dubois",
        "Meyer",
        "Sato",
        "Quinn",
        "Pereira",
        "Jansen",
        "Walsh",
        "Ortiz",
        "Kim",
        "Navarro",
        "Eriksen",
        "Abara",
        "Lund",
        "Marin",
        "Bianchi",
        "Takeda",
        "Osei",
    ),
    "cities": (
        ("Lisbon", "Portugal"),
        ("Porto", "Portugal"),
        ("Madrid", "Spain"),
        ("Valencia", "Spain"),
        ("Lyon", "France"),
        ("Nantes", "France"),
        ("Berlin", "Germany"),
        ("Leipzig", "Germany"),
        ("Vienna", "Austria"),
        ("Graz", "Austria"),
        ("Zurich", "Switzerland"),
        ("Bern", "Switzerland"),
        ("Oslo", "Norway"),
        ("Bergen", "Norway"),
        ("Stockholm", "Sweden"),
        ("Malmo", "Sweden"),
        ("Helsinki", "Finland"),
        ("Tampere", "Finland"),
        ("Dublin", "Ireland"),
        ("Cork", "Ireland"),
        ("Krakow", "Poland"),
        ("Gdansk", "Poland"),
        ("Prague", "Czechia"),
        ("Brno", "Czechia"),
        ("Osaka", "Japan"),
        ("Sapporo", "Japan"),
        ("Seoul", "South Korea"),
        ("Busan", "South Korea"),
        ("Toronto", "Canada"),
        ("Halifax", "Canada"),
        ("Austin", "USA"),
        ("Denver", "USA"),
        ("Nairobi", "Kenya"),
        ("Mombasa", "Kenya"),
        ("Accra", "Ghana"),
        ("Kumasi", "Ghana"),
        ("Melbourne", "Australia"),
        ("Perth", "Australia"),
        ("Auckland", "New Zealand"),
        ("Wellington", "New Zealand"),
    ),
    "email_domains": (
        "example.com",
        "example.org",
        "example.net",
        "mail.example.com",
        "inbox.example.org",
        "post.example.net",
        "corp.example.com",
        "home.example.org",
    ),
    "goods": (
        "desk lamp",
        "notebook",
        "water bottle",
        "phone case",
        "USB-C cable",
        "coffee mug",
        "backpack",
        "yoga mat",
        "office chair",
        "wireless mouse",
        "mechanical keyboard",
        "monitor stand",
        "throw pillow",
        "tea kettle",
        "running shoes",
        "rain jacket",
        "sunglasses",
        "wall clock",
        "plant pot",
        "cutting board",
        "bath towel",
        "travel adapter",
        "headphones",
        "bike light",
        "wool scarf",
        "scented candle",
        "picture frame",
        "drawer organizer",
        "umbrella",
        "thermos",
        "sketchbook",
        "phone charger",
        "desk fan",
        "table lamp",
        "camping stove",
        "hiking socks",
        "laptop sleeve",
        "kitchen scale",
        "pillow case",
        "spice rack",
        "bluetooth speaker",
        "web camera",
        "garden hose",
        "lunch box",
        "door mat",
        "reading glasses",
        "wrist watch",
        "chef knife",
    ),
    "brands": (
        "Aurora",
        "Northwind",
        "Kestrel",
        "Lumen",
        "Fjord",
        "Tidewater",
        "Cobalt",
        "Ember",
        "Summit",
        "Harbor",
        "Maple",
        "Nimbus",
        "Orchid",
        "Pinecrest",
        "Quartz",
        "Redwood",
        "Sable",
        "Terra",
        "Umbra",
        "Vesta",
        "Willow",
        "Zephyr",
        "Alder",
        "Beacon",
    ),
    "product_tags": (
        "home",
        "office",
        "outdoor",
        "kitchen",
        "travel",
        "sport",
        "eco",
        "gift",
        "bestseller",
        "new",
        "sale",
        "premium",
        "compact",
        "wireless",
        "handmade",
        "kids",
    ),
    "event_prefixes": (
        "Spring",
        "Summer",
        "Autumn",
        "Winter",
        "Riverside",
        "Downtown",
        "Harbor",
        "Midnight",
        "Northern",
        "Sunset",
        "Lakeside",
        "Old Town",
        "Open Air",
        "Community",
        "Global",
        "Annual",
        "Weekend",
        "Morning",
        "Coastal",
        "Mountain",
    ),
    "event_topics": (
        "Jazz",
        "Robotics",
        "Pottery",
        "Startup",
        "Poetry",
        "Chess",
        "Photography",
        "Cycling",
        "Film",
        "Gardening",
        "Data Science",
        "Street Food",
        "Yoga",
        "Astronomy",
        "Craft Beer",
        "Salsa",
        "Board Game",
        "Design",
        "Open Source",
        "Running",
        "Comedy",
        "Theater",
        "Wine",
        "Book",
    ),
    "event_kinds": (
        "Night",
        "Meetup",
        "Festival",
        "Workshop",
        "Summit",
        "Fair",
        "Conference",
        "Gala",
        "Market",
        "Showcase",
        "Retreat",
        "Jam",
    ),
    "venues": (
        "Harbor Hall",
        "The Old Mill",
        "Civic Center",
        "Riverside Pavilion",
        "Union Hall",
        "Grand Arena",
        "The Foundry",
        "Central Library",
        "Marble Hall",
        "City Park",
        "The Warehouse",
        "Town Square",
        "Exhibition Center",
        "Garden Court",
        "Lighthouse Stage",
        "Museum Atrium",
        "Botanical Garden",
        "Sports Dome",
        "Concert House",
        "Community Center",
        "Art Loft",
        "Market Hall",
        "Dockside Theater",
        "Summit Lodge",
    ),
    "event_tags": (
        "music",
        "tech",
        "family",
        "outdoor",
        "food",
        "art",
        "networking",
        "education",
        "sports",
        "charity",
        "kids",
        "evening",
        "hands-on",
        "culture",
        "health",
        "community",
    ),
    "title_adjectives": (
        "Silent",
        "Hollow",
        "Burning",
        "Glass",
        "Salt",
        "Winter",
        "Crimson",
        "Last",
        "Hidden",
        "Copper",
        "Paper",
        "Drowned",
        "Quiet",
        "Iron",
        "Golden",
        "Broken",
        "Wandering",
        "Distant",
        "Forgotten",
        "Velvet",
        "Midnight",
        "Northern",
        "Amber",
        "Painted",
    ),
    "title_nouns": (
        "Orchard",
        "Lantern",
        "Harbor",
        "Garden",
        "Archive",
        "Meridian",
        "Cartographer",
        "Lighthouse",
        "Kingdom",
        "Letters",
        "River",
        "Clockmaker",
        "Island",
        "Tower",
        "Compass",
        "Forest",
        "Station",
        "Atlas",
        "Orchestra",
        "Mirror",
        "Valley",
        "Voyage",
        "Alphabet",
        "Key",
    ),
    "genres": (
        "mystery",
        "fantasy",
        "science fiction",
        "romance",
        "thriller",
        "historical fiction",
        "horror",
        "literary fiction",
        "adventure",
        "biography",
        "poetry",
        "young adult",
    ),
    "series": (
        "Harbor Tales",
        "Iron Crown",
        "Starfall",
        "Glass Coast",
        "Long Road",
        "Ember Chronicles",
        "Northwatch",
        "Silver Tide",
        "Quiet Wars",
        "Wayfarer",
        "Moonwell",
        "Red Lantern",
        "Deepwood",
        "Sky Atlas",
        "Hollow Kings",
        "Tidebound",
    ),
    "airlines": ("LX", "BA", "AF", "KL", "IB", "SK", "TP", "AY", "OS", "EI", "LH", "AZ"),
}

_CONTEXTS: tuple[str, ...] = (
    "I'm cleaning up some records for our app.",
    "Quick one for the database import.",
    "This is for an API payload I'm testing.",
    "Working on a data migration today.",
    "Need this for a fixture file.",
    "Our backend team asked for this.",
    "I'm filling in test data for a demo.",
    "Preparing seed data for the staging server.",
)

_JSON_ONLY: tuple[str, ...] = (
    "Reply with JSON only.",
    "Only output the JSON object.",
    "No explanation, just JSON.",
    "Return valid JSON and nothing else.",
    "JSON only, please.",
    "Answer with the JSON object and no other text.",
    "Respond with the raw JSON object only.",
    "Output strictly JSON, no prose.",
)


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

# How each boolean (or null) fact is said: (phrasings when true, phrasings when false).
_CLAUSES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "member": (
        ("is a member", "has an active membership", "is a registered member"),
        ("is not a member", "does not have a membership", "is not a registered member"),
    ),
    "paid": (
        ("it has been paid", "payment is complete", "the customer already paid"),
        ("it has not been paid yet", "payment is still pending", "the customer has not paid"),
    ),
    "free": (
        ("entry is free", "admission is free", "it is free to attend"),
        ("tickets are paid", "it is a paid event", "admission is not free"),
    ),
    "stock": (
        ("it is in stock", "it is currently available", "we have it in stock"),
        ("it is out of stock", "it is currently unavailable", "it is sold out"),
    ),
    "series": (
        (
            "it is part of the {} series",
            "it belongs to the {} series",
            "it is a volume in the {} series",
        ),
        ("it is a standalone book", "it is not part of any series", "it has no series"),
    ),
}


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

# ---------------------------------------------------------------- templates
# Every fourth template of each type (indices 3, 7, 11) is reserved for the test split.
# `{x_cap}` is `{x}` with its first letter capitalised.

TEMPLATES: dict[str, tuple[str, ...]] = {
    "person": (
        "Turn this into JSON: {name}, {age} years old, lives in {city}, {country}. "
        "Email: {email}. {member}.",
        "I need a person record for {name}. {first} is {age}, based in {city} ({country}) "
        "and reachable at {email}. {member}.",
        "Give me the JSON for this contact:\n{bullets}",
        "Could you encode this profile as JSON? {member}. {first}'s full name is {name}, "
        "age {age}, living in {city}, {country}, email {email}.",
        "hey can u make a json person entry? {name}, age {age}, {city} {country}, "
        "email {email}, {member}",
        "Please produce a JSON object describing the following person. Name: {name}. Age: {age}. "
        "City: {city}. Country: {country}. Email address: {email}. Membership: {member_yn}.",
        "Convert to a JSON person record:\n{kv}",
        "Person details below, JSON please.\n{bullets}",
        "New signup: {name}, {age}, from {city} in {country}. Contact email is {email}. "
        "{member}. Return the person as JSON.",
        "We are migrating our customer list. Create the JSON record for {name}, who is {age} "
        "and lives in {city}, {country}. {member}. Their email is {email}.",
        "{email} belongs to {name}, a {age}-year-old from {city}, {country}. {member}. "
        "Write that up as a JSON person.",
        "Record this person in JSON form: email {email}; name {name}; age {age}; "
        "home city {city}; country {country}; {member}.",
    ),
    "order": (
        "Turn this order into JSON: order {order_id} for {customer}, containing {items}. "
        "Total {total}, and {paid}.",
        "I need the JSON for order {order_id}. Customer: {customer}. Items: {items}. "
        "Order total: {total}. {paid_cap}.",
        "Give me a JSON order record:\n{bullets}",
        "Can you express this order in JSON? It's {order_id}, bought by {customer}: {items}. "
        "The amount was {total} and {paid}.",
        "{customer} ordered {items} (order {order_id}). total came to {total} and {paid}. json pls",
        "Please create a JSON representation of purchase order {order_id}, placed by {customer}. "
        "It includes {items}, totals {total}, and {paid}.",
        "Convert this order to JSON:\n{kv}",
        "Order summary, return as JSON.\n{bullets}",
        "Our shop got a new order, {order_id}, from {customer}: {items}. The total is {total}; "
        "{paid}. Write it as a JSON order.",
        "Log this order as JSON. {paid_cap}. Total: {total}. Items: {items}. "
        "Customer: {customer}. ID: {order_id}.",
        "For the fulfilment system, build the order object for {customer} (ID {order_id}) "
        "with {items} and a total of {total}; {paid}.",
        "JSON for the order placed by {customer}, please: reference {order_id}; {items}; "
        "total {total}; {paid}.",
    ),
    "event": (
        "Turn this event into JSON: {title} on {date} at {venue} in {city}, capacity {capacity}, "
        "tagged {tags}. {free_cap}.",
        "I need an event record. {title} takes place on {date} at {venue}, {city}. It holds "
        "{capacity} people, {free}, and the tags are {tags}.",
        "Give me the JSON for this event:\n{bullets}",
        "Could you write the JSON for an event called {title}? It happens {date} at {venue}, "
        "{city}, seats {capacity}, is tagged {tags}, and {free}.",
        "yo, json for an event: {title}, {date}, {venue} ({city}), {capacity} spots, "
        "tags {tags}, {free}",
        'Please provide a JSON object for the event "{title}", scheduled for {date}. '
        "Venue: {venue}, {city}. Capacity: {capacity}. Tags: {tags}. {free_cap}.",
        "Event data, as JSON:\n{kv}",
        "Event details follow; answer in JSON.\n{bullets}",
        "We're listing {title} on our calendar. It's at {venue} in {city} on {date}; {free}. "
        "Max capacity is {capacity}. Tag it with {tags}. Produce the JSON event.",
        "Build the event JSON. Tags: {tags}. Capacity: {capacity}. {free_cap}. Date: {date}. "
        "Where: {venue}, {city}. Name: {title}.",
        "Add {title} ({date}) to the events feed as JSON: venue {venue}, city {city}, "
        "up to {capacity} guests, tags {tags}, and {free}.",
        "Calendar entry as JSON: {date}; {title}; {venue} in {city}; capacity {capacity}; "
        "tags {tags}; {free}.",
    ),
    "product": (
        "Turn this product into JSON: {name}, SKU {sku}, priced at {price}, {warranty}-year "
        "warranty, tags {tags}; {stock}.",
        "I need a product record for the {name} (SKU {sku}). It costs {price}, comes with a "
        "{warranty}-year warranty, and {stock}. Tags: {tags}.",
        "Give me the JSON for this catalog item:\n{bullets}",
        "Could you output the JSON for the {name}? The SKU is {sku}, the price {price}, "
        "tags {tags}, warranty {warranty_years}, and {stock}.",
        "can you jsonify this product real quick: {name}, {sku}, {price}, tags {tags}, "
        "warranty {warranty_years}, {stock}",
        "Please generate a JSON product entry. Product name: {name}. SKU: {sku}. Price: {price}. "
        "Warranty: {warranty_years}. Tags: {tags}. Availability: {stock}.",
        "Product fields for JSON conversion:\n{kv}",
        "Catalog item below; respond in JSON.\n{bullets}",
        "We just added the {name} to the store at a price of {price}. {stock_cap}. It has SKU "
        "{sku}, a {warranty}-year warranty and the tags {tags}. Return the product as JSON.",
        "Build a JSON product. Tags: {tags}. Warranty: {warranty_years}. {stock_cap}. "
        "Price: {price}. SKU: {sku}. Name: {name}.",
        "For the inventory sync, describe product {sku} in JSON: it is the {name}, sells for "
        "{price}, carries a {warranty}-year warranty, is tagged {tags}, and {stock}.",
        "Product listing as JSON: {sku}; {name}; {price}; {warranty}-year warranty; "
        "tagged {tags}; {stock}.",
    ),
    "book": (
        "Turn this book into JSON: {title} by {author}, published {year}, {pages} pages, "
        "genres {genres}; {series}.",
        "I need a book record for {title}, written by {author} in {year}. It has {pages} pages, "
        "its genres are {genres}, and {series}.",
        "Give me the JSON for this book:\n{bullets}",
        "Could you write the JSON for {title}? {author} published it in {year}; it runs "
        "{pages} pages, covers {genres}, and {series}.",
        "json for a book pls: {title}, {author}, {year}, {pages} pages, genre {genres}, {series}",
        'Please create a JSON object for the book "{title}". Author: {author}. Year: {year}. '
        "Pages: {pages}. Genres: {genres}. {series_cap}.",
        "Book metadata to JSON:\n{kv}",
        "Book details follow, JSON only.\n{bullets}",
        "Our library just catalogued {title}, a {pages}-page book by {author} from {year}. "
        "{series_cap}. File it under {genres}. Output the book as JSON.",
        "Make the book JSON. Genres: {genres}. {series_cap}. Pages: {pages}. Year: {year}. "
        "Author: {author}. Title: {title}.",
        "For the reading list app, encode {author}'s {title} ({year}) as JSON: {pages} pages, "
        "genres {genres}, and {series}.",
        "Catalogue record as JSON: {year}; {title}; {author}; {pages} pages; genres {genres}; "
        "{series}.",
    ),
    "flight": (
        "Turn this booking into JSON: flight {flight_number} from {origin} to {destination} "
        "departing {departure}, passenger {passenger} in seat {seat}, {bags}.",
        "I need a flight record. {passenger} flies {flight_number} from {origin} to "
        "{destination} at {departure}, sits in {seat}, and has {bags}.",
        "Give me the JSON for this flight booking:\n{bullets}",
        "Could you encode this trip in JSON? {passenger} is taking {flight_number} at {departure} "
        "from {origin} to {destination}, seat {seat}, {bags}.",
        "json for my flight? {flight_number} {origin} -> {destination}, {departure}, seat {seat}, "
        "name {passenger}, {bags}",
        "Please produce a JSON object for the following flight. Flight number: {flight_number}. "
        "Origin: {origin}. Destination: {destination}. Departure: {departure}. "
        "Passenger: {passenger}, seat {seat}. Luggage: {bags}.",
        "Flight booking fields, convert to JSON:\n{kv}",
        "Itinerary below, answer with JSON.\n{bullets}",
        "Booking confirmed for {passenger} at {departure}: {origin} to {destination} with flight "
        "{flight_number}. Seat {seat}, {bags}. Return the flight as JSON.",
        "Build the flight JSON. Luggage: {bags}. Seat: {seat}. Passenger: {passenger}. "
        "Departs: {departure}. Route: {origin} to {destination}. Flight: {flight_number}.",
        "For the travel app, record {flight_number} ({departure}) as JSON: it goes from {origin} "
        "to {destination}, {passenger} is in seat {seat}, with {bags}.",
        "Flight record as JSON: {departure}; {flight_number}; {origin} to {destination}; "
        "passenger {passenger}; seat {seat}; {bags}.",
    ),
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
