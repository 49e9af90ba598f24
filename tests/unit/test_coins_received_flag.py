"""How long a replica trusts a coins-received flag without asking Valkey again (RaisedHere)."""

from __future__ import annotations

from coins.notifications.triggers.coins_received import RaisedHere, _scheduled_at


def test_trusted_until_shortly_before_the_job_runs() -> None:
    raised = RaisedHere()
    raised.remember(1, job_scheduled_at=105.0, now=100.0)
    assert raised.is_fresh(1, now=100.0)
    assert raised.is_fresh(1, now=105.0 - RaisedHere.MARGIN_SECONDS - 0.01)
    assert not raised.is_fresh(1, now=105.0 - RaisedHere.MARGIN_SECONDS)  # the job may be about to start
    assert not raised.is_fresh(2, now=100.0)


def test_a_flag_whose_job_is_due_or_past_is_not_trusted() -> None:
    raised = RaisedHere()
    raised.remember(1, job_scheduled_at=100.5, now=100.0)  # inside the margin
    raised.remember(2, job_scheduled_at=50.0, now=100.0)  # a stale flag (its job was lost)
    assert not raised.is_fresh(1, now=100.0)
    assert not raised.is_fresh(2, now=100.0)


def test_the_memory_stays_bounded() -> None:
    raised = RaisedHere()
    for idea in range(RaisedHere.MAX_IDEAS + 50):
        raised.remember(idea, job_scheduled_at=idea + 3.0, now=float(idea))  # each gone by the next few
    assert len(raised._until) <= RaisedHere.MAX_IDEAS


def test_flag_values() -> None:
    assert _scheduled_at(b"1764400000") == 1764400000.0
    assert _scheduled_at("17") == 17.0
    assert _scheduled_at(b"1") == 1.0  # an old-style flag: long past, so never trusted
    assert _scheduled_at(b"garbage") is None
    assert _scheduled_at(None) is None
