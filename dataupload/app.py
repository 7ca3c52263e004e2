"""Convert a sync task to an async one: wait a bounded time for the result, else get it by email.

    client ──submit──► dataUploader/<userId>/run: create bucket ─► upload (1.5 s or 10 s) ─► resolve promise `url`
       │ attach, wait up to 5 s                                                                  │
       ├── done in time: "Fast upload: URL was ..."                                              ▼
       └── too slow: dataUploader/<userId>/resultAsEmail ── awaits promise `url` ──► send the email

The upload never restarts: the client only changes how it gets the result.
"""

import restate

from dataupload.data_upload_service import data_uploader

app = restate.app([data_uploader])
