"""Micro-pulses as a feature: /pulse, answer buttons and forms, the schedule tick, and the `pulses:` settings."""

from __future__ import annotations

from bot.kernel.feature import Feature
from bot.kernel.personal import home_section
from bot.pulses import answers, commands, home, schedule
from bot.pulses.config import PulseConfig, TeamPulseSchedule


def register(core) -> None:
    core.command("pulse", "answer quick anonymous questions; leads can ask their team", commands.USAGE, commands.on_command,
                 opens_form=lambda cmd: cmd.raw_text.strip().lower() == "send")
    core.action("pulse.answer", answers.on_answer)
    core.action("pulse.comment", answers.on_comment_button)
    core.action("pulse.text", answers.on_text_button)
    core.form("pulse.comment", answers.on_comment_form)
    core.form("pulse.text", answers.on_text_form)
    core.form("pulse.send", commands.on_send_form)
    core.job(schedule.TICK_JOB, schedule.tick)
    for name, step in schedule.STEPS.items():
        core.job(name, step)
    core.job(commands.FANOUT_JOB, commands.fanout_job)
    core.on_startup(schedule.schedule_steps)
    home_section(core, 10, home.section)


FEATURE = Feature(
    name="pulses",
    register=register,
    sections={"pulses": PulseConfig},
    # Per team: its own pulse day, time and cadence, overriding `pulses:`.
    team_keys={"pulse": (TeamPulseSchedule | None, None)},
)
