"""The application commands: names, options and descriptions are the public interface members see."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

if TYPE_CHECKING:
    from adapters.discord.bot import VoxhubBot


def register(bot: VoxhubBot) -> None:
    """The public command interface: names, options and descriptions as members see them."""
    tree = bot.tree

    @tree.command(name="say", description="Speak text in your voice channel (or reply with an audio file)")
    @app_commands.describe(text="What to say", voice="A voice from the library (default: yours)")
    async def say(interaction: discord.Interaction, text: str, voice: str | None = None) -> None:
        await bot.say(interaction, text, voice)

    @say.autocomplete("voice")
    async def say_voice(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await bot.voice_choices(interaction, current)

    group = app_commands.Group(name="voice", description="The voice library")

    @group.command(name="list", description="List the voices")
    async def voice_list(interaction: discord.Interaction) -> None:
        await bot.voice_list(interaction)

    @group.command(name="enroll", description="Clone a voice from an attached clip (3-12 s of clear speech)")
    @app_commands.describe(name="The new voice's name", clip="A recording of one speaker",
                           transcript="What the clip says (optional: transcribed if left out)",
                           consent="True: you confirm the speaker agreed to their voice being cloned (required)")  # fmt: skip
    async def voice_enroll(interaction: discord.Interaction, name: str, clip: discord.Attachment,
                           transcript: str | None = None, consent: bool = False) -> None:  # fmt: skip
        await bot.voice_enroll(interaction, name, clip, transcript, consent)

    @group.command(name="check", description="Judge a clip's quality for cloning (nothing is stored)")
    async def voice_check(interaction: discord.Interaction, clip: discord.Attachment) -> None:
        await bot.voice_check(interaction, clip)

    @group.command(name="remove", description="Remove a cloned voice")
    async def voice_remove(interaction: discord.Interaction, name: str) -> None:
        await bot.voice_remove(interaction, name)

    @group.command(name="use", description="Choose your default /say voice")
    async def voice_use(interaction: discord.Interaction, name: str) -> None:
        await bot.voice_use(interaction, name)

    for command in (voice_remove, voice_use):  # type: ignore[var-annotated]
        command.autocomplete("name")(say_voice)
    tree.add_command(group)

    @tree.command(name="stop", description="Stop speaking and clear this server's queue")
    async def stop(interaction: discord.Interaction) -> None:
        await bot.stop(interaction)

    @tree.command(name="leave", description="Leave the voice channel")
    async def leave(interaction: discord.Interaction) -> None:
        await bot.leave(interaction)
