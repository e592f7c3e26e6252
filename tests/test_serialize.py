"""What the outbox stores must come back as the same message, or a retry would send something else."""

from __future__ import annotations

from bot.kernel import messages as m
from bot.kernel.ports import ChannelPost, DirectMessage
from bot.kernel.serialize import destination_from_data, message_from_data, to_data


def test_every_block_kind_round_trips():
    ana = m.UserRef("slack", "U0ANA", "Ana")
    message = m.Message(
        "summary",
        (
            m.Heading("h"),
            m.Paragraph(("plain <b>", m.Mention(ana), m.Strong("bold"))),
            m.Quote("a\nquote"),
            m.Fields((("k", "v"),)),
            m.Context(("#craft",)),
            m.Actions((m.Button("Yes", "pulse.answer:1", "5", "primary"), m.UserPicker("feedback.route:3", "Pick", (ana,)))),
        ),
    )
    assert message_from_data(to_data(message)) == message
    for dest in (DirectMessage(ana), ChannelPost("teams", "19:x@thread.tacv2")):
        assert destination_from_data(to_data(dest)) == dest
