"""Code snippets in the S3 object store (MinIO API), one object per post.

The minio SDK is synchronous: every call runs in a worker thread so the event loop never blocks.
No OpenTelemetry instrumentation covers it, so reads and writes are spans of our own.
"""

import asyncio
import io

import stamina
import urllib3
from minio import Minio
from minio.error import MinioException
from opentelemetry.trace import SpanKind

from common import tracing

SNIPPET_CONTENT_TYPE = "text/plain; charset=utf-8"


class SnippetStore:
    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = False,
        region: str = "us-east-1",
    ) -> None:
        # Bounded timeouts and retries: a stalled object store must fail a request, not hang it.
        # A connection kept for each worker thread that may call at once (asyncio's default
        # executor has at most 32): urllib3 keeps one by default, so concurrent puts opened a
        # new connection each and threw it away ("Connection pool is full").
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3.0, read=10.0),
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=(502, 503, 504)),
            maxsize=32,
        )
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http,
        )
        self._bucket = bucket

    async def ensure_bucket(self, timeout: float = 60.0) -> None:
        """Create the bucket unless it exists, waiting for the store to come up."""
        async for attempt in stamina.retry_context(
            on=(OSError, urllib3.exceptions.HTTPError, MinioException),
            attempts=None,
            timeout=timeout,
        ):
            with attempt:
                if not await asyncio.to_thread(self._client.bucket_exists, self._bucket):
                    await asyncio.to_thread(self._client.make_bucket, self._bucket)

    async def ping(self) -> None:
        if not await asyncio.to_thread(self._client.bucket_exists, self._bucket):
            raise LookupError(f"bucket {self._bucket} is missing")

    async def put(self, key: str, code: str) -> None:
        data = code.encode()
        with tracing.span("s3 put snippet", kind=SpanKind.CLIENT, bucket=self._bucket):
            await asyncio.to_thread(
                self._client.put_object,
                self._bucket,
                key,
                io.BytesIO(data),
                len(data),
                content_type=SNIPPET_CONTENT_TYPE,
            )

    async def get(self, key: str) -> str:
        def read() -> bytes:
            response = self._client.get_object(self._bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        with tracing.span("s3 get snippet", kind=SpanKind.CLIENT, bucket=self._bucket):
            return (await asyncio.to_thread(read)).decode()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._client.remove_object, self._bucket, key)
