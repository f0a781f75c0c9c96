#!/bin/sh
# The image's entrypoint: when the registry has no current model, copy in the demo model trained at build time
# (the Dockerfile), so a fresh volume serves a model rather than the fallback; then run the command. A registry
# with a CURRENT is never touched. Bundles go in under a hidden name and are renamed, and CURRENT is written
# last, so a service that looks in between sees no model rather than half of one.
set -eu
registry="${WAYFINDER_REGISTRY:-/data/registry}"
demo="${DEMO_REGISTRY:-/app/demo-registry}"
if [ ! -s "$registry/CURRENT" ] && [ -s "$demo/CURRENT" ]; then
    mkdir -p "$registry"
    for bundle in "$demo"/*/; do
        name=$(basename "$bundle")
        if [ ! -e "$registry/$name" ]; then
            rm -rf "$registry/.seed-$name"
            cp -R "$bundle" "$registry/.seed-$name"
            mv "$registry/.seed-$name" "$registry/$name"
        fi
    done
    if [ -e "$demo/history.jsonl" ] && [ ! -e "$registry/history.jsonl" ]; then
        cp "$demo/history.jsonl" "$registry/history.jsonl"
    fi
    cp "$demo/CURRENT" "$registry/.CURRENT.seed"
    mv "$registry/.CURRENT.seed" "$registry/CURRENT"
    echo "wayfinder: no model was current in $registry; serving the demo model $(cat "$registry/CURRENT")" >&2
fi
exec "$@"
