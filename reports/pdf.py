"""The validated edition of a monthly report: SPEC §7 wants PDF "only for final, validated
documents". Once the steering committee has validated a month's report, its DOCX and PPTX
(exactly as generated and reviewed, not recomputed) get the validation written on the cover
in place of "version projet", then LibreOffice (headless) turns them into PDF.

Each conversion runs ``soffice`` with its own throw-away user profile, so conversions can
run side by side and never meet a user's LibreOffice.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

DRAFT = "version projet, à valider en comité de pilotage"


class PdfUnavailable(Exception):
    error_id = "pdf_converter_unavailable"
    http_status = 503
    field = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PdfConversionFailed(Exception):
    error_id = "pdf_conversion_failed"
    http_status = 502
    field = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def find_soffice(configured: str = "") -> str:
    found = configured or shutil.which("soffice") or shutil.which("libreoffice")
    runnable = bool(found) and (Path(found).is_file() or shutil.which(found) is not None)
    if not runnable:
        raise PdfUnavailable("LibreOffice (soffice) is needed to make the validated PDF: install it "
                             "(scripts/system-deps does) or set GUICHET_REPORTS_SOFFICE")
    return found


def _replace_in_paragraph(paragraph: object, old: str, new: str) -> bool:
    """Replace ``old`` in a python-docx / python-pptx paragraph, keeping the formatting of
    the run where it starts (the text may be split over several runs)."""
    runs = list(paragraph.runs)  # type: ignore[attr-defined]
    text = "".join(r.text for r in runs)
    if old not in text:
        return False
    for run in runs:
        if old in run.text:
            run.text = run.text.replace(old, new)
            return True
    runs[0].text = text.replace(old, new)
    for run in runs[1:]:
        run.text = ""
    return True


def stamp_docx(data: bytes, validation: str) -> bytes:
    from docx import Document

    doc = Document(io.BytesIO(data))
    stamped = any(_replace_in_paragraph(p, DRAFT, validation) for p in doc.paragraphs)
    if not stamped:
        doc.add_paragraph(validation)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def stamp_pptx(data: bytes, validation: str) -> bytes:
    from pptx import Presentation

    deck = Presentation(io.BytesIO(data))
    for shape in deck.slides[0].shapes:
        if shape.has_text_frame:
            for paragraph in shape.text_frame.paragraphs:
                _replace_in_paragraph(paragraph, DRAFT, validation)
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def to_pdf(documents: dict[str, bytes], soffice: str, timeout: float = 300.0) -> dict[str, bytes]:
    """{"x.docx": bytes, …} → {"x.pdf": bytes, …} (blocking: run it in a worker thread)."""
    out: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="guichet-pdf-") as tmp:
        work = Path(tmp)
        profile = (work / "profile").as_uri()
        for name, data in documents.items():
            source = work / name
            source.write_bytes(data)
            done = subprocess.run(
                [soffice, f"-env:UserInstallation={profile}", "--headless", "--norestore", "--convert-to", "pdf",
                 "--outdir", str(work / "pdf"), str(source)],
                capture_output=True, timeout=timeout, check=False)
            target = work / "pdf" / (source.stem + ".pdf")
            if done.returncode != 0 or not target.exists() or target.stat().st_size == 0:
                detail = (done.stderr or done.stdout).decode("utf-8", "replace").strip()[-500:]
                raise PdfConversionFailed(f"LibreOffice could not convert {name} (exit {done.returncode}): {detail}")
            out[target.name] = target.read_bytes()
    return out
