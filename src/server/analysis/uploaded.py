"""Inputs by reference: a job's input read from the caller's finished upload ("uploads/{id}").

The hook between the analysis service and the upload spool (src/server/uploads):
`SubmitAnalysis` calls `upload_input` when `AnalysisInput.upload` is set.
"""

from __future__ import annotations

from ..platform.errors import failed_precondition, invalid_argument
from ..uploads.spool import SPOOLS
from .analyzers.base import TEXT_TYPES, AnalysisInput

#: A remote worker gets the input inside one `JobAssignedEvent`, which must fit the 1 MiB message
#: limit with room for the rest of the event.
REMOTE_INPUT_MAX = 768 * 1024


async def upload_input(
    instance_id: str, owner: str, name: str, content_type: str, filename: str, *, remote: bool = False
) -> AnalysisInput:
    """The bytes of `owner`'s finished upload `name` as a job input (NOT_FOUND if not theirs).

    `content_type` and `filename` override the upload's own when set. The bytes are copied
    into the job (the upload stays until deleted or expired), so the job survives the upload.
    `remote`: the analyzer runs on a remote worker, which takes inputs up to one message only.
    """
    spool = SPOOLS.get(instance_id)
    if spool is None:
        raise failed_precondition("this hub does not accept uploads", reason="UPLOADS_DISABLED")
    size = spool.get(owner, name).size
    if remote and size > REMOTE_INPUT_MAX:
        raise invalid_argument(
            f"remote analyzers take inputs up to {REMOTE_INPUT_MAX} bytes; {name} has {size}",
            [("input.upload", "too large for a remote worker")],
            reason="INPUT_TOO_LARGE",
        )
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
