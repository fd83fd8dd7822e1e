"""The Bolt app: `/say`, `/voice`, the "Speak this" shortcut and clips shared with the bot, on the Hub facade."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import SECTION, commands, files
from hub.api import Consent, Hub, SpeechRequest, TaskSet, VoxhubError, check_text

if TYPE_CHECKING:
    from adapters.slack import SlackSettings

log = logging.getLogger("voxhub.slack")

SEEN_MAX = 5000
SEEN_TTL_S = 3600.0
ADMIN_TTL_S = 300.0
SHORTCUT = "speak_this"


class SlackBot:
    """Listeners translating Slack requests to the Hub; work runs after the 3-second ack, in tracked tasks."""

    def __init__(self, hub: Hub, settings: SlackSettings) -> None:
        self.hub = hub
        self.settings = settings
        # One session for every Web API call, file upload and download: kept-alive connections save the TLS
        # handshakes of the three calls files_upload_v2 makes per clip.
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=files.DOWNLOAD_TIMEOUT_S))
        self.client = AsyncWebClient(
            token=settings.bot_token, base_url=settings.api_url, session=self.session
        )
        self.app = AsyncApp(
            client=self.client,
            signing_secret=settings.signing_secret or None,
            request_verification_enabled=not settings.socket_mode,
            logger=logging.getLogger("voxhub.slack.bolt"),
            user_facing_authorize_error_message=(
                "voxhub cannot act in Slack: its bot token was refused. Whoever runs voxhub must fix "
                "adapters.slack.bot_token."
            ),
        )
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._admins: dict[str, tuple[bool, float]] = {}
        self._tasks = TaskSet(log, "slack")
        self.app.middleware(self._dedupe)
        self.app.command("/say")(self._on_say)
        self.app.command("/voice")(self._on_voice)
        self.app.shortcut(SHORTCUT)(self._on_shortcut)
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)

    async def handle_http(self, request: Any) -> Any:
        """POST /slack/events: Bolt verifies the signature and timestamp (401 otherwise) and dispatches."""
        response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def close(self) -> None:
        await self._tasks.cancel_all()
        await self.session.close()

    # --- plumbing -----------------------------------------------------------------------------------

    def _first_time(self, key: str) -> bool:
        """True the first time `key` is seen (within an hour); Slack redelivers what it thinks was lost."""
        now = time.monotonic()
        while self._seen and (
            len(self._seen) > SEEN_MAX or next(iter(self._seen.values())) < now - SEEN_TTL_S
        ):
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True

    async def _dedupe(self, req: Any, body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> Any:
        """Ack a redelivery (X-Slack-Retry-Num, or the same event/trigger again) and do nothing else."""
        key = body.get("event_id") or body.get("trigger_id")
        if key and not self._first_time(f"req:{key}"):
            retry = (req.headers.get("x-slack-retry-num") or ["?"])[0]
            log.info("slack: ignoring a redelivery (retry %s) of %s: it is already being handled", retry, key)
            return BoltResponse(status=200, body="")
        return await next()

    def _spawn(self, work: Awaitable[Any]) -> None:
        self._tasks.spawn(work)

    async def _may_manage(self, user: str) -> bool:
        """Whether `user` may enroll and remove voices: manage_users, else workspace admins and owners."""
        allowed = self.settings.manage_users
        if "*" in allowed or user in allowed:
            return True
        if allowed:
            return False
        cached = self._admins.get(user)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        info = (await self.client.users_info(user=user)).get("user") or {}
        admin = bool(info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"))
        self._admins[user] = (admin, time.monotonic() + ADMIN_TTL_S)
        return admin

    # --- /say and "Speak this" ----------------------------------------------------------------------

    async def _on_say(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack()
        say = commands.parse_say(command.get("text") or "")
        self._spawn(self._speak(say, command["user_id"], command["channel_id"], respond))

    async def _on_shortcut(self, ack: Any, shortcut: dict[str, Any], respond: Any) -> None:
        await ack()
        text = commands.plain_text((shortcut.get("message") or {}).get("text") or "")
        channel = (shortcut.get("channel") or {}).get("id", "")
        self._spawn(self._speak(commands.Say(text), shortcut["user"]["id"], channel, respond))

    async def _speak(self, say: commands.Say, user: str, channel: str, respond: Any) -> None:
        """Synthesize, encode and post one audio file; problems go back to the user alone."""

        async def tell(text: str) -> None:
            await respond(text=text, response_type="ephemeral", replace_original=False)

        try:
            await self._speak_or_tell(say, user, channel, tell)
        except Exception as exc:
            log.exception("slack: /say failed")
            await tell(commands.unexpected(exc))

    async def _speak_or_tell(
        self, say: commands.Say, user: str, channel: str, tell: Callable[[str], Awaitable[None]]
    ) -> None:
        """The work of `_speak`; expected problems are told here, each with its fix."""
        if not say.text:
            await tell("Nothing to say: `/say TEXT` or `/say NAME: TEXT` (`/voice help` for more).")
            return
        try:
            check_text(
                say.text, max_chars=self.settings.max_chars, param="text", setting=f"{SECTION}.max_chars"
            )
        except VoxhubError:  # the text is there (checked above): it is too long
            await tell(
                f":warning: That is {len(say.text)} characters; `/say` takes at most {self.settings.max_chars} "
                f"({SECTION}.max_chars). Split it into shorter messages."
            )
            return
        voice = say.voice or await self.hub.user_voice("slack", user) or self.settings.default_voice or None
        fmt = self.settings.audio_format
        try:
            stream = await self.hub.synthesize(SpeechRequest(say.text, voice=voice))
            chunk = await stream.collect()
            data, _ = await self.hub.encode(chunk, fmt)
        except VoxhubError as exc:
            await tell(commands.error_text(exc, voice, from_say=say.voice is not None))
            return
        name = stream.voice.name
        filename = f"voxhub-{name}-{int(time.time())}.{files.OUTPUT_EXTENSIONS[fmt]}"
        try:
            await files.upload(
                self.client, channel, data, filename, commands.first_words(say.text, 6),
                commands.say_comment(user, name, say.text),
            )  # fmt: skip
        except SlackApiError as exc:
            error = exc.response.get("error", "error")
            if error in ("not_in_channel", "channel_not_found"):
                await tell("I cannot post in this channel: invite me with `/invite @voxhub` first.")
            else:
                await tell(f":warning: Slack refused the audio upload ({error}). Try again later.")
            log.warning("slack: upload to %s failed: %s", channel, error)

    # --- /voice -------------------------------------------------------------------------------------

    async def _on_voice(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack()
        self._spawn(self._voice(command, respond))

    async def _voice(self, command: dict[str, Any], respond: Any) -> None:
        sub, arg = commands.parse_voice_command(command.get("text") or "")
        user = command["user_id"]
        try:
            text = await self._voice_reply(sub, arg, user)
        except VoxhubError as exc:
            text = commands.error_text(exc, arg)
        except Exception as exc:
            log.exception("slack: /voice failed")
            text = commands.unexpected(exc)
        await respond(text=text, response_type="ephemeral", replace_original=False)

    async def _voice_reply(self, sub: str, arg: str, user: str) -> str:
        if sub == "list":
            voices = await self.hub.list_voices()
            default = (await self.hub.get_voice(self.settings.default_voice or None)).name
            return commands.voice_list(voices, await self.hub.user_voice("slack", user), default)
        if sub == "use" and arg:
            info = await self.hub.set_user_voice("slack", user, None if arg == "default" else arg)
            return (
                f"`/say` now speaks in *{info.name}* for you."
                if info
                else "`/say` uses the default voice again."
            )
        if sub == "remove" and arg:
            if not await self._may_manage(user):
                return (":no_entry: Only voice managers may remove voices (workspace admins, or the users in "
                        "adapters.slack.manage_users).")  # fmt: skip
            await self.hub.delete_voice(arg)
            return f"Voice `{arg}` removed."
        return commands.HELP

    # --- clips shared with the bot ------------------------------------------------------------------

    async def _on_mention(self, event: dict[str, Any]) -> None:
        self._spawn(self._clip_message(event))

    async def _on_message(self, event: dict[str, Any]) -> None:
        # Direct messages only: in channels the bot acts on mentions (app_mention), which arrive separately.
        if event.get("channel_type") != "im" or event.get("bot_id"):
            return
        if event.get("subtype") not in (None, "file_share"):
            return
        self._spawn(self._clip_message(event))

    async def _clip_message(self, event: dict[str, Any]) -> None:
        """`enroll NAME` / `check` with an audio file: the report goes into the message's thread."""
        if not self._first_time(f"msg:{event.get('channel')}:{event.get('ts')}"):
            return
        channel, user = event["channel"], event.get("user", "")
        thread = event.get("thread_ts") or event["ts"]
        command = commands.parse_file_message(event.get("text") or "")
        if command is None and not event.get("files") and event.get("thread_ts"):
            return  # chatter in a thread (a "thanks" under a report) needs no help text
        try:
            text = await self._clip_reply(command, user, event.get("files") or [])
        except Exception as exc:  # the person waiting in the thread hears about it, the log gets the details
            log.exception("slack: handling a shared clip failed")
            text = commands.unexpected(exc)
        await self.client.chat_postMessage(channel=channel, thread_ts=thread, text=text)

    async def _clip_reply(self, command: commands.FileCommand | None, user: str, shared: list[Any]) -> str:
        if command is None:
            return commands.HELP
        if command.action == "enroll":
            if not command.name:
                return ":warning: Name the voice: `enroll NAME` with the audio file attached."
            if not await self._may_manage(user):
                return (":no_entry: Only voice managers may clone voices (workspace admins, or the users in "
                        "adapters.slack.manage_users).")  # fmt: skip
        max_bytes = int(self.settings.max_clip_mb * (1 << 20))
        try:
            item = files.pick_clip(shared, max_bytes)
            audio = await files.download(
                self.hub, item, self.settings.bot_token, self.settings.api_url, max_bytes
            )
        except files.ClipProblem as exc:
            return f":warning: {exc}"
        try:
            if command.action == "check":
                report = await self.hub.check(audio)
                return commands.quality_report(report.to_dict(), f"Quality report for `{item.get('name')}`")
            consent = Consent("slack", user) if command.consent else None
            info = await self.hub.enroll(command.name, audio, replace=command.replace, consent=consent)
        except VoxhubError as exc:
            rejected = exc.extra.get("quality")
            if rejected:
                return commands.quality_report(rejected, f"Voice `{command.name}` was *not* stored.")
            return commands.error_text(exc, command.name)
        details = await self.hub.voice_details(info.name)
        headline = f"Voice `{info.name}` enrolled. Try it: `/say {info.name}: Hello there!`"
        if not details.get("quality"):
            return f":white_check_mark: {headline} (stored without a quality check: enroll.analyze is off)"
        return commands.quality_report(details["quality"], headline)
