"""Discovery in the background: runs started from the API and periodic runs of `cmdb serve`.

A `DiscoveryRunner` runs one discovery at a time in a daemon thread with its
own event loop, so the server's loop and the API stay responsive. Settings
give the periodic targets (`CMDB_DISCOVERY_TARGETS`), the credentials file
(`CMDB_DISCOVERY_CREDENTIALS`) and the interval (`CMDB_DISCOVERY_INTERVAL`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from cmdb.discovery.collect import CollectOptions, Profile
from cmdb.discovery.credentials import load_credentials
from cmdb.discovery.runs import DiscoveryRun
from cmdb.discovery.service import DiscoveryOptions, run_discovery, start_run
from cmdb.settings import Settings
from cmdb.store.base import GraphStore

logger = logging.getLogger(__name__)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(text: str) -> timedelta:
    """Return the duration `text` names: a number with an optional unit s, m, h, d or w (default s)."""
    match = _DURATION.match(text.lower())
    if match is None:
        raise ValueError(
            f"invalid duration {text!r}; write a number and a unit, e.g. 90s, 30m, 12h, 7d or 2w"
        )
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def options_from_settings(settings: Settings) -> tuple[CollectOptions, DiscoveryOptions]:
    """Return the collection and run options that the settings give."""
    collect_options = CollectOptions(
        timeout=settings.discovery_timeout,
        retries=settings.discovery_retries,
        concurrency=settings.discovery_concurrency,
    )
    discovery_options = DiscoveryOptions(
        stale_after=parse_duration(settings.discovery_stale_after),
        max_macs_per_port=settings.discovery_max_macs_per_port,
        medical_vendors=tuple(settings.discovery_medical_vendors),
    )
    return collect_options, discovery_options


class DiscoveryRunner:
    """Runs discoveries in a background thread, one at a time, over one store."""

    def __init__(
        self,
        store: GraphStore,
        *,
        profiles: Sequence[Profile],
        collect_options: CollectOptions,
        options: DiscoveryOptions,
    ) -> None:
        self.store = store
        self.profiles = list(profiles)
        self.collect_options = collect_options
        self.options = options
        self._busy = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    @classmethod
    def from_settings(cls, store: GraphStore, settings: Settings) -> DiscoveryRunner:
        """Return a runner with the credentials file and options of `settings`; raise when no file is set."""
        if settings.discovery_credentials is None:
            raise ValueError("CMDB_DISCOVERY_CREDENTIALS is not set; point it at a credentials YAML file")
        collect_options, options = options_from_settings(settings)
        profiles = load_credentials(Path(settings.discovery_credentials))
        return cls(store, profiles=profiles, collect_options=collect_options, options=options)

    def start(self, specs: Sequence[str], *, actor: str) -> DiscoveryRun:
        """Record a run, start it in the background and return the record; raise RuntimeError when busy."""
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("a discovery run is already in progress; wait for it to finish")
        try:
            run = start_run(self.store, specs, actor=actor)
        except BaseException:
            self._busy.release()
            raise
        thread = threading.Thread(
            target=self._run, args=(list(specs), run), name=f"discovery-{run.id}", daemon=True
        )
        self._threads.append(thread)
        thread.start()
        return run

    def _run(self, specs: list[str], run: DiscoveryRun) -> None:
        try:
            asyncio.run(
                run_discovery(
                    store=self.store,
                    specs=specs,
                    profiles=self.profiles,
                    collect_options=self.collect_options,
                    options=self.options,
                    run=run,
                )
            )
        except Exception:  # run_discovery has recorded and logged the failure; the thread ends here
            logger.info("discovery run %s ended with an error", run.id)
        finally:
            self._busy.release()

    def start_periodic(self, specs: Sequence[str], interval: timedelta) -> threading.Thread:
        """Start a run over `specs` now and then every `interval` until `stop`."""

        def loop() -> None:
            while not self._stopping.is_set():
                try:
                    run = self.start(specs, actor="discovery:periodic")
                    logger.info("periodic discovery run %s started over %s", run.id, ", ".join(specs))
                except RuntimeError as error:
                    logger.warning("periodic discovery over %s skipped: %s", ", ".join(specs), error)
                except Exception:
                    logger.exception("periodic discovery over %s failed to start", ", ".join(specs))
                self._stopping.wait(interval.total_seconds())

        thread = threading.Thread(target=loop, name="discovery-periodic", daemon=True)
        thread.start()
        return thread

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the runs started so far to finish."""
        for thread in list(self._threads):
            thread.join(timeout)

    def stop(self) -> None:
        """Stop starting periodic runs; a run in progress finishes on its own."""
        self._stopping.set()
