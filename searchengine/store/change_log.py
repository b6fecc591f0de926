"""The change log: the generation every write transaction bumps, the unit ids it removed
(``removed_units``), and the changes since a generation as one snapshot - what the catalog
needs to bring a FAISS file up to date without rebuilding it."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from searchengine.store.models import IndexState, RemovedUnit, Unit
from searchengine.store.records import GENERATION_KEY, LOG_FLOOR_KEY, Changes
from searchengine.store.tables import Tables
from searchengine.store.units import vector_batches


class ChangeLog(Tables):
    def generation(self) -> int:
        with self.engine.connect() as c:  # Core, not the ORM: this is on every search's path
            value = c.execute(select(IndexState.value).where(IndexState.key == GENERATION_KEY)).scalar()
            return int(value) if value is not None else 0

    def snapshot(self) -> tuple[int, int, int]:
        """(generation, unit count, highest unit id), read in one transaction."""
        with Session(self._snapshot) as s, s.begin():
            state = s.get(IndexState, GENERATION_KEY)
            count, top = s.execute(self._units(func.count(Unit.id), func.max(Unit.id))).one()
            return (int(state.value) if state else 0), int(count or 0), int(top or 0)

    @contextmanager
    def changes_since(self, generation: int, top_id: int, dim: int) -> Iterator["Changes | None"]:
        """What SQL changed after ``generation``, read in one transaction (one snapshot),
        or None when the change log no longer reaches back that far."""
        with Session(self._snapshot) as s, s.begin():
            floor = s.get(IndexState, LOG_FLOOR_KEY)
            if floor is not None and int(floor.value) > generation:
                yield None
                return
            state = s.get(IndexState, GENERATION_KEY)
            current = int(state.value) if state else 0
            count = int(s.scalar(self._units(func.count(Unit.id))) or 0)
            removed = [int(i) for i in s.scalars(
                select(RemovedUnit.unit_id).where(RemovedUnit.generation > generation))]
            if self.shard:
                removed = [i for i in removed if i % self.shard[1] == self.shard[0]]
            yield Changes(current, count, removed, vector_batches(s, dim, after=top_id, shard=self._in_shard))

    def prune_change_log(self, generation: int) -> None:
        """Forget removals at or before ``generation`` (a saved FAISS file reflects them)."""
        with Session(self._writer) as s, s.begin():
            s.execute(delete(RemovedUnit).where(RemovedUnit.generation <= generation))
            floor = s.get(IndexState, LOG_FLOOR_KEY)
            if floor is None:
                s.add(IndexState(key=LOG_FLOOR_KEY, value=str(generation)))
            elif int(floor.value) < generation:
                floor.value = str(generation)

    def record_change(self, s: Session, removed: Sequence[int]) -> int:
        """Bump the generation and log the removed unit ids under it; returns the new
        generation. Called by the catalog once per write transaction."""
        state = s.get(IndexState, GENERATION_KEY, with_for_update=True)
        if state is None:
            generation = 1
            s.add(IndexState(key=GENERATION_KEY, value="1"))
        else:
            generation = int(state.value) + 1
            state.value = str(generation)
        if removed:
            s.execute(insert(RemovedUnit), [{"generation": generation, "unit_id": int(u)} for u in removed])
        return generation
