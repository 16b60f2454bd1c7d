"""A version's pictures over HTTP: ``GET /v1/videos/{id}/pictures`` (``{"images": [{"src",
"caption", "credit", "focus": [x, y] | null}…]}``, in order), ``PUT`` the same shape → 202
``{"id": <new job>}`` (choose, order, drop images, set focal points; a new version rendered
with the job's options and script), and ``POST`` an image to use in it: multipart ``file`` →
201 ``{"src": "upload:<sha256>", "width", "height"}`` kept in storage, or JSON ``{"url": …}``
→ fetched now (SSRF-checked) and checked → 201 ``{"src": <url>, "width", "height"}``. The
work is ``videogen.service.pictures``' and ``VideoService.repicture``'s."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from videogen.errors import InvalidInput, JobConflict, StorageError
from videogen.http.auth import Auth
from videogen.http.guards import UPLOADS
from videogen.http.limits import LargerBodies
from videogen.http.problems import Problem, job_or_404, problems
from videogen.http.videos import parse_json_body
from videogen.render.images import ImageLimits
from videogen.service.pictures import Picture, fetch_picture, pictures_of, store_upload
from videogen.service.videos import VideoService
from videogen.settings import Settings

#: Room for the multipart envelope (boundaries, part headers) around the largest image.
MULTIPART_OVERHEAD = 64 * 1024


def upload_bodies(settings: Settings) -> LargerBodies:
    """The body limit of ``POST .../pictures``: the image byte limit (``VIDEOGEN_MAX_IMAGE_BYTES``)
    and the multipart envelope, for ``BodyLimit``."""
    return (("POST", UPLOADS, settings.max_image_bytes + MULTIPART_OVERHEAD),)


def _invalid(field: str, message: str) -> Problem:
    return Problem(422, "Invalid request", f"{field}: {message}", [{"field": field, "message": message}])


def pictures_router(settings: Settings, service: VideoService, auth: Auth | None = None) -> APIRouter:
    auth = auth or Auth(settings)
    router = APIRouter(dependencies=[Depends(auth.read)])
    write = [Depends(auth.write)]
    base = settings.public_url.rstrip("/")
    limits = ImageLimits(settings.max_image_bytes, settings.max_image_pixels, settings.image_timeout,
                         allow_paths=False, allowed_hosts=settings.image_hosts)

    @router.get("/v1/videos/{job_id}/pictures", summary="A version's images, in order",
                responses={200: {"description": '{"images": [{"src", "caption", "credit", "focus": [x, y] | null}, …]}'},
                           **problems(401, 404, 422, 429)})
    def get_pictures(job_id: str) -> dict[str, Any]:
        return {"images": pictures_of(job_or_404(service, job_id).article)}

    @router.put("/v1/videos/{job_id}/pictures", status_code=202, dependencies=write,
                summary="Render a clip again with other pictures (chosen, ordered, dropped, focal points)",
                responses={202: {"description": '{"id": the new job}: renders with the job\'s options and script'},
                           **problems(400, 401, 404, 409, 413, 422, 429)})
    async def put_pictures(job_id: str, request: Request, by: str = Depends(auth.caller)) -> Response:
        await run_in_threadpool(job_or_404, service, job_id)
        body = parse_json_body(await request.body())
        if not isinstance(body, dict):
            raise _invalid("body", "must be a JSON object")
        for key in sorted(set(body) - {"images"}):
            raise _invalid(key, "unknown field")
        if "images" not in body:
            raise _invalid("images", "is required")
        try:
            job = await run_in_threadpool(service.repicture, job_id, body["images"], by)
        except InvalidInput as e:
            raise _invalid(e.field, e.message) from None
        except JobConflict as e:
            raise Problem(409, "Conflict", str(e)) from None
        except StorageError as e:  # the uploads it names cannot be looked up now
            raise Problem(503, "Service Unavailable", f"the storage cannot be read now: {e}") from None
        return JSONResponse({"id": job.id}, status_code=202, headers={"Location": f"{base}/v1/videos/{job.id}"})

    @router.post("/v1/videos/{job_id}/pictures", status_code=201, dependencies=write,
                 summary="Add an image: multipart `file` (stored as upload:<sha256>) or JSON {\"url\": …} (fetched now)",
                 openapi_extra={"requestBody": {"content": {
                     "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                                        "properties": {"file": {"type": "string", "format": "binary"}}}},
                     "application/json": {"schema": {"type": "object", "required": ["url"], "additionalProperties": False,
                                                     "properties": {"url": {"type": "string", "format": "uri"}}}}}}},
                 responses={201: {"description": '{"src", "width", "height"}: usable in PUT pictures'},
                            **problems(400, 401, 404, 413, 415, 422, 429)})
    async def add_picture(job_id: str, request: Request) -> Response:
        await run_in_threadpool(job_or_404, service, job_id)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "multipart/form-data":
            picture = await _upload(request)
        elif kind in ("application/json", ""):
            body = parse_json_body(await request.body())
            if not isinstance(body, dict):
                raise _invalid("body", "must be a JSON object {\"url\": …}")
            for key in sorted(set(body) - {"url"}):
                raise _invalid(key, "unknown field")
            try:
                picture = await run_in_threadpool(fetch_picture, body.get("url", ""), limits)
            except InvalidInput as e:
                raise _invalid(e.field, e.message) from None
        else:
            raise Problem(415, "Unsupported Media Type",
                          "send the image as multipart/form-data (field `file`) or JSON {\"url\": …}")
        return JSONResponse(picture.as_json(), status_code=201)

    async def _upload(request: Request) -> Picture:
        try:
            form = await request.form(max_files=1, max_fields=4)
        except Exception as e:  # noqa: BLE001 - Starlette's parser errors (malformed multipart) are the client's
            raise Problem(400, "Bad Request", f"the multipart body cannot be read: {e}") from None
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise _invalid("file", "is required: the image, as a file part named `file`")
            data = await upload.read()
        finally:
            await form.close()
        try:
            return await run_in_threadpool(store_upload, service.storage, data, limits)
        except InvalidInput as e:
            raise _invalid(e.field, e.message) from None
        except StorageError as e:
            raise Problem(503, "Service Unavailable", f"the upload cannot be stored now: {e}") from None

    return router
