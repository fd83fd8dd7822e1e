"""A local Discord stand-in for the tests: the REST routes, gateway websocket, voice websocket (TLS) and voice
UDP that discord.py 2.7 uses, so the real, unmodified client runs against it offline."""

from tests.discord_standin.server import Standin
from tests.discord_standin.tls import make_test_ca
from tests.discord_standin.world import APP_ID, BOT_ID, GUILDS, Guild, User

__all__ = ["APP_ID", "BOT_ID", "GUILDS", "Guild", "Standin", "User", "make_test_ca"]
