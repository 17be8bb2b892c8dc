"""The answer log: one `answer_log` row per answer, to audit it later against the KB revision it cited.

A row holds the question as asked, the answer, the cited passage ids, the KB revision of the index that
produced them, the generator, latency, refused/triage, and in `extra` the rewrite, intents, entities, mode,
removed claims, safety flags and warnings. Questions carry what patients say about themselves ("我对青霉素过
敏"), so where the rows go and how long they stay is the operator's choice:

- where: the KB database by default, or a database of its own (`--log-db URL`): that one is given the
  project's schema on first use (`kb.db.migrate`; its KB tables stay empty) and the KB is not written to;
- whether: `--no-log` writes nothing (the Pipeline then has no AnswerLogger at all);
- how long: forever, unless `retention_days` is set: older rows are deleted when the log is opened
  (`prepare`, on start) and again at most once an hour while answers are written; `purge(before)` deletes
  by date (`chat log purge --before DATE`).

Times are stored in UTC; a date without a zone is read as UTC.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, select

from chat.answer import Answer

PURGE_EVERY_S = 3600.0  # with a retention, how often writing answers also deletes the expired rows


class AnswerLogger:
    """Writes, lists and purges the answer log at one database URL."""

    def __init__(self, url: str, *, own_database: bool = False, retention_days: int | None = None):
        if retention_days is not None and retention_days < 1:
            raise ValueError(f"the answer-log retention must be at least 1 day, not {retention_days}")
        self.url = url
        self.own_database = own_database
        self.retention_days = retention_days
        self._migrated = False
        self._purged_at: float | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, kb_url: str | None, log_url: str | None = None, retention_days: int | None = None) -> "AnswerLogger":
        """The log in the KB at `kb_url`, or in `log_url` when that names another database."""
        from kb.db import resolve_url

        kb_url = resolve_url(kb_url)
        url = resolve_url(log_url) if log_url else kb_url
        return cls(url, own_database=url != kb_url, retention_days=retention_days)

    def describe(self) -> str:
        """Where the rows go and how long they stay, for start-up lines (no password)."""
        where = f"its own database {self.url_shown}" if self.own_database else "the KB database"
        kept = f", kept {self.retention_days} days" if self.retention_days else ""
        return f"answer log in {where}{kept}"

    # -- writing -----------------------------------------------------------------------------------------

    def prepare(self) -> int:
        """Open the log now (creating a log database of its own on first use) and apply the retention;
        returns the number of rows deleted. Raises kb.db.DatabaseError when the database is unusable."""
        with self._session():
            pass
        return self.expire()

    def write(self, answer: Answer) -> int:
        """One row for `answer`; its id."""
        from kb.models import AnswerLog

        with self._session() as session:
            row = AnswerLog(
                question=answer.question[:20000], answer=answer.text, cited_passage_ids=answer.cited_passage_ids,
                kb_revision=answer.kb_revision, generator=answer.generator[:255],
                latency_ms=round(answer.timings_ms.get("total", 0.0), 2), refused=answer.refused,
                triage=answer.triage,
                extra={"rewritten": answer.rewritten, "intents": answer.intents, "entities": answer.entities,
                       "mode": answer.mode, "removed_claims": answer.removed_claims,
                       "safety_flags": answer.safety_flags, "warnings": answer.warnings,
                       "citations": [{"n": c.n, "passage_id": c.passage_id, "kb_revision": c.kb_revision}
                                     for c in answer.citations]},
            )
            session.add(row)
            session.flush()
            row_id = row.id
        if self._purge_due():
            self.expire()
        return row_id

    # -- deleting ----------------------------------------------------------------------------------------

    def purge(self, before: datetime) -> int:
        """Delete the rows created before `before` (UTC when it has no zone); how many went."""
        from kb.models import AnswerLog

        cutoff = as_utc(before)
        with self._session() as session:
            return session.execute(delete(AnswerLog).where(AnswerLog.created_at < cutoff)).rowcount or 0

    def expire(self) -> int:
        """Delete the rows older than the retention (none without one); how many went."""
        if not self.retention_days:
            return 0
        self._purged_at = time.monotonic()
        return self.purge(datetime.now(timezone.utc) - timedelta(days=self.retention_days))

    def _purge_due(self) -> bool:
        return bool(self.retention_days) and (
            self._purged_at is None or time.monotonic() - self._purged_at >= PURGE_EVERY_S)

    # -- reading -----------------------------------------------------------------------------------------

    def summary(self, last: int = 10) -> dict:
        """How many rows, the oldest and newest time, and the `last` rows (newest first, question cut short)."""
        from kb.models import AnswerLog

        with self._session() as session:
            count, oldest, newest = session.execute(
                select(func.count(AnswerLog.id), func.min(AnswerLog.created_at), func.max(AnswerLog.created_at))).one()
            rows = session.scalars(select(AnswerLog).order_by(AnswerLog.id.desc()).limit(last)).all()
            recent = [{"id": r.id, "created_at": r.created_at, "kb_revision": r.kb_revision,
                       "generator": r.generator, "refused": r.refused, "triage": r.triage,
                       "question": r.question[:80]} for r in rows]
        return {"database": self.url_shown, "rows": count, "oldest": oldest, "newest": newest, "last": recent}

    @property
    def url_shown(self) -> str:
        from kb.db import redact

        return redact(self.url)

    def _session(self):
        from kb.db import migrate, session_scope

        if self.own_database and not self._migrated:
            with self._lock:  # a log database of its own gets the project's schema once, on first use
                if not self._migrated:
                    migrate(self.url)
                    self._migrated = True
        return session_scope(self.url)


def as_utc(moment: datetime) -> datetime:
    """`moment` in UTC; one without a zone is taken to be UTC already."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
