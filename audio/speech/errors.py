"""The one error the speech path raises, and the install lines its messages name."""

from __future__ import annotations

SPEECH_INSTALL = "pip install 'visualize[speech,speech-offline]'"
WHISPER_INSTALL = "pip install 'visualize[whisper]'"


class SpeechUnavailable(Exception):
    """Speech recognition cannot run here; the message is one line naming what to install."""
