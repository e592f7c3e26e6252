"""/teamhealth, shared EX/CX goals and the weekly team post (issue 6)."""


def register(core) -> None:
    from bot.teamhealth import commands, goals, posts

    commands.register(core)
    goals.register(core)
    posts.register(core)
