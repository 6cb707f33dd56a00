"""The service's daily decision cycle: it decides a store's ended days, a day at a time,
resumes where it stopped, and reports what it did at ``GET /decide/status``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gigaloop.api import create_app, load_settings
from gigaloop.api.deps import StoreHandle
from gigaloop.api.schedule import DecisionSchedule
from gigaloop.run import RunOptions, run_job
from gigaloop.store import Store

DAYS = 10


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The twin's data of ten days and no decision of any module (``--no-loop``)."""
    out = tmp_path_factory.mktemp("schedule") / "plant"
    run_job(RunOptions(days=DAYS, seed=3, loop=False, out=out, modules=("process_control",)))
    return out


def _decisions(store: Store) -> int:
    return int(store.execute(store.table("decisions").count()))


def test_a_tick_decides_every_ended_day_once_a_day_per_hold(plant: Path, tmp_path: Path):
    handle = StoreHandle(Store(plant / "store"))
    holds = []
    use = handle.use

    def counted_use():
        holds.append(1)
        return use()

    handle.use = counted_use  # type: ignore[method-assign]
    try:
        schedule = DecisionSchedule(handle, every_s=3600)
        with use() as store:
            before = _decisions(store)
        assert schedule.tick() == DAYS
        assert len(holds) == DAYS + 1  # a hold per day, and one that found nothing left
        assert schedule.status.last_day == DAYS - 1
        assert schedule.status.last_error is None
        with use() as store:
            decided = _decisions(store)
        assert decided > before  # process control charted every stream, every day
        assert schedule.tick() == 0  # nothing new: nothing decided twice
        with use() as store:
            assert _decisions(store) == decided
    finally:
        handle.close()


def test_a_folder_the_loop_ran_on_is_decided_after_its_last_day(tmp_path: Path):
    out = tmp_path / "run"
    run_job(RunOptions(days=4, seed=3, out=out, modules=("process_control",)))
    handle = StoreHandle(Store(out / "store"))
    try:
        assert DecisionSchedule(handle, every_s=3600).tick() == 0  # the run decided them
    finally:
        handle.close()


def test_the_service_runs_the_cycle_and_reports_it(plant: Path, tmp_path: Path):
    from gigaloop.appstate import AppState, Role

    folder = tmp_path / "served"
    Store(folder / "store").close()  # an empty store: the cycle says why it did nothing
    token = AppState.beside(folder / "store").access.issue_token(
        "ana", Role.plant_engineer, create_user=True).token
    headers = {"Authorization": f"Bearer {token}"}
    settings = load_settings(decide_every_s=3600)
    with TestClient(create_app(folder, settings=settings)) as client:
        deadline = time.monotonic() + 30
        while (status := client.get("/decide/status", headers=headers).json())[
                "last_tick_at"] is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status["running"] and status["approval"] == "reviewed"
        assert status["days_decided"] == 0
        assert "run gigaloop ingest first" in status["last_error"]
    with TestClient(create_app(folder, settings=load_settings(decide_every_s=0))) as client:
        assert client.get("/decide/status", headers=headers).json() == {
            "running": False, "every_s": None, "approval": None, "last_tick_at": None,
            "last_day": None, "days_decided": 0, "findings_reported": 0, "last_error": None}


def test_a_bad_interval_is_refused():
    with pytest.raises(ValueError, match="every_s must be positive"):
        DecisionSchedule(StoreHandle.__new__(StoreHandle), every_s=0)
