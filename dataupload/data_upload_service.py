"""The data upload workflow: create a bucket, upload, hand out the URL (as result, or later by email)."""

import restate
from pydantic import Field
from restate import Workflow, WorkflowContext, WorkflowSharedContext

from dataupload.utils import create_s3_bucket, send_email, upload_data
from patterns.wire import CamelModel, NoInput, bad_input_is_400

logger = restate.getLogger(__name__)


class EmailRequest(CamelModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", examples=["user1@example.com"])


data_uploader = Workflow("dataUploader", invocation_context_managers=[bad_input_is_400])


@data_uploader.main()
async def run(ctx: WorkflowContext, _: NoInput) -> str:
    # Each step is journaled: after a crash the workflow resumes after the last finished step, so the
    # bucket is created once, and the upload is not repeated once it has finished.
    url = await ctx.run_typed("bucket creation", create_s3_bucket)
    await ctx.run_typed("upload", upload_data, target=url)
    # Whoever asked for an email (resultAsEmail) is waiting on this promise.
    await ctx.promise("url", type_hint=str).resolve(url)
    return url


@data_uploader.handler("resultAsEmail")
async def result_as_email(ctx: WorkflowSharedContext, req: EmailRequest) -> None:
    logger.info("Slow upload: client requested to be notified via email.")
    url = await ctx.promise("url", type_hint=str).value()
    await ctx.run_typed("email", send_email, email=req.email, url=url)
