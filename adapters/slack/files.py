"""Files: checking and downloading a clip someone shared with the bot; uploading the spoken audio."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from hub.api import Hub, VoxhubError

DOWNLOAD_TIMEOUT_S = 60.0
OUTPUT_EXTENSIONS = {"mp3": "mp3", "opus": "ogg"}
# Slack's own voice clips come as audio/webm or video/mp4: any audio or video container is decoded.
AUDIO_FILETYPES = frozenset(
    {"mp3", "wav", "m4a", "mp4", "aac", "ogg", "oga", "opus", "flac", "webm", "weba", "mpga", "aiff", "mov"}
)


class ClipProblem(Exception):
    """A shared file that cannot be used; the message says why and what to do."""


def pick_clip(files: list[dict[str, Any]], max_bytes: int) -> dict[str, Any]:
    """The first audio file of a message, checked from Slack's metadata before anything is downloaded."""
    if not files:
        raise ClipProblem("attach an audio file (5-15 s of clear speech) to the same message")
    for item in files:
        mimetype = str(item.get("mimetype") or "")
        filetype = str(item.get("filetype") or "").lower()
        if mimetype.startswith(("audio/", "video/")) or filetype in AUDIO_FILETYPES:
            size = int(item.get("size") or 0)
            if size > max_bytes:
                raise ClipProblem(
                    f"`{item.get('name', 'the file')}` is {size / (1 << 20):.1f} MB, over the "
                    f"{max_bytes / (1 << 20):.0f} MB limit (adapters.slack.max_clip_mb): send a shorter clip"
                )
            if not item.get("url_private_download") and not item.get("url_private"):
                raise ClipProblem("Slack sent no download link for the file: share it again")
            return item
    kinds = ", ".join(sorted({str(f.get("mimetype") or f.get("filetype") or "?") for f in files}))
    raise ClipProblem(f"that is not an audio file ({kinds}): send an mp3, m4a, wav, ogg or webm recording")


def token_allowed(url: str, api_url: str) -> bool:
    """Whether the bot token may be sent to `url`: Slack's own hosts, or the configured API's host."""
    host = (urlsplit(url).hostname or "").lower()
    api_host = (urlsplit(api_url).hostname or "").lower()
    slack = host == "slack.com" or host.endswith((".slack.com", ".slack-edge.com"))
    return urlsplit(url).scheme in ("https", "http") and (slack or host == api_host)


async def download(hub: Hub, item: dict[str, Any], token: str, api_url: str, max_bytes: int) -> bytes:
    """The file's bytes, fetched with the bot token (scope files:read) through the hub's guarded fetch."""
    url = str(item.get("url_private_download") or item.get("url_private"))
    if not token_allowed(url, api_url):
        # The token opens the whole workspace: it only ever goes to Slack.
        raise ClipProblem("the file's link does not point at Slack, so I will not fetch it: share it again")
    try:
        return await hub.fetch_clip(url, max_bytes=max_bytes, headers={"Authorization": f"Bearer {token}"})
    except VoxhubError as exc:
        if exc.code == "not_audio":
            # Without a valid token (or the files:read scope) Slack serves its login page with a 200.
            raise ClipProblem(
                "Slack sent its login page instead of the file: the app lacks the files:read scope. "
                "An admin must add it under OAuth & Permissions and reinstall the app"
            ) from None
        if exc.code == "upload_too_large":
            raise ClipProblem(
                f"the file is over the {max_bytes / (1 << 20):.0f} MB limit (adapters.slack.max_clip_mb): "
                "send a shorter clip"
            ) from None
        raise ClipProblem(f"could not download the file from Slack: {exc.message}") from None


async def upload(client: Any, channel: str, data: bytes, filename: str, title: str, comment: str) -> None:
    """One audio file into `channel` with files_upload_v2 (getUploadURLExternal, POST, complete)."""
    await client.files_upload_v2(
        channel=channel, file=data, filename=filename, title=title, initial_comment=comment
    )
