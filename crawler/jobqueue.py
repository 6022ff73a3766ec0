"""Request queues with a cheaper round trip: the JOBDIR's and the shared frontier's.

Every request of a run passes through a serialising queue: the JOBDIR (so that `--resume`
has it) or, with several workers, scrapy-redis's frontier. Both spent most of it finding a
callback's name: `Request.to_dict` walks every member of the spider (`inspect.getmembers`)
for each request, ~40 µs. Here a bound method of the spider is named by its own
`__name__` (checked to lead back to it), and nothing else changes: the same dict, pickled,
in queuelib's LIFO file (a JOBDIR written by either queue reads the same) or in
scrapy-redis's sorted set.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

from queuelib.queue import LifoDiskQueue
from scrapy import Request
from scrapy.utils.request import request_from_dict
from scrapy_redis.queue import PriorityQueue

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler

__all__ = ["FrontierQueue", "RequestDiskQueue", "request_to_dict"]


def _method_name(spider: Spider, method: Callable[..., Any] | None) -> str | None:
    """The spider attribute that gives `method` back, or None if it is not one."""
    if method is None:
        return None
    name = getattr(method, "__name__", None)
    if (
        name is not None
        and getattr(method, "__self__", None) is spider
        and getattr(spider, name, None) == method
    ):
        return str(name)
    return None


def request_to_dict(request: Request, spider: Spider) -> dict[str, Any]:
    """What `Request.to_dict(spider=spider)` returns, without searching the spider."""
    callback = _method_name(spider, request.callback)
    errback = _method_name(spider, request.errback)
    if (callback is None and request.callback is not None) or (
        errback is None and request.errback is not None
    ):
        return request.to_dict(spider=spider)  # not plainly a spider method: Scrapy's way
    data: dict[str, Any] = {
        "url": request.url,
        "callback": callback,
        "errback": errback,
        "headers": dict(request.headers),
    }
    for attribute in request.attributes:
        data.setdefault(attribute, getattr(request, attribute))
    if type(request) is not Request:
        data["_class"] = f"{type(request).__module__}.{type(request).__name__}"
    return data


class RequestDiskQueue:
    """SCHEDULER_DISK_QUEUE: requests kept in a queuelib LIFO file under the JOBDIR."""

    def __init__(self, spider: Spider, path: str) -> None:
        self.spider = spider
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._file = LifoDiskQueue(path)

    @classmethod
    def from_crawler(cls, crawler: Crawler, key: str) -> Self:
        assert crawler.spider is not None
        return cls(crawler.spider, key)

    def push(self, request: Request) -> None:
        try:
            data = pickle.dumps(request_to_dict(request, self.spider), protocol=4)
        except (pickle.PicklingError, AttributeError, TypeError) as error:
            # What Scrapy's queue raises: the scheduler then keeps the request in memory.
            raise ValueError(str(error)) from error
        self._file.push(data)

    def pop(self) -> Request | None:
        return self._request(self._file.pop())

    def peek(self) -> Request | None:
        return self._request(self._file.peek())

    def close(self) -> None:
        self._file.close()

    def __len__(self) -> int:
        return len(self._file)

    def _request(self, data: bytes | None) -> Request | None:
        if not data:
            return None
        return request_from_dict(pickle.loads(data), spider=self.spider)  # noqa: S301 -- our own JOBDIR file


class FrontierQueue(PriorityQueue):  # type: ignore[misc]  # scrapy-redis is untyped
    """SCHEDULER_QUEUE_CLASS of the shared frontier: scrapy-redis's priority queue, each
    request encoded by `request_to_dict`."""

    def _encode_request(self, request: Request) -> bytes:
        return self.serializer.dumps(request_to_dict(request, self.spider))  # type: ignore[no-any-return]
