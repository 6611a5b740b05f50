"""Style pack loading, inheritance, discovery and error messages."""

from __future__ import annotations

import pytest

from visualizer.cli import main
from visualizer.mood import MOODS
from visualizer.styles import StyleError, list_styles, load_style


@pytest.fixture(autouse=True)
def user_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    path = tmp_path / "config" / "visualize" / "styles"
    path.mkdir(parents=True)
    return path


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_builtin_styles_are_complete():
    styles = {style.name: style for style in list_styles()}
    assert {"default", "neon", "watercolour", "cosmic", "noir"} <= set(styles)
    for style in styles.values():
        assert set(style.vocabularies) == set(MOODS) == set(style.palettes)
        for mood in MOODS:
            assert 3 <= len(style.palettes[mood]) <= 6
            assert style.vocabularies[mood].elements
        assert style.description and style.negative_prompt
    assert styles["noir"].feature_weights["key_colour"] == 0.0
    assert styles["neon"].prefix != styles["default"].prefix


def test_user_style_inherits_what_it_leaves_out(user_dir):
    (user_dir / "mine.toml").write_text(
        'prefix = "oil on canvas"\n[moods.calm]\npalette = ["#000000", "#808080", [255, 255, 255]]\n'
    )
    style = load_style("mine")
    default = load_style("default")
    assert style.prefix == "oil on canvas" and style.suffix == default.suffix
    assert style.palettes["calm"] == ((0, 0, 0), (128, 128, 128), (255, 255, 255))
    assert style.vocabularies["calm"] == default.vocabularies["calm"]
    assert style.palettes["sad"] == default.palettes["sad"]
    assert "mine" in {s.name for s in list_styles()}
    assert load_style(str(user_dir / "mine.toml")).prefix == "oil on canvas"


BAD_FILES = {
    "syntax": ('description = "x"\nprefix = "unclosed\n', 'prefix = "unclosed', "invalid TOML"),
    "unknown key": ('description = "x"\nsufix = "y"\n', "sufix", "did you mean 'suffix'"),
    "bad colour": (
        '[moods.calm]\npalette = [\n  "#112233",\n  "#zzzzzz",\n  "#445566",\n]\n',
        "#zzzzzz",
        "moods.calm.palette",
    ),
    "short palette": ('[moods.sad]\nart = ["x"]\npalette = ["#000000"]\n', "palette", "3 to 6"),
    "unknown mood": ('[moods.angry]\nart = ["x"]\n', "[moods.angry]", "unknown mood 'angry'"),
    "bad weight": ("[weights]\ntempo = -1\n", "tempo", "between 0 and"),
    "wrong type": ('[moods.calm]\nelements = "rain"\n', "elements", "list of strings"),
    "unknown family": (
        '[render]\nfamilies = [\n  "tunnel",\n  "tunel2",\n]\n',
        "tunel2",
        "did you mean 'tunnel'",
    ),
    "bad finish": ('[render]\nfinish = "sepia"\n', "finish", "must be one of none, noir"),
    "bad trails": ("[render]\ntrails = 2\n", "trails", "between 0 and 1"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_style_file_names_file_and_line(tmp_path, case):
    text, fragment, words = BAD_FILES[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(StyleError) as error:
        load_style(str(path))
    message = str(error.value)
    assert message.startswith(f"{path}:{line_of(text, fragment)}: ")
    assert words in message and "\n" not in message


def test_builtin_packs_draw_differently():
    styles = {style.name: style for style in list_styles()}
    finishes = {
        name: styles[name].render.finish for name in ("noir", "watercolour", "neon", "cosmic")
    }
    assert finishes == {
        "noir": "noir",
        "watercolour": "watercolour",
        "neon": "neon",
        "cosmic": "cosmic",
    }
    assert "nebula" in styles["cosmic"].render.families
    assert "lasers" in styles["neon"].render.families
    default = styles["default"].render
    assert default.families_for("calm") != default.families_for("energetic")


def test_user_pack_render_table_and_per_mood_families(user_dir):
    (user_dir / "mine.toml").write_text(
        '[render]\nfinish = "neon"\nmotion = 2\n[moods.calm]\nfamilies = ["warp"]\n'
    )
    render = load_style("mine").render
    assert (render.finish, render.motion, render.trails) == ("neon", 2.0, 0.5)
    assert render.families_for("calm") == ("warp",)
    assert render.families_for("happy") == load_style("default").render.families_for("happy")


def test_unknown_name_lists_choices():
    with pytest.raises(StyleError, match="did you mean 'neon'.*available: .*cosmic"):
        load_style("noen")
    with pytest.raises(StyleError, match="not found"):
        load_style("no/such/file.toml")


def test_styles_command(user_dir, tmp_path, capsys):
    (user_dir / "broken.toml").write_text("prefix = 3\n")
    assert main(["styles"]) == 0
    out = capsys.readouterr().out
    assert "neon" in out and "broken.toml:1: prefix: must be a string" in out
    assert main(["styles", "--check", str(user_dir / "broken.toml")]) == 1
    assert "broken.toml:1:" in capsys.readouterr().err
    assert main(["styles", "--show", "cosmic"]) == 0
    assert "[energetic]" in capsys.readouterr().out
