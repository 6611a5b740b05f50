"""The blocklist: misheard, inflected, stretched, split or joined forms must not slip past."""

from __future__ import annotations

import pytest

from audio.speech import content_words
from audio.speech.blocklist import DEFAULT_FILE, Blocklist, load_blocklist
from audio.words import WordEvent


@pytest.fixture(scope="module")
def default():
    return load_blocklist()


def said(text: str) -> list[WordEvent]:
    return [WordEvent(w, i * 0.3, i * 0.3 + 0.3, 0.99) for i, w in enumerate(text.split())]


@pytest.mark.parametrize(
    "word",
    ["Fuck!", "Ass!", "sh!t", "FUCKING", "fuuuck", "fuuck", "sh1t", "$hit", "f***", "s**t", "bitches",
     "Bitch's", "pissed", "clusterfuck", "motherfucker", "mother-fucker", "assss", "sexx",
     "s.h.i.t", "niggas"],
)  # fmt: skip
def test_default_list_blocks_the_forms_a_word_comes_in(default, word):
    assert default.blocks(word)


@pytest.mark.parametrize(
    "word",
    ["therapist", "peacock", "class", "as", "bass", "cook", "glass", "passes", "mass",
     "ocean", "kites", "cocktail", "dickens", "analysis", "grape", "shoot"],
)  # fmt: skip
def test_default_list_leaves_clean_words_alone(default, word):
    assert not default.blocks(word)


def test_a_word_split_over_neighbours_is_caught_and_every_part_dropped(default):
    assert default.blocked_indices(["fu", "ck", "red", "moon"]) == {0, 1}
    assert default.blocked_indices(["a", "ss", "hole"]) >= {0, 1}
    assert default.blocked_indices(["nig", "ger"]) == {0, 1}
    assert default.blocked_indices(["push", "it", "to", "the", "moon"]) == set()


def test_content_words_drop_blocked_words_however_sure_whisper_is():
    kept = content_words(said("a shitty red ocean under bitches and fu ck moon"))
    assert [w.text for w in kept] == ["red", "ocean", "moon"]


def test_a_split_across_two_commits_is_caught_with_the_words_before():
    earlier = said("the bull")
    later = said("shit and the stars")
    assert [w.text for w in content_words(later, before=earlier)] == ["stars"]
    assert [w.text for w in content_words(said("ck stars"), before=said("fu"))] == ["stars"]


def test_users_extend_the_list_with_words_files_and_the_environment(tmp_path, monkeypatch):
    listed = tmp_path / "mine.txt"
    listed.write_text("# my show\nclown\n*spider\n")
    env_file = tmp_path / "env.txt"
    env_file.write_text("banana\n")
    monkeypatch.setenv("VISUALIZE_BLOCKLIST", str(env_file))
    blocklist = load_blocklist(["Desert, lemon"], [listed])
    for word in ("clowns", "spiderweb", "bananas", "deserts", "lemon", "fuck"):
        assert blocklist.blocks(word), word
    assert not blocklist.blocks("ocean")
    only_mine = load_blocklist([], [listed], default=False)
    assert only_mine.blocks("clown") and not only_mine.blocks("fuck")


def test_extra_words_passed_to_content_words_add_to_the_default():
    kept = content_words(said("golden city in the desert fuck"), blocklist=["DESERT"])
    assert [w.text for w in kept] == ["golden", "city"]
    own = Blocklist.from_entries(["city"])  # a Blocklist is used as it is
    assert [w.text for w in content_words(said("golden city fuck"), blocklist=own)] == [
        "golden",
        "fuck",
    ]


def test_the_default_list_ships_in_the_package():
    from pathlib import Path

    assert DEFAULT_FILE.is_file()
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    audio_data = [line for line in pyproject.splitlines() if line.startswith("audio = [")]
    assert audio_data and '"speech/*.txt"' in audio_data[0]


def test_transcribe_cli_rejects_an_unreadable_blocklist_file(tmp_path, capsys):
    from visualizer.cli import main

    wav = tmp_path / "x.wav"
    wav.write_bytes(b"")
    code = main(["transcribe", str(wav), "--blocklist-file", str(tmp_path / "missing.txt")])
    err = capsys.readouterr().err.strip()
    assert code != 0 and "blocklist" in err and "\n" not in err
