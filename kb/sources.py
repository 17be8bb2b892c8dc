"""From what a user names on the command line to `SourceBatch`es: one per file, or one per package.

Each batch carries what provenance needs (uri, format, origin, content hash, license note) so that
every record in the KB can say where it came from.
"""

from __future__ import annotations

from pathlib import Path

from kb import formats
from kb.store import SourceBatch, file_hash, gc_paused

LICENSE_NOTES = {
    "xywy": "xywy (寻医问药) disease crawl; no license declared: research and evaluation input only",
    "medical-json": "QASystemOnMedicalKG medical.json; no license declared: research and evaluation input only",
    "cmekg": "CMeKG from the pycmekg package (package says MIT; upstream data license unclear)",
}
PACKAGED_SOURCES = ("cmekg",)


@gc_paused()
def read_files(paths: list[Path], fmt: str | None = None, origin: str | None = None,
               license_note: str | None = None, authority: int | None = None) -> list[SourceBatch]:
    """One batch per file under `paths`, each file's format detected unless `fmt` is given; each ranked
    `authority`, else by its origin and format (kb.authority.default_authority)."""
    if fmt is not None and fmt not in formats.FORMATS:
        raise formats.FormatError(f"unknown --format {fmt!r} (known: {', '.join(formats.FORMATS)})")
    batches = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise formats.FormatError(f"{path}: no such file or directory")
        for file in formats.iter_files(path):
            file_fmt = fmt or formats.detect_format(file)
            records = list(formats.FORMATS[file_fmt](file))
            if not records:  # e.g. --format label on a JSON file: the reader found nothing it knows
                given = " (given by --format; without it the format is detected per file)" if fmt else ""
                raise formats.FormatError(f"{file}: no {file_fmt} records in this file{given}")
            batches.append(SourceBatch(
                uri=str(file), format=file_fmt, origin=origin or file_fmt, content_hash=file_hash(file),
                records=records, license_note=license_note or LICENSE_NOTES.get(file_fmt), authority=authority))
    return batches


@gc_paused()
def read_package(name: str, origin: str | None = None, license_note: str | None = None,
                 authority: int | None = None) -> SourceBatch:
    """A source that ships as a Python package (CMeKG from `pycmekg`)."""
    if name != "cmekg":
        raise formats.FormatError(f"unknown --source {name!r} (known: {', '.join(PACKAGED_SOURCES)})")
    from kb.formats import cmekg

    return SourceBatch(uri=cmekg.package_uri(), format="cmekg", origin=origin or "cmekg",
                       content_hash=cmekg.package_hash(), records=list(cmekg.read()),
                       license_note=license_note or LICENSE_NOTES["cmekg"], authority=authority)
