"""Portable buckets: one small interface over every cloud's object store and a local directory.

- `objects`: `ObjectInfo`, the errors, and the stream wrappers `ObjectReader` / `FullReader`;
- `checksums`: MD5 / CRC32C / multipart-ETag helpers, shared with the copy engine;
- `client`: the `BucketClient` interface;
- `factory`: `open_bucket(url)`, which finds the implementation in the cloud plug-ins' runtimes by URL scheme.

Imported inside deployed functions: standard library only; a store's client library loads when a client of
that store is created.
"""

from platform_sdk.runtime.buckets.checksums import (
    EMPTY_MD5,
    MD5_METADATA_KEY,
    Checksums,
    StreamHasher,
    b64_from_hex,
    crc32c_hasher,
    hex_from_b64,
    md5_of_stream,
    multipart_etag,
)
from platform_sdk.runtime.buckets.client import BucketClient
from platform_sdk.runtime.buckets.factory import open_bucket
from platform_sdk.runtime.buckets.objects import (
    CHUNK,
    FullReader,
    InvalidKeyError,
    Md5Source,
    ObjectInfo,
    ObjectNotFoundError,
    ObjectReader,
)

__all__ = [
    "CHUNK",
    "EMPTY_MD5",
    "MD5_METADATA_KEY",
    "BucketClient",
    "Checksums",
    "FullReader",
    "InvalidKeyError",
    "Md5Source",
    "ObjectInfo",
    "ObjectNotFoundError",
    "ObjectReader",
    "StreamHasher",
    "b64_from_hex",
    "crc32c_hasher",
    "hex_from_b64",
    "md5_of_stream",
    "multipart_etag",
    "open_bucket",
]
