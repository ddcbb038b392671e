"""The seed's FastAPI answer (seeds/000), as every published solution
writes it: an in-process asyncio.Lock around work(). A test fixture for
serialcgi-client: run with one uvicorn worker it holds the acceptance
rule; with --workers 4 each worker has its own lock, and works overlap.

    WORK_SECONDS=0.05 python3 -m uvicorn --app-dir tests seed_fastapi:app
"""
import asyncio
import os
from time import monotonic

from fastapi import FastAPI
from pydantic import BaseModel

WORK_SECONDS = float(os.environ.get("WORK_SECONDS", "3"))

app = FastAPI()
work_lock = asyncio.Lock()


class TestResponse(BaseModel):
    elapsed: float


async def work() -> None:
    await asyncio.sleep(WORK_SECONDS)


@app.get("/test", response_model=TestResponse)
async def handler() -> TestResponse:
    ts1 = monotonic()
    async with work_lock:
        await work()
    ts2 = monotonic()
    return TestResponse(elapsed=ts2 - ts1)
