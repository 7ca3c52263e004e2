"""Durable promises inside handlers: a question-and-answer service (the TypeScript `4_example.ts`).

`qna/ask` waits (durably, suspended) for the answer to a question; `qna/answer` gives it. Both use the
client library with their context: the question id is the promise id. The service is part of this
pattern's app, so `python -m durablepromise` serves it next to the promise services.

`python -m durablepromise.example4 [question-id] [restate-uri]` asks a question, answers it and prints what
the asker got.
"""

from __future__ import annotations

import asyncio
import sys

import httpx
import restate
from pydantic import JsonValue
from restate import Context, Service

from durablepromise._output import say
from durablepromise.clients import durable_promise
from patterns.settings import settings
from patterns.wire import CamelModel, Key, bad_input_is_400

logger = restate.getLogger(__name__)


class Answer(CamelModel):
    answer: JsonValue  # whatever resolved the promise (also through `promise/resolve`), not only a string


class AnswerRequest(CamelModel):
    question_id: Key
    answer: str


qna = Service("qna", invocation_context_managers=[bad_input_is_400])


@qna.handler()
async def ask(ctx: Context, question_id: Key) -> Answer:
    logger.info("Waiting for the answer to %s", question_id)
    answer = await durable_promise(question_id, ctx).get()
    return Answer(answer=answer)


@qna.handler()
async def answer(ctx: Context, request: AnswerRequest) -> None:
    actual = await durable_promise(request.question_id, ctx).resolve(request.answer)
    logger.info("Question %s answered: %s", request.question_id, actual)


async def main(question_id: str = "question-1", ingress_url: str | None = None) -> str:
    ingress_url = ingress_url or settings().ingress_url
    async with httpx.AsyncClient(base_url=ingress_url, timeout=60) as http:
        asked = await http.post("/qna/ask/send", json=question_id)
        asked.raise_for_status()
        say(f"Asked {question_id} (invocation {asked.json()['invocationId']})")
        (await http.post("/qna/answer", json={"questionId": question_id, "answer": "42"})).raise_for_status()
        say(f"Answered {question_id}: 42")
        got = await http.get(f"/restate/invocation/{asked.json()['invocationId']}/attach")
        got.raise_for_status()
        say(f"The asker got: {got.text}")
        return got.text


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:3]))
