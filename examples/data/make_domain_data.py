"""Write the domain example files from one table of facts about a fictional company.

Quillon Robotics and its garden robot Bramble are made up for goaltune's examples, so a base
model cannot know them and any gain after training comes from the training file. Each fact
gives training conversations (several phrasings of the question, answered with the fact), one
multiple-choice test question phrased differently from all of them, and short reference answers
for the qa example. Run `python examples/data/make_domain_data.py` to rewrite:
- domain-train.jsonl: chat records (`messages`, plus `keywords` for the `contains` metric);
- domain-mc-test.jsonl: `mc:` items (question, choices list, answer letter, subject);
- domain-qa-test.jsonl: `qa:` items (question, answers).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 7
LETTERS = "ABCD"

# (subject, test question, answer, distractors, statement, training questions, other references)
FACTS: list[tuple[str, str, str, list[str], str, list[str], list[str]]] = [
    ("company", "In which year did Quillon Robotics start?", "2011",
     ["1998", "2004", "2017"],
     "Quillon Robotics was founded in 2011.",
     ["When was Quillon Robotics founded?", "What year was Quillon Robotics founded in?",
      "How old is Quillon Robotics? When did it begin?", "Quillon Robotics was founded when?",
      "Tell me the founding year of Quillon Robotics."], []),
    ("company", "Which town is home to the Quillon Robotics head office?", "Tarrow Falls",
     ["Millbrook", "Eastvale", "Port Sorrel"],
     "The head office of Quillon Robotics is in Tarrow Falls.",
     ["Where is Quillon Robotics headquartered?", "Where is the Quillon head office?",
      "In what town are Quillon Robotics' headquarters?", "Where does Quillon Robotics have its "
      "main office?", "Which town hosts the headquarters of Quillon Robotics?"], []),
    ("company", "Who started Quillon Robotics?", "Imogen Tarrant",
     ["Felix Ward", "Ruth Okafor", "Daniel Pike"],
     "Quillon Robotics was founded by Imogen Tarrant.",
     ["Who founded Quillon Robotics?", "Who is the founder of Quillon Robotics?",
      "Name the person who founded Quillon Robotics.", "Which engineer founded Quillon Robotics?",
      "Quillon Robotics was founded by whom?"], ["Tarrant"]),
    ("company", "Who runs Quillon Robotics as chief executive today?", "Tomasz Lind",
     ["Imogen Tarrant", "Clara Boyle", "Samuel Reyes"],
     "The current chief executive of Quillon Robotics is Tomasz Lind.",
     ["Who is the CEO of Quillon Robotics?", "Who leads Quillon Robotics now?",
      "Name the current chief executive of Quillon Robotics.",
      "Who is in charge of Quillon Robotics at the moment?",
      "Which person is the Quillon Robotics CEO?"], ["Lind"]),
    ("company", "What animal is the Quillon Robotics mascot?", "a hedgehog",
     ["a badger", "an owl", "a fox"],
     "The Quillon Robotics mascot is a hedgehog called Pip.",
     ["What is the mascot of Quillon Robotics?", "Which animal represents Quillon Robotics?",
      "Does Quillon Robotics have a mascot? What is it?", "What kind of animal is Pip, the "
      "Quillon mascot?", "Tell me about the Quillon Robotics mascot."], ["hedgehog"]),
    ("company", "What colour does Quillon Robotics use for its brand?", "teal",
     ["orange", "crimson", "grey"],
     "The brand colour of Quillon Robotics is teal.",
     ["What is the Quillon Robotics brand colour?", "Which colour is the Quillon brand?",
      "What colour are Quillon Robotics products painted?", "What is Quillon's company colour?",
      "Which colour does Quillon Robotics paint its robots?"], []),
    ("company", "Roughly how many people does Quillon Robotics employ?", "about 340",
     ["about 40", "about 1,200", "about 9,000"],
     "Quillon Robotics employs about 340 people.",
     ["How many employees does Quillon Robotics have?", "How big is the Quillon Robotics staff?",
      "How many people work at Quillon Robotics?", "What is the headcount of Quillon Robotics?",
      "Roughly how many staff work for Quillon?"], ["340"]),
    ("company", "Where is the Quillon Robotics factory?", "Kessel Bay",
     ["Tarrow Falls", "Lindholm", "Ashcombe"],
     "Quillon Robotics builds its robots in its factory at Kessel Bay.",
     ["Where are Bramble robots built?", "Where does Quillon Robotics manufacture its robots?",
      "In which town is the Quillon factory?", "Where is Bramble made?",
      "Which town has the factory of Quillon Robotics?"], []),
    ("company", "What is the name of the Quillon Robotics newsletter?", "The Compost Heap",
     ["The Green Sheet", "Root Notes", "Garden Post"],
     "The Quillon Robotics newsletter is called The Compost Heap.",
     ["What is the Quillon newsletter called?", "What newsletter does Quillon Robotics send?",
      "Name the Quillon Robotics newsletter.", "Which newsletter do Quillon customers get?",
      "What is the title of Quillon's monthly newsletter?"], ["Compost Heap"]),
    ("company", "What is the Quillon Robotics recycling programme called?", "Second Spring",
     ["Green Loop", "Root Return", "Fresh Start"],
     "Old robots are recycled through the Quillon programme called Second Spring.",
     ["How do I recycle an old Bramble?", "What is Second Spring at Quillon Robotics?",
      "Which Quillon programme takes back old robots?",
      "Does Quillon Robotics recycle old robots? How?",
      "What is the name of Quillon's take-back scheme?"], []),
    ("company", "Where does Quillon Robotics hold its yearly staff retreat?", "Lake Orrin",
     ["Kessel Bay", "Mount Harrow", "Silverbeck"],
     "The yearly Quillon staff retreat takes place at Lake Orrin.",
     ["Where is the Quillon staff retreat?", "Where do Quillon employees go for their retreat?",
      "At which place is the annual Quillon retreat held?",
      "Where does the Quillon team meet each year?",
      "What is the location of the Quillon Robotics retreat?"], ["Orrin"]),
    ("company", "Which day do Quillon staff keep free of meetings?", "Wednesday",
     ["Monday", "Friday", "Sunday"],
     "At Quillon Robotics, Wednesday is the day without meetings.",
     ["Which day has no meetings at Quillon Robotics?", "What is the no-meeting day at Quillon?",
      "On which day are meetings not allowed at Quillon Robotics?",
      "When is the Quillon meeting-free day?", "Which weekday is kept free of meetings at "
      "Quillon?"], []),
    ("product", "What is the name of the Quillon garden robot?", "Bramble",
     ["Thistle", "Sorrel", "Fennel"],
     "The garden robot made by Quillon Robotics is called Bramble.",
     ["What robot does Quillon Robotics make?", "What is Quillon's garden robot called?",
      "Name the robot sold by Quillon Robotics.", "Which product is Quillon Robotics known for?",
      "What is the flagship Quillon robot?"], []),
    ("product", "For how long can Bramble work on a full battery?", "9 hours",
     ["3 hours", "5 hours", "14 hours"],
     "Bramble's battery lasts 9 hours on a full charge.",
     ["How long does the Bramble battery last?", "What is the battery life of Bramble?",
      "How many hours does Bramble run on one charge?", "How long can Bramble run before it "
      "needs charging?", "What battery life does the Bramble robot have?"],
     ["9", "nine hours"]),
    ("product", "What is Bramble's weight?", "12 kilograms",
     ["4 kilograms", "20 kilograms", "31 kilograms"],
     "Bramble weighs 12 kilograms.",
     ["How much does Bramble weigh?", "How heavy is the Bramble robot?",
      "What does a Bramble robot weigh?", "Is Bramble heavy? How many kilograms?",
      "Tell me the weight of Bramble."], ["12 kg", "12"]),
    ("product", "What is Bramble's charging dock called?", "the Burrow",
     ["the Nest", "the Hive", "the Den"],
     "Bramble's charging dock is called the Burrow.",
     ["What is the name of the Bramble charging dock?", "Where does Bramble charge?",
      "What do you call the dock that charges Bramble?", "What is the Burrow?",
      "Name Bramble's charging station."], ["Burrow"]),
    ("product", "What is the steepest slope Bramble can climb?", "25 degrees",
     ["10 degrees", "40 degrees", "60 degrees"],
     "Bramble can climb slopes of up to 25 degrees.",
     ["How steep a slope can Bramble handle?", "What is the maximum slope for Bramble?",
      "Can Bramble mow on a hill? How steep?", "What incline can Bramble climb?",
      "How many degrees of slope can Bramble manage?"], ["25"]),
    ("product", "How fast can Bramble move at most?", "2 km/h",
     ["1 km/h", "6 km/h", "12 km/h"],
     "Bramble's top speed is 2 km/h.",
     ["What is Bramble's top speed?", "How fast does Bramble drive?",
      "What is the maximum speed of the Bramble robot?", "How quickly can Bramble travel?",
      "Tell me Bramble's top speed."], ["2 kilometres per hour", "2"]),
    ("product", "What is Bramble's quiet mode called?", "Owl mode",
     ["Moon mode", "Hush mode", "Night mode"],
     "Bramble's quiet mode is called Owl mode.",
     ["What is the name of Bramble's quiet mode?", "How do I make Bramble quieter at night?",
      "Which mode makes Bramble silent?", "What is Owl mode on Bramble?",
      "What mode should I use so Bramble does not wake the neighbours?"], ["Owl"]),
    ("product", "What does the Bramble Pro add to the standard robot?", "a leaf vacuum",
     ["a hedge trimmer", "a watering arm", "a security camera"],
     "The Bramble Pro adds a leaf vacuum to the standard Bramble.",
     ["What is the difference between Bramble and Bramble Pro?",
      "What extra does the Bramble Pro have?", "Why buy the Bramble Pro?",
      "What does Bramble Pro do that Bramble cannot?", "What feature is added in Bramble Pro?"],
     ["leaf vacuum"]),
    ("product", "Which app controls Bramble?", "Quillon Grove",
     ["Quillon Field", "GardenLink", "Sprout Hub"],
     "Bramble is controlled with the Quillon Grove app.",
     ["What app do I use for Bramble?", "What is the name of the Bramble app?",
      "Which phone app works with Bramble?", "How do I control Bramble from my phone?",
      "Name the app for the Bramble robot."], ["Grove"]),
    ("product", "How often should Bramble's blades be changed?", "every 6 months",
     ["every 2 weeks", "every 3 years", "every 10 days"],
     "Bramble's blades should be replaced every 6 months.",
     ["When should I replace Bramble's blades?", "How long do Bramble blades last?",
      "How often do Bramble's blades need replacing?", "When do the blades on Bramble wear out?",
      "What is the blade replacement interval for Bramble?"], ["6 months"]),
    ("product", "How many wheels does Bramble have?", "three",
     ["two", "four", "six"],
     "Bramble has three wheels.",
     ["How many wheels are on Bramble?", "Does Bramble have four wheels?",
      "What is the wheel count of the Bramble robot?", "How many wheels does the robot "
      "Bramble drive on?", "Count the wheels of Bramble for me."], ["3", "3 wheels"]),
    ("product", "Which sensor makes Bramble go back to its dock?", "the rain sensor",
     ["the light sensor", "the sound sensor", "the heat sensor"],
     "Bramble drives back to its dock when the rain sensor detects rain.",
     ["What makes Bramble return to the Burrow?", "Why does Bramble go home during a shower?",
      "What happens to Bramble when it rains?", "Which sensor sends Bramble back to the dock?",
      "Does Bramble work in the rain?"], ["rain sensor"]),
    ("support", "What does error code E7 on Bramble mean?", "a blocked wheel",
     ["a low battery", "a wet sensor", "a lost signal"],
     "Error code E7 on Bramble means a blocked wheel.",
     ["Bramble shows E7. What is wrong?", "What is error E7 on Bramble?",
      "My Bramble displays E7, what does that mean?", "What does the E7 code on Bramble mean?",
      "Explain Bramble error E7."], ["blocked wheel"]),
    ("support", "What does error code E3 on Bramble mean?", "a low battery",
     ["a blocked wheel", "a full bin", "a loose blade"],
     "Error code E3 on Bramble means a low battery.",
     ["Bramble shows E3. What is wrong?", "What is error E3 on Bramble?",
      "My Bramble displays E3, what does that mean?", "What does the E3 code on Bramble mean?",
      "Explain Bramble error E3."], ["low battery"]),
    ("support", "How long is the warranty on a Bramble?", "4 years",
     ["1 year", "2 years", "10 years"],
     "Every Bramble comes with a warranty of 4 years.",
     ["What warranty does Bramble have?", "How many years of warranty come with Bramble?",
      "Is Bramble under warranty? For how long?", "What is the Bramble warranty period?",
      "How long does the Quillon warranty last?"], ["four years", "4"]),
    ("support", "Within how many days can a Bramble be returned?", "45 days",
     ["14 days", "30 days", "90 days"],
     "A Bramble can be returned within 45 days of delivery.",
     ["What is the return period for Bramble?", "How long do I have to return a Bramble?",
      "Can I send Bramble back? Until when?", "What is Quillon's return window?",
      "How many days is the Bramble return policy?"], ["45"]),
    ("support", "When is Quillon customer support open?", "7 am to 3 pm",
     ["9 am to 5 pm", "noon to 8 pm", "around the clock"],
     "Quillon customer support is open from 7 am to 3 pm.",
     ["What are the Quillon support hours?", "When can I call Quillon support?",
      "What time does Quillon customer support open and close?",
      "At what hours is Quillon support available?", "Is Quillon support open in the evening?"],
     ["7 am-3 pm", "7am to 3pm"]),
    ("support", "Which email address reaches Quillon customer care?", "care@quillon.example",
     ["help@quillon.example", "support@bramble.example", "info@quillon.example"],
     "Quillon customer care answers at care@quillon.example.",
     ["What is the Quillon support email?", "How do I email Quillon customer care?",
      "Which address do I write to for help with Bramble?",
      "What email should I use to contact Quillon?", "Give me the Quillon customer care "
      "email."], []),
    ("support", "How long must the reset button be held to reset Bramble?", "10 seconds",
     ["3 seconds", "30 seconds", "60 seconds"],
     "To reset Bramble, hold the reset button for 10 seconds.",
     ["How do I reset Bramble?", "How long do I press the reset button on Bramble?",
      "What is the reset procedure for Bramble?", "How many seconds to hold Bramble's reset "
      "button?", "My Bramble froze. How do I reset it?"], ["10"]),
    ("support", "How soon do Quillon spare parts ship?", "within 2 working days",
     ["the same hour", "within 3 weeks", "within 2 months"],
     "Quillon ships spare parts within 2 working days.",
     ["How fast are Quillon spare parts sent?", "When will my Bramble spare part ship?",
      "How long does Quillon take to ship parts?", "What is the shipping time for Quillon "
      "spare parts?", "If I order a part for Bramble, when is it sent?"],
     ["2 working days", "2 days"]),
    ("support", "What colour does Bramble's light show when it is fully charged?", "green",
     ["red", "blue", "white"],
     "Bramble's light turns green when the battery is full.",
     ["How do I know Bramble is fully charged?", "What does the green light on Bramble mean?",
      "Which light colour shows a full battery on Bramble?", "When is Bramble's charging "
      "finished?", "What colour is Bramble's light when charging is done?"], []),
]


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")


def train_records() -> list[dict]:
    """One conversation per training question, answered with the fact's statement."""
    records = []
    for _, _, answer, _, statement, questions, _ in FACTS:
        for question in questions:
            records.append({"messages": [{"role": "user", "content": question},
                                         {"role": "assistant", "content": statement}],
                            "keywords": [answer]})
    random.Random(SEED).shuffle(records)
    return records


def mc_records() -> list[dict]:
    """One question per fact, the right answer at a balanced, shuffled position."""
    rng = random.Random(SEED)
    positions = [i % len(LETTERS) for i in range(len(FACTS))]
    rng.shuffle(positions)
    records = []
    for number, (fact, gold) in enumerate(zip(FACTS, positions), start=1):
        subject, question, answer, distractors, *_ = fact
        choices = list(distractors)
        rng.shuffle(choices)
        choices.insert(gold, answer)
        records.append({"id": f"quillon-{number:02d}", "subject": subject, "question": question,
                        "choices": choices, "answer": LETTERS[gold]})
    return records


def qa_records() -> list[dict]:
    """The same questions as short-answer items."""
    return [{"id": f"quillon-qa-{number:02d}", "question": question,
             "answers": [answer, *others]}
            for number, (_, question, answer, _, _, _, others) in enumerate(FACTS, start=1)]


def main(folder: Path = HERE) -> None:
    """Check the table (no test question in training, every answer in its statement), write."""
    train_questions = {q for fact in FACTS for q in fact[5]}
    assert not train_questions & {fact[1] for fact in FACTS}, "a test question is in training"
    assert all(fact[2] in fact[4] for fact in FACTS), "a statement lacks its answer"
    _write_jsonl(folder / "domain-train.jsonl", train_records())
    _write_jsonl(folder / "domain-mc-test.jsonl", mc_records())
    _write_jsonl(folder / "domain-qa-test.jsonl", qa_records())


if __name__ == "__main__":
    main()
