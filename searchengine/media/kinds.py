"""Which file extensions are which modality: read from the format registry
(:mod:`searchengine.media.formats.registry`)."""

from __future__ import annotations

from searchengine.media.formats.registry import MODALITIES, extensions, format_of, modality_of

IMAGE_EXTENSIONS = extensions("image")
TEXT_EXTENSIONS = extensions("text")
AUDIO_EXTENSIONS = extensions("audio")
VIDEO_EXTENSIONS = extensions("video")
SIDECAR_EXTENSIONS = (".srt", ".vtt", ".txt")  # transcripts next to a recording, in this order

RECORDINGS = frozenset({"audio", "video"})  # modalities with a sound track: transcripts, sidecars

__all__ = ["MODALITIES", "RECORDINGS", "SIDECAR_EXTENSIONS", "IMAGE_EXTENSIONS", "TEXT_EXTENSIONS",
           "AUDIO_EXTENSIONS", "VIDEO_EXTENSIONS", "format_of", "modality_of"]
