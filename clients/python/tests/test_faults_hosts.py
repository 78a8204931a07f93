"""Faults across real hosts: an aggregation host and two training hosts in network namespaces of
the test's own (fault_hosts.py), four trainer processes, two sidecars, CURVE on every link.

Each test puts the cluster under load, injects one kind of fault, lets the trainers go on, stops
them and reads /stats: every batch a sidecar received is aggregated exactly once. The trainers'
own counts are the reference: for each trainer, ``batches`` equals the batches it sent, except
behind a sidecar that was SIGKILLed, where ``batches`` falls short by what that sidecar held in
memory, and exactly that remainder is what ``lost`` shows. docs/RELIABILITY.md cites these tests.

Needs root and iproute2 (CI runs as root); skipped, with the reason, where namespaces cannot be
made. The namespaces and every process are removed at the end, also when a test fails.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path
from typing import Dict, Iterator, List, Sequence

import pytest

import netns
from fault_hosts import REORDER_WINDOW, SUBNET, Cluster, HostProcess, Tally, Trainer, keygen

REASON = netns.unavailable_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"no network namespaces here: {REASON}")

OUTAGE_SECONDS = 20.0  # the aggregation host's cut, as long as the reliability promise is stated for


@pytest.fixture(scope="module")
def keys(lossd_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    names = ["aggregator", "sidecar-a", "sidecar-b", "trainer-a0", "trainer-a1", "trainer-b0", "trainer-b1"]
    return keygen(lossd_bin, tmp_path_factory.mktemp("keys"), names)


@pytest.fixture
def cluster(lossd_bin: str, keys: Dict[str, Path], tmp_path: Path) -> Iterator[Cluster]:
    """The three hosts; every process and namespace is gone when the test ends, however it ends."""
    network = netns.Network(SUBNET)
    made = None
    try:
        made = Cluster(network, lossd_bin, tmp_path, keys)
        yield made
    finally:
        try:
            if made is not None:
                made.close()
        finally:
            network.close()


def finish(trainers: Sequence[Trainer]) -> Dict[str, int]:
    """Stops the trainers (each closes once its queued batches have left): run → batches sent."""
    return {t.run: t.finish() for t in trainers}


def table(trainers: Sequence[Trainer], tallies: Dict[str, Tally]) -> str:
    rows = [f"{t.run}: sent {t.sent}, {tallies.get(t.run)}" for t in trainers]
    return "\n".join(rows)


def check_every_batch_once(trainers: Sequence[Trainer], tallies: Dict[str, Tally], killed: Sequence[str] = ()) -> None:
    """Every trainer's batches are on /stats exactly once; behind a killed sidecar (``killed``
    names its training host), what is missing is exactly what ``lost`` shows."""
    report = table(trainers, tallies)
    for trainer in trainers:
        tally, sent = tallies[trainer.run], trainer.sent
        assert sent is not None and sent > 0, report
        assert tally.highest_seq == sent - 1, f"{trainer.run}: the last batch sent is not on /stats\n{report}"
        assert (tally.duplicates, tally.pending) == (0, 0), f"{trainer.run}: duplicated or pending\n{report}"
        if trainer.side in killed:
            assert tally.lost == sent - tally.batches, \
                f"{trainer.run}: lost does not show the batches missing from /stats\n{report}"
        else:
            assert (tally.batches, tally.lost) == (sent, 0), \
                f"{trainer.run}: not every batch sent is on /stats exactly once\n{report}"


def stop_everything(cluster: Cluster, expected_sidecar_status: Dict[str, int]) -> Dict[str, int]:
    """SIGTERM to the sidecars (each waits until its records are acknowledged) and then to the
    aggregator; checks their exit statuses and returns the aggregator's last counts."""
    for side, sidecar in cluster.sidecars.items():
        status = sidecar.stop(signal.SIGTERM)
        assert status == expected_sidecar_status.get(side, 0), f"sidecar {side}: status {status}\n{sidecar.tail()}"
        summary = last_line_counts(sidecar, "sidecar stopped:")
        assert summary["received"] == summary["computed"], f"sidecar {side}: {summary}"
        assert (summary["output_failures"], summary["unacknowledged"], summary["spooled"]) == (0, 0, 0), \
            f"sidecar {side} stopped with records not acknowledged: {summary}"
    assert cluster.aggregator is not None
    status = cluster.aggregator.stop(signal.SIGTERM)
    assert status == 0, f"aggregator: status {status}\n{cluster.aggregator.tail()}"
    return last_line_counts(cluster.aggregator, "aggregator stopped:")


def last_line_counts(process: HostProcess, opening: str) -> Dict[str, int]:
    """The ``key=N`` counts of a stopped lossd process's last log line, which must hold ``opening``."""
    last = [line for line in process.stderr().splitlines() if line.strip()][-1]
    assert opening in last, f"{process.name}'s last line: {last!r}"
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)\b", last)}


def test_aggregator_sigkilled_three_times_under_load_every_batch_once(cluster: Cluster):
    """The aggregator is SIGKILLed three times while four trainers send, and restarted at once
    from its state file each time: every batch sent is on /stats once, none lost."""
    cluster.start_aggregator()
    for side in cluster.training:
        cluster.start_sidecar(side)
    trainers = cluster.start_trainers("kill")
    kills = []
    for round in range(3):
        cluster.wait_progress(trainers, 150, f"before kill {round + 1}")
        before = cluster.batches(trainers)
        status = cluster.aggregator.kill()
        assert status == -signal.SIGKILL, f"the aggregator exited with {status} before the kill"
        cluster.start_aggregator()
        kills.append((before, cluster.batches(trainers)))  # /stats just before the kill, just after the restart
    cluster.wait_beyond(trainers, 2 * REORDER_WINDOW, "after the last restart")
    finish(trainers)
    tallies = cluster.settle(trainers)
    check_every_batch_once(trainers, tallies)
    final = stop_everything(cluster, {})
    assert (final.get("lost"), final.get("duplicates")) == (0, 0), final
    print(f"sent {sum(t.sent for t in trainers)}; /stats before each kill and after each restart: {kills}")


def test_aggregation_host_cut_off_20_s_every_batch_once(cluster: Cluster):
    """The aggregation host's link goes down for 20 s while the trainers keep sending, and comes
    back: the sidecars keep what they could not deliver and deliver it, every batch once."""
    cluster.start_aggregator()
    for side in cluster.training:
        cluster.start_sidecar(side)
    trainers = cluster.start_trainers("cut")
    cluster.wait_progress(trainers, 150, "before the cut")
    cluster.aggregation.cut()
    cut_at = time.monotonic()
    sent_at_cut = sum(t.progress() for t in trainers)
    try:
        time.sleep(OUTAGE_SECONDS)  # the outage itself: the one wait that is a duration, not an event
        sent_during = sum(t.progress() for t in trainers) - sent_at_cut
        on_stats_during = cluster.batches(trainers)
    finally:
        cluster.aggregation.restore()
    assert sent_during > 0, "the trainers sent nothing while the aggregation host was cut off"
    cluster.wait_beyond(trainers, 2 * REORDER_WINDOW, "after the link came back")
    recovered_after = time.monotonic() - cut_at - OUTAGE_SECONDS
    finish(trainers)
    tallies = cluster.settle(trainers)
    check_every_batch_once(trainers, tallies)
    final = stop_everything(cluster, {})
    assert (final.get("lost"), final.get("duplicates")) == (0, 0), final
    print(f"sent {sum(t.sent for t in trainers)}, {sent_during} during the {OUTAGE_SECONDS:.0f} s cut "
          f"(/stats had {on_stats_during} then); caught up {recovered_after:.1f} s after the link came back")


@pytest.mark.parametrize("spool", [True, False], ids=["with-spool", "without-spool"])
def test_sidecar_sigkilled_and_restarted(cluster: Cluster, spool: bool, tmp_path: Path):
    """Sidecar a holds records it cannot deliver (the aggregator is stopped) when it is
    SIGKILLed; it is restarted at once on the same input, with the same spool directory if it has
    one, and then the aggregator. What the sidecar held in memory (batches in its pool, messages
    in its input connection) is missing from /stats and shown as ``lost``, exactly. With a spool,
    the records it had computed survive: far fewer are lost than its trainers sent while the
    aggregator was down. Without one, those records are lost too. Host b loses nothing."""
    spools = {side: ["--spool", str(tmp_path / f"spool-{side}")] if spool else [] for side in cluster.training}
    cluster.start_aggregator()
    for side in cluster.training:
        cluster.start_sidecar(side, spools[side])
    trainers = cluster.start_trainers("spool" if spool else "nospool")
    host_a = [t for t in trainers if t.side == "a"]
    cluster.wait_progress(trainers, 150, "before the fault")
    # A stopped aggregator refuses connections: what the sidecars compute stays in their memory
    # (and spool), not in the kernel's buffers of a connection that outlives the process.
    status = cluster.aggregator.stop(signal.SIGTERM)
    assert status == 0, f"the aggregator's stop: status {status}\n{cluster.aggregator.tail()}"
    before = sum(t.progress() for t in host_a)
    cluster.wait_sent(host_a, 100, "with the aggregator down")
    status = cluster.sidecars["a"].kill()
    held = sum(t.progress() for t in host_a) - before  # sent by a's trainers while the aggregator was down
    assert status == -signal.SIGKILL, f"sidecar a exited with {status} before the kill"
    restarted = cluster.start_sidecar("a", spools["a"])
    cluster.start_aggregator()
    cluster.wait_beyond(trainers, 2 * REORDER_WINDOW, "after the restarts")
    finish(trainers)
    tallies = cluster.settle(trainers)
    check_every_batch_once(trainers, tallies, killed=["a"])
    lost = sum(tallies[t.run].lost for t in host_a)
    reloaded = re.search(r"records=(\d+) .*records from the spool are sent again", restarted.stderr())
    if spool:
        # The records were in the spool: the restarted sidecar read them back and sent them.
        assert reloaded and int(reloaded.group(1)) >= held // 2, f"{held} batches sent while the aggregator was " \
            f"down, but the restarted sidecar did not send them from its spool\n{restarted.tail()}"
        assert lost < held // 2, f"{lost} lost of the {held} batches sent while the aggregator was down: the " \
                                 f"spool kept too few\n{table(trainers, tallies)}"
    else:
        assert reloaded is None, restarted.tail()
        assert lost >= held // 2, f"only {lost} lost of the {held} batches sent while the aggregator was down, " \
                                  f"without a spool\n{table(trainers, tallies)}"
    final = stop_everything(cluster, {})
    assert (final.get("lost"), final.get("duplicates")) == (lost, 0), final
    print(f"{'with' if spool else 'without'} a spool: sent {sum(t.sent for t in trainers)}, {held} by host a's "
          f"trainers while the aggregator was down before the kill, "
          f"{reloaded.group(1) if reloaded else 'no'} records sent again from the spool, {lost} lost")
