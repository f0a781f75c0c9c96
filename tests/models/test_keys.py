"""Key builders, byte for byte: one hash tag per visitor, nothing of the raw id in a key."""

from models import keys


def test_every_visitor_key_shares_one_hash_tag():
    tag = keys.visitor_tag("visitor-1")
    assert tag == "87b563e5c04d272f413e"
    assert keys.context_key("acme", "visitor-1") == "wf:acme:{87b563e5c04d272f413e}:ctx"
    assert keys.dedup_key("acme", "visitor-1") == "wf:acme:{87b563e5c04d272f413e}:dedup"
    assert keys.caps_key("acme", "visitor-1") == "wf:acme:{87b563e5c04d272f413e}:caps"


def test_an_erasure_deletes_every_key_of_the_visitor_tag():
    assert keys.visitor_keys("acme", "visitor-1") == [
        "wf:acme:{87b563e5c04d272f413e}:ctx",
        "wf:acme:{87b563e5c04d272f413e}:dedup",
        "wf:acme:{87b563e5c04d272f413e}:caps",
        "wf:acme:{87b563e5c04d272f413e}:seen",
        "wf:acme:{87b563e5c04d272f413e}:rate",
        "wf:acme:{87b563e5c04d272f413e}:link",
        "wf:acme:{87b563e5c04d272f413e}:devices",
    ]
    assert keys.visitor_rate_key("acme", "visitor-1") in keys.visitor_keys("acme", "visitor-1")

    assert keys.tag_of("wf:acme:{87b563e5c04d272f413e}:ctx") == "87b563e5c04d272f413e"
    assert keys.tag_keys("acme", "87b563e5c04d272f413e") == keys.visitor_keys("acme", "visitor-1")
    assert keys.context_key_pattern("acme") == "wf:acme:{*}:ctx"


def test_hostile_ids_cannot_shape_keys():
    key = keys.context_key("t", "*}{evil:*")
    assert "*" not in key and "evil" not in key
    assert key.count("{") == 1 and key.count("}") == 1


def test_popularity_key_is_per_tenant_and_epoch():
    assert keys.popularity_key("acme", 3) == "wf:acme:popularity:3"


def test_journal_keys_are_per_tenant():
    assert keys.journal_sentinel_key("acme") == "wf:acme:journal:sentinel"
    assert keys.rebuild_lock_key("acme") == "wf:acme:journal:rebuild-lock"


def test_rate_limit_buckets_per_key_and_per_visitor():
    assert keys.key_tag("key-1") == "e563766a35708218e67a"  # a digest, never the raw key id
    assert keys.key_rate_key("acme", "key-1") == "wf:acme:rate:key:e563766a35708218e67a"
    assert keys.visitor_rate_key("acme", "visitor-1") == "wf:acme:{87b563e5c04d272f413e}:rate"
    hostile = keys.key_rate_key("t", "*}{evil:*")
    assert "*" not in hostile and "evil" not in hostile and "{" not in hostile


def test_event_keys_are_the_context_dedup_and_link_keys():
    assert keys.event_keys("t1", "visitor-é") == (
        keys.context_key("t1", "visitor-é"),
        keys.dedup_key("t1", "visitor-é"),
        keys.link_key("t1", "visitor-é"),
    )
