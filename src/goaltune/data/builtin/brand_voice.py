"""Built-in dataset `builtin:brand-voice`: support replies in the voice of a fictional company.

Acme's support team writes every reply the same way: it opens with "Hi {first name},", says
what happened and what Acme is doing in short plain sentences, never apologises and never uses
an exclamation mark, and signs off "- Acme Care" on a line of its own. The customer messages
cover eight topics (a late parcel, a refund, a double charge, ...). The test split uses its own
message templates, reply phrasings, names and products, so copying training replies does not
pass it; each test item carries the customer's first name in `name` for `{name}` style checks.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Literal, TypeVar

Split = Literal["train", "test"]
T = TypeVar("T")

SIGN_OFF = "- Acme Care"
_TEST_SHARE = 4  # one in every _TEST_SHARE pool values / templates belongs to the test split

FIRST_NAMES = (
    "Maria", "James", "Aisha", "Tom", "Lena", "Carlos", "Yuki", "Priya", "Omar", "Sofia",
    "Noah", "Elif", "Daniel", "Grace", "Mateo", "Hana", "Lucas", "Zara", "Ivan", "Chloe",
    "Ben", "Amara", "Felix", "Nina", "Ravi", "Julia", "Samuel", "Leila", "Oscar", "Mia",
    "Kofi", "Emma", "Diego", "Sara", "Arjun", "Ruth", "Hugo", "Ines", "Pavel", "Alice",
)  # fmt: skip
LAST_NAMES = (
    "Lopez", "Smith", "Khan", "Berg", "Novak", "Silva", "Tanaka", "Patel", "Haddad", "Rossi",
    "Meyer", "Kaya", "Brown", "Okafor", "Garcia", "Sato", "Martin", "Ali", "Petrov", "Dubois",
)  # fmt: skip
PRODUCTS = (
    "kettle", "desk lamp", "blender", "rain jacket", "backpack", "coffee grinder",
    "yoga mat", "toaster", "phone stand", "water bottle", "office chair", "air purifier",
    "hiking boots", "wall clock", "bread maker", "travel mug",
)  # fmt: skip
PLANS = ("Basic", "Plus", "Family", "Pro", "Starter", "Studio", "Team", "Max")

# Per topic: customer messages (the train and test splits use different ones) and reply
# phrasings, each a pair (what happened, what Acme does). Fields: {product}, {order}, {days},
# {amount}, {plan}.
MESSAGES: dict[str, tuple[str, ...]] = {
    "late": (
        "My {product} (order {order}) still hasn't arrived. It's been {days} days. Where is it?",
        "Hello, I ordered a {product} and the tracking hasn't moved in {days} days. Order {order}.",
        "Order {order} was due last week. No {product}, no update. What's going on?",
        "Hi there. Any news on order {order}? The {product} was meant to be here {days} days ago.",
    ),
    "refund": (
        "I sent the {product} back {days} days ago and I still have no refund. Order {order}.",
        "Where is my refund for order {order}? You got the {product} back a while ago.",
        "Returned my {product} last month. Refund for {order} never showed up on my card.",
        "Quick question: when will I see the money for the {product} I returned? Order {order}.",
    ),
    "damaged": (
        "The {product} from order {order} arrived broken. The box was crushed.",
        "My new {product} doesn't work out of the box. Order {order}. Can you help?",
        "Opened order {order} today and the {product} is cracked down one side.",
        "The {product} I got in order {order} is missing a part and won't switch on.",
    ),
    "double_charge": (
        "I was charged twice for order {order}, {amount} each time. Please fix this.",
        "My bank shows two payments of {amount} for one {product}. Order {order}.",
        "Why did you take {amount} from my account two times? I only placed order {order}.",
        "There is a duplicate charge of {amount} on my statement for order {order}.",
    ),
    "cancel": (
        "Please cancel my {plan} subscription. I don't use it any more.",
        "How do I stop my {plan} plan? I don't want to be billed next month.",
        "I want to end the {plan} membership today. Can you do that for me?",
        "Can you close my {plan} subscription before the next payment?",
    ),
    "address": (
        "I moved last week. Can you send order {order} to my new address instead?",
        "Wrong address on order {order}. Is it too late to change it?",
        "Could you update the delivery address for my {product}? Order {order}.",
        "I typed my old street on order {order}. Can the {product} go to my new place?",
    ),
    "password": (
        "I can't log in. The password reset email never comes.",
        "My account is locked after too many tries. How do I get back in?",
        "The reset link says it has expired every time I click it.",
        "I forgot my password and the reset code doesn't work.",
    ),
    "warranty": (
        "Is my {product} still under warranty? I bought it {days} weeks ago. Order {order}.",
        "Does the warranty on the {product} cover a faulty switch? Order {order}.",
        "How long is the guarantee on a {product}? Mine is from order {order}.",
        "My {product} stopped working. Can I claim on the warranty? Order {order}.",
    ),
}  # fmt: skip

REPLIES: dict[str, tuple[tuple[str, str], ...]] = {
    "late": (
        ("Your {product} is held up at our depot.", "It leaves today and reaches you in two days."),
        ("Order {order} missed its first truck.", "We moved it to express at no cost to you."),
        ("The courier lost track of order {order}.", "A new {product} ships to you tomorrow."),
        ("Your parcel is stuck in a sorting hub.", "We asked the courier to deliver it by Friday."),
    ),
    "refund": (
        ("We have your {product} back.", "The refund for order {order} went out this morning."),
        ("Your return reached us in good shape.", "We sent the money back to your card today."),
        ("Order {order} was checked in last week.", "Your refund is on its way now."),
        ("The {product} is back with us.", "You will see the refund within three working days."),
    ),
    "damaged": (
        ("Your {product} should work perfectly.", "A replacement ships today, free of charge."),
        ("That is not the {product} we meant to send.", "A new one leaves our warehouse today."),
        ("Order {order} did not reach you as it should.", "We are sending a new {product} now."),
        ("A broken {product} is no good to you.", "A fresh one is packed and ready to go."),
    ),
    "double_charge": (
        ("We found the second payment of {amount}.", "It is refunded to your card today."),
        ("Order {order} was billed twice by mistake.", "We cancelled the extra {amount} charge."),
        ("Our system took {amount} two times.", "The extra payment is on its way back to you."),
        ("You paid once for order {order}.", "The duplicate {amount} is reversed as of today."),
    ),
    "cancel": (
        ("Your {plan} plan is cancelled.", "You will not be billed again."),
        ("We closed your {plan} subscription today.", "Your access runs to the end of the month."),
        ("The {plan} plan stops at your next billing date.", "No further payments will be taken."),
        ("Your {plan} membership has ended.", "You can restart it from your account at any time."),
    ),
    "address": (
        ("Order {order} has not shipped yet.", "We changed the address to your new one."),
        ("We caught order {order} just in time.", "Your {product} now goes to the new address."),
        ("The new address is saved on order {order}.", "Your {product} leaves us tomorrow."),
        ("Your order is still with us.", "We updated the delivery details for you."),
    ),
    "password": (
        ("We reset your login.", "A new link is in your inbox and works for one hour."),
        ("Your account is unlocked now.", "Use the reset link we just sent to pick a password."),
        ("The old reset links are switched off.", "A fresh link is on its way to you."),
        ("Your email was blocked by a spam filter.", "We sent the reset code again just now."),
    ),
    "warranty": (
        ("Your {product} has a two year warranty.", "We will repair or replace it for free."),
        ("Order {order} is covered by our warranty.", "A prepaid return label is in your inbox."),
        ("The warranty covers that fault.", "Send the {product} back and we fix it within a week."),
        ("Your {product} is still under guarantee.", "We are sending you a new one today."),
    ),
}  # fmt: skip

NEXT_STEPS = (
    "You will get an email when it moves.",
    "Nothing else is needed from you.",
    "We will keep you posted by email.",
    "Reply here if anything else comes up.",
    "You can track it in your account.",
    "Your case number is {case}.",
    "We added a note to your account.",
    "Reply to this email with any questions.",
)


def _part(values: Sequence[T], split: Split) -> tuple[T, ...]:
    """The share of `values` reserved for `split` (test: every fourth value, train: the rest)."""
    test = split == "test"
    return tuple(v for i, v in enumerate(values) if (i % _TEST_SHARE == _TEST_SHARE - 1) == test)


def _fields(rng: random.Random, split: Split) -> dict[str, str]:
    return {
        "product": rng.choice(_part(PRODUCTS, split)),
        "order": f"#{rng.randint(10000, 99999)}",
        "days": str(rng.randint(3, 12)),
        "amount": f"${rng.randint(12, 240)}.{rng.randint(0, 99):02d}",
        "plan": rng.choice(_part(PLANS, split)),
        "case": f"AC-{rng.randint(1000, 9999)}",
    }


def _example(rng: random.Random, topic: str, split: Split) -> tuple[str, str, str]:
    """(first name, customer message, reply) for one topic."""
    first, last = rng.choice(_part(FIRST_NAMES, split)), rng.choice(_part(LAST_NAMES, split))
    fields = _fields(rng, split)
    message = rng.choice(_part(MESSAGES[topic], split)).format(**fields)
    happened, action = rng.choice(_part(REPLIES[topic], split))
    # Next steps are shared by both splits: they are the voice, not the answer.
    steps = rng.sample(NEXT_STEPS, rng.randint(1, 2))
    body = " ".join([happened, action, *steps]).format(**fields)
    prompt = f"Customer: {first} {last}\nMessage: {message}\n\nWrite the support reply."
    return first, prompt, f"Hi {first},\n\n{body}\n\n{SIGN_OFF}"


def _examples(n: int, seed: int, split: Split) -> list[tuple[str, str, str, str]]:
    """`n` (topic, first name, prompt, reply) tuples, topics balanced and shuffled."""
    rng = random.Random(seed)
    topics = [list(MESSAGES)[i % len(MESSAGES)] for i in range(n)]
    rng.shuffle(topics)
    return [(topic, *_example(rng, topic, split)) for topic in topics]


def generate_train(n: int = 600, seed: int = 0) -> list[dict]:
    """`n` chat examples: a customer message and Acme's reply, plus the `topic`."""
    return [
        {
            "messages": [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": reply},
            ],
            "topic": topic,
        }
        for topic, _, prompt, reply in _examples(n, seed, "train")
    ]


def generate_test(n: int = 100, seed: int = 1) -> list[dict]:
    """`n` held-out messages with the reference reply and the customer's first name (`name`)."""
    return [
        {
            "id": f"brand-voice-test-{i:04d}",
            "messages": [{"role": "user", "content": prompt}],
            "reference": reply,
            "name": first,
            "topic": topic,
        }
        for i, (topic, first, prompt, reply) in enumerate(_examples(n, seed, "test"), start=1)
    ]
