"""Whisper backends behind one small interface, plus the guards against hallucination.

A backend turns 16 kHz mono audio into `Segment`s with word timestamps. Whisper invents
text on music and silence ("Thank you.", "Thanks for watching!", one word repeated), so
every segment passes `guard_segments`: Whisper's own no-speech / log-probability /
compression-ratio tests, a list of stock phrases, and a repetition check. The VAD in
front of the backend is the first and strongest guard (see streaming.py, offline.py).
"""

from __future__ import annotations

import math
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from audio.speech.errors import WHISPER_INSTALL, SpeechUnavailable
from audio.speech.resample import SPEECH_RATE
from audio.words import WordEvent, normalize_word


@dataclass(frozen=True)
class Segment:
    """One decoded stretch of text; word times are seconds from the audio start."""

    words: tuple[WordEvent, ...]
    no_speech_prob: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 1.0

    @property
    def text(self) -> str:
        return " ".join(word.text for word in self.words)


class Transcriber(Protocol):
    name: str

    def transcribe(
        self, audio: np.ndarray, prompt: str | None = None, beam_size: int = 1
    ) -> list[Segment]:
        """Segments with word timestamps for 16 kHz float32 mono `audio` of any length."""
        ...

    def transcribe_window(
        self,
        audio: np.ndarray,
        prompt: str | None = None,
        beam_size: int = 1,
        encoder_tail: float | None = None,
    ) -> list[Segment]:
        """The live path's pass: one decode of at most 30 s of audio, word timestamps.

        `encoder_tail`: seconds of silence the encoder sees after the audio; None pads
        to Whisper's full 30 s window (backends without the option always do).
        """
        ...


@dataclass(frozen=True)
class Guards:
    """Thresholds for dropping invented text (Whisper's defaults, a little stricter)."""

    no_speech: float = 0.6  # with a low log-probability: "nothing was said here"
    logprob: float = -1.0  # mean token log-probability below this: a guess
    compression_ratio: float = 2.4  # gzip ratio above this: looping, repeated text
    word_probability: float = 0.05  # single words the model barely believes
    max_repeats: int = 2  # the same word more often in a row is a loop
    stock_phrases: frozenset[str] = field(default_factory=lambda: STOCK_HALLUCINATIONS)


# What Whisper says over music, applause or silence (seen across many reports).
STOCK_HALLUCINATIONS = frozenset(
    {
        "you",
        "thank you",
        "thank you so much",
        "thank you very much",
        "thanks",
        "thanks for watching",
        "thank you for watching",
        "thanks for listening",
        "thank you for listening",
        "please subscribe",
        "subscribe",
        "like and subscribe",
        "bye",
        "bye bye",
        "music",
        "applause",
        "laughter",
        "silence",
        "so",
        "oh",
        "uh",
        "um",
        "hmm",
        "the end",
        "subtitles by the amara org community",
    }
)

DEFAULT_GUARDS = Guards()

_BRACKETED = re.compile(r"[\[\(\*♪♫].*?[\]\)\*♪♫]|[♪♫]")


def guard_segments(segments: list[Segment], guards: Guards = DEFAULT_GUARDS) -> list[WordEvent]:
    """The words of the segments that look like real speech, loops and stock phrases removed."""
    kept: list[WordEvent] = []
    texts: set[str] = set()
    for segment in segments:
        text = _plain_text(segment)
        if text in texts or not _segment_is_believable(segment, guards):
            continue  # the same sentence again in one pass is a decoding loop
        texts.add(text)
        words = _clean_words(_before_squeezed_run(segment.words), guards)
        kept.extend(_drop_repeats(words, guards.max_repeats))
    return kept


def _before_squeezed_run(words: tuple[WordEvent, ...]) -> tuple[WordEvent, ...]:
    """The words before two in a row that take no time: Whisper aligns text the audio does
    not hold (a loop of the sentence at the end of a short encoder window) to one instant."""
    for index in range(len(words) - 1):
        if all(word.end - word.start < 0.02 for word in words[index : index + 2]):
            return words[:index]
    return words


def _plain_text(segment: Segment) -> str:
    phrase = " ".join(normalize_word(word.text) for word in segment.words)
    return " ".join(re.sub(r"[^a-z' ]+", " ", phrase).split())


def _segment_is_believable(segment: Segment, guards: Guards) -> bool:
    if segment.no_speech_prob > guards.no_speech and segment.avg_logprob < guards.logprob:
        return False
    if segment.avg_logprob < guards.logprob or segment.compression_ratio > guards.compression_ratio:
        return False
    phrase = _plain_text(segment)
    return bool(phrase) and phrase not in guards.stock_phrases


def _clean_words(words: tuple[WordEvent, ...], guards: Guards) -> list[WordEvent]:
    cleaned = []
    for word in words:
        text = _BRACKETED.sub("", word.text).strip()
        if not normalize_word(text) or word.probability < guards.word_probability:
            continue
        cleaned.append(WordEvent(text, word.start, word.end, word.probability))
    return cleaned


def _drop_repeats(words: list[WordEvent], max_repeats: int) -> list[WordEvent]:
    kept: list[WordEvent] = []
    run = 0
    for word in words:
        same = bool(kept) and normalize_word(kept[-1].text) == normalize_word(word.text)
        run = run + 1 if same else 1
        if run <= max_repeats:
            kept.append(word)
    return kept


class FasterWhisperTranscriber:
    """faster-whisper (CTranslate2): int8 on CPU, float16 on CUDA."""

    name = "faster-whisper"

    def __init__(self, model_path: str, device: str = "cpu"):
        from faster_whisper import WhisperModel

        compute_type = "float16" if device == "cuda" else "int8"
        # Leave a core to the audio and render threads: on 2 cores Whisper gets one.
        threads = max(1, min(4, (os.cpu_count() or 2) - 1))
        try:
            self.model = WhisperModel(
                model_path, device=device, compute_type=compute_type, cpu_threads=threads
            )
        except Exception as exc:  # a corrupt or foreign model directory
            raise SpeechUnavailable(f"cannot load speech model {model_path}: {exc}") from None
        self._lock = threading.Lock()  # one decode at a time on the shared model
        self._tokenizers: dict[str, tuple] = {}  # language -> (tokenizer, suppressed tokens)

    def transcribe(
        self, audio: np.ndarray, prompt: str | None = None, beam_size: int = 1
    ) -> list[Segment]:
        with self._lock:
            segments, _info = self.model.transcribe(
                audio,
                beam_size=beam_size,
                temperature=0.0,  # no sampling fallback: it is where loops and inventions come from
                condition_on_previous_text=False,
                initial_prompt=prompt or None,
                word_timestamps=True,
                vad_filter=False,  # our own VAD gates the audio before it gets here
            )
            return [  # consuming the generator here runs the decoding, under the lock
                Segment(
                    words=tuple(
                        WordEvent(
                            w.word.strip(), float(w.start), float(w.end), float(w.probability)
                        )
                        for w in segment.words or ()
                    ),
                    no_speech_prob=float(segment.no_speech_prob),
                    avg_logprob=float(segment.avg_logprob),
                    compression_ratio=float(segment.compression_ratio),
                )
                for segment in segments
            ]

    def transcribe_window(
        self,
        audio: np.ndarray,
        prompt: str | None = None,
        beam_size: int = 1,
        encoder_tail: float | None = None,
    ) -> list[Segment]:
        """One encoder run and one decode, unlike `transcribe`.

        faster-whisper's long-form loop drops an unfinished last segment and decodes the
        audio after it again in a second window, with none of the speech before it: on a
        live buffer that is every pass, and it doubled the cost and hurt the last words.
        """
        with self._lock:
            return [self._decode_window(audio, prompt, beam_size, encoder_tail)]

    def _decode_window(
        self, audio: np.ndarray, prompt: str | None, beam_size: int, tail: float | None
    ) -> Segment:
        """Whisper's own single-window decode, on faster-whisper's parts and CTranslate2's API."""
        from faster_whisper.transcribe import get_compression_ratio

        model = self.model
        audio = audio[: WHISPER_FRAMES * HOP]
        frames = encoder_frames(len(audio), tail)
        # Pad with silent audio, as Whisper was trained, not with zero features: the model
        # then hears the speech stop and finishes the last words.
        padded = np.zeros(frames * HOP, np.float32)
        padded[: len(audio)] = audio
        encoded = model.encode(model.feature_extractor(padded)[:, :frames])
        language = "en"
        if model.model.is_multilingual:
            language = model.model.detect_language(encoded)[0][0][0][2:-2]
        tokenizer, suppressed = self._tokenizer(language)
        previous = tokenizer.encode(" " + prompt.strip()) if prompt else []
        # No timestamp tokens: the window is one segment, and word times come from alignment.
        start = model.get_prompt(tokenizer, previous, without_timestamps=True)
        seconds = len(audio) / SPEECH_RATE
        result = model.model.generate(
            encoded,
            [start],
            beam_size=beam_size,
            max_length=len(start) + int(TOKENS_PER_SECOND * seconds) + 10,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=suppressed,
        )[0]
        tokens = result.sequences_ids[0]
        segment = {"seek": 0, "start": 0.0, "end": seconds, "tokens": tokens}
        content_frames = min(len(audio) // HOP, frames)
        model.add_word_timestamps(
            [[segment]], tokenizer, encoded, content_frames, *WORD_PUNCTUATION, 0.0
        )
        words = tuple(
            WordEvent(
                w["word"].strip(), float(w["start"]), float(w["end"]), float(w["probability"])
            )
            for w in segment.get("words", ())
        )
        return Segment(
            words=words,
            no_speech_prob=float(result.no_speech_prob),
            # CTranslate2 returns the length-normalised score; Whisper's avg_logprob counts EOT.
            avg_logprob=float(result.scores[0]) * len(tokens) / (len(tokens) + 1),
            compression_ratio=float(get_compression_ratio(tokenizer.decode(tokens).strip())),
        )

    def _tokenizer(self, language: str) -> tuple:
        """Tokenizer and suppressed tokens, built once per language, not on every pass."""
        if language not in self._tokenizers:
            from faster_whisper.tokenizer import Tokenizer
            from faster_whisper.transcribe import get_suppressed_tokens

            multilingual = self.model.model.is_multilingual
            tokenizer = Tokenizer(self.model.hf_tokenizer, multilingual, "transcribe", language)
            self._tokenizers[language] = (tokenizer, get_suppressed_tokens(tokenizer, [-1]))
        return self._tokenizers[language]


HOP = 160  # audio samples per mel frame
WHISPER_FRAMES = 3000  # mel frames in Whisper's 30 s window (100 per second)
# Room for fast speech plus punctuation; more than this in a window is a decoding loop.
TOKENS_PER_SECOND = 6
# Punctuation merged into the word before / after it (faster-whisper's defaults).
WORD_PUNCTUATION = ("\"'“¿([{-", "\"'.。,，!！?？:：”)]}、")


# Encoder lengths are rounded up to this many mel frames (0.5 s; even, for the stride-2
# convolution). oneDNN inside CTranslate2 keeps one convolution primitive per input shape
# (~0.8 MiB each, up to 1024 of them): a new length every 20 ms of buffer grew a live show's
# memory by ~300 MiB an hour. Whole half-seconds give at most 60 shapes, ~20 in practice.
ENCODER_STEP = 50


def encoder_frames(samples: int, tail: float | None, rate: int = SPEECH_RATE) -> int:
    """Mel frames the encoder reads for `samples` of audio plus at least `tail` seconds
    (rounded up to `ENCODER_STEP`, capped at 30 s).

    The encoder's cost grows with its input, and Whisper pads to 30 s; a few-second
    buffer plus a short tail costs a fifth of that (the whisper.cpp `audio_ctx` idea).
    """
    if tail is None:
        return WHISPER_FRAMES
    frames = math.ceil((samples / rate + tail) * WHISPER_FRAMES / 30)
    frames = -(-frames // ENCODER_STEP) * ENCODER_STEP
    return min(frames, WHISPER_FRAMES)


class OpenAIWhisperTranscriber:
    """openai-whisper (PyTorch), imported only when chosen; name or checkpoint path."""

    name = "openai-whisper"

    def __init__(self, model: str, device: str = "auto"):
        try:
            import whisper
        except ImportError:
            raise SpeechUnavailable(f"openai-whisper is not installed: {WHISPER_INSTALL}") from None
        import torch

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        try:
            self.model = whisper.load_model(model, device=device)
        except Exception as exc:  # unknown name, no network for the download, bad checkpoint
            raise SpeechUnavailable(
                f"cannot load openai-whisper model '{model}' ({str(exc).splitlines()[0][:100]})"
            ) from None

    def transcribe(
        self,
        audio: np.ndarray,
        prompt: str | None = None,
        beam_size: int = 1,
    ) -> list[Segment]:
        result = self.model.transcribe(
            audio,
            beam_size=beam_size if beam_size > 1 else None,
            temperature=0.0,
            condition_on_previous_text=False,
            initial_prompt=prompt or None,
            word_timestamps=True,
            fp16=self.device == "cuda",
            verbose=None,
        )
        return [
            Segment(
                words=tuple(
                    WordEvent(
                        w["word"].strip(),
                        float(w["start"]),
                        float(w["end"]),
                        float(w["probability"]),
                    )
                    for w in segment.get("words", ())
                ),
                no_speech_prob=float(segment.get("no_speech_prob", 0.0)),
                avg_logprob=float(segment.get("avg_logprob", 0.0)),
                compression_ratio=float(segment.get("compression_ratio", 1.0)),
            )
            for segment in result["segments"]
        ]

    def transcribe_window(
        self,
        audio: np.ndarray,
        prompt: str | None = None,
        beam_size: int = 1,
        encoder_tail: float | None = None,  # openai-whisper always reads 30 s
    ) -> list[Segment]:
        return self.transcribe(audio, prompt, beam_size)
