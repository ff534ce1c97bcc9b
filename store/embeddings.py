"""Stored sentence embeddings: float32 vectors keyed by the digest of the text they embed.

The digest (`detectors.embeddings.text_digest`) covers the model id and the text, so a row
never goes stale: a changed text or model simply asks for a digest not stored yet.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from store.models import TextEmbedding, utcnow

LOOKUP_CHUNK = 500
"""Digests per SELECT: well under SQLite's bound-parameter limit and PostgreSQL's comfort."""

_TABLE: Any = TextEmbedding.__table__  # type: ignore[attr-defined]


def stored_vectors(session: Session, digests: Collection[str]) -> dict[str, bytes]:
    """The stored vector bytes for each of `digests` that has one (absent ones are left out)."""
    wanted = sorted(set(digests))
    found: dict[str, bytes] = {}
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        rows = session.execute(
            select(_TABLE.c.digest, _TABLE.c.vector).where(_TABLE.c.digest.in_(chunk))
        )
        for digest, vector in rows:
            found[digest] = bytes(vector)
    return found


def save_vectors(session: Session, rows: Mapping[str, bytes]) -> None:
    """Insert digest -> vector rows; a digest already stored (by anyone) is left as it is.

    ON CONFLICT DO NOTHING makes two processes embedding the same text, or a re-run after a
    kill, harmless: a digest's vectors are interchangeable, so the first one stored stays.
    """
    if not rows:
        return
    now = utcnow()
    values = [{"digest": d, "vector": v, "created": now} for d, v in rows.items()]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(_TABLE).on_conflict_do_nothing(index_elements=["digest"])
    session.execute(stmt, values)


def prune_vectors(session: Session, keep: Collection[str], created_before: datetime) -> int:
    """Delete vectors whose digest is not in `keep` and that were stored before
    `created_before`; returns how many were deleted.

    The age bound protects vectors another process stored moments ago for texts this caller
    has not seen yet (a sync landing during a detection run).
    """
    keep_set = set(keep)
    old = session.scalars(select(_TABLE.c.digest).where(_TABLE.c.created < created_before))
    stale = sorted(digest for digest in old if digest not in keep_set)
    for start in range(0, len(stale), LOOKUP_CHUNK):
        chunk = stale[start : start + LOOKUP_CHUNK]
        session.execute(delete(_TABLE).where(_TABLE.c.digest.in_(chunk)))
    return len(stale)
