#!/usr/bin/env bash
# The whole test suite on a fresh clone: system packages (as root), .venv-test with every
# extra the tests use, ruff, then pytest. CI runs exactly this (.ci/run). The tests have
# their own environment so the app in .venv (scripts/demo.sh) stays the lean CPU install.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
    libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins alsa-utils
    xvfb xauth espeak-ng sox ffmpeg fonts-dejavu-core
    libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0
    libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
    libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1
)
missing=()
for package in "${apt_packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
        echo "installing system packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "missing system packages (run as root or: sudo apt-get install ${missing[*]})" >&2
        exit 1
    fi
fi

venv="${VENV:-.venv-test}"
VENV="$venv" scripts/setup.sh "speech,speech-offline,diffusion,dev,midi,link,vcam,ndi"

"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
set +e
"$venv/bin/python" -m pytest -p no:cacheprovider -q "$@"
status=$?
set -e
if [[ $status -eq 5 ]]; then
    echo "pytest collected no tests" >&2
    exit 1
fi
exit $status
