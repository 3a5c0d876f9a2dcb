"""Synthetic long multi-session conversations with evidence turns, for retrieval evaluation.

    python bench/gen_conversations.py --seed 7 --out /tmp/conv.json

Each conversation: two people, 24-32 sessions spread over ~8 months, 14-26 turns a session
(mostly chit-chat, some of it near-miss talk that shares words with the events). Life events
are told in one turn or across two or three neighbouring turns (a question, then the answer
without the key words), sometimes by the other person. Questions come in six kinds:

    lexical     shares the key words with the evidence
    paraphrase  asks about it in other words (low word overlap)
    oblique     other words AND another angle, so the embedding is not close either
    entity      names a thing (a pet, a place, a person) only the evidence names
    temporal    "what did X do last week / in May / 3 days ago", with `now` given
    multi       needs two events' turns

Every question lists the ids of its evidence turns. Nothing here reads the store's code.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from gen_events import EVENTS, FILLER, HINTS, NAMES, NEAR_MISS, OPENERS, SLOTS, STATEMENTS

MONTHS = "January February March April May June July August September October November December".split()


def _fill(template: str, slots: dict[str, str]) -> str:
    return template.format(**slots)


def _when_phrase(event: datetime, rng: random.Random) -> tuple[str, datetime]:
    """A time phrase that truly covers `event`, and the `now` it is relative to."""
    choice = rng.choice(["days_ago", "last_week", "month", "date", "yesterday", "weeks_ago"])
    if choice == "yesterday":
        return "yesterday", event + timedelta(days=1, hours=3)
    if choice == "days_ago":
        n = rng.randint(2, 6)
        return f"{n} days ago", event + timedelta(days=n, hours=2)
    if choice == "weeks_ago":
        n = rng.randint(2, 4)
        return f"{n} weeks ago", event + timedelta(weeks=n, hours=5)
    if choice == "last_week":
        # now = some day in the week after the event's week
        monday = (event - timedelta(days=event.weekday())).replace(hour=0, minute=0)
        return "last week", monday + timedelta(days=7 + rng.randint(0, 6), hours=12)
    if choice == "month":
        return f"in {MONTHS[event.month - 1]}", event + timedelta(days=rng.randint(20, 70))
    day = event.day
    suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"on {MONTHS[event.month - 1]} {day}{suffix}", event + timedelta(days=rng.randint(10, 60))


def generate(seed: int, conversations: int = 4) -> dict:
    rng = random.Random(seed)
    convs, questions = [], []
    for c in range(conversations):
        a, b = rng.sample(NAMES, 2)
        start = datetime(2025, rng.randint(1, 4), rng.randint(1, 28), 18, tzinfo=timezone.utc)
        n_sessions = rng.randint(24, 32)
        dates = sorted(start + timedelta(days=rng.uniform(0, 240)) for _ in range(n_sessions))
        events = rng.sample(EVENTS, min(len(EVENTS), rng.randint(22, 28)))
        # each event is told in a random session by a random person
        plan: dict[int, list[tuple[dict, str, str]]] = {}
        for event in events:
            subject, other = (a, b) if rng.random() < 0.5 else (b, a)
            plan.setdefault(rng.randrange(n_sessions), []).append((event, subject, other))
        turns, told = [], []
        for s, when in enumerate(dates):
            session = f"c{c}-s{s}"
            speakers = [a, b] if rng.random() < 0.5 else [b, a]
            n_filler = rng.randint(12, 22)
            fillers = [(speakers[i % 2], _filler(rng, speakers[(i + 1) % 2]), False) for i in range(n_filler)]
            inserts = []
            for event, subject, other in plan.get(s, []):
                slots = {k: rng.choice(v) for k, v in event["slots"].items()}
                slots.update(S=subject, O=other)
                telling = rng.choice(event["say"])
                lines = [(subject if who == "s" else other, _fill(text, slots), True) for who, text in telling]
                inserts.append((event, subject, slots, lines))
            for event, subject, slots, lines in inserts:
                at = rng.randint(0, len(fillers))
                fillers[at:at] = [(w, t, True, (event["key"], subject)) for w, t, _ in lines]
            for i, item in enumerate(fillers):
                speaker, text = item[0], item[1]
                turn = {
                    "id": f"{session}-t{i}",
                    "session": session,
                    "speaker": speaker,
                    "text": f"{speaker}: {text}",
                    "created_at": (when + timedelta(minutes=2 * i)).isoformat(),
                }
                turns.append(turn)
                if len(item) == 4:
                    told.append((item[3], turn["id"], when))
            for event, subject, slots, lines in inserts:
                evidence = [tid for (key, subj), tid, _ in told if key == event["key"] and subj == subject and tid.startswith(session + "-")]
                told_text = " ".join(text for _, text, _ in lines)
                questions.extend(_questions(event, slots, evidence, told_text, when, c, rng))
        questions.extend(_multi_hop(told, events, c, rng))
        convs.append({"id": f"c{c}", "speakers": [a, b], "turns": turns})
    return {"seed": seed, "conversations": convs, "questions": questions}


def _filler(rng: random.Random, other: str) -> str:
    roll = rng.random()
    if roll < 0.15:
        return rng.choice(NEAR_MISS).format(O=other)
    if roll < 0.3:
        return rng.choice(FILLER).format(O=other)
    text = rng.choice(STATEMENTS).format(**{k: rng.choice(v) for k, v in SLOTS.items()})
    opener = rng.choice(OPENERS)
    return opener + text if opener else text[0].upper() + text[1:]


def _questions(event, slots, evidence, told_text, when, c, rng) -> list[dict]:
    out = []
    for kind, template in event["ask"].items():
        if isinstance(template, tuple):
            template, clue = template
            if not re.search(clue, told_text, flags=re.IGNORECASE):
                continue  # this telling does not say what the question asks about
        if rng.random() < 0.7:
            out.append({"conversation": f"c{c}", "kind": kind, "question": _fill(template, slots), "evidence": evidence})
    if rng.random() < 0.6:
        phrase, now = _when_phrase(when, rng)
        if rng.random() < 0.3:  # no topic at all: only the time and the person
            template = rng.choice(["What was new with {S} {when}?", "What did {S} tell {O} {when}?", "{when}, what was {S} up to?"])
        else:
            template = rng.choice(["What did {S} say about {hint} {when}?", "{when}, what was {S}'s news about {hint}?",
                                   "Anything about {hint} from {S} {when}?"])
        text = template.format(when=phrase, hint=HINTS[event["key"]], S=slots["S"], O=slots["O"])
        out.append({"conversation": f"c{c}", "kind": "temporal", "question": text[0].upper() + text[1:],
                    "evidence": evidence, "now": now.isoformat()})
    return out


def _multi_hop(told, events, c, rng) -> list[dict]:
    by_key: dict[tuple[str, str], list[str]] = {}
    for (key, subject), tid, _ in told:
        by_key.setdefault((key, subject), []).append(tid)
    keys = list(by_key)
    rng.shuffle(keys)
    labels = {e["key"]: e["topic"] for e in events}
    out = []
    for (k1, s1), (k2, s2) in zip(keys[0::2], keys[1::2]):
        if s1 != s2:
            continue
        text = rng.choice(["Which came first for {S}: {x} or {y}?", "Tell me about {S}'s {x} and {y}.",
                           "How did {x} and {y} go for {S}?"]).format(S=s1, x=labels[k1], y=labels[k2])
        out.append({"conversation": f"c{c}", "kind": "multi", "question": text,
                    "evidence": by_key[(k1, s1)] + by_key[(k2, s2)]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--conversations", type=int, default=4)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    data = generate(args.seed, args.conversations)
    args.out.write_text(json.dumps(data, indent=1), encoding="utf-8")
    n_turns = sum(len(c["turns"]) for c in data["conversations"])
    print(f"{len(data['conversations'])} conversations, {n_turns} turns, {len(data['questions'])} questions -> {args.out}")


if __name__ == "__main__":
    main()
