"""Topic names as a RabbitMQ cluster hands them back (tests/chaos/test_cluster_chaos.py found it).

RabbitMQ's MQTT plugin (3.x) maps MQTT topics to AMQP routing keys by swapping '.' and '/', so a
level with a dot reaches subscribers split at the dot: central's `cmd/config.update` arrives at the
gateway as `cmd/config/update`, and a `cmd/+` subscription does not even match it (RabbitMQ reads the
dot as a level separator). Before the fix every command with a dot in its name (all but `ping`) went
unanswered on RabbitMQ; with `[mqtt] broker_kind = "rabbitmq"` the gateway subscribes `cmd/+/+` too and
reads the split name back.
"""

from __future__ import annotations

from mqtt_bridge.topics import Topics

T = Topics("lobby/tower-a/gw-1")


def test_a_command_name_split_at_its_dot_by_rabbitmq_is_the_command() -> None:
    assert T.command_name("lobby/tower-a/gw-1/cmd/config/update") == "config.update"
    assert T.command_name("lobby/tower-a/gw-1/cmd/visitor/host_ack") == "visitor.host_ack"


def test_plain_names_and_foreign_topics_are_as_before() -> None:
    assert T.command_name("lobby/tower-a/gw-1/cmd/ping") == "ping"
    assert T.command_name("lobby/tower-a/gw-1/cmd/config.update") == "config.update"
    assert T.command_name("lobby/tower-a/gw-2/cmd/ping") is None
    assert T.command_name("lobby/tower-a/gw-1/cmd/ping/result") is None  # our own answers are not commands
    assert T.command_name("lobby/tower-a/gw-1/cmd/a//b") is None


def test_on_rabbitmq_the_gateway_also_subscribes_to_names_split_at_a_dot() -> None:
    assert T.command_filters() == ["lobby/tower-a/gw-1/cmd/+"]
    assert T.command_filters(dots_split=True) == ["lobby/tower-a/gw-1/cmd/+", "lobby/tower-a/gw-1/cmd/+/+"]
