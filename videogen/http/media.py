"""The media routes: one ``GET``/``HEAD`` route per output file of a finished job
(``/v1/videos/{id}/video.mp4`` …, from ``videogen.outputs``), served by ``serve_file`` with
Range, ETag, 304 and 416, or redirected to a presigned object-storage URL."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from videogen.errors import StorageError
from videogen.http.auth import Auth
from videogen.http.problems import Problem, job_or_404, problems
from videogen.outputs import CONTENT_TYPES, FILES, MANIFEST
from videogen.service.store import Job
from videogen.service.videos import EDITABLE, VideoService

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


#: How long a shared cache (a CDN) may serve a published clip's file without asking again: an
#: unpublish takes the files off within this, and a revalidation is a cheap 304 (ETag).
PUBLIC_MEDIA_CACHE = "public, max-age=300"


def media_router(service: VideoService, auth: Auth | None = None) -> APIRouter:
    """The file routes; ``videogen.http.app.create_app`` includes them. The one exemption from
    the key that everything else under ``/v1/`` needs: the files of a published clip are
    public (they are embedded in article pages); of anything else, a caller without a key (or a
    live preview token of that version, ``?preview=``) learns nothing, not even that the job
    exists. A clip an editor took down answers 410 to callers without a key; with a key any
    version's files are served."""
    router = APIRouter()
    auth = auth or Auth(service.settings)

    def media(job_id: str, name: str, request: Request) -> Response:
        job = job_or_404(service, job_id)
        state, shown = service.public_version(job)
        if shown is not None and shown.id == job.id:
            return serve_file(service, job.output or "", name, request)
        if auth.required and auth.valid(request) or service.preview_allowed(job, request.query_params.get("preview")):
            return version_file(job, name, request)
        if state == "unpublished":
            raise Problem(410, "Gone", "this video was withdrawn")
        if auth.required:  # a wrong key or none: nothing about the job
            raise Problem(404, "Not Found", f"no video {job_id}")
        return version_file(job, name, request)  # no keys: an open API serves any version

    def version_file(job: Job, name: str, request: Request) -> Response:
        """A file of a version that is not the published one, privately; 404 until it has files."""
        if job.output and job.status in EDITABLE:
            return serve_file(service, job.output, name, request, public=False)
        raise Problem(404, "Not Found", f"the video is {job.status}, not rendered",
                      headers={"Retry-After": "5"} if job.status in ("queued", "rendering") else None)

    def handler_for(name: str) -> Callable[[str, Request], Response]:
        # A closure, not a default argument: FastAPI would publish a default as a query
        # parameter (``?_name=captions.vtt`` served the captions from the video's URL).
        def handler(job_id: str, request: Request) -> Response:
            return media(job_id, name, request)

        return handler

    for file_name in FILES:  # one route per file: no pattern that could match other paths
        handler = handler_for(file_name)
        ctype = CONTENT_TYPES[file_name].split(";")[0]
        op = file_name.replace(".", "_")
        router.add_api_route(f"/v1/videos/{{job_id}}/{file_name}", handler, methods=["GET"], operation_id=f"get_{op}",
                             summary=f"Download {file_name} of a finished job (Range supported)",
                             responses={200: {"content": {ctype: {}}, "description": file_name},
                                        206: {"content": {ctype: {}}, "description": "Partial content"},
                                        302: {"description": "Redirect to a presigned object-storage URL (VIDEOGEN_S3_SERVE=redirect)"},
                                        304: {"description": "Not modified"}, **problems(404, 416, 422)})
        router.add_api_route(f"/v1/videos/{{job_id}}/{file_name}", handler, methods=["HEAD"], include_in_schema=False)
    return router


def serve_file(service: VideoService, key: str, name: str, request: Request, public: bool = True) -> Response:
    """``name`` of the files at ``key``; ``public``: a published clip's file, cacheable by
    anyone (else private: a version seen with a key or a preview token)."""
    storage = service.storage
    if storage.serve_mode == "redirect" and request.method == "GET":
        # Object storage hands the bytes out itself (Range included) from a presigned URL.
        try:
            url = storage.presigned_url(key, name)
        except Exception as e:  # noqa: BLE001 - signing needs no network, but report any failure
            raise Problem(503, "Service Unavailable", f"cannot sign a URL for {name}: {e}") from None
        return RedirectResponse(url, status_code=302, headers={"Cache-Control": "private, max-age=60",
                                                               "Access-Control-Allow-Origin": "*"})
    try:
        st = storage.stat(key, name)
        etag = st.etag
        if name != MANIFEST:
            sha = storage.manifest(key).get("files", {}).get(name, {}).get("sha256")
            if sha:
                etag = f'"{sha[:32]}"'
    except StorageError:
        raise Problem(404, "Not Found", f"{name} is missing from storage") from None
    headers = {
        "ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": PUBLIC_MEDIA_CACHE if public else "private, no-store",
        "Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Content-Range, Content-Length, ETag",
        "X-Content-Type-Options": "nosniff",
    }
    inm = request.headers.get("if-none-match")
    if inm and etag_matches(inm, etag):
        # The ETag again, but no Cache-Control: a cache keeps the freshness of the 200 it holds.
        return Response(status_code=304, headers={k: v for k, v in headers.items() if k != "Cache-Control"})
    size = st.size
    start, end, status = 0, size - 1, 200
    rng = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if rng and (not if_range or if_range.strip() == etag):
        m = _RANGE.match(rng.strip().replace(" ", ""))
        a, b = (m.group(1), m.group(2)) if m else ("", "")
        # A malformed, reversed (bytes=5-3) or multi-range header is ignored: the whole file is
        # sent (RFC 9110 14.1.1, 14.2).
        if (a or b) and not (a and b and int(b) < int(a)):
            if a == "":
                start, end = max(0, size - int(b)), size - 1
            else:
                start, end = int(a), min(int(b), size - 1) if b else size - 1
            if start >= size or start > end or size == 0:
                return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}",
                                                          "Cache-Control": "no-store"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=st.content_type)

    def body() -> Iterator[bytes]:
        yield from storage.read(key, name, start, end)

    return StreamingResponse(body(), status_code=status, headers=headers, media_type=st.content_type)


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 13.1.2: whether an If-None-Match list names ``etag`` by weak comparison
    (``W/"x"`` matches ``"x"``), or is ``*``."""
    def opaque(tag: str) -> str:
        tag = tag.strip()
        return tag[2:] if tag.startswith("W/") else tag

    return if_none_match.strip() == "*" or opaque(etag) in {opaque(t) for t in if_none_match.split(",")}
