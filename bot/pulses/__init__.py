"""Micro-pulses: scheduled one-tap questions in DMs, anonymous by construction (see docs/privacy.md)."""

from __future__ import annotations


def register(core) -> None:
    from bot.pulses import answers, commands, schedule

    core.command("pulse", "answer quick anonymous questions; leads can ask their team", commands.USAGE, commands.on_command,
                 opens_form=lambda cmd: cmd.raw_text.strip().lower() == "send")
    core.action("pulse.answer", answers.on_answer)
    core.action("pulse.comment", answers.on_comment_button)
    core.action("pulse.text", answers.on_text_button)
    core.form("pulse.comment", answers.on_comment_form)
    core.form("pulse.text", answers.on_text_form)
    core.form("pulse.send", commands.on_send_form)
    core.job(schedule.TICK_JOB, schedule.tick)
    core.job(commands.FANOUT_JOB, commands.fanout_job)
    core.on_startup(schedule.schedule_tick)
