"""Which H.264 encoder writes the MP4: x264 on the CPU, or NVENC where a GPU has one.

PyAV's wheels ship FFmpeg with `h264_nvenc`, but the codec is listed on every machine;
only opening it shows whether this GPU has the encoder (data-centre GPUs such as the
A100, H100 and H200 have none). So "auto" opens a tiny NVENC context once per process
and falls back to x264 when that fails.
"""

from __future__ import annotations

from functools import cache

from render.partials import RecorderError

ENCODERS = ("auto", "x264", "nvenc")
CODECS = {"x264": "libx264", "nvenc": "h264_nvenc"}


class EncoderUnavailable(RecorderError):
    """The encoder asked for by name cannot be opened here."""


@cache
def nvenc_works() -> bool:
    """Whether an NVENC H.264 session opens on this machine (cached per process)."""
    try:
        import av

        context = av.CodecContext.create("h264_nvenc", "w")
        context.width, context.height, context.pix_fmt = 256, 256, "yuv420p"
        context.time_base = "1/30"
        context.open()
        context.close()
        return True
    except Exception:  # no codec, no GPU, no encoder on this GPU, driver too old
        return False


def pick_codec(encoder: str = "auto") -> str:
    """The FFmpeg codec name for an `--encoder` choice."""
    if encoder not in ENCODERS:
        raise EncoderUnavailable(f"unknown encoder {encoder!r} (choose from {', '.join(ENCODERS)})")
    if encoder == "x264":
        return CODECS["x264"]
    if nvenc_works():
        return CODECS["nvenc"]
    if encoder == "nvenc":
        raise EncoderUnavailable("--encoder nvenc: no NVENC H.264 encoder on this machine")
    return CODECS["x264"]


def codec_options(codec: str, crf: int, preset: str, live: bool) -> dict[str, str]:
    """Encoder options of about the same quality on both encoders (CRF 20 ~ NVENC CQ 23)."""
    if codec == CODECS["nvenc"]:
        options = {"preset": "p4", "rc": "vbr", "cq": str(crf + 3), "b:v": "0"}
        if live:  # no lookahead or B-frames: what was shown is already encoded
            options |= {"tune": "ll", "zerolatency": "1", "bf": "0"}
        return options
    options = {"crf": str(crf), "preset": preset}
    if live:
        options["tune"] = "zerolatency"
    return options
