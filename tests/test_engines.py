import pytest

from render.embedded import EmbeddedGenerator
from render.engines import create_generator, diffusion_unavailable_reason


def test_auto_falls_back_to_embedded_and_says_why():
    notices = []
    generator = create_generator("auto", 64, 48, seed=1, notice=notices.append, model="sd-turbo")
    assert isinstance(generator, EmbeddedGenerator)
    reason = diffusion_unavailable_reason("sd-turbo")
    assert reason and notices == [f"engine: embedded ({reason})"]


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="unknown engine"):
        create_generator("magic", 64, 48)


def test_diffusion_without_model_names_the_pull_command(tmp_path, monkeypatch):
    from models import ModelUnavailable

    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty hub cache
    with pytest.raises(ModelUnavailable, match="visualize models pull"):
        create_generator("diffusion", 64, 48, model="sd-turbo", device="cpu")
