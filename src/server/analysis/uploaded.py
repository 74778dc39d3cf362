"""Inputs by reference: a job's input read from the caller's finished upload ("uploads/{id}").

The hook between the analysis service and the upload spool (src/server/uploads):
`SubmitAnalysis` calls `upload_input` when `AnalysisInput.upload` is set.
"""

from __future__ import annotations

from ..platform.errors import failed_precondition, invalid_argument
from ..uploads.spool import SPOOLS
from .analyzers.base import TEXT_TYPES, AnalysisInput


async def upload_input(
    instance_id: str, owner: str, name: str, content_type: str, filename: str
) -> AnalysisInput:
    """The bytes of `owner`'s finished upload `name` as a job input (NOT_FOUND if not theirs).

    `content_type` and `filename` override the upload's own when set. The bytes are copied
    into the job (the upload stays until deleted or expired), so the job survives the upload.
    """
    spool = SPOOLS.get(instance_id)
    if spool is None:
        raise failed_precondition("this hub does not accept uploads", reason="UPLOADS_DISABLED")
    record, data = await spool.load(owner, name)
    content_type = content_type or record.content_type
    filename = filename or record.filename
    if content_type in TEXT_TYPES:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise invalid_argument(
                "a text/plain upload must be UTF-8", [("input.upload", f"{name} is not valid UTF-8")]
            ) from None
        return AnalysisInput(text=text, content_type="text/plain", filename=filename)
    return AnalysisInput(data=data, content_type=content_type, filename=filename)
