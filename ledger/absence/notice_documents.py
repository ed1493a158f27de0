"""The published bytes of public result notices (``notice_documents``, operational state:
the masked names they show are personal data the ledger must not hold, so the bytes live
here and the ledger records their SHA-256 in ``notice.published``).

A notice is published in Chinese (its own key) and English (key ``<notice>@en``: ``@``
is in no identifier, so the two never collide); a notice published before both
languages existed has only its one bilingual page under its own key.
"""

from __future__ import annotations

from sqlalchemy import Connection

from ledger.absence.projection import insert_rows
from ledger.absence.tables import notice_documents

#: The languages a notice is published in; the first is the official text.
LANGUAGES = ("zh", "en")


def document_key(notice: str, lang: str = "zh") -> str:
    """The ``notice_documents`` key of ``notice``'s page in ``lang`` (``LANGUAGES``)."""
    return notice if lang == "zh" else f"{notice}@{lang}"


def store_document(conn: Connection, notice: str, html: bytes) -> None:
    """Store ``html`` as the bytes of ``notice``, in the transaction of ``conn`` (the plan
    that records its ``notice.published`` entry, so both or neither are kept).

    Raises:
        the driver's IntegrityError (``sqlite3.IntegrityError``, psycopg's
            ``UniqueViolation``: not wrapped by SQLAlchemy, ``projection.insert_rows``
            writes through the driver's cursor): ``notice`` has its bytes already.
    """
    insert_rows(conn, notice_documents, [{"notice": notice, "html": html}])
