"""The pronunciation lexicon over HTTP: ``GET/PUT /v1/lexicon/{lang}`` (``{"entries":
{"written form": "spoken form"}}``, PUT replaces the language's whole lexicon) and ``POST
/v1/lexicon/{lang}/preview`` (``{"text": …, "entries"?: {…}}`` → audio/wav: the text spoken with
the stored lexicon, and ``entries`` over it, so an entry can be heard before it is saved). Reads
need a key when keys are set, writes and previews a write key. Bad input: 422 naming the field,
nothing stored changes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from videogen.errors import InvalidInput, NarrationError, UnsupportedLanguage
from videogen.http.auth import Auth
from videogen.http.problems import Problem, problems
from videogen.http.videos import parse_json_body
from videogen.render.config import TTS_CHOICES
from videogen.render.text.lexicon import check_lexicon
from videogen.service.lexicon import lexicon_lang, preview_wav
from videogen.service.videos import VideoService
from videogen.settings import Settings


def _invalid(field: str, message: str) -> Problem:
    return Problem(422, "Invalid request", f"{field}: {message}", [{"field": field, "message": message}])


def _entries(body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        raise _invalid("body", "must be a JSON object")
    extra = set(body) - {"entries"}
    if extra:
        raise _invalid(sorted(extra)[0], "unknown field")
    entries = body.get("entries")
    if not isinstance(entries, dict):
        raise _invalid("entries", "must be an object of written form → spoken form")
    for w, s in entries.items():
        if not isinstance(s, str):
            raise _invalid(f"entries[{w!r}]", "the spoken form must be a string")
    return entries


def lexicon_router(settings: Settings, service: VideoService, auth: Auth | None = None) -> APIRouter:
    auth = auth or Auth(settings)
    router = APIRouter(dependencies=[Depends(auth.read)])
    write = [Depends(auth.write)]

    def lang_or_422(lang: str) -> str:
        try:
            return lexicon_lang(lang)
        except InvalidInput as e:
            raise _invalid(e.field, e.message) from None

    @router.get("/v1/lexicon/{lang}", summary="The pronunciation lexicon of a language",
                responses={200: {"description": '{"lang": …, "entries": {"written form": "spoken form"}}'},
                           **problems(401, 422, 429)})
    def get_lexicon(lang: str) -> dict[str, Any]:
        code = lang_or_422(lang)
        return {"lang": code, "entries": service.lexicons.get(code)}

    @router.put("/v1/lexicon/{lang}", dependencies=write, summary="Replace the pronunciation lexicon of a language",
                responses={200: {"description": "The lexicon as stored"}, **problems(400, 401, 413, 422, 429)})
    async def put_lexicon(lang: str, request: Request) -> dict[str, Any]:
        code = lang_or_422(lang)
        entries = _entries(parse_json_body(await request.body()))
        try:
            stored = await run_in_threadpool(service.lexicons.replace, code, entries)
        except InvalidInput as e:
            raise _invalid(e.field, e.message) from None
        return {"lang": code, "entries": stored}

    @router.post("/v1/lexicon/{lang}/preview", dependencies=write, summary="Hear a text with the lexicon",
                 responses={200: {"content": {"audio/wav": {}}, "description": "The text spoken, 16-bit mono WAV"},
                            **problems(400, 401, 413, 422, 429, 503)})
    async def preview(lang: str, request: Request) -> Response:
        code = lang_or_422(lang)
        body = parse_json_body(await request.body())
        if not isinstance(body, dict):
            raise _invalid("body", "must be a JSON object")
        extra = set(body) - {"text", "entries", "tts", "voice"}
        if extra:
            raise _invalid(sorted(extra)[0], "unknown field")
        tts, voice = body.get("tts", "auto"), body.get("voice")
        if tts not in TTS_CHOICES:
            raise _invalid("tts", f"one of {', '.join(TTS_CHOICES)}")
        if voice is not None and not isinstance(voice, str):
            raise _invalid("voice", "must be a string")
        try:
            entries = await run_in_threadpool(service.lexicons.get, code)  # the job store, off the event loop
            if "entries" in body:
                entries.update(_entries({"entries": body["entries"]}))
            entries = check_lexicon(entries)
            wav = await run_in_threadpool(preview_wav, service.chain, code, body.get("text"), entries, tts, voice)
        except UnsupportedLanguage as e:
            raise _invalid("lang", str(e)) from None
        except InvalidInput as e:
            raise _invalid(e.field, e.message) from None
        except NarrationError as e:
            raise Problem(503, "Service Unavailable", str(e)) from None
        return Response(wav, media_type="audio/wav")

    return router
