"""Which file extensions are which modality."""

from __future__ import annotations

from pathlib import Path

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif"}
)
TEXT_EXTENSIONS = frozenset({".txt", ".md"})
AUDIO_EXTENSIONS = frozenset({".wav", ".mp3", ".flac", ".ogg", ".m4a", ".aac", ".opus"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mkv", ".webm", ".mov"})  # key frames and the sound track
SIDECAR_EXTENSIONS = (".srt", ".vtt", ".txt")  # transcripts next to a recording, in this order

MODALITIES = ("image", "text", "audio", "video")
RECORDINGS = frozenset({"audio", "video"})  # modalities with a sound track: transcripts, sidecars


def modality_of(path: Path) -> str | None:
    """The modality a file is indexed as, or None for a file we skip."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in TEXT_EXTENSIONS:
        return "text"
    if suffix in AUDIO_EXTENSIONS:
        return "audio"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    return None
