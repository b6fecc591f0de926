"""What one indexing run did, with the time each stage took."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StageTimes:
    """Seconds spent per stage. ``decode`` and ``preprocess`` are summed over the worker
    threads (they overlap with encoding); ``waiting`` is how long the encoder sat idle
    waiting for decoded files, the measure of a pipeline that cannot keep the model busy."""

    plan: float = 0.0
    decode: float = 0.0  # without OCR (see IndexReport.ocr_seconds)
    preprocess: float = 0.0
    encode: float = 0.0
    write: float = 0.0
    waiting: float = 0.0
    read_text: float = 0.0  # the text phase (pipeline.read_text), after the stream


@dataclass
class IndexReport:
    """What one indexing run did."""

    scanned: int = 0
    unchanged: int = 0
    added: int = 0
    updated: int = 0
    moved: int = 0
    reused: int = 0  # new paths whose content was already indexed: vectors copied
    deleted: int = 0
    failed: int = 0
    units_added: int = 0
    transcribed_files: int = 0  # recordings run through speech recognition this time
    transcribed_seconds: float = 0.0  # seconds of audio they held
    transcript_cache_hits: int = 0  # recordings whose transcript was already known
    ocr_images: int = 0  # images whose text was read (OCR ran) this time
    ocr_seconds: float = 0.0  # the time the OCR models took (one picture at a time)
    ocr_cache_hits: int = 0  # images whose text was already known (by content hash)
    sound_files: int = 0  # recordings and videos whose sound events were looked for this time
    sound_events: int = 0  # sound events found in them (units of kind "sound")
    sound_seconds: float = 0.0  # CPU time of the sound-event step (log-mel features, model, events)
    sound_audio_seconds: float = 0.0  # seconds of audio it heard
    text_pending: int = 0  # indexed photos whose text is still to be read after this run
    text_reader: int | None = None  # the pid of the background text reader this run started
    videos: int = 0  # videos whose picture track was read this time
    video_seconds: float = 0.0  # seconds of video they held
    frames_decoded: int = 0  # frames the decoder produced for them (see media.video)
    frames_kept: int = 0  # key frames embedded
    frame_decode_seconds: float = 0.0  # summed over the worker threads
    seconds: float = 0.0
    searchable_seconds: float = 0.0  # when every file was searchable (before the text phase)
    decode_seconds: float = 0.0  # decode + preprocess, summed over workers
    encode_seconds: float = 0.0
    model_loaded: bool = False  # whether this run needed the model at all
    stages: StageTimes = field(default_factory=StageTimes)
    failures: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason), not indexed
    # the skipped entries a person should hear of (not hidden files, unknown extensions or
    # sidecars): FIFOs and devices, links out of the folders, loops, second links to a file, ...
    noted_skips: list[tuple[str, str]] = field(default_factory=list)
    skip_counts: dict[str, int] = field(default_factory=dict)  # skipped entries by code
    kept: list[tuple[str, str]] = field(default_factory=list)  # unavailable now; items kept
    missing_roots: list[str] = field(default_factory=list)  # indexed folders gone from disk, kept
    held: list[str] = field(default_factory=list)  # being written (a watched folder): left for later

    @property
    def frames_per_second(self) -> float:
        """Video frames decoded per second of decoding (per worker thread)."""
        return self.frames_decoded / self.frame_decode_seconds if self.frame_decode_seconds > 0 else 0.0

    @property
    def embedded_files(self) -> int:
        return self.added + self.updated
