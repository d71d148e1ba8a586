"""Jupyter, for real: the tutorial notebook and a kernel interrupt, in an IPython kernel."""

from __future__ import annotations

import json
import os
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

TUTORIAL = Path(__file__).parents[1] / "docs" / "tutorial.ipynb"


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    """A real IPython kernel (the ``python3`` kernel of this interpreter), stopped after."""
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(tmp_path), env={**os.environ, "MPLBACKEND": "Agg"})
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    yield manager, client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def test_the_tutorial_runs_in_a_kernel_and_shows_progress_preview_and_frames(tmp_path):
    notebook = nbformat.read(TUTORIAL, as_version=4)
    NotebookClient(
        notebook,
        timeout=240,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()  # raises CellExecutionError on the first failing cell

    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    kinds = [set(output.get("data", {})) for output in outputs]
    assert any("application/vnd.jupyter.widget-view+json" in kind for kind in kinds)  # tqdm widget
    pngs = [kind for kind in kinds if "image/png" in kind]
    assert len(pngs) >= 2  # the live preview, then the montage read back from Tiled
    (timelapse_cell,) = [cell for cell in notebook.cells if "RE(timelapse(" in cell.source]
    (result,) = [o for o in timelapse_cell.outputs if o.output_type == "execute_result"]
    assert result["data"]["text/plain"].strip("'").count("-") >= 1  # the timelapse id
    (load_cell,) = [cell for cell in notebook.cells if "frames = load(" in cell.source]
    (array,) = [o for o in load_cell.outputs if o.output_type == "execute_result"]
    assert "slot: 8" in array["data"]["text/plain"]
    # the video plays in its cell, embedded; the contact sheet is a picture
    (video_cell,) = [cell for cell in notebook.cells if "inline(video)" in cell.source]
    (video,) = [o for o in video_cell.outputs if o.output_type == "execute_result"]
    html = video["data"]["text/html"]
    assert "<video" in html and 'src="data:video/mp4;base64,' in html
    (sheet_cell,) = [cell for cell in notebook.cells if "inline(contact_sheet(" in cell.source]
    (sheet,) = [o for o in sheet_cell.outputs if o.output_type == "execute_result"]
    assert sheet["data"]["image/png"]


SETUP = """
import json
from datetime import UTC, datetime, timedelta
from bluesky_timelapse.persistence import TimelapseStore
from bluesky_timelapse.session import configure

session = configure(globals(), data_dir="data")
bec.disable_table()
camera = SimCamera(name="cam", root=str(session.frames_dir), write_path_template="f",
                   writer="npy", shape=(8, 8))
starts, runs_of, frames_taken = {}, {}, {}
RE.subscribe(lambda name, doc: starts.__setitem__(doc["uid"], doc), "start")
RE.subscribe(lambda name, doc: runs_of.__setitem__(doc["uid"], doc["run_start"]), "descriptor")
RE.subscribe(lambda name, doc: frames_taken.setdefault(runs_of[doc["descriptor"]], doc["time"]), "event")
RE.subscribe(lambda name, doc: print("stopped", len(frames_taken), flush=True), "stop")
"""

REPORT = """
state = TimelapseStore(str(session.data_dir / "timelapses")).load("tl-interrupt")
print(json.dumps({
    "status": state.status,
    "slots": [record.status for record in state.slots],
    "late": [taken - starts[run]["scheduled_timestamp"] for run, taken in frames_taken.items()],
}))
"""


def test_interrupting_the_kernel_pauses_and_resume_continues_without_drift(kernel):
    manager, client = kernel
    _execute(client, SETUP)
    running = client.execute(
        "schedule = every(2.0, count=5, start=datetime.now(UTC) + timedelta(seconds=3))\n"
        "RE(timelapse([camera], schedule.to_dict(), timelapse_id='tl-interrupt'))"
    )
    _wait_for_output(client, running, "stopped 2")  # slots 0 and 1 are done
    manager.interrupt_kernel()
    reply = _reply(client, running)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "RunEngineInterrupted"
    assert _execute(client, "print(RE.state)").strip() == "paused"
    time.sleep(1.5)  # stay paused: a timelapse that drifted would be 1.5 s late from here on

    _execute(client, "RE.resume()")
    report = json.loads(_execute(client, REPORT).strip().splitlines()[-1])
    assert report["status"] == "completed"
    assert report["slots"] == ["succeeded"] * 5
    # The pause holds at most the slot it overlaps (slot 2); the slots after it are on time
    # again (within a second on a loaded machine): a timelapse that drifted would carry the
    # 1.5 s of the pause into every later slot.
    late = report["late"]
    assert len(late) == 5
    assert all(0 <= late[slot] < 1.0 for slot in (0, 1, 3, 4)), late
    assert 0 <= late[2] < 2.5, late


def _execute(client: BlockingKernelClient, code: str, timeout: float = 120) -> str:
    """Run ``code`` in the kernel; return its stdout; fail with the kernel's traceback."""
    msg_id = client.execute(code)
    text = _collect(client, msg_id, timeout)
    reply = _reply(client, msg_id)
    if reply["content"]["status"] != "ok":
        pytest.fail(f"kernel error running {code!r}:\n" + "\n".join(reply["content"]["traceback"]))
    return text


def _collect(client: BlockingKernelClient, msg_id: str, timeout: float) -> str:
    text = []
    deadline = time.monotonic() + timeout
    while True:
        message = _iopub(client, deadline)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "stream":
            text.append(message["content"]["text"])
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            return "".join(text)


def _wait_for_output(client: BlockingKernelClient, msg_id: str, wanted: str) -> None:
    seen = ""
    deadline = time.monotonic() + 60
    while wanted not in seen:
        message = _iopub(client, deadline)
        if message["parent_header"].get("msg_id") == msg_id and message["msg_type"] == "stream":
            seen += message["content"]["text"]


def _iopub(client: BlockingKernelClient, deadline: float) -> dict[str, Any]:
    try:
        return client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
    except queue.Empty:
        pytest.fail("the kernel said nothing before the deadline")


def _reply(client: BlockingKernelClient, msg_id: str) -> dict[str, Any]:
    while True:
        reply = client.get_shell_msg(timeout=120)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply
