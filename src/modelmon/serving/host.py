"""Endpoints served by this process: models loaded, variants weighted, capture set.

The database says which endpoints exist and on which config; the host makes
this process serve exactly that. :meth:`Host.reconcile` loads what is new
(Creating, Updating, or InService after a restart, or changed by another
replica), records the outcome, and swaps the routing table in one assignment,
so requests in flight finish on the old models and none is dropped.
"""

from __future__ import annotations

import bisect
import logging
import random
from dataclasses import dataclass, replace
from itertools import accumulate
from typing import Any

from modelmon.config import Settings
from modelmon.errors import ModelmonError
from modelmon.formats.capture import CaptureContentTypes
from modelmon.serving.registry import Hosting
from modelmon.serving.runtimes import Runtime, load_container

log = logging.getLogger("modelmon.host")


@dataclass(frozen=True, slots=True)
class CaptureSettings:
    """An endpoint's DataCaptureConfig, ready for the request path."""

    destination: str
    percentage: float
    capture_input: bool
    capture_output: bool
    types: CaptureContentTypes

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> CaptureSettings | None:
        """None when capture is absent or disabled."""
        if not config or not config.get("EnableCapture", True):
            return None
        modes = {o["CaptureMode"] for o in config.get("CaptureOptions", [])}
        return cls(
            destination=config["DestinationS3Uri"].rstrip("/"),
            percentage=float(config.get("InitialSamplingPercentage", 20)),
            capture_input=bool(modes & {"Input", "InputAndOutput"}),
            capture_output=bool(modes & {"Output", "InputAndOutput"}),
            types=CaptureContentTypes.from_header(config.get("CaptureContentTypeHeader")),
        )


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    model_name: str
    weight: float
    runtime: Runtime


@dataclass(frozen=True, slots=True)
class LiveEndpoint:
    """One endpoint as served: its variants, traffic weights and capture settings."""

    name: str
    config_name: str
    generation: int
    variants: tuple[Variant, ...]
    capture: CaptureSettings | None
    async_config: dict[str, Any] | None
    _cumulative: tuple[float, ...]

    @classmethod
    def build(
        cls,
        name: str,
        config_name: str,
        generation: int,
        variants: tuple[Variant, ...],
        capture: CaptureSettings | None,
        async_config: dict[str, Any] | None,
    ) -> LiveEndpoint:
        cumulative = tuple(accumulate(v.weight for v in variants))
        return cls(name, config_name, generation, variants, capture, async_config, cumulative)

    def variant(self, target: str | None = None) -> Variant | None:
        """The variant to serve a request: ``target`` if given (None if unknown), else
        one drawn at random in proportion to the weights."""
        if target is not None:
            for variant in self.variants:
                if variant.name == target:
                    return variant
            return None
        if len(self.variants) == 1:
            return self.variants[0]
        point = random.random() * self._cumulative[-1]
        return self.variants[bisect.bisect_right(self._cumulative, point)]


class Host:
    """The routing table of this process, kept in step with the database."""

    def __init__(self, hosting: Hosting, settings: Settings, *, async_only: bool = False) -> None:
        """``async_only``: serve only endpoints with an AsyncInferenceConfig (a worker's host),
        leaving real-time ones, their models and their deployment to the servers."""
        self.hosting = hosting
        self.settings = settings
        self.async_only = async_only
        self.endpoints: dict[str, LiveEndpoint] = {}
        self._runtimes: dict[tuple[str, str], Runtime] = {}
        self._real_time: set[tuple[str, str, int]] = set()  # (name, config, generation)

    def _runtime(self, model_name: str) -> Runtime:
        container = self.hosting.model_container(model_name)
        key = (model_name, container.pop("_version"))
        runtime = self._runtimes.get(key)
        if runtime is None:
            runtime = load_container(container, self.settings.model_cache_dir, name=model_name)
            self._runtimes[key] = runtime
        return runtime

    def _load(self, name: str, config_name: str, generation: int) -> LiveEndpoint:
        config = self.hosting.endpoint_config(config_name)
        variants = []
        for v in config["ProductionVariants"]:
            try:
                runtime = self._runtime(v["ModelName"])
            except ModelmonError as err:
                raise ModelmonError(
                    f"variant {v['VariantName']}: model {v['ModelName']}: {err}"
                ) from err
            variants.append(
                Variant(
                    v["VariantName"], v["ModelName"], v.get("InitialVariantWeight", 1.0), runtime
                )
            )
        return LiveEndpoint.build(
            name,
            config_name,
            generation,
            tuple(variants),
            CaptureSettings.from_config(config.get("DataCaptureConfig")),
            config.get("AsyncInferenceConfig"),
        )

    def _is_async(self, name: str, config_name: str, generation: int) -> bool:
        key = (name, config_name, generation)
        if key in self._real_time:
            return False
        try:
            config = self.hosting.endpoint_config(config_name)
        except ModelmonError:
            return False  # deleted meanwhile: the next round sees it
        if config.get("AsyncInferenceConfig"):
            return True
        if len(self._real_time) > 10_000:
            self._real_time.clear()
        self._real_time.add(key)
        return False

    def reconcile(self) -> None:
        """Serve exactly the endpoints the database says are live (blocking: loads models)."""
        table = dict(self.endpoints)
        live = self.hosting.live_endpoints()
        for name, config_name, pending, status, generation in live:
            current = table.get(name)
            if (
                current is not None
                and current.generation == generation
                and status != "Updating"
                and current.config_name == config_name
            ):
                continue  # already serving exactly this
            target = pending if status == "Updating" and pending else config_name
            if self.async_only and not self._is_async(name, target, generation):
                table.pop(name, None)
                continue
            failure = None
            try:
                loaded = self._load(name, target, generation)
            except Exception as err:  # a model that cannot load fails its endpoint
                log.warning("endpoint %s: %s", name, err)
                failure = (
                    str(err) if isinstance(err, ModelmonError) else f"{type(err).__name__}: {err}"
                )
                loaded = None
            if status == "InService" and loaded is not None:
                table[name] = loaded  # loaded by another replica, or after a restart
                continue
            recorded = self.hosting.finish_deployment(
                name, generation, config_name=target, failure=failure
            )
            if not recorded:
                continue  # changed meanwhile: the next round sees the new state
            if loaded is not None:
                table[name] = loaded
            elif status == "Updating" and current is not None:
                table[name] = replace(current, generation=generation)  # rolled back
            else:
                table.pop(name, None)
            self.endpoints = dict(table)
        names = {row[0] for row in live}
        for name in [n for n in table if n not in names]:
            del table[name]
        self.endpoints = table
        used = {(v.model_name) for e in table.values() for v in e.variants}
        for key in [k for k in self._runtimes if k[0] not in used]:
            del self._runtimes[key]
