"""The triage: who the chat is about, then whether anyone is in danger right now."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher


class ActionResetTriage(Action):
    """Clears the last danger answer when a new triage starts, so it is asked again.

    If the action server is down this step is lost and the earlier answer stands; every card
    still tells the user to call 999 if someone is in danger.
    """

    def name(self) -> str:
        return "action_reset_triage"

    def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[EventType]:
        return [SlotSet("danger", None)]
