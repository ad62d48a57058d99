"""The danger-words backstop (addons/danger.py, addons/nlu.py DangerGate)."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from addons.danger import signals_danger
from addons.nlu import apply_danger_check
from tests.helpers import load_yaml, nlu_blocks, plain


@pytest.mark.parametrize(
    "text",
    ["boss has gun, he say nobody leave", "man with a KNIFE outside",
     "they have shut him in the freezer and wont open it", "we are locked in",
     "i cant get out", "he said he will kill me", "they're beating her in the yard",
     "she is bleeding a lot", "he is not breathing", "trapped inside the container",
     "he says he'll break my legs", "the boss just punched my cousin", "she's not waking up",
     "he has a baseball bat", "they're driving round looking for me", "they are following us",
     # Said outright, held or taken, harm to oneself, medical emergencies, fire.
     "im in danger", "my sister is going to die if no one comes", "SOS", "please save me",
     "we are held in a basement", "they bundled her into the boot of a car",
     "my cousin was snatched outside school", "he tied my hands with tape",
     "i want to kill myself", "im going to jump off the bridge", "he took an overdose",
     "she collapsed and is shaking", "he's turning blue", "i cant breathe", "he has petrol",
     "a man fell off the scaffolding and they wont call anyone", "i cant do this anymore",
     "they threatened to cut my face", "men with bats are smashing the place up",
     "a worker fainted in the heat and they say keep going", "he is fitting on the floor",
     "she says she will jump", "we need an ambulance", "he said he'd slit my throat",
     "my mate isnt breathing", "a boy is chained up in the yard", "no water for three days",
     "one of the packets has burst inside her", "he is threatening to set fire to the flat",
     # Someone there now, taken or sold, hurt and not moving, a cry and nothing else.
     "hes back", "they're outside again", "they found us", "im not safe here",
     "we are hiding in the loft", "he is going to hurt the baby", "they sold her to a man",
     "someone is coming to take me tonight", "she won't wake up", "my brother got crushed",
     "i heard gunshots", "come quick", "pls hurry", "they are coming up the stairs",
     "the gang who took him is outside our flat", "the woman who kept us is at my door",
     "theyve found out where we are staying", "men hammering at the back door shouting",
     "he wants to hurt my brother", "two men shoving a lad into the back of a van",
     "my cousin is being taken", "they say we go out of the country tonight",
     "need the police asap", "he grabbed me by the throat",
     "they have kept us in the back room since last night", "his wrist looks broken",
     "they broke his nose and he is bleeding", "hes still outside"],
)
def test_words_of_danger_now_are_caught(text: str) -> None:
    assert signals_danger(text)


@pytest.mark.parametrize(
    "text",
    ["they won't let me leave the job", "my boss keeps my passport", "im stuck in this job",
     "what are the signs of modern slavery", "i cant go out without them", "knifeless",
     "skilled workers", "gunner", "my phone battery died", "they hit me last year",
     "my phone is about to die", "i saved money for the ticket", "unsure if anyone is in danger",
     "can victims get help if they are here illegally", "he is back at work now",
     "she is coming to the uk next month", "can you help me find the form",
     "the parcel is at the door now", "the friend who took me in is at the house",
     "how do i find where i can get support", "knock on the door of the council",
     "my friend is being taken advantage of at work", "we moved out of the country last year",
     "should i call the police or the helpline", "they forced us to work in a car wash",
     "they keep me here since 2 years for no money", "my phone is broken",
     "he is still here in the uk working for them", "he broke my arm in 2019"],
)
def test_being_kept_or_asking_is_not_danger_now(text: str) -> None:
    assert not signals_danger(text)


@pytest.mark.parametrize(
    "text",
    ["he doesnt have a knife or anything", "nobody is bleeding, they are just tired",
     "they are not locked in, they just work long hours", "no weapons, just shouting",
     "she was never hit", "i dont think they are outside", "not sure hes back"],
)
def test_danger_words_taken_back_in_their_clause_are_not_danger(text: str) -> None:
    assert not signals_danger(text)


@pytest.mark.parametrize(
    "text",
    ["no one is hurt but he has a knife", "nobody knows, and he said he will kill me",
     "not sure what to do, he is hitting her", "I dont know if he has a gun",
     "not now but they are locked in the container",
     # A clause of its own, typed without punctuation.
     "i cant stay i dont want go they are outside the house now", "wont open up hes back"],
)
def test_a_negation_elsewhere_never_hides_danger(text: str) -> None:
    assert signals_danger(text)


def _classified(text: str, ranking: list[tuple[str, float]]) -> Message:
    message = Message.build(text)
    intents = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    message.set("intent", intents[0])
    message.set("intent_ranking", intents)
    return message


@pytest.mark.parametrize(
    "text",
    ["I was locked in a flat in 2019 but I got out", "they kidnapped him years ago",
     "my landlord used to lock us in at night", "in the past she was held in a house"],
)
def test_danger_told_as_the_past_is_not_danger_now(text: str) -> None:
    assert not signals_danger(text)


@pytest.mark.parametrize(
    "text",
    ["he used to beat me but I left", "I'm safe now, the police came",
     "what should i do if someone is scared of their boss", "he doesnt have a knife, he shouts"],
)
def test_the_classifier_alone_does_not_make_past_or_taken_back_harm_danger(text: str) -> None:
    message = _classified(text, [("emergency", 0.7), ("report_self", 0.2), ("deny", 0.1)])
    apply_danger_check(message)
    assert message.get("intent")["name"] == "report_self"


def test_danger_words_win_over_a_confident_classifier_without_a_fallback() -> None:
    """The FallbackClassifier after the gate must not find 1.0 and 0.99 too close to call."""
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier

    message = _classified("a man fell off the roof and they are leaving him there",
                          [("report_other", 0.99), ("emergency", 0.01)])
    apply_danger_check(message)
    pipeline = load_yaml("config.yml")["pipeline"]
    settings = next(c for c in pipeline if c["name"] == "FallbackClassifier")
    fallback = FallbackClassifier.create(
        {**FallbackClassifier.get_default_config(), **settings},
        LocalModelStorage("/tmp"), Resource("fallback"), ExecutionContext(None))
    fallback.process([message])
    assert message.get("intent")["name"] == "emergency"


def test_a_story_that_says_nobody_is_in_danger_is_not_read_as_danger() -> None:
    message = _classified("no one is in danger but i want the police to know about a nail bar",
                          [("emergency", 0.6), ("report_other", 0.3), ("deny", 0.1)])
    apply_danger_check(message)
    assert message.get("intent")["name"] == "report_other"


@pytest.mark.parametrize(
    "text",
    ["im 15 and my boss slaps me if im slow", "he hits us every time we complain about pay"],
)
def test_violence_told_as_a_habit_is_the_persons_story(text: str) -> None:
    """docs/nlu-labelling.md, rule 1: their route asks the danger question first."""
    message = _classified(text, [("emergency", 0.57), ("young_person", 0.4)])
    apply_danger_check(message)
    assert message.get("intent")["name"] == "young_person"


@pytest.mark.parametrize(
    "text",
    ["they will hurt us if we try to leave tonight",
     "he hits me when i dont work and hes got a knife",
     "she hits me if im slow and she is hitting me now"],
)
def test_a_threat_or_danger_now_beside_a_habit_stays_danger(text: str) -> None:
    message = _classified(text, [("emergency", 0.57), ("young_person", 0.4)])
    apply_danger_check(message)
    assert message.get("intent")["name"] == "emergency"


def test_not_urgent_with_danger_words_is_still_danger() -> None:
    message = _classified("not urgent but he has a gun in the van",
                          [("report_other", 0.7), ("emergency", 0.3)])
    apply_danger_check(message)
    assert message.get("intent") == {"name": "emergency", "confidence": 1.0}


@pytest.mark.parametrize("folder", ["data/nlu", "tests/nlu"])
def test_no_example_of_another_intent_is_taken_for_danger(folder: str) -> None:
    wrong = [
        (block["intent"], text)
        for block, texts in nlu_blocks(folder)
        if block.get("intent") not in (None, "emergency")
        for text in texts
        if signals_danger(plain(text))
    ]
    assert not wrong


def test_the_gate_turns_a_misread_danger_message_into_emergency() -> None:
    ranking = [{"name": "deny", "confidence": 0.5}, {"name": "emergency", "confidence": 0.2}]
    message = Message(data={"text": "he has a gun", "intent": ranking[0],
                            "intent_ranking": ranking})
    apply_danger_check(message)
    assert message.get("intent") == {"name": "emergency", "confidence": 1.0}


def test_the_gate_leaves_button_payloads_alone() -> None:
    message = Message(data={"text": "/deny", "intent": {"name": "deny", "confidence": 1.0}})
    apply_danger_check(message)
    assert message.get("intent")["name"] == "deny"
