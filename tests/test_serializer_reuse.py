"""``labpanel.serializer_reuse``: one instance per serializer class and thread, built without
an object or context, that writes what a new instance per object writes."""

from __future__ import annotations

import threading
from typing import Any

from rest_framework import serializers

from labpanel.serializer_reuse import reused


class _Point(serializers.Serializer[Any]):
    x = serializers.IntegerField()
    shown = serializers.SerializerMethodField()

    def get_shown(self, point: dict[str, Any]) -> str:
        return f"({point['x']})"


class _Other(serializers.Serializer[Any]):
    y = serializers.IntegerField()


def test_a_thread_gets_one_instance_per_class() -> None:
    first = reused(_Point)
    # then
    assert reused(_Point) is first
    other: object = reused(_Other)
    assert other is not first
    assert isinstance(reused(_Other), _Other)
    assert first.instance is None
    assert first.context == {}


def test_another_thread_gets_its_own_instance() -> None:
    here = reused(_Point)
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.extend([reused(_Point), reused(_Point)]))
    # when
    thread.start()
    thread.join()
    # then
    assert seen[0] is seen[1]
    assert seen[0] is not here


def test_the_kept_instance_writes_what_a_new_one_writes_for_each_object() -> None:
    points = [{"x": 1}, {"x": 22}, {"x": -3}]
    kept = reused(_Point)
    # when
    written = [kept.to_representation(point) for point in points]
    # then
    assert written == [dict(_Point(point).data) for point in points]
    assert written[1] == {"x": 22, "shown": "(22)"}
