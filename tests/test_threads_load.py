"""kgqa.threads.fit_threads_to_load: as many threads as other processes leave cores."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

from kgqa import threads

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/stat")


class FakeWatch:
    def __init__(self, loads):
        self.loads = list(loads)

    def others(self):
        return self.loads.pop(0)


def adapter(loads, cpus=2):
    a = threads._Adapter()
    a.enabled, a.cpus, a.watch, a.due = True, cpus, FakeWatch(loads), 0.0
    return a


@pytest.fixture(autouse=True)
def _keep_threads():
    saved = torch.get_num_threads()
    yield
    torch.set_num_threads(saved)


def decide(a, n=1):
    out = []
    for _ in range(n):
        a.due = 0.0  # no waiting between looks in a test
        out.append(a())
    return out


def test_one_busy_core_of_two_leaves_one_thread_and_it_comes_back_when_idle():
    torch.set_num_threads(2)
    a = adapter([1.0, 0.95, 0.05])
    assert decide(a, 3) == [1, 1, 2] and torch.get_num_threads() == 2


def test_the_dead_band_keeps_the_count_near_half_a_core():
    torch.set_num_threads(2)
    a = adapter([0.55, 0.45, 0.65, 0.45, 0.35])
    assert decide(a, 5) == [2, 2, 1, 1, 2]  # down past 0.6, up again below 0.4


def test_never_more_than_at_the_first_look_nor_fewer_than_one():
    torch.set_num_threads(1)
    assert decide(adapter([0.0, 0.0]), 2) == [1, 1]
    torch.set_num_threads(4)
    assert decide(adapter([3.9], cpus=4), 1) == [1]


def test_a_count_set_by_someone_else_switches_it_off():
    torch.set_num_threads(2)
    a = adapter([1.0, 1.0])
    assert decide(a) == [1]
    torch.set_num_threads(2)  # the user's choice, after the first look
    assert decide(a) == [None] and not a.enabled and torch.get_num_threads() == 2


def test_more_threads_than_cpus_is_left_alone():
    torch.set_num_threads(3)
    assert decide(adapter([1.0]), 1) == [None] and torch.get_num_threads() == 3


def test_switched_off_by_the_environment(monkeypatch):
    for var, value in ((threads.ADAPT_VAR, "0"), ("OMP_NUM_THREADS", "2")):
        with monkeypatch.context() as m:
            m.setenv(var, value)
            assert not threads._Adapter().enabled


def test_too_soon_is_a_clock_read_only():
    a = adapter([1.0])
    a.due = time.monotonic() + 60
    assert a() is None and a.watch.loads == [1.0]


def test_the_watch_sees_another_process_and_not_this_one():
    watch = threads._LoadWatch()
    time.sleep(0.3)
    quiet = watch.others()
    x = torch.randn(512, 512)
    start = time.monotonic()
    while time.monotonic() - start < 0.3:  # this process busy: not "others"
        x = torch.tanh(x @ x)
    mine = watch.others()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        watch.others()  # from the start of the busy loop
        time.sleep(0.5)
        other = watch.others()
    finally:
        busy.kill()
        busy.wait()
    assert mine < quiet + 0.4, (quiet, mine)
    assert other > quiet + 0.5, (quiet, other)
