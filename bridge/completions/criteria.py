"""What a widget declares a learner can be asked to do: criteria counted from activity events.

Widgets list their criteria in ``widgets/registry.py``; the engine counts events generically, so
a widget never knows about completions. A criterion counts the events of one name that are the
learner's own (``who="actor"``) or that happened to them (``who="subject"``: a reaction to their
post), each unit once (``distinct``), and optionally only between two different people.
"""

from __future__ import annotations

from dataclasses import dataclass

ACTOR = "actor"
SUBJECT = "subject"
PER_OBJECT = "object"  # one unit per object (a post reacted to counts once...)
PER_OBJECT_AND_ACTOR = "object_actor"  # ...or once per person who acted on it


@dataclass(frozen=True)
class CriterionSpec:
    key: str  # stable, namespaced: "discussion.threads_started"
    label: str  # "Threads to start: {count}": shown to instructors and learners, sent as comments
    event: str
    who: str = ACTOR
    distinct: str = PER_OBJECT
    peers_only: bool = False  # only events between two different people
    max_count: int = 1000

    def describe(self, count: int) -> str:
        return self.label.format(count=count)
