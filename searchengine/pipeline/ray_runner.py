"""Indexing on a Ray cluster. Everything but the embedding is the in-process run's
(:class:`~searchengine.pipeline.runner.IndexRun`): the plan, the moves, copies and touches it
decides, deletions, checkpoints and the report. Only the plan's files to embed go to Ray
Data, as ``from_items(work) -> map_batches(DecodeEncodeActor)`` (decode, transcribe, encode;
one model per actor, a GPU each where the cluster has them), and their results stream back,
as they come, to the one writer on this machine.

The workers read the files by the paths the plan found, so on a real cluster those paths
must be readable on every worker node (shared storage mounted at the same place)."""

from __future__ import annotations

import logging
import math
import pickle
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from tqdm import tqdm

from searchengine.catalog.catalog import Catalog
from searchengine.config import Settings
from searchengine.encoders.base import Encoder
from searchengine.media.kinds import RECORDINGS
from searchengine.pipeline.decode import Decoded
from searchengine.pipeline.plan import Work
from searchengine.pipeline.ray_cluster import LOCAL, Resources, connected, import_ray
from searchengine.pipeline.ray_worker import (DecodeEncodeActor, WorkerEncoder, WorkerResult, runs_on_gpu,
                                               shipped_results)
from searchengine.pipeline.runner import IndexRun, BatchProgress
from searchengine.pipeline.write import Writer
from searchengine.transcribe.whisper import WhisperTranscriber

log = logging.getLogger(__name__)

CALLS_PER_ACTOR = 2  # a batch decodes on an actor while the one before it encodes
RESTARTS = 2  # of an actor (a node lost), and retries of its batch, on a real cluster


class RayIndexRun(IndexRun):
    """An :class:`IndexRun` whose files to embed are decoded and encoded on the Ray cluster
    at ``address`` (``local``, ``auto`` or an address, see
    :mod:`searchengine.pipeline.ray_cluster`). ``worker_encoder(cluster_has_gpus)`` names
    the encoder the workers load; it is asked for only when there is something to embed."""

    def __init__(
        self,
        catalog: Catalog,
        encoder: Callable[[], Encoder],
        settings: Settings,
        *,
        address: str,
        worker_encoder: Callable[[bool], WorkerEncoder],
        exclude: Sequence[Path] = (),
        transcriber: Callable[[], WhisperTranscriber] | None = None,
        num_cpus: int | None = None,
    ):
        super().__init__(catalog, encoder, settings, exclude, transcriber)
        self.address = address
        self._worker_encoder = worker_encoder
        self._num_cpus = num_cpus  # of a local cluster (default: the CPUs this process may use)
        self.workers: set[tuple[str, str, str]] = set()  # (host, pid, package) that did the work

    def _stream(self, work: list[Work], writer: Writer, progress: bool,
                notify: Callable[[str, int, int], None]) -> None:
        if not work:
            return
        with connected(self.address, num_cpus=self._num_cpus) as resources:
            spec = self._worker_encoder(resources.gpus >= 1)
            self.report.model_loaded = True
            dataset = self._dataset(work, spec, resources)
            with tqdm(total=len(work), desc="indexing", unit="file", disable=not progress) as bar:
                self._drain_results(_batches(dataset), writer, bar, notify, len(work))
        log.info("indexed %d files on %d Ray workers: %s", len(work), len(self.workers),
                 ", ".join(f"{h}:{p} ({pkg})" for h, p, pkg in sorted(self.workers)))

    def _dataset(self, work: list[Work], spec: WorkerEncoder, resources: Resources) -> Any:
        ray = import_ray()
        size = self.settings.batch_size
        actors, cpus, gpus = actor_shape(resources, self.settings, spec, batches=math.ceil(len(work) / size))
        log.info("Ray Data: %d actors (%g CPUs, %g GPUs each), batches of %d", actors, cpus, gpus, size)
        # a row per batch of the in-process run, a block per row (batch_size=None: blocks are
        # not merged): results stream back batch by batch, spread over the actors
        rows = [self._row(k, work[i : i + size]) for k, i in enumerate(range(0, len(work), size))]
        with warnings.catch_warnings():  # the restart limits have no named parameter in Ray 2.60
            warnings.filterwarnings("ignore", message=".*ray_remote_args. is deprecated")
            return ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
                DecodeEncodeActor,
                fn_constructor_args=(self.settings, spec),
                batch_size=None,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=actors, max_concurrent_calls_per_actor=CALLS_PER_ACTOR,
                                                   enable_true_multi_threading=True),
                num_cpus=cpus,
                num_gpus=gpus,
                # Ray Data's default is to restart actors and retry their batches for ever: a
                # file that crashes its worker would then hang the run. A local cluster has no
                # nodes to lose (no restarts); a real one may lose some (a few).
                max_restarts=0 if self.address == LOCAL else RESTARTS,
                max_task_retries=0 if self.address == LOCAL else RESTARTS,
            )

    def _row(self, k: int, batch: list[Work]) -> dict[str, Any]:
        """One batch of files for the workers, with the transcripts and the text read in
        images that the index already has for them (the workers cannot read the index)."""
        shipped: list[tuple[str, Any] | None] = []
        texts: list[list[dict] | None] = []
        for w in batch:
            cached, lines = None, None
            if w.found.modality in RECORDINGS:
                source = "sidecar" if w.found.sidecar is not None else self._decoder.asr_source
                known = self.repo.transcript(w.content_hash, source)
                cached = (source, known) if known is not None else None
            elif w.found.modality == "image" and self._decoder.texts.enabled:
                lines = self.repo.image_text(w.content_hash, self._decoder.texts.source)
            shipped.append(cached)
            texts.append(lines)
        return {"i": k, "work": pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL),
                "transcript": pickle.dumps(shipped, protocol=pickle.HIGHEST_PROTOCOL),
                "image_text": pickle.dumps(texts, protocol=pickle.HIGHEST_PROTOCOL)}

    def _drain_results(self, results: Iterator[list[WorkerResult]], writer: Writer, bar: tqdm,
                       notify: Callable[[str, int, int], None], total: int) -> None:
        """Results, a batch at a time as the workers finish them: new transcripts into the
        cache, files through the writer, a checkpoint every ``checkpoint_seconds``."""
        stages = self.report.stages
        progress = BatchProgress(self.catalog, self.settings.checkpoint_seconds, bar, notify, total)
        while True:
            t_wait = time.perf_counter()
            batch = next(results, None)
            stages.waiting += time.perf_counter() - t_wait
            if batch is None:
                return
            decoded: list[Decoded] = [r.decoded for r in batch]
            self._account(decoded)
            t0 = time.perf_counter()
            for r in batch:
                stages.encode += r.encode_seconds
                self.workers.add((r.worker.get("host", "?"), r.worker.get("pid", "?"), r.worker.get("package", "?")))
                if r.new_transcript is not None:
                    self.repo.save_transcript(*r.new_transcript)
                if r.new_image_text is not None:
                    self.repo.save_image_text(*r.new_image_text)
                if r.decoded.transcribed_seconds and self._decoder.asr_bar is not None:
                    self._decoder.asr_bar.update(round(r.decoded.transcribed_seconds, 1))
            writer.files(decoded, [r.vectors for r in batch])
            stages.write += time.perf_counter() - t0
            progress.written(len(batch))


def actor_shape(resources: Resources, settings: Settings, spec: WorkerEncoder,
                batches: int) -> tuple[int, float, float]:
    """(actors, CPUs each, GPUs each): one actor per GPU where the cluster has GPUs and the
    index's model runs on one (:func:`runs_on_gpu`), else one actor per ``decode_workers``
    CPUs; never more actors than batches."""
    cpus_each = float(max(1, min(settings.decode_workers, int(resources.cpus) or 1)))
    by_cpu = max(1, int(resources.cpus // cpus_each))
    if resources.gpus >= 1 and runs_on_gpu(spec.spec, spec.precision) and settings.device != "cpu":
        return max(1, min(int(resources.gpus), by_cpu, batches)), cpus_each, 1.0
    return max(1, min(by_cpu, batches)), cpus_each, 0.0


def _batches(dataset: Any) -> Iterator[list[WorkerResult]]:
    """The dataset's results, a batch at a time as they arrive. An error a worker sends on
    purpose (a model that cannot load) is raised here as itself
    (:func:`~searchengine.pipeline.ray_worker.shipped_results`)."""
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=1):
        yield shipped_results(batch)
