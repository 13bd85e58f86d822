"""Limits that live in different layers but must fit together.

Each limit has one owner; where two owners' limits depend on each other and neither layer may
import the other (infra imports nothing of the ledger), the relationship is checked here.
"""

from __future__ import annotations

from infra import kafka
from ledger.domain import events
from schemas import codec
from streams import producer, topics


def test_the_broker_accepts_every_message_the_codec_allows() -> None:
    assert codec.message_bytes_max <= kafka.broker_message_bytes_max


def test_a_topic_takes_the_codecs_largest_message_and_a_request_carries_it() -> None:
    assert int(topics.raw_topic_configs["max.message.bytes"]) == codec.message_bytes_max
    assert int(topics.rejected_topic_configs["max.message.bytes"]) == codec.message_bytes_max
    assert producer.request_bytes_max >= codec.message_bytes_max


def test_one_event_fits_in_one_message_with_room_to_spare() -> None:
    assert events.event_json_bytes_max * 4 <= codec.message_bytes_max
