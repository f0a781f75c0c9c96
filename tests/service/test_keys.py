"""Key builders, byte for byte: one hash tag per visitor, nothing of the raw id in a key."""

from service import keys


def test_context_and_seen_keys_share_one_hash_tag():
    ctx = keys.context_key("acme", "visitor-1")
    seen = keys.seen_key("acme", "visitor-1")
    assert ctx == "wf:acme:{" + keys.visitor_tag("visitor-1") + "}:ctx"
    assert seen == "wf:acme:{" + keys.visitor_tag("visitor-1") + "}:seen"
    assert keys.visitor_tag("visitor-1") == "87b563e5c04d272f413e"


def test_hostile_ids_cannot_shape_keys():
    key = keys.context_key("t", "*}{evil:*")
    assert "*" not in key and "evil" not in key
    assert key.count("{") == 1 and key.count("}") == 1


def test_popularity_key_is_per_tenant():
    assert keys.popularity_key("acme") == "wf:acme:popularity"
