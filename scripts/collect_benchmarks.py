"""Assemble docs/BENCHMARKS.md from the per-area summaries in docs/benchmarks/*.md.

Each bench script writes its own JSON and markdown; this keeps one page to read.
"""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
ORDER = (
    "render",
    "render_gpu",
    "music",
    "audio",
    "speech",
    "scheduler",
    "live",
    "control",
    "memory",
    "soak",
    "diffusion",
    "fp8",
    "streamdiffusion",
)

HEADER = """# Benchmarks

Speed, accuracy and memory targets are measured here, never asserted in unit tests. Each
section names its machine, date and command; raw numbers sit beside it in
`docs/benchmarks/<area>.json`. CPU figures come from this project's 2-core, 24 GiB
development machine (no GPU), often shared with other jobs while measuring, so they are
conservative. GPU figures come from the NVIDIA GPU lent for the session (named in each section: an H100 80GB earlier, an H200 from 2026-12-02), on
full-size architectures with random weights (speed does not depend on weight values).
Re-run a section with its command; then `python scripts/collect_benchmarks.py`.

"""


def main() -> None:
    sections = []
    for area in ORDER:
        path = DOCS / "benchmarks" / f"{area}.md"
        if path.exists():  # each file starts at "# "; nest everything one level down
            sections.append(re.sub(r"^(#+) ", r"#\1 ", path.read_text().strip(), flags=re.M))
    (DOCS / "BENCHMARKS.md").write_text(HEADER + "\n\n".join(sections) + "\n")


if __name__ == "__main__":
    main()
