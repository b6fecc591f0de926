"""The command line: parses, calls the engine, renders. Domain errors become one-line
messages and exit codes: 0 ok (also no matches), 2 bad usage or input, 3 index cannot be
opened or is damaged, 1 anything unexpected."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, List, Optional, Tuple, TypeVar

import typer

from searchengine.config import Settings
from searchengine.media.pathnames import display_path, has_undecodable
from searchengine.errors import (
    ClusterUnavailableError,
    IndexUnavailableError,
    InvalidInputError,
    ModelUnavailableError,
    SearchEngineError,
)

if TYPE_CHECKING:
    from searchengine.vectors.index_kind import IndexKind

app = typer.Typer(
    help="Cross-modal semantic search over photos, recordings and documents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_UNEXPECTED, EXIT_USAGE, EXIT_INDEX = 1, 2, 3  # and 0: success

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


def _run(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except SearchEngineError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(_exit_code(exc)) from None
    except KeyboardInterrupt:
        typer.echo("Interrupted; finished work is kept and the next run resumes.", err=True)
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
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@app.command()
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
    follow_outside: bool = typer.Option(False, "--follow-symlinks-outside", help="Also follow symlinks whose target "
                                        "is outside the indexed folders [env SEARCHENGINE_FOLLOW_SYMLINKS_OUTSIDE]."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ray: Optional[str] = typer.Option(None, "--ray", help="Decode and encode on a Ray cluster: local (started "
                                      "on this machine), auto (the cluster this machine joined) or an address "
                                      "(HOST:PORT, ray://HOST:PORT). Needs the ray extra."),
) -> None:
    """Index folders of photos, recordings and documents (recursive, incremental)."""
    from searchengine.engine import SearchEngine

    def work():
        settings = _settings(index_root, database_url, batch_size=batch_size, asr_model=asr_model, language=language,
                             precision=precision, index_type=index_type, follow_symlinks_outside=follow_outside or None,
                             ocr=ocr)
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
        for key in ("failures", "skipped", "kept"):
            data[key] = [(json_path(p), reason) for p, reason in data[key]]
        data["missing_roots"] = [json_path(p) for p in data["missing_roots"]]
        data["reindexed"] = {**rebuilt[0].to_json(), "description": rebuilt[0].describe(),
                             "seconds": rebuilt[1]} if rebuilt else None
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(
        f"Indexed {report.scanned} files in {report.seconds:.1f}s into {engine.layout.folder}: "
        f"{report.added} new, {report.updated} changed, {report.moved} moved, {report.reused} reused, "
        f"{report.unchanged} unchanged, {report.deleted} deleted, {report.failed} failed, "
        f"{len(report.skipped)} skipped ({report.units_added} vectors added)."
    )
    if report.kept:
        typer.echo(f"Kept {len(report.kept)} indexed files that cannot be read now (tried again next run):", err=True)
        for _, reason in report.kept[:10]:
            typer.echo(f"  kept: {reason}", err=True)
    if report.transcribed_files or report.transcript_cache_hits:
        typer.echo(
            f"Transcribed {report.transcribed_files} recordings ({report.transcribed_seconds:.0f}s of audio); "
            f"{report.transcript_cache_hits} transcripts reused."
        )
    if report.ocr_images or report.ocr_cache_hits:
        typer.echo(f"Read text in {report.ocr_images} images ({report.ocr_seconds:.1f}s); "
                   f"{report.ocr_cache_hits} reused.")
    if report.videos:
        typer.echo(
            f"Read the pictures of {report.videos} videos ({report.video_seconds:.0f}s): "
            f"{report.frames_kept} key frames from {report.frames_decoded} decoded ({report.frames_per_second:.0f} frames/s)."
        )
    for gone in report.missing_roots:
        typer.echo(f"  missing folder kept: {display_path(gone)} (remove it with `searchengine forget {display_path(gone)}`)", err=True)
    for path, reason in report.failures[:20]:
        typer.echo(f"  failed: {reason}", err=True)
    if len(report.failures) > 20:
        typer.echo(f"  ... and {len(report.failures) - 20} more (see `searchengine status`)", err=True)
    if rebuilt:
        _echo_rebuilt(rebuilt[0], rebuilt[2], rebuilt[1])


@app.command()
def search(
    query: Optional[str] = typer.Argument(None, help="Text to search for."),
    image: Optional[Path] = typer.Option(None, "--image", help="Search by this image instead of text."),
    similar_to: Optional[int] = typer.Option(None, "--similar-to", min=1, max=2**63 - 1, help="Search by an indexed item's id."),
    k: int = typer.Option(10, "--k", "-k", min=1, max=10000, help="Number of hits."),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many hits (pagination)."),
    modality: Optional[List[str]] = typer.Option(None, "--modality", help="Only these modalities (image, text, audio, video)."),
    path_glob: Optional[str] = typer.Option(None, "--path", help="Only paths matching this glob, e.g. '*.jpg'."),
    after: Optional[datetime] = typer.Option(None, "--after", help="Only files modified at or after this date (UTC), e.g. 2024-06-01."),
    before: Optional[datetime] = typer.Option(None, "--before", help="Only files modified at or before this date (UTC)."),
    mode: str = typer.Option("hybrid", "--mode", help="Text queries: hybrid (meaning and keywords, fused), vector (meaning only) or keyword (words as written; a \"quoted phrase\" must occur)."),
    index_name: str = IndexOpt,
    model: Optional[str] = ModelOpt,
    index_root: Optional[Path] = RootOpt,
    database_url: Optional[str] = DatabaseUrlOpt,
    json_out: bool = typer.Option(False, "--json", help="Print hits as a JSON array."),
) -> None:
    """Search an index by text, by image, or by an indexed item."""
    from searchengine.engine import SearchEngine
    from searchengine.query.filters import SearchFilters

    if query is None and image is None and similar_to is None:
        typer.echo("Error: give a text query, --image FILE, or --similar-to ID", err=True)
        raise typer.Exit(EXIT_USAGE)

    def work():
        with SearchEngine.open(index_name, model=model, settings=_settings(index_root, database_url), create=False) as engine:
            return engine.search(query, image=image, similar_to=similar_to, k=k, offset=offset, mode=mode,
                                 filters=SearchFilters.of(modality or None, path_glob, after, before))

    hits = _run(work)
    if json_out:
        rows = [{**h.to_dict(), "path": json_path(h.path)} for h in hits]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not hits:
        typer.echo("No matches.")
        return
    typer.echo(f"{'#':>3}  {'score':>6}  {'modality':<8}  {'id':>6}  path")
    for rank, h in enumerate(hits, 1):
        where = ""
        if h.kind == "frame" and h.start is not None:
            where = f"  at {_clock(h.start)}"
        elif h.start is not None and h.end is not None:
            where = f"  [chars {int(h.start)}-{int(h.end)}]" if h.modality == "text" else f"  [{_clock(h.start)}-{_clock(h.end)}]"
            if h.moment is not None:
                where += f" said at {_clock(h.moment)}"
        if h.kind == "ocr":
            where += "  text in image" + (f" at {_box(h.box)}" if h.box else "")
        if h.found_by and h.found_by != ("vector",):
            where += f"  ({' + '.join(h.found_by)})"
        typer.echo(f"{rank:>3}  {h.score:6.3f}  {h.modality:<8}  {h.id:>6}  {display_path(h.path)}{where}")
        if h.text:
            typer.echo(f"{'':>30}{_snippet(h.text, h.highlights, color=sys.stdout.isatty())}")


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
        out.append(text[at:a])
        out.append(f"\x1b[1m{text[a:b]}\x1b[0m" if color else f"[{text[a:b]}]")
        at = b
    out.append(text[at:end])
    line = " ".join("".join(out).split())
    return ("…" if start > 0 else "") + line + ("…" if end < len(text) else "")


@app.command()
def status(
    index_name: str = IndexOpt,
    index_root: Optional[Path] = RootOpt,
    database_url: Optional[str] = DatabaseUrlOpt,
    json_out: bool = typer.Option(False, "--json", help="Print status as JSON."),
) -> None:
    """Items per modality, model, index type and size on disk."""
    from dataclasses import asdict

    from searchengine.engine import SearchEngine

    def work():
        with SearchEngine.open(index_name, settings=_settings(index_root, database_url), create=False) as engine:
            return engine.status(), engine.failures()

    st, failures = _run(work)
    if json_out:
        data = asdict(st)
        data["roots"] = [json_path(r) for r in st.roots]
        data["failures"] = [{"path": json_path(f.path), "error": f.error} for f in failures]
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"Index     {st.name}  ({st.folder})")
    typer.echo(f"Model     {st.model}  ({st.dim}-d, {st.metric}, {st.precision})")
    typer.echo(f"FAISS     {st.index_type}, {st.vectors} vectors (index type: {st.index_policy})")
    typer.echo(f"Schema    revision {st.schema_revision}")
    typer.echo(f"On disk   {st.size_bytes / 1e6:.1f} MB")
    typer.echo("Folders   " + (", ".join(display_path(r) + ("" if Path(r).exists() else " (missing)") for r in st.roots) or "-"))
    for modality, counts in sorted(st.modalities.items()):
        typer.echo(f"  {modality:<6} {counts['files']:>7} files  {counts['units']:>8} vectors  {counts['failed']:>5} failed")
    for f in failures[:10]:
        typer.echo(f"  failed: {f.error}")


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
    """Rebuild the FAISS index from the vectors already stored (no re-embedding), e.g. as another index type."""
    from searchengine.engine import SearchEngine

    def work():
        with SearchEngine.open(index_name, settings=_settings(index_root, database_url), create=False) as engine:
            t0 = time.perf_counter()
            kind = engine.reindex(index_type, progress=sys.stderr.isatty())
            return engine, kind, time.perf_counter() - t0, engine.status().index_policy

    engine, kind, seconds, policy = _run(work)
    if json_out:
        typer.echo(json.dumps({**kind.to_json(), "description": kind.describe(), "index_policy": policy,
                               "seconds": seconds}, indent=2))
        return
    typer.echo(f"Rebuilt the FAISS index of {engine.layout.folder} from {kind.built_for} stored vectors (no re-embedding).")
    _echo_rebuilt(kind, policy, seconds)


def _echo_rebuilt(kind: "IndexKind", policy: str, seconds: float) -> None:
    typer.echo(f"FAISS     {kind.describe()}, {kind.built_for} vectors (index type: {policy}) in {seconds:.1f}s")
    if policy not in ("auto", kind.name):
        typer.echo(f"  {kind.built_for} vectors are too few to train {policy} lists: exact search instead. "
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
        typer.echo("Error: give --exact-only or --near-only, not both", err=True)
        raise typer.Exit(EXIT_USAGE)
    kind = "exact" if exact_only else "near" if near_only else "all"

    def work():
        with SearchEngine.open(index_name, settings=_settings(index_root), create=False) as engine:
            return engine.duplicates(threshold, kind=kind, limit=limit, filters=SearchFilters.of(path_glob=path_glob),
                                     progress=sys.stderr.isatty())

    report = _run(work)
    if json_out:
        typer.echo(json.dumps(report_json(report, json_path), indent=2, ensure_ascii=False))
        return
    for line in render_duplicates(report, display_path):
        typer.echo(line)


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
    typer.echo(f"Removed {removed} files under {display_path(path.expanduser().absolute())} from the index.")


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
                                        help="API token required in 'Authorization: Bearer' [env SEARCHENGINE_API_TOKEN]."),
    max_upload_mb: float = typer.Option(20.0, "--max-upload-mb", min=0.1, help="Largest accepted upload."),
    allowed_host: Optional[List[str]] = typer.Option(None, "--allowed-host", help="Also accept requests "
                                                     "addressed to this host name (repeatable); loopback names always are."),
    watch_folders: bool = typer.Option(False, "--watch", help="Also keep the index current: index changes in "
                                       "its folders as they happen (as `searchengine watch`)."),
) -> None:
    """Serve the HTTP API and the web page for one index (model loaded once, kept warm)."""
    import ipaddress

    import uvicorn

    from searchengine.engine import SearchEngine
    from searchengine.http.app import create_app

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not token:
        typer.echo(f"Error: --host {host} is reachable from other machines; set --token (or "
                   "SEARCHENGINE_API_TOKEN) so that only holders of the token can search", err=True)
        raise typer.Exit(EXIT_USAGE)

    def work():
        engine = SearchEngine.open(index_name, settings=_settings(index_root, database_url), create=False)
        engine.search("warm up", k=1)  # loads the model and the vectors before the first request
        return engine

    engine = _run(work)
    typer.echo(f"Serving index {engine.name} ({engine.model}) on http://{host}:{port}/", err=True)
    watcher = None
    if watch_folders:
        from searchengine.pipeline.watch import FolderWatcher

        watcher = _run(lambda: FolderWatcher(engine))
        watcher.start()  # searches go on while it writes (see searchengine.pipeline.watch)
        typer.echo(f"Watching {', '.join(display_path(r) for r in watcher.roots())}.", err=True)
    hosts = list(allowed_host or [])
    if not hosts and not loopback:
        # a concrete address is its own name; a wildcard bind behind a token accepts any name
        # (a DNS-rebinding page has neither the token nor the session cookie)
        hosts = ["*"] if host in ("0.0.0.0", "::") else [host]
    uvicorn.run(create_app(engine, api_token=token, max_upload_bytes=int(max_upload_mb * 1024 * 1024),
                           allowed_hosts=hosts, serve_outside_roots=engine.settings.follow_symlinks_outside),
                host=host, port=port, log_level="warning")
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
        with SearchEngine.open(index_name, settings=_settings(index_root, database_url), create=False) as engine:
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
) -> None:
    """Measure retrieval quality on a captioned collection: Recall@K in every direction."""
    from searchengine.evaluation.report import load_report, render_comparison, render_report

    if compare:
        a, b = _run(lambda: (load_report(compare[0]), load_report(compare[1])))
        typer.echo(render_comparison(a, b, str(compare[0]), str(compare[1])))
        return
    if manifest is None:
        typer.echo("Error: give a manifest, or --compare A.json B.json", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        ks = [int(x) for x in k.split(",") if x.strip()]
        if not ks or min(ks) < 1:
            raise ValueError
    except ValueError:
        typer.echo(f"Error: --k {k!r} must be comma-separated whole numbers of 1 or more, e.g. 1,5,10", err=True)
        raise typer.Exit(EXIT_USAGE) from None

    if json_path is not None and str(json_path) != "-" and not json_path.parent.is_dir():
        typer.echo(f"Error: --json {json_path}: the folder {json_path.parent} does not exist", err=True)
        raise typer.Exit(EXIT_USAGE)

    def work():
        from searchengine.evaluation.runner import run_eval

        return run_eval(manifest, ks=ks, model=model, settings=_settings(None, asr_model=asr_model, precision=precision),
                        progress=sys.stderr.isatty())

    report = _run(work)
    if json_path is not None:
        text = json.dumps(report, indent=2)
        if str(json_path) == "-":
            typer.echo(text)
            return
        json_path.write_text(text + "\n")
    typer.echo(render_report(report))


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
    "--token": "none (loopback only)", "--ray": "no cluster: this process",
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
