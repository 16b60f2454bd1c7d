"""S3-compatible object storage (AWS S3, MinIO, Ceph, moto…), chosen by
``VIDEOGEN_STORAGE_URL=s3://bucket/prefix``.

Layout: ``<prefix>/<key>/video.mp4``, ``poster.jpg``, ``captions.vtt`` and ``manifest.json``.
Publication is atomic for readers: the media files are uploaded first (large ones in parts),
the manifest LAST; a video exists only once its manifest does, so a reader never sees a
partial set (an upload that fails half-way leaves objects without a manifest: invisible, and
overwritten by the next attempt). Renders are written to a local staging folder first.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from videogen.errors import StorageError
from videogen.outputs import CONTENT_TYPES, MANIFEST, MEDIA_FILES
from videogen.service.storage.base import (
    UPLOADS,
    ServeMode,
    Storage,
    StoredFile,
    check_complete,
    check_digest,
    check_key,
    check_name,
    new_staging_dir,
    remove_stale_dirs,
)


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → (bucket, "some/prefix")."""
    u = urlparse(url)
    if u.scheme != "s3" or not u.netloc:
        raise StorageError(f"invalid S3 storage URL {url!r} (use s3://bucket/prefix)")
    return u.netloc, u.path.strip("/")


class S3Storage(Storage):
    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None, region: str = "us-east-1",
                 access_key_id: str | None = None, secret_access_key: str | None = None,
                 staging_root: Path | None = None, serve: ServeMode = "stream", presign_expiry: int = 3600,
                 multipart_threshold: int = 8 * 1024 * 1024, multipart_chunksize: int | None = None):
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.endpoint_url, self.region = endpoint_url, region
        self._creds = (access_key_id, secret_access_key)
        self.staging_root = Path(staging_root or Path(tempfile.gettempdir()) / "videogen-staging")
        self.serve_mode = serve
        self.presign_expiry = presign_expiry
        self.multipart_threshold = multipart_threshold
        self.multipart_chunksize = multipart_chunksize or multipart_threshold
        self._client: Any = None
        self._client_pid = 0
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, url: str, settings: Any) -> S3Storage:
        bucket, prefix = parse_s3_url(url)
        return cls(bucket, prefix, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region,
                   access_key_id=settings.s3_access_key_id, secret_access_key=settings.s3_secret_access_key,
                   staging_root=settings.staging_path, serve=settings.s3_serve,
                   presign_expiry=settings.s3_presign_expiry, multipart_threshold=settings.s3_multipart_threshold)

    # --- client ------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """One boto3 client per process (a forked worker child makes its own: the parent's
        connection pool must not be shared across fork)."""
        pid = os.getpid()
        if self._client is None or self._client_pid != pid:
            with self._lock:
                if self._client is None or self._client_pid != pid:
                    import boto3
                    from botocore.config import Config

                    cfg = Config(region_name=self.region, signature_version="s3v4", connect_timeout=5,
                                 read_timeout=30, retries={"max_attempts": 3, "mode": "standard"},
                                 s3={"addressing_style": "path"})
                    self._client = boto3.session.Session().client(
                        "s3", endpoint_url=self.endpoint_url, aws_access_key_id=self._creds[0],
                        aws_secret_access_key=self._creds[1], config=cfg)
                    self._client_pid = pid
        return self._client

    def object_key(self, key: str, name: str) -> str:
        rel = f"{check_key(key)}/{check_name(name)}"
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def _error(self, what: str, e: Exception) -> StorageError:
        return StorageError(f"S3 {what} failed (bucket {self.bucket}): {type(e).__name__}: {e}")

    @staticmethod
    def _missing(e: Exception) -> bool:
        from botocore.exceptions import ClientError

        if not isinstance(e, ClientError):
            return False
        code = str(e.response.get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    # --- writing -----------------------------------------------------------------------------
    def staging_dir(self) -> Path:
        return new_staging_dir(self.staging_root)

    def upload(self, path: Path, key: str, name: str) -> None:
        from boto3.s3.transfer import TransferConfig

        cfg = TransferConfig(multipart_threshold=self.multipart_threshold, multipart_chunksize=self.multipart_chunksize,
                             max_concurrency=4, use_threads=True)
        try:
            self.client.upload_file(str(path), self.bucket, self.object_key(key, name),
                                    ExtraArgs={"ContentType": CONTENT_TYPES[name]}, Config=cfg)
        except Exception as e:  # noqa: BLE001 - any failure of the upload is a storage error
            raise self._error(f"upload of {key}/{name}", e) from e

    def publish(self, key: str, folder: Path, replace: bool = False) -> bool:
        folder = Path(folder)
        check_complete(folder)
        if not replace and self.exists(key):
            shutil.rmtree(folder, ignore_errors=True)
            return False
        for name in MEDIA_FILES:
            self.upload(folder / name, key, name)
        self.upload(folder / MANIFEST, key, MANIFEST)  # last: it commits the set
        shutil.rmtree(folder, ignore_errors=True)
        return True

    def delete(self, key: str) -> None:
        try:  # the manifest first: readers stop seeing the video before its files go
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key, MANIFEST))
            for name in MEDIA_FILES:
                self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key, name))
        except Exception as e:  # noqa: BLE001
            raise self._error(f"delete of {key}", e) from e

    def clean_staging(self, older_than: float) -> int:
        return remove_stale_dirs(self.staging_root, older_than)

    # --- reading -----------------------------------------------------------------------------
    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.object_key(key, MANIFEST))
            return True
        except Exception as e:  # noqa: BLE001
            if self._missing(e):
                return False
            raise self._error(f"lookup of {key}", e) from e

    def stat(self, key: str, name: str) -> StoredFile:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.object_key(key, name))
        except Exception as e:  # noqa: BLE001
            if self._missing(e):
                raise StorageError(f"{key}/{name} not found") from None
            raise self._error(f"stat of {key}/{name}", e) from e
        return StoredFile(key, name, int(head["ContentLength"]), head.get("ETag") or '""', CONTENT_TYPES[name])

    def read(self, key: str, name: str, start: int = 0, end: int | None = None, chunk: int = 1 << 16) -> Iterator[bytes]:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self.object_key(key, name)}
        if start or end is not None:
            args["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            body = self.client.get_object(**args)["Body"]
        except Exception as e:  # noqa: BLE001
            if self._missing(e):
                raise StorageError(f"{key}/{name} not found") from None
            raise self._error(f"read of {key}/{name}", e) from e
        try:
            yield from body.iter_chunks(chunk)
        finally:
            body.close()

    def manifest(self, key: str) -> dict[str, Any]:
        try:
            return json.loads(b"".join(self.read(key, MANIFEST)).decode("utf-8"))
        except StorageError as e:
            if "not found" in str(e):
                raise StorageError(f"{key} has no manifest") from None
            raise

    # --- uploads -----------------------------------------------------------------------------
    def _upload_key(self, digest: str) -> str:
        rel = f"{UPLOADS}/{check_digest(digest)}"
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def put_upload(self, digest: str, data: bytes) -> None:
        try:  # one PUT: S3 makes an object visible whole or not at all
            self.client.put_object(Bucket=self.bucket, Key=self._upload_key(digest), Body=data,
                                   ContentType="application/octet-stream")
        except Exception as e:  # noqa: BLE001 - any failure of the upload is a storage error
            raise self._error(f"upload {digest[:12]}", e) from e

    def read_upload(self, digest: str) -> bytes:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._upload_key(digest))["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()
        except Exception as e:  # noqa: BLE001
            if self._missing(e):
                raise StorageError(f"upload {digest} not found") from None
            raise self._error(f"read of upload {digest[:12]}", e) from e

    def has_upload(self, digest: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._upload_key(digest))
            return True
        except Exception as e:  # noqa: BLE001
            if self._missing(e):
                return False
            raise self._error(f"lookup of upload {digest[:12]}", e) from e

    def presigned_url(self, key: str, name: str, expires: int | None = None) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self.object_key(key, name)},
            ExpiresIn=expires or self.presign_expiry)

    def keys(self) -> list[str]:
        """Storage keys of published videos (those with a manifest)."""
        out = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else ""):
            for obj in page.get("Contents", []):
                parts = obj["Key"].rsplit("/", 2)
                if len(parts) >= 2 and parts[-1] == MANIFEST:
                    out.append(parts[-2])
        return out

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as e:  # noqa: BLE001
            raise self._error("bucket check", e) from e
