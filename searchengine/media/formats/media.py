"""Pictures, recordings and videos: decoded by :mod:`searchengine.media.images`,
:mod:`searchengine.media.audio` and :mod:`searchengine.pipeline.decode_video`."""

from __future__ import annotations

from searchengine.media.formats.base import Format

IMAGES = Format("image", "image", (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff",
                                   ".heic", ".heif"), mime="image/*", description="photo or picture")
AUDIO = Format("audio", "audio", (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".aac", ".opus"),
               mime="audio/*", description="recording")
VIDEO = Format("video", "video", (".mp4", ".mkv", ".webm", ".mov"), mime="video/*",
               description="video (key frames and the sound track)")
