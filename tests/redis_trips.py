"""Count Redis round trips: each pipeline execute and each lone command, with the commands it carried."""

import redis


def count_round_trips(monkeypatch) -> list[list[str]]:
    """Patch redis-py so every round trip is appended to the returned list (the pipeline's command names,
    or the one command's); the patches end with the test."""
    trips: list[list[str]] = []
    original_execute, original_command = redis.client.Pipeline.execute, redis.Redis.execute_command

    def counted_execute(pipe, *args, **kwargs):
        trips.append([c[0][0] for c in pipe.command_stack])
        return original_execute(pipe, *args, **kwargs)

    def counted_command(self, *args, **kwargs):
        trips.append([args[0]])
        return original_command(self, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", counted_execute)
    monkeypatch.setattr(redis.Redis, "execute_command", counted_command)
    return trips
