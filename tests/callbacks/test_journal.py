"""The run journal's durability policy (callbacks/_journal.py)."""

import os
import threading

import pytest

from bluesky_timelapse.callbacks import _journal as journal_module
from bluesky_timelapse.callbacks._journal import JournalReader, JournalSyncer, RunJournal


class Fsyncs(list):
    """The names of the threads that called os.fsync, in order; ``synced`` is set by one."""

    def __init__(self):
        super().__init__()
        self.synced = threading.Event()


@pytest.fixture
def fsyncs(monkeypatch):
    calls = Fsyncs()
    real_fsync = os.fsync

    def recording_fsync(fd):
        real_fsync(fd)
        calls.append(threading.current_thread().name)
        calls.synced.set()

    monkeypatch.setattr(journal_module.os, "fsync", recording_fsync)
    return calls


def test_periodic_fsyncs_are_made_by_the_syncer_not_the_appending_thread(tmp_path, fsyncs):
    syncer = JournalSyncer()
    journal = RunJournal(tmp_path / "run.jsonl", fsync_every=3, fsync_interval=3600, syncer=syncer)
    for index in range(2):
        journal.append("event", {"seq_num": index})
    assert fsyncs == []  # not due yet
    journal.append("event", {"seq_num": 2})  # due: asked of the syncer
    assert fsyncs.synced.wait(timeout=30)
    assert fsyncs == ["journal-sync"]
    fsyncs.synced.clear()
    journal.append("stop", {"exit_status": "success"})  # fsync and close, on the syncer
    assert fsyncs.synced.wait(timeout=30)
    syncer.close()
    assert fsyncs == ["journal-sync", "journal-sync"]
    with pytest.raises(AssertionError, match="journal is closed"):
        journal.append("event", {"seq_num": 3})
    names = [entry.name for entry in JournalReader(tmp_path / "run.jsonl").read()]
    assert names == ["event", "event", "event", "stop"]


def test_without_a_syncer_the_appending_thread_fsyncs(tmp_path, fsyncs):
    journal = RunJournal(tmp_path / "run.jsonl", fsync_every=2, fsync_interval=3600)
    journal.append("event", {"seq_num": 0})
    journal.append("event", {"seq_num": 1})
    journal.append("stop", {"exit_status": "success"})  # fsynced and closed at once
    me = threading.current_thread().name
    assert fsyncs == [me, me]
    with pytest.raises(AssertionError, match="journal is closed"):
        journal.append("event", {"seq_num": 2})


def test_closing_fsyncs_what_is_left_once(tmp_path, fsyncs):
    journal = RunJournal(tmp_path / "run.jsonl", fsync_every=100, fsync_interval=3600)
    journal.append("event", {"seq_num": 0})
    journal.close()
    journal.close()
    assert len(fsyncs) == 1
