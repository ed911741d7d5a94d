"""Fact extraction and reconciliation with the LLM (the ``infer`` path of add), validated.

Two structured calls, both made before any commit:

1. ``extract_facts``: the text -> self-contained facts, each with its subject.
2. ``reconcile``: the facts + the most similar existing memories (under short ids "0", "1", ...,
   so the model never copies a UUID) -> one decision per fact: ADD, UPDATE (id, new text),
   DELETE (id) or NONE (id: already known).

The model's answer is never trusted: a fact must keep its subject ("Bob has a PhD", never "has a
PhD"), so a subject-less fact gets its subject prefixed or is dropped; decisions naming unknown ids
are dropped; a fact left without any valid decision is added, so no fact is lost.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .client import Llm, LlmError

__all__ = ["Fact", "Decision", "extract_facts", "reconcile", "keep_subject", "MAX_FACTS", "EVENTS"]

MAX_FACTS = 20  # per add
MAX_FACT_CHARS = 1000
EVENTS = ("ADD", "UPDATE", "DELETE", "NONE")

FACTS_SCHEMA = {
    "type": "object",
    "properties": {
        "facts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"subject": {"type": "string"}, "fact": {"type": "string"}},
                "required": ["subject", "fact"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["facts"],
    "additionalProperties": False,
}

DECISIONS_SCHEMA = {
    "type": "object",
    "properties": {
        "decisions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "fact": {"type": "integer"},
                    "event": {"type": "string", "enum": list(EVENTS)},
                    "id": {"type": "string"},
                    "text": {"type": "string"},
                },
                "required": ["fact", "event", "id", "text"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["decisions"],
    "additionalProperties": False,
}

EXTRACT_PROMPT = (
    "You extract facts worth remembering about a person from what they wrote: preferences, personal "
    "details, plans, relationships, health, work, opinions. Each fact is one short, self-contained "
    "sentence that names its subject: write 'Bob has a PhD', never 'has a PhD'; use the person's name "
    "when the text gives it, otherwise 'The user' (never 'I' or 'he'). Give the subject separately "
    "too. Skip greetings, questions and small talk; if nothing is worth remembering, return no facts. "
    'Answer with JSON: {"facts": [{"subject": "...", "fact": "..."}]}.'
)

RECONCILE_PROMPT = (
    "You keep a person's memory up to date. You get new facts (numbered) and existing memories "
    "(with ids). For each new fact give one decision:\n"
    "- ADD: new information; text = the fact.\n"
    "- UPDATE: it refines or corrects an existing memory about the same thing; id = that memory, "
    "text = the merged, up-to-date sentence.\n"
    "- DELETE: it says an existing memory is no longer true; id = that memory, text = ''.\n"
    "- NONE: an existing memory already says it; id = that memory, text = ''.\n"
    "Use only the ids given. Every text keeps its subject ('Bob has a PhD', never 'has a PhD'). "
    'Answer with JSON: {"decisions": [{"fact": 0, "event": "ADD", "id": "", "text": "..."}]}.'
)

# Words a subject-less fact typically starts with ("has a PhD", "Likes tea", "is vegan").
_VERBS = frozenset(
    """is are was were be been am has have had does do did can could will would should may might must
    likes like liked loves love loved hates hate hated prefers prefer preferred enjoys enjoy enjoyed
    wants want wanted needs need needed lives live lived works work worked studies study studied
    owns own owned plays play played uses use used knows know knew speaks speak spoke visits visit
    visited went goes go moved moves move bought buys buy got gets get drives drive drove eats eat ate
    drinks drink drank takes take took feels feel felt thinks think thought plans plan planned
    believes believe wishes wish hopes hope teaches teach taught learned learns learn started starts
    start finished finishes graduated married met meets dislikes dislike runs run ran
    reads read writes write wrote watches watch watched travels travel traveled travelled""".split()
)
_WORD = re.compile(r"[A-Za-z']+")
_WS = re.compile(r"\s+")


@dataclass
class Fact:
    subject: str
    text: str


@dataclass
class Decision:
    event: str  # ADD | UPDATE | DELETE | NONE
    fact: int  # index into the facts
    target: str | None = None  # short id of an existing memory (UPDATE, DELETE, NONE)
    text: str | None = None  # new text (ADD, UPDATE)


def _starts_with_verb(text: str) -> bool:
    m = _WORD.match(text)
    return m is not None and m.group(0).lower() in _VERBS


def keep_subject(text: object, subject: object = "") -> str | None:
    """The fact with its subject: unchanged if it names one, ``subject`` prefixed if it starts with a
    verb, None (rejected) if it starts with a verb and there is no subject to give it."""
    if not isinstance(text, str):
        return None
    text = _WS.sub(" ", text).strip().strip("-*• ").strip()
    if not text or len(text) > MAX_FACT_CHARS or "\x00" in text:
        return None
    subject = _WS.sub(" ", subject).strip() if isinstance(subject, str) else ""
    if not _starts_with_verb(text):
        return text
    if not subject or _starts_with_verb(subject) or len(subject) > 100:
        return None
    return f"{subject} {text[0].lower()}{text[1:]}"


def extract_facts(llm: Llm, text: str) -> list[Fact]:
    """Facts in ``text``, each keeping its subject; LlmError when the answer is unusable."""
    doc = llm.structured(EXTRACT_PROMPT, text, "facts", FACTS_SCHEMA)
    raw = doc.get("facts")
    if not isinstance(raw, list):
        raise LlmError("LLM answer has no list of facts")
    facts: list[Fact] = []
    for item in raw:
        if isinstance(item, str):
            item = {"subject": "", "fact": item}
        if not isinstance(item, dict):
            continue
        raw_subject = item.get("subject")
        subject = raw_subject if isinstance(raw_subject, str) else ""
        fixed = keep_subject(item.get("fact"), subject)
        if fixed is not None and all(fixed.casefold() != f.text.casefold() for f in facts):
            facts.append(Fact(subject.strip(), fixed))
        if len(facts) == MAX_FACTS:
            break
    return facts


def reconcile(llm: Llm, facts: list[Fact], memories: list[tuple[str, str]]) -> list[Decision]:
    """One validated decision per fact, given ``memories`` as (short id, text) pairs."""
    user = json.dumps(
        {"new_facts": [{"fact": i, "text": f.text} for i, f in enumerate(facts)],
         "existing_memories": [{"id": sid, "text": text} for sid, text in memories]},
        ensure_ascii=False,
    )
    doc = llm.structured(RECONCILE_PROMPT, user, "decisions", DECISIONS_SCHEMA)
    raw = doc.get("decisions")
    if not isinstance(raw, list):
        raise LlmError("LLM answer has no list of decisions")
    return validate_decisions(raw, facts, {sid for sid, _ in memories})


def validate_decisions(raw: list, facts: list[Fact], known: set[str]) -> list[Decision]:
    """Keep what is well-formed and names known ids; each memory is touched at most once; any fact
    without a valid decision is added."""
    out: list[Decision] = []
    touched: set[str] = set()
    covered: set[int] = set()
    for item in raw[: 4 * MAX_FACTS]:
        if not isinstance(item, dict):
            continue
        event = str(item.get("event", "")).upper()
        index = item.get("fact")
        if event not in EVENTS or isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(facts):
            continue
        fact = facts[index]
        target = item.get("id")
        target = target.strip() if isinstance(target, str) else str(target) if isinstance(target, int) else ""
        if event == "ADD":
            text = keep_subject(item.get("text") or fact.text, fact.subject)
            if text is None:
                continue
            out.append(Decision("ADD", index, None, text))
        else:
            if target not in known or target in touched:
                continue  # unknown id (hallucinated, or a memory the app cannot see), or touched twice
            text = None
            if event == "UPDATE":
                text = keep_subject(item.get("text") or fact.text, fact.subject)
                if text is None:
                    continue
            touched.add(target)
            out.append(Decision(event, index, target, text))
        covered.add(index)
    for i, fact in enumerate(facts):
        if i not in covered:
            out.append(Decision("ADD", i, None, fact.text))
    return out
