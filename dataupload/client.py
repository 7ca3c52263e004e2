"""`python -m dataupload.client [user_id]`: upload, and wait up to 5 seconds for the URL; else ask for an email.

Starts the upload workflow for the user (a random id if none is given: a workflow runs once per id) and
waits for its result. If the upload takes longer than 5 seconds, the client stops waiting and asks the
workflow to email the URL once the upload is done. The upload itself never restarts.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import uuid
from datetime import timedelta

import httpx

from dataupload.data_upload_service import EmailRequest
from patterns.chaos import Duration
from patterns.settings import settings

# How long the client waits for the URL (upstream: 5 s).
CLIENT_TIMEOUT = Duration("dataupload.client_timeout", timedelta(seconds=5))


async def main(user_id: str, ingress_url: str | None = None) -> str:
    """Returns the URL, or "" when the upload was slow and the URL will come by email."""
    timeout = CLIENT_TIMEOUT.get().total_seconds()
    async with httpx.AsyncClient(base_url=ingress_url or settings().ingress_url, timeout=30) as http:
        print(f"Start upload for {user_id}", flush=True)
        # Submit the workflow: Restate answers once it has it (a second submit for the id changes nothing).
        submitted = await http.post(f"/dataUploader/{user_id}/run/send")
        submitted.raise_for_status()
        try:
            # Wait for the workflow's result, but not longer than the timeout.
            result = await http.get(f"/restate/workflow/dataUploader/{user_id}/attach", timeout=timeout)
            result.raise_for_status()
        except httpx.ReadTimeout:
            print("Slow upload... Mail the link later", flush=True)
            # One-way: the workflow's shared handler waits for the URL and sends the email.
            email = EmailRequest(email=f"{user_id}@example.com")
            sent = await http.post(
                f"/dataUploader/{user_id}/resultAsEmail/send",
                content=email.model_dump_json(),
                headers={"content-type": "application/json"},
            )
            sent.raise_for_status()
            return ""
        url: str = result.json()
        print(f"Fast upload: URL was {url}", flush=True)
        return url


def user_id(text: str) -> str:
    # The id ends up in URL paths and in the email address: keep it to URL-safe characters.
    if not re.fullmatch(r"[A-Za-z0-9._~-]{1,64}", text):
        raise argparse.ArgumentTypeError(f"{text!r}: use 1 to 64 letters, digits or ._~-")
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m dataupload.client", description=__doc__.splitlines()[0])
    parser.add_argument("user_id", nargs="?", type=user_id, help="the workflow id (default: a random one)")
    args = parser.parse_args()
    try:
        asyncio.run(main(args.user_id or str(uuid.uuid4())))
    except httpx.TransportError as error:
        sys.exit(f"error: Restate is unreachable at {settings().ingress_url} ({error!r}); is restate-server running?")
    except httpx.HTTPStatusError as error:
        sys.exit(f"error: Restate answered {error.response.status_code}: {error.response.text}")
