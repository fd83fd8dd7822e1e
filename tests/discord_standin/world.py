"""The little world the stand-in describes: the bot, three members, two guilds (each with a text and a voice
channel, one member sitting in voice), and the JSON payloads Discord would send about them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

APP_ID = 900000000000000001
BOT_ID = APP_ID
MANAGE_GUILD = 1 << 5
ALL_PERMISSIONS = (1 << 41) - 1
NOW = "2026-12-01T00:00:00+00:00"


@dataclass(frozen=True)
class User:
    id: int
    name: str
    permissions: int = 0

    def payload(self, bot: bool = False) -> dict[str, Any]:
        return {"id": str(self.id), "username": self.name, "discriminator": "0", "global_name": self.name,
                "avatar": None, "bot": bot, "public_flags": 0}  # fmt: skip


@dataclass
class Guild:
    id: int
    name: str
    text_channel: int
    voice_channel: int
    members: list[User]
    in_voice: list[User]
    """Members sitting in the voice channel."""

    @property
    def lounge(self) -> int:
        """A second voice channel, to move between."""
        return self.voice_channel + 1


BOT = User(BOT_ID, "voxhub-bot", ALL_PERMISSIONS)
ALICE = User(100000000000000011, "alice", MANAGE_GUILD)
BOB = User(100000000000000012, "bob")
CAROL = User(100000000000000013, "carol")
GUILDS = [
    Guild(800000000000000001, "first", 810000000000000001, 820000000000000001, [ALICE, BOB, CAROL], [ALICE]),
    Guild(800000000000000002, "second", 810000000000000002, 820000000000000002, [ALICE, BOB, CAROL], [CAROL]),
]


@dataclass
class Attachment:
    filename: str
    data: bytes
    content_type: str | None
    declared_size: int

    def payload(self, attachment_id: int, base: str) -> dict[str, Any]:
        url = f"{base}/attachments/{attachment_id}/{self.filename}"
        body = {"id": str(attachment_id), "filename": self.filename, "size": self.declared_size, "url": url,
                "proxy_url": url}  # fmt: skip
        if self.content_type is not None:
            body["content_type"] = self.content_type
        return body


@dataclass
class Reply:
    """A callback, follow-up or edit the bot sent for an interaction."""

    kind: str
    """callback, followup or edit."""
    interaction: int
    at: float
    body: dict[str, Any]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    """form field → (filename, bytes)."""

    @property
    def content(self) -> str:
        data = self.body.get("data", self.body) if self.kind == "callback" else self.body
        return (data or {}).get("content") or ""

    @property
    def embeds(self) -> list[dict[str, Any]]:
        data = self.body.get("data", self.body) if self.kind == "callback" else self.body
        return list((data or {}).get("embeds") or [])

    @property
    def ephemeral(self) -> bool:
        data = self.body.get("data", self.body) if self.kind == "callback" else self.body
        return bool(int((data or {}).get("flags") or 0) & 64)


def member(user: User, *, bot: bool = False) -> dict[str, Any]:
    """A guild member payload."""
    return {"user": user.payload(bot=bot), "roles": [], "joined_at": NOW, "deaf": False, "mute": False,
            "flags": 0, "nick": None, "avatar": None, "pending": False}  # fmt: skip


def guild_payload(guild: Guild) -> dict[str, Any]:
    """GUILD_CREATE: channels, members (the bot included) and who sits in voice."""
    everyone = {"id": str(guild.id), "name": "@everyone", "permissions": str(1 << 10 | 1 << 11 | 1 << 20 | 1 << 21),
                "position": 0, "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0}  # fmt: skip
    channels = [
        {"id": str(guild.text_channel), "type": 0, "name": "general", "position": 0, "guild_id": str(guild.id),
         "permission_overwrites": [], "nsfw": False, "parent_id": None},
        {"id": str(guild.voice_channel), "type": 2, "name": "Voice", "position": 1, "guild_id": str(guild.id),
         "permission_overwrites": [], "bitrate": 64000, "user_limit": 0, "parent_id": None, "nsfw": False,
         "rtc_region": None},
        {"id": str(guild.lounge), "type": 2, "name": "Lounge", "position": 2, "guild_id": str(guild.id),
         "permission_overwrites": [], "bitrate": 64000, "user_limit": 0, "parent_id": None, "nsfw": False,
         "rtc_region": None},
    ]  # fmt: skip
    members = [member(BOT, bot=True), *(member(u) for u in guild.members)]
    return {
        "id": str(guild.id), "name": guild.name, "icon": None, "owner_id": str(ALICE.id), "region": "",
        "afk_channel_id": None, "afk_timeout": 300, "verification_level": 0,
        "default_message_notifications": 0, "explicit_content_filter": 0, "roles": [everyone], "emojis": [],
        "stickers": [], "features": [], "mfa_level": 0, "application_id": None, "system_channel_id": None,
        "system_channel_flags": 0, "rules_channel_id": None, "vanity_url_code": None, "description": None,
        "banner": None, "premium_tier": 0, "preferred_locale": "en-US", "public_updates_channel_id": None,
        "nsfw_level": 0, "premium_progress_bar_enabled": False, "joined_at": NOW, "large": False,
        "unavailable": False, "member_count": len(members), "members": members, "channels": channels,
        "threads": [], "presences": [], "stage_instances": [], "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "voice_states": [voice_state(guild, u, guild.voice_channel) for u in guild.in_voice],
    }  # fmt: skip


def voice_state(guild: Guild, user: User, channel: int | None, session: str = "") -> dict[str, Any]:
    """A voice state (channel None: not in voice)."""
    return {"guild_id": str(guild.id), "channel_id": None if channel is None else str(channel),
            "user_id": str(user.id), "member": member(user, bot=user is BOT),
            "session_id": session or f"voice-{user.name}", "deaf": False, "mute": False, "self_deaf": False,
            "self_mute": False, "self_video": False, "suppress": False, "request_to_speak_timestamp": None}  # fmt: skip
