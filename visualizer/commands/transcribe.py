"""`visualize transcribe FILE`: the words a render would see, with their timestamps."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from visualizer.errors import UserError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "transcribe",
        help="print the words in an audio file with their timestamps",
        description="Transcribe speech or singing (Silero VAD + Whisper) with word timestamps. "
        "Words marked * are content words, the ones that steer the pictures.",
    )
    parser.add_argument("file", help="audio file (mp3, wav, ogg, flac, m4a, ...)")
    parser.add_argument("--json", metavar="OUT", help="also write the words to this JSON file")
    parser.add_argument(
        "--model",
        default="auto",
        help="Whisper size name (tiny.en, base.en, small.en, distil-large-v3, large-v3-turbo), "
        "model folder, or auto (default): the best model on disk for this machine - on a GPU "
        "large-v3-turbo, distil-large-v3 or small.en, on 8+ CPU cores small.en, else tiny.en; "
        "get one with `visualize models pull NAME`",
    )
    parser.add_argument(
        "--backend", default="faster-whisper", choices=("faster-whisper", "openai-whisper")
    )
    parser.add_argument(
        "--streaming",
        action="store_true",
        help="replay the file through the live path and report each word's latency",
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="replay speed for --streaming (1 = real time)"
    )
    parser.add_argument(
        "--blocklist", default="", help="comma-separated words never shown (added to the default)"
    )
    parser.add_argument(
        "--blocklist-file",
        action="append",
        default=[],
        metavar="PATH",
        help="file of words never shown, one a line, *stem blocks words containing it "
        "(also read: $VISUALIZE_BLOCKLIST or ~/.config/visualize/blocklist.txt)",
    )
    parser.add_argument(
        "--no-default-blocklist",
        action="store_true",
        help="do not block the shipped profanity and slur list",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from audio.source import AudioError, load_audio
    from audio.speech import SpeechUnavailable, content_words, transcribe_clip
    from audio.speech.blocklist import load_blocklist

    if args.speed <= 0:
        raise UserError("--speed must be > 0")
    try:
        blocklist = load_blocklist(
            [args.blocklist], args.blocklist_file, default=not args.no_default_blocklist
        )
    except OSError as exc:
        raise UserError(f"cannot read blocklist {exc.filename}: {exc.strerror}") from None
    try:
        clip = load_audio(args.file)
        if args.streaming:
            words, latencies = _stream(clip, args)
        else:
            words, latencies = transcribe_clip(clip, args.model, args.backend), None
    except AudioError as exc:
        raise UserError(str(exc)) from None
    except SpeechUnavailable as exc:
        raise UserError(str(exc)) from None
    content = {id(w) for w in words if content_words([w], blocklist)}
    content -= {id(words[i]) for i in blocklist.blocked_indices([w.text for w in words])}
    print(" ".join(word.text for word in words) or "(no speech)")
    for index, word in enumerate(words):
        mark = "*" if id(word) in content else " "
        latency = f"  latency {latencies[index]:.2f}s" if latencies else ""
        print(f"{word.start:8.2f} {word.end:8.2f} {mark} {word.text}{latency}")
    if latencies:
        print(_latency_summary(latencies))
    if args.json:
        _write_json(Path(args.json), args, words, content, latencies)
    return 0


def _stream(clip, args):
    from audio.speech import SpeechUnavailable, SpeechWorker
    from audio.speech.replay import replay, wait_until_ready

    worker = SpeechWorker(clip.sample_rate, args.model, args.backend)
    worker.start()
    wait_until_ready(worker)
    if worker.error:
        worker.stop()
        raise SpeechUnavailable(worker.error)
    result = replay(clip.samples, clip.sample_rate, worker, speed=args.speed)
    return result.words, result.latencies


def _model_name(args) -> str:
    from audio.speech.catalog import choose_model

    return choose_model(args.model) if args.backend == "faster-whisper" else args.model


def _latency_summary(latencies: list[float]) -> str:
    import numpy as np

    p50, p90 = np.percentile(latencies, [50, 90])
    return f"latency: p50 {p50:.2f}s  p90 {p90:.2f}s  over {len(latencies)} words"


def _write_json(path: Path, args, words, content, latencies) -> None:
    data = {
        "file": str(args.file),
        "model": _model_name(args),
        "backend": args.backend,
        "streaming": bool(args.streaming),
        "text": " ".join(word.text for word in words),
        "words": [
            {
                "text": w.text,
                "start": round(w.start, 3),
                "end": round(w.end, 3),
                "probability": round(w.probability, 3),
                "content": id(w) in content,
                **({"latency": round(latencies[i], 3)} if latencies else {}),
            }
            for i, w in enumerate(words)
        ],
    }
    try:
        path.write_text(json.dumps(data, indent=2) + "\n")
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None
