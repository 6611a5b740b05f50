"""Speech benchmark: the words that reach the picture, offline and live, on speech with known text.

    .venv/bin/python scripts/bench_speech.py             # writes docs/benchmarks/speech.{json,md}
    .venv/bin/python scripts/bench_speech.py --capture   # also the PortAudio callback check
    .venv/bin/python scripts/bench_speech.py --beam      # also beam 1 vs 5, Whisper time per pass
    .venv/bin/python scripts/bench_speech.py --synchronous  # the streaming policy only, ~30 s

Corpora: the eight LJ Speech clips with exact transcripts (../shared/media/speech), the
LibriSpeech clip (../shared/media/audio, approximate transcript) and espeak-ng sentences of
the kind a performer says into a microphone (generated at run time into a temp dir). Each
corpus is one clip (1 s between utterances), read offline as `visualize transcribe` does and
replayed in real time through SpeechWorker as the live app does.

Measures: WER over all words; content-word precision and recall, where content words are
the ones `content_words` lets into the prompt (stopwords, blocklist and confidence gate
applied to the transcript; the stopword filter and blocklist to the reference), counted as
multisets per corpus; the same without the gate, to show what it buys; latency p50/p90;
words a minute on instrumental music. None of the thresholds are set from these clips.
"""

from __future__ import annotations

import argparse
import collections
import csv
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media"

# What a performer says into a microphone: picture words in short commands and phrases.
SENTENCES = [
    "A red ocean under the moon.",
    "The quick brown fox jumps over the lazy dog.",
    "A golden city rises from the desert sand.",
    "Blue whales sing in the cold dark water.",
    "Show me a forest of tall green trees.",
    "The old lighthouse stands alone on the rocky coast.",
    "Purple clouds drift slowly across the evening sky.",
    "A small boat sails toward the distant island.",
    "Snow falls quietly on the mountain village.",
    "Fire and smoke fill the empty street at night.",
    "Fireworks explode over the frozen river.",
    "Give me a burning sun above the waves.",
    "Make it rain diamonds on the dance floor.",
    "Now picture a giant octopus in a crystal cave.",
    "Everyone, look at the stars tonight.",
    "Let the volcano glow behind the palm trees.",
    "This next song is about an old train station.",
    "Paint the walls with roses and butterflies.",
]
# Approximate (../shared/media/README.md): a tiny.en reading, hand-corrected; not ground truth.
LIBRISPEECH_TEXT = (
    "Mrs. Allen said Catherine the next morning. Will there be any harm in my calling on "
    "Miss Tilney today? I shall not be easy till I've explained everything. Go by all means, "
    "my dear, only put on a white gown. Miss Tilney always wears white."
)
MUSIC = ("Kevin_MacLeod_-_Vibe_Ace.ogg",)


def normalize(text: str) -> str:
    text = text.lower().replace("'ve", " have").replace("mrs.", "mrs").replace("-", " ")
    return " ".join(re.sub(r"[^a-z' ]+", " ", text).split())


def wer(reference: str, hypothesis: str) -> float:
    import jiwer

    return float(jiwer.wer(normalize(reference), normalize(hypothesis) or "<empty>"))


def reference_content(text: str) -> list[str]:
    from audio.speech import content_words
    from audio.words import WordEvent

    return [w.text for w in content_words([WordEvent(t, 0, 0) for t in text.split()], gate=None)]


def precision_recall(reference: list[str], picked: list[str]) -> dict:
    ref, hyp = collections.Counter(reference), collections.Counter(picked)
    hits = sum((ref & hyp).values())
    wrong = sorted((hyp - ref).elements())
    return {
        "precision": round(hits / len(picked), 4) if picked else None,
        "recall": round(hits / len(reference), 4) if reference else None,
        "picked": len(picked),
        "reference": len(reference),
        "wrong": wrong,
    }


def scores(reference: str, words) -> dict:
    """WER and content-word precision/recall of committed `words` against `reference`."""
    from audio.speech import content_words

    ref = reference_content(reference)
    return {
        "wer": round(wer(reference, " ".join(w.text for w in words)), 4),
        "content": precision_recall(ref, [w.text for w in content_words(words)]),
        "content_ungated": precision_recall(ref, [w.text for w in content_words(words, gate=None)]),
        "text": " ".join(w.text for w in words),
    }


def joined(clips: list[tuple[np.ndarray, int]], gap: float = 1.0) -> tuple[np.ndarray, int]:
    """Clips in a row with `gap` seconds of silence around each (all at the first one's rate)."""
    from audio.speech.resample import to_speech_rate

    rate = clips[0][1]
    pieces = []
    for samples, clip_rate in clips:
        if clip_rate != rate:  # resample through 16 kHz: not needed for the corpora here
            samples = to_speech_rate(samples, clip_rate)
        pieces += [np.zeros(int(gap * rate), np.float32), samples.astype(np.float32)]
    return np.concatenate([*pieces, np.zeros(int(gap * rate), np.float32)]), rate


def espeak_corpus(folder: Path) -> tuple[np.ndarray, int, str]:
    from audio.source import load_audio

    clips = []
    for i, sentence in enumerate(SENTENCES):
        path = folder / f"s{i}.wav"
        subprocess.run(["espeak-ng", "-w", str(path), sentence], check=True, capture_output=True)
        clip = load_audio(path)
        clips.append((clip.samples, clip.sample_rate))
    samples, rate = joined(clips)
    return samples, rate, " ".join(SENTENCES)


def lj_corpus() -> tuple[np.ndarray, int, str] | None:
    from audio.source import load_audio

    folder = MEDIA / "speech"
    if not (folder / "transcripts.tsv").exists():
        return None
    with open(folder / "transcripts.tsv", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    clips = [load_audio(folder / f"{clip_id}.wav") for clip_id, _ in rows]
    samples, rate = joined([(c.samples, c.sample_rate) for c in clips])
    return samples, rate, " ".join(text for _, text in rows)


def librispeech_corpus() -> tuple[np.ndarray, int, str] | None:
    from audio.source import load_audio

    path = MEDIA / "audio" / "198-209-0000.ogg"
    if not path.exists():
        return None
    clip = load_audio(path)
    return clip.samples, clip.sample_rate, LIBRISPEECH_TEXT


def streaming(samples: np.ndarray, rate: int, model: str, **worker_args):
    from audio.speech import SpeechWorker
    from audio.speech.replay import replay, wait_until_ready

    worker = SpeechWorker(rate, model, **worker_args)
    worker.start()
    wait_until_ready(worker)
    return replay(samples, rate, worker)


def percentiles(values) -> dict:
    if not values:
        return {"p50": None, "p90": None, "n": 0}
    p50, p90 = np.percentile(values, [50, 90])
    return {"p50": round(float(p50), 3), "p90": round(float(p90), 3), "n": len(values)}


def run_corpus(name: str, samples: np.ndarray, rate: int, reference: str, model: str) -> dict:
    from audio.source import AudioClip
    from audio.speech import content_words, transcribe_clip

    started = time.perf_counter()
    offline = transcribe_clip(AudioClip(samples, rate), model)
    result = {"audio_s": round(len(samples) / rate, 1)}
    result["offline"] = {
        **scores(reference, offline),
        "seconds": round(time.perf_counter() - started, 1),
    }
    run = streaming(samples, rate, model)
    latency_content = [
        lat for w, lat in zip(run.words, run.latencies, strict=True) if content_words([w])
    ]
    result["streaming"] = {
        **scores(reference, run.words),
        "latency_s": percentiles(run.latencies),
        "latency_content_s": percentiles(latency_content),
        "whisper_busy_s": round(run.busy_seconds, 1),
        "passes": run.passes,
        "late_blocks": run.late_blocks,
        "dropped_blocks": run.dropped_blocks,
        "error": run.error,
    }
    from audio.speech import SpeechWorker
    from audio.speech.replay import replay_synchronously

    sync = replay_synchronously(samples, rate, SpeechWorker(rate, model))
    result["streaming_synchronous"] = scores(reference, sync)
    off, st = result["offline"], result["streaming"]
    print(f"{name}: offline WER {off['wer']:.3f} P {off['content']['precision']} R "
          f"{off['content']['recall']}; streaming WER {st['wer']:.3f} P "
          f"{st['content']['precision']} R {st['content']['recall']} latency "
          f"{st['latency_s']}; synchronous WER "
          f"{result['streaming_synchronous']['wer']:.3f}", flush=True)  # fmt: skip
    return result


def beam_study(samples: np.ndarray, rate: int, reference: str, model: str) -> dict:
    """Beam 1 vs 5 in real time: Whisper seconds per pass, WER and latency of each."""
    from audio.speech.streaming import StreamingConfig

    out = {}
    for beam in (1, 5):
        run = streaming(samples, rate, model, config=StreamingConfig(beam_size=beam))
        out[f"beam_{beam}"] = {
            "wer": round(wer(reference, " ".join(w.text for w in run.words)), 4),
            "whisper_s_per_pass": round(run.busy_seconds / max(1, run.passes), 3),
            "latency_s": percentiles(run.latencies),
        }
        print("beam", beam, out[f"beam_{beam}"], flush=True)
    return out


def synchronous_only(model: str) -> int:
    """The streaming policy alone, the same on every run: for iterating on it."""
    from audio.speech import SpeechWorker
    from audio.speech.replay import replay_synchronously

    with tempfile.TemporaryDirectory() as tmp:
        espeak = espeak_corpus(Path(tmp))
    corpora = {"lj_speech_8": lj_corpus(), "espeak_performer": espeak,
               "librispeech_198-209-0000": librispeech_corpus()}  # fmt: skip
    for name, corpus in corpora.items():
        if corpus is not None:
            samples, rate, reference = corpus
            result = scores(
                reference, replay_synchronously(samples, rate, SpeechWorker(rate, model))
            )
            c = result["content"]
            print(f"{name}: WER {result['wer']:.3f} P {c['precision']} R {c['recall']} "
                  f"wrong {c['wrong']}", flush=True)  # fmt: skip
    return 0


def main() -> int:
    from audio.source import load_audio
    from audio.speech import content_words, transcribe_clip
    from audio.speech.catalog import choose_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="auto")
    parser.add_argument("--capture", action="store_true", help="also the PortAudio check")
    parser.add_argument("--beam", action="store_true", help="also beam 1 vs 5 (espeak)")
    parser.add_argument("--synchronous", action="store_true",
                        help="only streaming_synchronous (load-independent), printed, not written")  # fmt: skip
    args = parser.parse_args()
    model = choose_model(args.model)
    if args.synchronous:
        return synchronous_only(model)
    results: dict = {
        "machine": f"{os.cpu_count()}-core CPU ({platform.processor() or platform.machine()})",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python scripts/bench_speech.py " + " ".join(sys.argv[1:]),
        "model": f"{model} (faster-whisper, int8 on CPU)",
        "load_average_before": round(os.getloadavg()[0], 2),
        "corpora": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        espeak = espeak_corpus(Path(tmp))
    corpora = {"lj_speech_8": lj_corpus(), "espeak_performer": espeak,
               "librispeech_198-209-0000": librispeech_corpus()}  # fmt: skip
    for name, corpus in corpora.items():
        if corpus is not None:
            results["corpora"][name] = run_corpus(name, *corpus, model)
    results["music"] = {}
    for name in MUSIC:
        path = MEDIA / "audio" / name
        if not path.exists():
            continue
        clip = load_audio(path)
        minutes = clip.duration / 60
        offline = transcribe_clip(clip, model)
        run = streaming(clip.samples, clip.sample_rate, model)
        results["music"][name] = {
            "minutes": round(minutes, 2),
            "offline_words_per_min": round(len(offline) / minutes, 2),
            "streaming_words_per_min": round(len(run.words) / minutes, 2),
            "streaming_picture_words_per_min": round(len(content_words(run.words)) / minutes, 2),
            "offline_words": [w.text for w in offline],
            "streaming_words": [w.text for w in run.words],
            "whisper_passes": run.passes,
        }
        print(name, results["music"][name], flush=True)
    if args.beam:
        results["beam"] = beam_study(espeak[0], espeak[1], espeak[2], model)
    if args.capture:
        from bench_speech_capture import capture_while_transcribing

        results["capture_while_transcribing"] = capture_while_transcribing(espeak[0], espeak[1])
    results["load_average_after"] = round(os.getloadavg()[0], 2)
    out = ROOT / "docs" / "benchmarks"
    out.mkdir(parents=True, exist_ok=True)
    (out / "speech.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "speech.md").write_text(summary(results))
    print((out / "speech.md").read_text())
    return 0


def _ratio(streaming: float, offline: float) -> str:
    return "n/a (offline 0)" if offline == 0 else f"{streaming / offline:.2f}x"


def summary(r: dict) -> str:
    lines = [
        "# Speech benchmark",
        "",
        f"Machine: {r['machine']}, shared. Date: {r['date']}. Model: {r['model']}.",
        f"Command: `{r['command'].strip()}` (full numbers and transcripts in speech.json). "
        f"Load average (1 min) {r['load_average_before']} before, {r['load_average_after']} after.",
        "",
        "| corpus | mode | WER | content precision | content recall | without gate P / R | latency p50 / p90 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, c in r["corpora"].items():
        for mode in ("offline", "streaming", "streaming_synchronous"):
            if mode not in c:
                continue
            m = c[mode]
            lat = m.get("latency_s")
            lines.append(
                f"| {name} ({c['audio_s']} s) | {mode} | {m['wer']:.1%} | "
                f"{m['content']['precision']} | {m['content']['recall']} | "
                f"{m['content_ungated']['precision']} / {m['content_ungated']['recall']} | "
                + (f"{lat['p50']} / {lat['p90']} s |" if lat else "- |")
            )
        sync = c.get("streaming_synchronous", {}).get("wer")
        lines.append(
            f"| {name} | streaming / offline WER | {_ratio(c['streaming']['wer'], c['offline']['wer'])}"
            + (f" (synchronous {_ratio(sync, c['offline']['wer'])})" if sync is not None else "")
            + " | | | | |"
        )
    for name, h in r["music"].items():
        lines.append(
            f"| {name} ({h['minutes']} min music) | words/min offline / streaming / picture | "
            f"{h['offline_words_per_min']} / {h['streaming_words_per_min']} / "
            f"{h['streaming_picture_words_per_min']} | | | | |"
        )
    if "beam" in r:
        for beam, b in r["beam"].items():
            lines.append(
                f"| espeak, {beam.replace('_', ' ')} | streaming | {b['wer']:.1%} | | | "
                f"{b['whisper_s_per_pass']} s Whisper per pass | {b['latency_s']['p50']} / {b['latency_s']['p90']} s |"
            )
    cap = r.get("capture_while_transcribing")
    if cap and "input_overflows" in cap:
        lines.append(
            f"| PortAudio input while transcribing | overflows | {cap['input_overflows']} of {cap['callbacks']} callbacks, max gap {cap['max_callback_gap_ms']} ms | | | | |"
        )
    lines += [
        "",
        "Targets (tiny.en, 2 cores): streaming content precision >= 0.95 and recall >= 0.80;",
        "WER <= 12% offline and streaming <= 1.25x offline; latency p50 <= 1.5 s, p90 <= 2.5 s;",
        "0 words/min on instrumental music.",
        "",
        "How to read: content words are what `content_words` hands to the prompt; precision =",
        "share of picked words that were said, recall = share of said content words picked",
        "(multisets per corpus, exact normalised form, so 'whale' for 'whales' counts wrong).",
        "'Without gate' is the same transcript with the confidence gate off. Latency: audio",
        "pushed when a word was committed minus the word's end, real-time replay. Mode",
        "'streaming' is a real-time replay through SpeechWorker (its passes fall where the",
        "machine's load lets them, so it varies run to run); 'streaming_synchronous' feeds the",
        "same worker 0.5 s at a time, one pass per step, as if Whisper took 0.5 s: it is the",
        "same on every run and isolates the streaming policy from the load. The LibriSpeech",
        "reference is approximate. Timings vary with the shared machine's load.",
        "",
        "Streaming policy (audio/speech/agreement.py, streaming.py): LocalAgreement-2 with the",
        "last agreed word held until the word after it is agreed too (a word at the buffer's",
        "edge may be half heard: 'light' of 'lighthouse'); words 2.5 s behind the buffer's end",
        "commit anyway; a buffer over 8 s is cut `context` (6 s) back, in a gap between two",
        "committed words, not at the newest committed word's end (Whisper's word times are off",
        "by a phoneme, so that cut clipped the next word and dropped all context).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
