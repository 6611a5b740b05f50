"""`visualize models`: list known models and what is on disk; `visualize models pull NAME`."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list diffusion models, or pull one")
    parser.add_argument("action", nargs="?", choices=("list", "pull"), default="list")
    parser.add_argument("name", nargs="?", help="model name, Hub id or folder (for pull)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from models import ModelUnavailable, loading, registry
    from visualizer.errors import UserError

    if args.action == "pull":
        if not args.name:
            raise UserError("name a model to pull, e.g. `visualize models pull sd-turbo`")
        from audio.speech import catalog  # speech models (Whisper): small.en, large-v3-turbo

        if catalog.is_speech_model(args.name):
            try:
                print(f"{args.name}: ready at {catalog.pull(args.name)}")
            except catalog.SpeechUnavailable as exc:
                raise UserError(str(exc)) from exc
            return 0
        try:
            path = loading.pull(registry.resolve(args.name))
        except (ValueError, ModelUnavailable) as exc:
            raise UserError(str(exc)) from exc
        print(f"{args.name}: ready at {path}")
        return 0
    for spec in registry.MODELS.values():
        state = loading.status(spec)
        where = "offline ok" if state.available else f"not here: visualize models pull {spec.name}"
        tiny = " +tiny VAE" if state.tiny_vae_path else ""
        print(
            f"{spec.name:20} {spec.steps} step(s) {spec.width}px {spec.size_gb:5.1f} GB  {where}{tiny}"
        )
    from audio.speech import catalog

    print("\n".join(catalog.listing()))
    return 0
