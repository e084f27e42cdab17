"""Where the sample's files are written: in worker processes for the whole sample, in this
process for a few files."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor

# The whole sample is CPU-bound work on files that do not depend on each other (each has its own
# seed): from this many files on, they are written by one process per core. A few files (tests,
# a new round) are not worth starting processes for.
POOL_FROM_FILES = 24


class InlineExecutor(Executor):
    """Runs each task as it is submitted, in this process."""

    def submit(self, fn: Callable, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # handed to whoever asks for the result, as a pool does
            future.set_exception(error)
        return future


def sample_pool(files: int) -> Executor:
    """fork: the workers start at once with what this process has imported (spawn would import
    `dtm`'s whole command line again in each); the generator runs before anything holds a thread
    or a connection."""
    if files < POOL_FROM_FILES:
        return InlineExecutor()
    return ProcessPoolExecutor(len(os.sched_getaffinity(0)), mp_context=multiprocessing.get_context("fork"))
