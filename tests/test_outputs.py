"""Output sinks: the frame path to each (with stand-in libraries), the one-line errors
when a library or driver is missing, and the worker that survives a receiver going away."""

from __future__ import annotations

import sys
import threading
import time
import types

import numpy as np
import pytest

from render.outputs import OutputError, OutputWorker, open_sink

FRAME = np.random.default_rng(0).integers(0, 255, (36, 64, 3), dtype=np.uint8)


def fake_module(monkeypatch, name: str, **attrs) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    monkeypatch.setitem(sys.modules, name, module)
    return module


def test_vcam_sends_rgb_frames_to_the_camera(monkeypatch):
    sent = []

    class Camera:
        def __init__(self, width, height, fps, fmt, print_fps):
            assert (width, height, fps, fmt) == (64, 36, 30.0, "RGB")
            self.device = "/dev/video9"

        def send(self, frame):
            sent.append(frame.copy())

        def close(self):
            sent.append("closed")

    fake_module(
        monkeypatch, "pyvirtualcam", Camera=Camera, PixelFormat=types.SimpleNamespace(RGB="RGB")
    )
    sink = open_sink("vcam", 64, 36, 30.0)
    sink.send(FRAME)
    sink.close()
    assert (sent[0] == FRAME).all() and sent[1] == "closed" and sink.device == "/dev/video9"


def test_ndi_sends_rgba_with_opaque_alpha(monkeypatch):
    written = []

    class Sender:
        def __init__(self, name):
            self.name = name

        def set_video_frame(self, frame):
            self.frame = frame

        def open(self):
            pass

        def write_video_async(self, data):
            written.append(np.array(data))
            return True

        def close(self):
            pass

    class VideoSendFrame:
        def set_resolution(self, w, h):
            self.size = (w, h)

        def set_frame_rate(self, rate):
            self.rate = rate

        def set_fourcc(self, fourcc):
            self.fourcc = fourcc

    fake_module(monkeypatch, "cyndilib")
    fake_module(monkeypatch, "cyndilib.sender", Sender=Sender)
    fake_module(monkeypatch, "cyndilib.video_frame", VideoSendFrame=VideoSendFrame)
    fake_module(monkeypatch, "cyndilib.wrapper")
    fake_module(
        monkeypatch, "cyndilib.wrapper.ndi_structs", FourCC=types.SimpleNamespace(RGBA="RGBA")
    )
    sink = open_sink("ndi", 64, 36, 30.0)
    sink.send(FRAME)
    rgba = written[0].reshape(36, 64, 4)
    assert (rgba[..., :3] == FRAME).all() and (rgba[..., 3] == 255).all()
    assert sink._sender.frame.size == (64, 36) and sink._sender.frame.fourcc == "RGBA"


def test_spout_sends_rgba_through_a_gl_context(monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    images = []

    class SpoutSender:
        def setSenderName(self, name):  # noqa: N802 - SpoutGL's name
            self.name = name

        def sendImage(self, buffer, width, height, gl_format, invert, host_fbo):  # noqa: N802
            images.append((np.array(buffer), width, height, gl_format))
            return True

        def releaseSender(self):  # noqa: N802
            pass

    fake_module(
        monkeypatch, "glfw", init=lambda: True, window_hint=lambda *a: None, VISIBLE=1, FALSE=0,
        create_window=lambda *a: "window", make_context_current=lambda w: None,
        destroy_window=lambda w: None,
    )  # fmt: skip
    fake_module(monkeypatch, "SpoutGL", SpoutSender=SpoutSender)
    fake_module(monkeypatch, "OpenGL")
    fake_module(monkeypatch, "OpenGL.GL", GL_RGBA=0x1908)
    sys.modules["OpenGL"].GL = sys.modules["OpenGL.GL"]
    sink = open_sink("spout", 64, 36, 30.0)
    sink.send(FRAME)
    buffer, width, height, gl_format = images[0]
    assert (width, height, gl_format) == (64, 36, 0x1908)
    assert (buffer[..., :3] == FRAME).all() and (buffer[..., 3] == 255).all()


@pytest.mark.parametrize(
    "name, platform, says",
    [("spout", "linux", "Windows only"), ("syphon", "linux", "macOS only"),
     ("syphon", "win32", "macOS only"), ("hologram", "linux", "unknown output")],
)  # fmt: skip
def test_outputs_on_the_wrong_system_say_so_in_one_line(monkeypatch, name, platform, says):
    monkeypatch.setattr(sys, "platform", platform)
    with pytest.raises(OutputError, match=says) as error:
        open_sink(name, 64, 36, 30.0)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("name, package", [("vcam", "pyvirtualcam"), ("ndi", "cyndilib")])
def test_a_missing_extra_names_what_to_install(monkeypatch, name, package):
    monkeypatch.setitem(sys.modules, package, None)  # makes `import package` fail
    with pytest.raises(OutputError, match=rf"needs {package}: pip install 'visualize\[{name}\]'"):
        open_sink(name, 64, 36, 30.0)


def test_vcam_without_a_camera_device_is_one_line():
    pytest.importorskip("pyvirtualcam")
    import glob

    if glob.glob("/dev/video*"):
        pytest.skip("this machine has video devices")
    with pytest.raises(OutputError, match="no virtual camera") as error:
        open_sink("vcam", 64, 36, 30.0)
    assert "\n" not in str(error.value)


def test_the_worker_survives_a_receiver_that_goes_and_comes_back():
    class Flaky:
        name = "flaky"

        def __init__(self, fails: bool) -> None:
            self.fails, self.frames = fails, 0

        def send(self, rgb):
            if self.fails and self.frames >= 2:
                raise ConnectionError("receiver quit")
            self.frames += 1

        def close(self):
            pass

    opened = [Flaky(fails=True)]
    available = threading.Event()

    def reopen():
        if not available.is_set():
            raise OutputError("not yet")
        opened.append(Flaky(fails=False))
        return opened[-1]

    notices: list[str] = []
    worker = OutputWorker(
        "flaky", reopen, sink=opened[0], notice=notices.append, retry_seconds=0.02
    )
    worker.start()
    try:
        for _ in range(200):
            worker.send(FRAME)
            time.sleep(0.005)
            if worker.state == "lost, retrying":
                break
        assert worker.state == "lost, retrying"
        time.sleep(0.1)  # a few failed reopen attempts: no more notices
        available.set()
        deadline = time.monotonic() + 5
        while len(opened) < 2 or opened[-1].frames < 3:
            assert time.monotonic() < deadline
            worker.send(FRAME)
            time.sleep(0.005)
    finally:
        worker.stop()
    assert notices == ["output flaky lost (receiver quit); retrying", "output flaky is back"]
    assert worker.state == "off"


NDI_ROUND_TRIP = """
import sys, time
import numpy as np
from cyndilib.finder import Finder
from cyndilib.receiver import Receiver
from cyndilib.video_frame import VideoFrameSync
from cyndilib.wrapper.ndi_recv import RecvBandwidth, RecvColorFormat
from render.outputs import open_sink

sink = open_sink("ndi", 64, 36, 30.0)
frame = np.zeros((36, 64, 3), np.uint8)
frame[..., 0], frame[..., 1], frame[:, 32:, 2] = 200, 40, 160
finder = Finder()
finder.open()
deadline, names = time.monotonic() + 10, []
while time.monotonic() < deadline and not any("(visualize)" in n for n in names):
    sink.send(frame)
    finder.wait_for_sources(0.2)
    names = finder.get_source_names()
name = next(n for n in names if "(visualize)" in n)
receiver = Receiver(color_format=RecvColorFormat.RGBX_RGBA, bandwidth=RecvBandwidth.highest)
video = VideoFrameSync()
receiver.frame_sync.set_video_frame(video)
receiver.set_source(finder.get_source(name))
while time.monotonic() < deadline and video.xres == 0:
    sink.send(frame)
    time.sleep(0.05)
    receiver.frame_sync.capture_video()
got = np.array(video.get_array()).reshape(video.yres, video.xres, 4)[..., :3].astype(int)
print("size", video.xres, video.yres, "error", int(np.abs(got - frame).max()))
receiver.disconnect()
finder.close()
sink.close()
"""


@pytest.mark.slow
def test_ndi_frames_reach_a_real_ndi_receiver_over_loopback(tmp_path):
    """The bundled NDI runtime, sender and receiver in one process; discovery is pinned to
    127.0.0.1 through an NDI config file because CI has no mDNS (avahi) daemon."""
    pytest.importorskip("cyndilib")
    import os
    import subprocess

    (tmp_path / "ndi-config.v1.json").write_text('{"ndi": {"networks": {"ips": "127.0.0.1"}}}')
    root = str(__import__("pathlib").Path(__file__).resolve().parents[1])
    env = {**os.environ, "NDI_CONFIG_DIR": str(tmp_path), "PYTHONPATH": root}
    done = subprocess.run([sys.executable, "-c", NDI_ROUND_TRIP], env=env, capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-1500:]
    size, error = done.stdout.split("error")
    assert size.split()[1:] == ["64", "36"]
    assert int(error) <= 16  # NDI's codec is lossy, but the colours and the split survive


def test_check_available_fails_fast_without_opening_anything(monkeypatch):
    from render.outputs import check_available

    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(OutputError, match="Windows only"):
        check_available("spout")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "cyndilib" else real(n, *a)
    )
    with pytest.raises(OutputError, match=r"needs cyndilib: pip install 'visualize\[ndi\]'"):
        check_available("ndi")
