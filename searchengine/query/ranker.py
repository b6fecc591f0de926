"""The query layer's front door: a query -> candidates of every kind -> one relevance scale ->
hits one per file, finished (score, similarity, strong, evidence, highlights, moments).

1. **Candidates per kind.** The vector side searches each kind of unit (photos, frames, text
   chunks, transcript windows, text read in photos, ...) on its own, so a kind whose cosines
   run low (pictures, against a text query) still brings its best; the keyword side (text
   queries) brings the units holding the query's words.
2. **One scale** (:mod:`searchengine.query.calibration`): each candidate's cosine becomes a
   z-score within its kind; a keyword match holding a share ``c`` (at least
   :data:`MIN_COVERAGE`) of the query's words adds ``KEYWORD_Z * c``.
3. **Text read in photos is evidence for its photo**: an ``ocr`` unit leads only when the
   query is its words - a keyword match, or a text match of z >= :data:`OCR_Z` - otherwise it
   is dropped (the photo is still found by its picture). A ``place`` unit (the names of where a
   photo was taken) likewise, from a strong match (:data:`PLACE_Z`).
4. **One hit per file** (``group="file"``): the file's best unit leads, its other matching
   units come as ``evidence``; ``group="unit"`` lists units.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from searchengine.catalog.catalog import Catalog
from searchengine.errors import InvalidInputError
from searchengine.query.calibration import PICTURE_KINDS, Z_STRONG, Calibration, relevance
from searchengine.query.filters import SearchFilters
from searchengine.query.hits import Evidence, Hit
from searchengine.query.moments import with_moments
from searchengine.query.searcher import MIN_COVERAGE, SELECTIVE_MAX, Searcher, unit_hit
from searchengine.store.keywords import KeywordQuery, highlights, parse_query, unquoted
from searchengine.store.keywords import coverage as keyword_coverage
from searchengine.store.records import UnitRow

log = logging.getLogger(__name__)

GROUPS = ("file", "unit")
DEPTH = 100  # keyword candidates, at least
ONE_PASS_MAX = 20_000  # an index this small is searched in one exact pass, split by kind
KIND_DEPTH = 40  # vector candidates of each kind, at least (more are asked for when files run short)
KEYWORD_Z = 3.0  # a keyword match holding all the query's words adds this to its z: strong by itself
OCR_Z = 4.5  # text read in a photo leads on the vector side alone only from this z up
# a photo's place names (clean names, never junk) lead on the vector side alone from a strong
# match up: "京都的照片" finds the Kyoto photo (z 3.7) with no keyword match
PLACE_Z = Z_STRONG
EVIDENCE_Z = Z_STRONG - 1.0  # a file's other units come as evidence from this z up
MAX_EVIDENCE = 5
IDENTICAL_COS = 0.999  # a unit this close to the query is the same content: it leads, whatever its kind
Z_IDENTICAL = 12.0
# a picture this close to a picture query is what `searchengine duplicates` calls a near copy
# (its default threshold, searchengine.duplicates.finder.DEFAULT_THRESHOLD): a re-saved,
# resized, cropped or brightened copy, or the same scene shot again. Its z is at least
# :func:`near_copy_z` - strong, and above the notes about the picture - whatever the kind's
# spread: where many pictures sit at the query (a burst, a folder of copies) they inflate
# the kind's variance along the query, and a copy at cosine 0.99 scored below unrelated notes
NEAR_COPY_COS = 0.95


@dataclass
class _Candidate:
    row: UnitRow
    similarity: float | None = None
    vector_z: float | None = None
    coverage: float = 0.0
    keyword_rank: int | None = None
    by_vector: bool = False

    @property
    def by_keyword(self) -> bool:
        return self.keyword_rank is not None

    @property
    def z(self) -> float:
        if not self.by_keyword:
            return self.vector_z if self.vector_z is not None else float("-inf")
        # a unit holding the query's words: at least as relevant as its kind's average unit,
        # plus its share of the words - all of them make it strong by themselves
        base = max(self.vector_z, 0.0) if self.vector_z is not None else 0.0
        return base + KEYWORD_Z * self.coverage

    @property
    def eligible(self) -> bool:
        """Text read in a photo, and the names of the place it was taken, stand on their own
        only when the query is their words."""
        if self.row.kind not in ("ocr", "place") or self.by_keyword:
            return True
        return self.vector_z is not None and self.vector_z >= (OCR_Z if self.row.kind == "ocr" else PLACE_Z)

    @property
    def found_by(self) -> tuple[str, ...]:
        return tuple(side for side, yes in (("vector", self.by_vector), ("keyword", self.by_keyword)) if yes)


class Ranker:
    """Ranked, grouped search over one catalog. Thread-safe."""

    def __init__(self, catalog: Catalog, calibration_path: Path | None = None):
        self.catalog = catalog
        self.repo = catalog.repo
        self.searcher = Searcher(catalog)
        self._path = calibration_path
        self._lock = threading.Lock()
        self._generation = -2
        self._kinds: dict[str, np.ndarray] = {}
        self._calibration: Calibration | None = None
        self._kind_of: dict[int, str] | None = None  # unit id -> kind, built on first need
        self._sounds: _SoundSpace | None = None  # sound units' class scores, read on first need

    # -- per-generation state: unit ids by kind, calibration -------------------------------

    def _state(self) -> tuple[dict[str, np.ndarray], Calibration]:
        self.catalog.sync()
        self.catalog.vectors()  # loaded (built in memory when no usable file is saved: a reader never writes it)
        with self._lock:
            generation = self.catalog.generation
            if generation != self._generation or self._calibration is None:
                kinds = self.repo.unit_ids_by_kind()
                counts = {kind: len(ids) for kind, ids in kinds.items()}
                calibration = self._calibration
                if calibration is None or not calibration.fresh_for(counts):
                    saved = Calibration.load(self._path) if self._path is not None else None
                    if saved is not None and saved.fresh_for(counts):
                        calibration = saved
                    else:
                        log.info("measuring the relevance calibration of %d units in memory", sum(counts.values()))
                        calibration = self._measure(kinds)
                self._kinds, self._calibration, self._generation = kinds, calibration, generation
                self._kind_of = None
                self._sounds = None
            return self._kinds, self._calibration

    def _kind_lookup(self, kinds: dict[str, np.ndarray]) -> dict[int, str]:
        """Unit id -> kind for ``kinds`` (this generation's), built once per generation."""
        with self._lock:
            if self._kind_of is None or kinds is not self._kinds:
                lookup = {int(i): kind for kind, ids in kinds.items() for i in ids.tolist()}
                if kinds is not self._kinds:
                    return lookup
                self._kind_of = lookup
            return self._kind_of

    def _sound_space(self, kinds: dict[str, np.ndarray]) -> "_SoundSpace":
        """The class scores and vectors of the sound units that hold their scores (read once
        a generation; sound units indexed before revision 0009 have none)."""
        with self._lock:
            held = self._sounds if kinds is self._kinds else None
        if held is not None:
            return held
        ids, scores = self.repo.sound_scores()
        found = self.repo.vectors_of(ids.tolist(), self.catalog.dim) if len(ids) else {}
        keep = np.asarray([int(i) in found for i in ids.tolist()], dtype=bool)
        ids, scores = ids[keep], scores[keep]
        vectors = (np.stack([found[int(i)] for i in ids.tolist()]) if len(ids)
                   else np.zeros((0, self.catalog.dim), np.float32))
        missing = len(kinds.get("sound", ())) - len(ids)
        if missing > 0:
            log.info("%d sound units were indexed before their class scores were kept: they rank by their "
                     "vector alone until the next `searchengine index` adds them (docs/sounds.md)", missing)
        space = _SoundSpace(ids, scores, vectors)
        with self._lock:
            if kinds is self._kinds:
                self._sounds = space
        return space

    def _measure(self, kinds: dict[str, np.ndarray]) -> Calibration:
        dim = self.catalog.dim

        def vectors_of(ids: list[int]) -> np.ndarray:
            found = self.repo.vectors_of(ids, dim)
            return np.stack([found[i] for i in ids if i in found]) if found else np.zeros((0, dim), np.float32)

        return Calibration.measure(kinds, vectors_of)

    def refresh_calibration(self) -> bool:
        """The writer's step after a run that changed the index: measure the calibration
        again where the saved one no longer describes the index, and save it. True when it
        was written."""
        if self._path is None:
            return False
        kinds = self.repo.unit_ids_by_kind()
        counts = {kind: len(ids) for kind, ids in kinds.items()}
        unscored = (self.repo.sound_units_without_scores()
                    if counts.get("sound") and self.repo.sound_scores_pending() else 0)
        if unscored:
            log.warning("%d sound units were indexed before their class scores were kept (revision 0009) and could "
                        "not be made again now (sound events off, or their recordings changed or unreadable): they "
                        "rank by their vector alone until an index run adds them (docs/sounds.md)",
                        unscored)
        saved = Calibration.load(self._path)
        if saved is not None and saved.fresh_for(counts):
            return False
        if not counts:
            self._path.unlink(missing_ok=True)
            return False
        self._measure(kinds).save(self._path)
        with self._lock:
            self._generation = -2  # read again on the next search
        return True

    # -- searching ------------------------------------------------------------------------

    def has_kind(self, kind: str) -> bool:
        """Whether the index holds units of ``kind`` now."""
        kinds, _ = self._state()
        return kind in kinds and len(kinds[kind]) > 0

    def search(self, vector: np.ndarray | None, text: str | None = None, *, k: int = 10, offset: int = 0,
               filters: SearchFilters = SearchFilters(), mode: str = "hybrid", group: str = "file",
               exclude_ids: Sequence[int] = (), picture: bool = False,
               kind_vectors: Mapping[str, np.ndarray] | None = None,
               sound_classes: np.ndarray | None = None) -> list[Hit]:
        """Ranked hits for a query vector (text, image or an indexed unit's), with the
        query's text for the keyword side (``mode`` hybrid or keyword; vector ignores it).
        ``picture``: the vector comes from the image tower (a photo, a video frame); it is
        ranked centred on the index's pictures (see :func:`centred_query`).
        ``kind_vectors``: the query as a kind of unit should read it, where that differs
        from ``vector`` (sound units: the text less its "the sound of" frame, see
        :mod:`searchengine.sounds.query`); that kind is searched, and scored on the one
        scale, with its own vector. ``sound_classes``: a text query's weights over the 521
        sound classes (:func:`searchengine.sounds.class_space.query_classes`): sound units
        that hold their class scores are scored in class space too (see
        :meth:`_class_evidence`)."""
        if k < 1:
            raise InvalidInputError(f"k must be at least 1, got {k}")
        if offset < 0:
            raise InvalidInputError(f"offset must be 0 or more, got {offset}")
        if group not in GROUPS:
            raise InvalidInputError(f"unknown grouping {group!r} for --group; choose {', '.join(GROUPS)}")
        query = parse_query(text) if text is not None and mode != "vector" else KeywordQuery((), ())
        if vector is None and not query:
            return []
        kinds, calibration = self._state()
        if not kinds:
            return []
        wanted = k + offset
        depth = max(DEPTH, 2 * wanted)
        within: np.ndarray | None = None
        if query.phrases:  # a quoted phrase must occur in every hit
            phrase_only = KeywordQuery(query.phrases, ())
            within = np.asarray(sorted(i for i, _, _ in self.searcher.keyword_ranks(phrase_only, SELECTIVE_MAX, filters)),
                                dtype=np.int64)
            if len(within) == 0:
                if mode != "hybrid" or vector is None:
                    return []
                # hybrid: no unit holds the phrase as written (a pasted sentence with quotes
                # in it, a transcript that spells "lower-case" as "lower case"): the search
                # goes on by meaning, the phrase's words counting as ordinary words
                log.warning("nothing indexed holds %s as written; searching by meaning and its words",
                            " and ".join(f'"{p}"' for p in query.phrases))
                query = parse_query(unquoted(text or ""))
                within = None
        ranked_by, lift = centred_query(vector, calibration) if picture and vector is not None else (vector, 0.0)
        while True:
            candidates, exhausted = self._candidates(ranked_by, query, kinds, calibration, depth, filters, within,
                                                     exclude_ids, vector if ranked_by is not vector else None, lift,
                                                     kind_vectors if ranked_by is vector else None)
            if sound_classes is not None and ranked_by is vector and vector is not None and "sound" in kinds:
                sound_query = (kind_vectors or {}).get("sound", vector)
                self._class_evidence(candidates, np.asarray(sound_query, dtype=np.float32), sound_classes, kinds,
                                     calibration, max(KIND_DEPTH, depth * KIND_DEPTH // DEPTH),
                                     open_scope=not filters and within is None, exclude_ids=exclude_ids)
            ranked = self._rank(candidates, group)
            if len(ranked) >= wanted or exhausted:
                break
            depth *= 4
        page = ranked[offset:wanted]
        hits = [self._finish(lead, rest, query) for lead, rest in page]
        if ranked_by is not vector and vector is not None:
            hits = self._raw_similarities(hits, vector)
        return with_moments(self.repo, hits, text) if text is not None else hits

    def _candidates(self, vector: np.ndarray | None, query: KeywordQuery, kinds: dict[str, np.ndarray],
                    calibration: Calibration, depth: int, filters: SearchFilters, within: np.ndarray | None,
                    exclude_ids: Sequence[int], raw: np.ndarray | None = None,
                    lift: float = 0.0, kind_vectors: Mapping[str, np.ndarray] | None = None
                    ) -> tuple[dict[int, _Candidate], bool]:
        """``raw``, ``lift``: for a centred picture query, the query as given and its cosine
        with the pictures' mean (the identical-content rule checks the raw cosine).
        ``kind_vectors``: kinds read with a vector of their own (see :meth:`search`)."""
        found: dict[int, _Candidate] = {}
        exhausted = True
        baselines = calibration.baselines(vector) if vector is not None else {}
        own = {kind: np.asarray(v, dtype=np.float32) for kind, v in (kind_vectors or {}).items()
               if kind in kinds and vector is not None}
        for kind, v in own.items():
            if kind in calibration.kinds:
                baselines[kind] = calibration.kinds[kind].baseline(v)

        def query_of(kind: str) -> np.ndarray:
            assert vector is not None
            return own.get(kind, vector)

        def z_of(kind: str, similarity: float, unit_id: int) -> float | None:
            if kind not in baselines:
                return None
            z = calibration.kinds[kind].z(similarity, baselines[kind])
            floor = copy_z(kind, similarity, unit_id)
            return z if floor is None else max(z, floor)

        def maybe_copy(kind: str, similarity: float) -> bool:
            # a picture query (ranked centred) is the same content only as a picture; its
            # centred score plus ``lift`` is near the cosine for units near the query (within
            # a few hundredths: the window is that much wider)
            return kind in PICTURE_KINDS and similarity + lift >= NEAR_COPY_COS - 0.05

        raw_vectors: dict[int, np.ndarray] = {}  # stored vectors of units that may be copies of the query

        def prefetch(units: Iterable[tuple[str, float, int]]) -> None:
            """The stored vectors :func:`copy_z` will compare, in one read (not one a unit)."""
            if raw is None:
                return
            wanted = [unit_id for kind, similarity, unit_id in units
                      if maybe_copy(kind, similarity) and unit_id not in raw_vectors]
            if wanted:
                raw_vectors.update(self.repo.vectors_of(wanted, len(raw)))

        def copy_z(kind: str, similarity: float, unit_id: int) -> float | None:
            """The least z of a unit that is the query's content (any kind, any query) or,
            for a picture query, a near copy of the query picture; None for other units."""
            if raw is None:
                return Z_IDENTICAL if similarity >= IDENTICAL_COS else None
            if not maybe_copy(kind, similarity):
                return None
            if unit_id not in raw_vectors:
                prefetch([(kind, similarity, unit_id)])
            return near_copy_z(float(raw_vectors[unit_id] @ raw)) if unit_id in raw_vectors else None

        per_kind = max(KIND_DEPTH, depth * KIND_DEPTH // DEPTH)
        total = sum(len(ids) for ids in kinds.values())
        one_pass = (vector is not None and len(kinds) > 1 and not filters and within is None
                    and total <= ONE_PASS_MAX and not self.catalog.kind.approximate)
        if vector is not None and one_pass:
            # a small index: one exact pass over every vector, split by kind here (cheaper
            # than one selector-restricted FAISS search per kind)
            assert vector is not None
            kind_of = self._kind_lookup(kinds)
            scores, ids = self.catalog.search(np.asarray(vector, dtype=np.float32), total)
            excluded = set(int(i) for i in exclude_ids)
            taken: dict[str, int] = {}
            picked: list[tuple[int, float]] = []
            for i, score in zip(ids.tolist(), scores.tolist()):
                of = kind_of.get(i)
                if i < 0 or of is None or of in own or i in excluded or taken.get(of, 0) >= per_kind:
                    continue
                taken[of] = taken.get(of, 0) + 1
                picked.append((i, float(score)))
            exhausted = exhausted and all(n < per_kind for n in taken.values())
            rows = self.repo.units([i for i, _ in picked])
            prefetch((rows[i].kind, similarity, i) for i, similarity in picked if i in rows)
            for i, similarity in picked:
                if i in rows:
                    row = rows[i]
                    found[i] = _Candidate(row, similarity, z_of(row.kind, similarity, row.id), by_vector=True)
        if vector is not None:
            single = len(kinds) == 1
            for kind, ids in kinds.items():
                if one_pass and kind not in own:
                    continue  # found in the one pass
                scope = None if single else ids
                if within is not None:
                    scope = within if scope is None else np.intersect1d(scope, within, assume_unique=True)
                    if len(scope) == 0:
                        continue
                pairs = self.searcher.candidates(query_of(kind), per_kind, filters=filters, within=scope,
                                                 exclude_ids=exclude_ids)
                if len(pairs) >= per_kind:
                    exhausted = False
                prefetch((row.kind, similarity, row.id) for row, similarity in pairs)
                for row, similarity in pairs:
                    found[row.id] = _Candidate(row, similarity, z_of(row.kind, similarity, row.id), by_vector=True)
        if query and (query.terms or query.phrases):
            ranked = self.searcher.keyword_ranks(query, depth, filters)
            if len(ranked) >= depth:
                exhausted = False
            excluded = set(int(i) for i in exclude_ids)
            inside = set(within.tolist()) if within is not None else None
            missing: list[int] = []
            rank = 0
            for unit_id, _, row in ranked:
                if unit_id in excluded or (inside is not None and unit_id not in inside):
                    continue
                share = keyword_coverage(row.text, row.path.rsplit("/", 1)[-1], query)
                if share < MIN_COVERAGE:  # one common word of a question adds nothing
                    continue
                rank += 1
                entry = found.get(unit_id)
                if entry is None:
                    entry = found[unit_id] = _Candidate(row)
                    missing.append(unit_id)
                entry.coverage, entry.keyword_rank = share, rank
            if vector is not None and missing:  # their cosine, for the one scale
                vectors = self.repo.vectors_of(missing, len(vector))
                if raw is not None:
                    raw_vectors.update(vectors)  # the same stored vectors: copy_z() reads none again
                for unit_id in missing:
                    if unit_id in vectors:
                        entry = found[unit_id]
                        entry.similarity = float(vectors[unit_id] @ query_of(entry.row.kind))
                        entry.vector_z = z_of(entry.row.kind, entry.similarity, unit_id)
        return found, exhausted

    def _class_evidence(self, found: dict[int, _Candidate], query: np.ndarray, weights: np.ndarray,
                        kinds: dict[str, np.ndarray], calibration: Calibration, per_kind: int, *,
                        open_scope: bool, exclude_ids: Sequence[int]) -> None:
        """Score the sound units that hold their class scores in class space too: a unit's z
        becomes ``combined_z`` of its cosine's z and its class-space score's z (the query's
        class weights dotted with its scores, standardised over the index's scored sound
        units), brought back to unit variance with the two scores' correlation over those
        units for this query - so a sound unit stays on the one scale. With ``open_scope``
        (no filter, no phrase), the sound units best by that score join the candidates
        (``per_kind`` of them) though the cosine alone did not bring them."""
        from searchengine.sounds.class_space import class_z, combined_z

        stats = calibration.kinds.get("sound")
        space = self._sound_space(kinds)
        if stats is None or len(space.ids) < 2:
            return
        cls = class_z(space.scores, weights)
        cos = space.vectors @ query
        x = space.scores @ weights
        rho = float(np.corrcoef(cos, x)[0, 1]) if float(cos.std()) > 0 and float(x.std()) > 0 else 0.0
        if not np.isfinite(rho):
            rho = 0.0
        mu, sd = stats.baseline(query)
        n = stats.weight or stats.sampled  # KindStats.z over every unit at once: its own share out of the mean
        others = (n * mu - cos.astype(np.float64)) / (n - 1) if n >= 2 else np.full(len(cos), mu)
        cos_z = (cos - others) / sd
        total = np.asarray(combined_z(cos_z, cls, rho))
        row_of = {int(i): r for r, i in enumerate(space.ids.tolist())}
        for unit_id, c in found.items():
            r = row_of.get(unit_id)
            if r is not None and c.row.kind == "sound":
                c.similarity = float(cos[r])
                c.vector_z = float(total[r])
        if not open_scope:
            return
        excluded = set(int(i) for i in exclude_ids)
        best = [int(space.ids[r]) for r in np.argsort(-total)[:per_kind].tolist()]
        extra = [i for i in best if i not in found and i not in excluded]
        rows = self.repo.units(extra) if extra else {}
        for unit_id in extra:
            if unit_id in rows:
                r = row_of[unit_id]
                found[unit_id] = _Candidate(rows[unit_id], float(cos[r]), float(total[r]), by_vector=True)

    def _raw_similarities(self, hits: list[Hit], vector: np.ndarray) -> list[Hit]:
        """Hits ranked by a centred query, with ``similarity`` the raw cosine again."""
        ids = [h.id for h in hits] + [e.id for h in hits for e in h.evidence]
        vectors = self.repo.vectors_of(ids, len(vector)) if ids else {}

        def raw(unit_id: int, fallback: float | None) -> float | None:
            return float(vectors[unit_id] @ vector) if unit_id in vectors else fallback

        return [replace(h, similarity=raw(h.id, h.similarity),
                        evidence=tuple(replace(e, similarity=raw(e.id, e.similarity)) for e in h.evidence))
                for h in hits]

    @staticmethod
    def _order(c: _Candidate) -> tuple[float, int, float]:
        return (-c.z, c.keyword_rank if c.keyword_rank is not None else 1 << 30,
                -(c.similarity if c.similarity is not None else 0.0))

    def _rank(self, candidates: dict[int, _Candidate], group: str) -> list[tuple[_Candidate, list[_Candidate]]]:
        eligible = sorted((c for c in candidates.values() if c.eligible), key=self._order)
        if group == "unit":
            return [(c, []) for c in eligible]
        files: dict[int, list[_Candidate]] = {}
        for c in eligible:
            files.setdefault(c.row.file_id, []).append(c)
        out = []
        for units in files.values():  # insertion order = the order of their leads
            lead, rest = units[0], units[1:]
            evidence = [c for c in rest if c.z >= EVIDENCE_Z or c.by_keyword][:MAX_EVIDENCE]
            out.append((lead, evidence))
        return out

    def _finish(self, lead: _Candidate, rest: list[_Candidate], query: KeywordQuery) -> Hit:
        base = unit_hit(lead.row, relevance(lead.z))
        evidence = tuple(
            Evidence(id=c.row.id, kind=c.row.kind, score=relevance(c.z), similarity=c.similarity,
                     start=c.row.start, end=c.row.end, text=c.row.text, box=base_box(c.row),
                     moment=c.row.start if c.row.kind == "sound" else None,
                     found_by=c.found_by or None, page=c.row.page,
                     highlights=tuple(highlights(c.row.text, query)) or None if query else None)
            for c in rest)
        return replace(base, similarity=lead.similarity, strong=lead.z >= Z_STRONG,
                       found_by=lead.found_by or None if query else None,
                       highlights=tuple(highlights(lead.row.text, query)) or None if query else None,
                       evidence=evidence)


def near_copy_z(cosine: float) -> float | None:
    """The least z of a picture at raw ``cosine`` to a picture query: :data:`Z_IDENTICAL` for
    the same content, rising from :data:`Z_STRONG` at :data:`NEAR_COPY_COS` to it for near
    copies (so copies come in the order of their closeness), None below."""
    if cosine >= IDENTICAL_COS:
        return Z_IDENTICAL
    if cosine < NEAR_COPY_COS:
        return None
    return Z_STRONG + (Z_IDENTICAL - Z_STRONG) * (cosine - NEAR_COPY_COS) / (IDENTICAL_COS - NEAR_COPY_COS)


@dataclass(frozen=True)
class _SoundSpace:
    """The sound units that hold their class scores: ids, (n, 521) scores, (n, d) vectors."""

    ids: np.ndarray
    scores: np.ndarray
    vectors: np.ndarray


def centred_query(vector: np.ndarray, calibration: Calibration) -> tuple[np.ndarray, float]:
    """A picture query minus the mean of the index's pictures, and the query's cosine with
    that mean (what turns a centred score back into a cosine near the query itself).

    Ranked as is, a photo's nearest texts are the "hubs" every picture is close to (long
    notes, transcripts), not its own caption: the offset all pictures share points at them.
    Taking the pictures' mean out of the query ranks each text by how much closer it is to
    *this* picture than to pictures in general: photo -> its caption R@1 0.64 -> 0.95 in a
    mixed library (docs/ranking.md). Text queries are not centred (it changed nothing for
    them)."""
    mean = calibration.picture_mean()
    if mean is None:
        return vector, 0.0
    return (np.asarray(vector, dtype=np.float32) - mean).astype(np.float32), float(np.asarray(vector) @ mean)


def base_box(row: UnitRow) -> tuple[float, float, float, float] | None:
    return unit_hit(row, 0.0).box
