"""The bot: a discord.py client whose application commands translate to the Hub facade."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from typing import Any

import discord
from discord import app_commands

from adapters.discord import clips, commands, replies
from adapters.discord.playback import GuildPlayer, SayJob
from adapters.discord.settings import SECTION, DiscordSettings
from hub.api import Consent, Hub, Priority, SpeechRequest, VoxhubError, check_text

log = logging.getLogger("voxhub.discord")

PLATFORM = "discord"
MAX_CHOICES = 25


class VoxhubBot(discord.AutoShardedClient):
    """Registers /say, /voice, /stop and /leave and serves them."""

    def __init__(self, hub: Hub, settings: DiscordSettings) -> None:
        # AutoShardedClient asks GET /gateway/bot (under Route.BASE) where the gateway is; the plain Client
        # would always dial wss://gateway.discord.gg. Guilds + voice states; no privileged intent is needed.
        intents = discord.Intents.default()
        super().__init__(intents=intents, chunk_guilds_at_startup=False)
        self.hub = hub
        self.settings = settings
        self.tree = app_commands.CommandTree(self)
        self.players: dict[int, GuildPlayer] = {}
        self._last_say: dict[int, float] = {}
        commands.register(self)
        self.tree.on_error = self._on_command_error  # type: ignore[method-assign]

    async def setup_hook(self) -> None:
        """Register the commands: per guild (instantly) or globally."""
        for guild_id in self.settings.guilds:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        if not self.settings.guilds:
            await self.tree.sync()
        log.info("discord: commands registered (%s)", ", ".join(map(str, self.settings.guilds)) or "globally")

    async def on_ready(self) -> None:
        log.info("discord: connected as %s to %d server(s)", self.user, len(self.guilds))

    async def close(self) -> None:
        for player in list(self.players.values()):
            await player.close()
        await super().close()

    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        """Leave when the last listener leaves the bot's channel."""
        voice = member.guild.voice_client
        if voice is None or member.id == getattr(self.user, "id", None):
            return
        channel = getattr(voice, "channel", None)
        if before.channel is None or channel is None or before.channel.id != channel.id:
            return
        if not [m for m in channel.members if not m.bot]:
            log.info("discord: %s emptied; leaving voice", channel)
            await self.player(member.guild).leave()

    def player(self, guild: discord.Guild) -> GuildPlayer:
        if guild.id not in self.players:
            self.players[guild.id] = GuildPlayer(guild, self.settings.idle_disconnect_s)
        return self.players[guild.id]

    async def _on_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        log.error("discord: /%s failed", getattr(interaction.command, "qualified_name", "?"), exc_info=error)
        await reply(interaction, "❌ Something went wrong; the voxhub log has the details.")

    # --- /say -----------------------------------------------------------------------------------------

    async def say(self, interaction: discord.Interaction, text: str, voice: str | None) -> None:
        user = interaction.user
        cooldown = self.settings.cooldown_s
        wait = self._last_say.get(user.id, -cooldown) + cooldown - time.monotonic()
        if wait > 0:
            await reply(interaction, f"⏳ Slow down: try again in {wait:.0f} s.")
            return
        try:
            check_text(text, max_chars=self.settings.max_chars, param="text", setting=f"{SECTION}.max_chars")
        except VoxhubError as exc:
            too_long = f"❌ That is {len(text)} characters; the limit is {self.settings.max_chars}."
            await reply(interaction, too_long if exc.code == "input_too_long" else replies.error_text(exc))
            return
        try:
            name = (
                voice
                or await self.hub.user_voice(PLATFORM, str(user.id))
                or self.settings.default_voice
                or None
            )
            name = (await self.hub.get_voice(name)).name
        except VoxhubError as exc:
            await reply(interaction, replies.error_text(exc))
            return
        channel = getattr(getattr(user, "voice", None), "channel", None)
        if channel is not None and interaction.guild is not None:
            allowed = channel.permissions_for(interaction.guild.me)
            if not (allowed.connect and allowed.speak):
                await reply(interaction, f"❌ I need the Connect and Speak permissions in {channel.mention}.")
                return
        self._last_say[user.id] = time.monotonic()
        # Acknowledge (Discord's 3 s) while synthesis starts: the round trip is not on the way to first audio.
        deferred = asyncio.create_task(interaction.response.defer(thinking=True))
        try:
            stream = await self.hub.synthesize(SpeechRequest(text, voice=name, priority=Priority.INTERACTIVE))
        except VoxhubError as exc:
            await deferred
            await interaction.edit_original_response(content=replies.error_text(exc))
            return
        if interaction.guild is not None and channel is not None and discord.opus.is_loaded():
            player = self.player(interaction.guild)
            ahead = player.add(SayJob(stream, channel, lambda message: _tell(interaction, message)))
            await deferred
            queued = f" (after {ahead} queued)" if ahead else ""
            await interaction.followup.send(
                f"🔊 Speaking as **{stream.voice.name}** in {channel.mention}{queued}"
            )
            return
        try:
            chunk = await stream.collect()
        finally:
            await stream.aclose()
            await deferred
        data, _ = await self.hub.encode(chunk, "opus")
        note = "" if channel is None else " (voice playback needs libopus: install Debian's libopus0)"
        await interaction.followup.send(
            f"🗣️ **{stream.voice.name}**{note}", file=discord.File(io.BytesIO(data), filename="say.ogg")
        )

    async def voice_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Voices whose name contains what the member typed; cloned voices first."""
        voices = await self.hub.list_voices()
        wanted = current.lower()
        names = sorted((v.kind != "cloned", v.name) for v in voices if wanted in v.name.lower())
        return [app_commands.Choice(name=n, value=n) for _, n in names[:MAX_CHOICES]]

    # --- /voice -----------------------------------------------------------------------------------------

    async def voice_list(self, interaction: discord.Interaction) -> None:
        voices = await self.hub.list_voices()
        mine = await self.hub.user_voice(PLATFORM, str(interaction.user.id))
        current = mine or self.settings.default_voice or (await self.hub.get_voice(None)).name
        await interaction.response.send_message(embed=replies.voices_embed(voices, current), ephemeral=True)

    async def voice_enroll(
        self,
        interaction: discord.Interaction,
        name: str,
        clip: discord.Attachment,
        transcript: str | None,
        consent: bool = False,
    ) -> None:
        if not await self._may_manage(interaction) or not await self._clip_ok(interaction, clip):
            return
        await interaction.response.defer(thinking=True)  # analysis and transcription take seconds
        try:
            audio = await self.hub.fetch_clip(clip.url, max_bytes=self.settings.max_clip_bytes)
            agreed = Consent(PLATFORM, str(interaction.user.id)) if consent else None
            await self.hub.enroll(name, audio, transcript=transcript or "", consent=agreed)
            details = await self.hub.voice_details(name)
        except VoxhubError as exc:
            report = exc.extra.get("quality")
            embed = replies.report_embed(report, f"{name} not enrolled") if report else None
            await interaction.edit_original_response(content=replies.error_text(exc), embed=embed)
            return
        embed = replies.report_embed(details.get("quality") or {"verdict": "accept"}, f"enrolled {name}")
        await interaction.edit_original_response(
            content=f"🎙️ New voice **{name}**: try `/say voice:{name}`", embed=embed
        )

    async def voice_check(self, interaction: discord.Interaction, clip: discord.Attachment) -> None:
        if not await self._clip_ok(interaction, clip):
            return
        await interaction.response.defer(thinking=True, ephemeral=True)
        try:
            audio = await self.hub.fetch_clip(clip.url, max_bytes=self.settings.max_clip_bytes)
            report = await self.hub.check(audio)
        except VoxhubError as exc:
            await interaction.edit_original_response(content=replies.error_text(exc))
            return
        await interaction.edit_original_response(embed=replies.report_embed(report.to_dict(), clip.filename))

    async def voice_remove(self, interaction: discord.Interaction, name: str) -> None:
        if not await self._may_manage(interaction):
            return
        try:
            await self.hub.delete_voice(name)
        except VoxhubError as exc:
            await reply(interaction, replies.error_text(exc))
            return
        await interaction.response.send_message(f"🗑️ Removed the voice **{name}**.")

    async def voice_use(self, interaction: discord.Interaction, name: str) -> None:
        try:
            info = await self.hub.set_user_voice(PLATFORM, str(interaction.user.id), name)
        except VoxhubError as exc:
            await reply(interaction, replies.error_text(exc))
            return
        assert info is not None
        await reply(interaction, f"✅ Your /say voice is now **{info.name}**.")

    # --- /stop, /leave ----------------------------------------------------------------------------------

    async def stop(self, interaction: discord.Interaction) -> None:
        if interaction.guild is None or interaction.guild.id not in self.players:
            await reply(interaction, "Nothing is playing.")
            return
        dropped = await self.players[interaction.guild.id].stop()
        await interaction.response.send_message(f"⏹️ Stopped ({dropped} request(s) dropped).")

    async def leave(self, interaction: discord.Interaction) -> None:
        left = interaction.guild is not None and await self.player(interaction.guild).leave()
        await reply(interaction, "👋 Left the voice channel." if left else "I am not in a voice channel.")

    # --- helpers ----------------------------------------------------------------------------------------

    async def _may_manage(self, interaction: discord.Interaction) -> bool:
        """Enroll and remove: members with one of manage_roles, else those with Manage Server."""
        allowed = set(self.settings.manage_roles)
        roles = getattr(interaction.user, "roles", [])
        if allowed:
            ok = any(r.name in allowed or str(r.id) in allowed for r in roles)
        else:
            ok = interaction.permissions.manage_guild
        if not ok:
            need = (
                f"one of the roles {', '.join(sorted(allowed))}"
                if allowed
                else "the Manage Server permission"
            )
            await reply(interaction, f"❌ Changing the voice library needs {need}.")
        return ok

    async def _clip_ok(self, interaction: discord.Interaction, clip: discord.Attachment) -> bool:
        """Size and type, from what Discord says about the attachment, before downloading a byte."""
        limit = self.settings.max_clip_mb
        problem = None
        if clip.size > self.settings.max_clip_bytes:
            problem = (
                f"the clip is {clip.size / (1 << 20):.1f} MB; the limit is {limit:g} MB: send a shorter clip"
            )
        elif not clips.looks_like_audio(clip):
            problem = (f"`{clip.filename}` ({clip.content_type or 'unknown type'}) is not an audio file: "
                       "attach a WAV, MP3, OGG, FLAC or M4A recording")  # fmt: skip
        if problem:
            await reply(interaction, f"❌ {problem[0].upper()}{problem[1:]}.")
        return problem is None


async def reply(interaction: discord.Interaction, message: str) -> None:
    """A short ephemeral answer, whether or not the interaction was answered already."""
    if interaction.response.is_done():
        await interaction.followup.send(message, ephemeral=True)
    else:
        await interaction.response.send_message(message, ephemeral=True)


async def _tell(interaction: discord.Interaction, message: str) -> Any:
    return await interaction.followup.send(message, ephemeral=True)
