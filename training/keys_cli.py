"""`python -m training keys create|list|revoke|rotate`: API keys of a data folder (models/api_keys.py).

The token is printed once, by create and rotate; only its hash is stored. Every change is added to
the audit record as made by `cli:<user>`. Works while the service runs: workers see the change on
their next request.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json

from journal.audit_log import AuditLog
from models.api_keys import SCOPES, ApiKey, KeyRing, parse_origins


def add_parser(commands) -> None:
    """`keys` and its actions, each with the common options (--data-dir is the keys' folder) beside its own."""
    keys = commands.add("keys", help="API keys of <data-dir>: create, list, revoke, rotate (docs/security.md)")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", parents=[commands.common], help="a new key; prints its token once")
    create.add_argument("--scope", required=True, choices=SCOPES)
    create.add_argument("--name", default="", help="what the key is for, e.g. 'shop front end'")
    create.add_argument("--origin", action="append", default=[], help="public keys: an allowed web origin (repeat)")
    create.add_argument("--expires", type=_instant, help="ISO-8601 instant after which the key is refused")
    actions.add_parser("list", parents=[commands.common], help="every key (never a token)")
    for name, what in (("revoke", "refuse a key from the next request on"), ("rotate", "a new token; revokes the old")):
        action = actions.add_parser(name, parents=[commands.common], help=what)
        action.add_argument("key_id")
    for action in actions.choices.values():
        action.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, settings) -> int:
    ring = KeyRing(args.data_dir, settings.max_api_keys)
    if args.action == "list":
        described = [key.describe() for key in ring.keys()]
        print(json.dumps(described, indent=1) if args.json else "\n".join(map(_line, ring.keys())) or "no keys")
        return 0
    if args.action == "create":
        if args.origin and args.scope != "public":
            raise SystemExit("only a public key has origins (server and admin keys are not for browsers)")
        key, token = ring.create(args.scope, args.name, parse_origins(args.origin), args.expires)
    elif args.action == "rotate":
        key, token = ring.rotate(args.key_id)
    else:
        key, token = ring.revoke(args.key_id), None
    AuditLog(args.data_dir, settings.journal_host).record(
        f"cli:{getpass.getuser()}",
        "command line",
        args.action.upper(),
        "python -m training keys",
        {"key_id": key.id},
        0,
    )
    if args.json:
        print(json.dumps({**key.describe(), **({"token": token} if token else {})}))
    else:
        print(_line(key))
        if token:
            print(f"token (shown once, stored only as a hash): {token}")
    return 0


def _line(key: ApiKey) -> str:
    state = f"revoked {key.revoked_at}" if key.revoked_at else f"expires {key.expires_at}" if key.expires_at else "live"
    origins = f" origins={','.join(key.origins)}" if key.origins else ""
    return f"{key.id}  {key.scope:<6}  {state:<32}  {key.source:<7}  {key.name!r}{origins}"


def _instant(raw: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time zone, e.g. 2027-01-01T00:00:00Z")
    return value
