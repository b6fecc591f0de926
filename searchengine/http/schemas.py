"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Optional

from pydantic import BaseModel, Field

from searchengine.media.formats.registry import MODALITIES

if TYPE_CHECKING:
    Modality = str
else:  # the modalities of the format registry
    Modality = Literal[MODALITIES]


class ErrorBody(BaseModel):
    status: int = Field(description="The HTTP status code, repeated.")
    code: str = Field(description="A stable machine-readable kind, e.g. not_found, invalid_request.")
    message: str = Field(description="What went wrong and what to do, for people.")
    details: Optional[list[dict[str, Any]]] = Field(None, description="Per-field problems, for validation errors.")


class ErrorResponse(BaseModel):
    error: ErrorBody


SearchMode = Literal["hybrid", "vector", "keyword"]
SearchGroup = Literal["file", "unit"]

_SCORE = ("Relevance, 0 to 1, on one scale for every kind of hit and every model (calibrated per kind "
          "against the index's own score statistics); 0.5 and above is a strong match. Lists are sorted by it.")


class EvidenceOut(BaseModel):
    id: int = Field(description="Id of the unit (a moment, passage, page or text box of the same file).")
    kind: str
    score: float = Field(description=_SCORE)
    similarity: Optional[float] = Field(None, description="Cosine similarity of the unit's vector with the query.")
    start: Optional[float] = None
    end: Optional[float] = None
    text: Optional[str] = None
    moment: Optional[float] = None
    box: Optional[tuple[float, float, float, float]] = None
    found_by: Optional[list[Literal["vector", "keyword"]]] = None
    highlights: Optional[list[tuple[int, int]]] = None
    page: Optional[int] = Field(None, description="Documents: the passage's page, slide or chapter (1-based).")


class HitOut(BaseModel):
    id: int = Field(description="Id of the embedded unit (image, text chunk, audio window, video frame).")
    path: str
    name: str = Field(description="File name.")
    modality: Modality
    score: float = Field(description=_SCORE)
    similarity: Optional[float] = Field(None, description="Cosine similarity of the unit's vector with the query "
                                        "(none in keyword mode, which loads no model).")
    strong: bool = Field(False, description="A strong match (score >= 0.5): the page's cut between strong "
                         "and weaker matches.")
    start: Optional[float] = Field(None, description="Chunk start: characters (text) or seconds (audio, video; "
                                   "a video key frame: the second where it is seen).")
    end: Optional[float] = Field(None, description="Chunk end: characters (text) or seconds (audio, video; "
                                 "a key frame: until the next one).")
    text: Optional[str] = Field(None, description="The matched passage (text chunk, transcript window).")
    moment: Optional[float] = Field(None, description="Audio: second where the query's words are spoken; a sound "
                                    "event: the second it starts. A player starts at `moment`, else `start`.")
    found_by: Optional[list[Literal["vector", "keyword"]]] = Field(
        None, description="Text queries: which side of the search found this hit.")
    highlights: Optional[list[tuple[int, int]]] = Field(
        None, description="Character spans in `text` of the query's words and phrases.")
    kind: Literal["image", "chunk", "window", "ocr", "frame", "sound", "place"] = Field(
        "image", description="What the unit is: a whole image, a text chunk, a transcript window, "
        "text read in an image (`box` says where), a video key frame (at `start` seconds), a sound event "
        "(from `start` to `end` seconds; `text`: its labels), the names of the place a photo was taken (`text`).")
    box: Optional[tuple[float, float, float, float]] = Field(
        None, description="Text read in an image: x0, y0, x1, y1 as fractions of the picture's width and height.")
    page: Optional[int] = Field(None, description="Documents: where the passage is, 1-based - a PDF's page, "
                                "a deck's slide, an e-book's chapter (see `location`).")
    location: Optional[Literal["page", "slide", "chapter"]] = Field(
        None, description="What `page` counts in this file's format.")
    date: Optional[datetime] = Field(None, description="The item's date (UTC): when taken (photos, videos "
                                     "that say so), else the file's modification time; see `date_source`.")
    date_source: Optional[Literal["taken", "modified"]] = Field(None, description="Where `date` comes from.")
    place: Optional[str] = Field(None, description="Photos with GPS: the nearest town, region and country "
                                 "(English, and Chinese in brackets).")
    camera: Optional[str] = Field(None, description="Photos: the camera's make and model.")
    media_url: str = Field(description="The file; for a PDF hit, with `#page=N` to open it at its page.")
    thumbnail_url: Optional[str] = None
    evidence: list[EvidenceOut] = Field(default_factory=list, description="With group=file (the default): "
                                        "the file's other matching units, best first.")


class SearchResponse(BaseModel):
    hits: list[HitOut]
    k: int
    offset: int
    next_offset: Optional[int] = Field(None, description="Offset of the next page, when there may be one.")


class SearchRequest(BaseModel):
    q: str = Field(min_length=1, max_length=2000, pattern=r"\S", description="The text to search for (not blank).")
    k: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=100000)
    modality: Optional[list[Modality]] = None
    path: Optional[str] = Field(None, max_length=1000, description="Glob on the path, e.g. '*.jpg'.")
    after: Optional[datetime] = Field(None, description="Only items dated at or after this time (taken, "
                                      "else modified).")
    before: Optional[datetime] = Field(None, description="Only items dated at or before this time (taken, "
                                       "else modified).")
    place: Optional[str] = Field(None, max_length=200, description="Only photos taken at a place with these "
                                 "words in its names, e.g. Kyoto, 杭州, Japan.")
    camera: Optional[str] = Field(None, max_length=200, description="Only photos from a camera with these "
                                  "words in its make and model.")
    mode: SearchMode = Field("hybrid", description="hybrid (meaning and keywords, fused), vector, or keyword "
                                                   "(words as written; a \"quoted phrase\" must occur).")
    group: SearchGroup = Field("file", description="file: one hit per file, its other matching units as "
                               "`evidence`; unit: every matching unit on its own.")


class TextBoxOut(BaseModel):
    id: int = Field(description="Id of the unit (the line of text read in the picture).")
    text: str
    box: tuple[float, float, float, float] = Field(
        description="x0, y0, x1, y1 as fractions of the picture's width and height.")


class ContextOut(BaseModel):
    text: str = Field(description="The passage with the text around it (up to about 1,200 characters "
                      "each side, from the same page of a document).")
    start: int = Field(description="Where the passage starts in `text` (characters).")
    end: int = Field(description="Where the passage ends in `text` (characters, exclusive).")
    cut_before: bool = Field(description="The file's text goes on before `text`.")
    cut_after: bool = Field(description="The file's text goes on after `text`.")


class ItemOut(BaseModel):
    id: int
    path: str
    name: str
    modality: Modality
    kind: str = Field("image", description="What the unit is (see the search hits' `kind`).")
    start: Optional[float] = None
    end: Optional[float] = None
    text: Optional[str] = None
    page: Optional[int] = Field(None, description="Documents: the passage's page, slide or chapter (1-based).")
    box: Optional[tuple[float, float, float, float]] = Field(
        None, description="Text read in an image: where, as fractions x0, y0, x1, y1.")
    text_in_image: Optional[list[TextBoxOut]] = Field(
        None, description="Images: every line of text read in the picture, with its box.")
    context: Optional[ContextOut] = Field(
        None, description="A passage of a note or document: the passage in its surrounding text.")
    size: int
    modified: datetime
    content_hash: str
    media_url: str
    thumbnail_url: Optional[str] = None
    transcript: Optional[dict[str, Any]] = Field(None, description="Audio: source, language and timed segments.")


class JobOut(BaseModel):
    id: str
    state: Literal["running", "done", "failed"]
    stage: str
    done: int
    total: int
    started_at: datetime
    finished_at: Optional[datetime] = None
    report: Optional[dict[str, Any]] = None
    error: Optional[str] = None


class StatusOut(BaseModel):
    name: str
    model: Optional[str]
    dim: Optional[int]
    metric: str
    index_type: str
    index_policy: str
    schema_revision: str
    vectors: int
    size_bytes: int
    roots: list[str]
    modalities: dict[str, dict[str, int]]
    text_to_read: Optional[int] = Field(None, description="Indexed photos whose text is still to be read; null "
                                        "where text in images is not read.")
    text_reader_pid: Optional[int] = Field(None, description="The background text reader reading it now, or null.")
    job: Optional[JobOut] = None


class HealthOut(BaseModel):
    status: Literal["ok"]
    model_loaded: bool


DuplicatesKind = Literal["all", "exact", "near"]


class DuplicateFileOut(BaseModel):
    id: Optional[int] = Field(description="Id of the file's (first) indexed item; null for a file with none.")
    path: str
    name: str = Field(description="File name.")
    modality: Modality
    size: int = Field(description="Bytes.")
    score: Optional[float] = Field(None, description="Near groups: cosine similarity with the group's first "
                                   "photo (null for the first, the largest file).")
    copies: int = Field(0, description="Near groups: other files with exactly this content (see the exact groups).")
    media_url: Optional[str] = None
    thumbnail_url: Optional[str] = None


class DuplicateGroupOut(BaseModel):
    kind: Literal["exact", "near"]
    files: list[DuplicateFileOut]
    score: Optional[float] = Field(None, description="Near groups: cosine similarity of the closest pair.")
    content_hash: Optional[str] = Field(None, description="Exact groups: the files' content hash.")
    redundant_bytes: int = Field(description="Bytes all but the largest file take.")


class DuplicatesResponse(BaseModel):
    threshold: float
    kind: DuplicatesKind
    exact: list[DuplicateGroupOut] = Field(description="Exact copies, the most redundant bytes first.")
    near: list[DuplicateGroupOut] = Field(description="Near-duplicate photos, the closest pairs first.")
    exact_total: int = Field(description="Exact groups in all (before the limit).")
    near_total: int = Field(description="Near groups in all (before the limit).")
    photos: int = Field(description="Photos compared.")
    index_type: str
    seconds: float
