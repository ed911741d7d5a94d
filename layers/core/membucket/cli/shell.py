"""``membucket shell``: an interactive prompt to add, search, list and delete memories.

Plain text is remembered; a line that starts with a command word (help, list, delete, ...) is
that command and is never stored, even when it is mistyped: ``add <text>`` stores such a line.
Lists and searches number what they show, so ``delete 2`` (or an id, or its first characters)
names a memory.
"""

from __future__ import annotations

import click

from ..errors import MembucketError
from .base import Runtime, pass_rt, translate_errors

__all__ = ["shell", "HELP", "COMMAND_WORDS"]

HELP = """Commands:
  <text>             remember the text
  add <text>         remember the text, even if it starts with a command word
  ?<query>, search <query>   search (numbered results)
  list               the newest memories (numbered, with ids)
  delete <n|id>      delete a memory: its number in the last list or search, or its id (a prefix will do)
  help               this help
  quit, exit         leave (Ctrl-D too)"""

COMMAND_WORDS = frozenset({"help", "add", "search", "list", "ls", "delete", "del", "rm", "remove", "forget", "quit", "exit"})


class Session:
    """One shell: the contexts it acts with and the ids it last showed (for ``delete <n>``)."""

    def __init__(self, rt: Runtime) -> None:
        self.ctx, self.owner = rt.ctx(), rt.ctx(owner=True)
        self.shown: list[str] = []

    def show(self, rows: list[tuple[str, str]]) -> None:
        self.shown = [mid for mid, _ in rows]
        if not rows:
            click.echo("  (nothing)")
        for n, (mid, line) in enumerate(rows, 1):
            click.echo(f"  {n:>2}. {mid[:8]}  {line}")

    def resolve(self, ref: str) -> str:
        if ref.isdigit() and 1 <= int(ref) <= len(self.shown):
            return self.shown[int(ref) - 1]
        matches = [mid for mid in self.shown if mid.startswith(ref.lower())] if len(ref) >= 4 else []
        return matches[0] if len(matches) == 1 else ref

    def run(self, line: str) -> bool:
        """Act on one line; False to leave."""
        from .. import ops

        word, _, rest = line.partition(" ")
        word, rest = word.lower(), rest.strip()
        if line.startswith("?"):
            word, rest = "search", line[1:].strip()
        elif word not in COMMAND_WORDS:
            self.add(line)
            return True
        if word in ("quit", "exit"):
            return False
        if word == "help":
            click.echo(HELP)
        elif word == "add" and rest:
            self.add(rest)
        elif word == "search" and rest:
            self.show([(h.id, f"{h.score:.2f}  {h.text}") for h in ops.search(self.ctx, rest, limit=5)])
        elif word in ("list", "ls") and not rest:
            self.show([(m.id, f"[{m.state}] {m.text}") for m in ops.list_memories(self.owner, size=20).items])
        elif word in ("delete", "del", "rm", "remove", "forget") and rest and " " not in rest:
            mid = self.resolve(rest)
            ops.delete(self.ctx, [mid])
            click.echo(f"  deleted {mid}")
        else:
            click.echo(f"  {word!r} is a command, so this line was not stored; to remember it, type: add {line}")
            click.echo("  (type 'help' for the commands)")
        return True

    def add(self, text: str) -> None:
        from .. import ops

        for e in ops.add(self.ctx, text).events:
            click.echo(f"  {e.event} {e.id}")


@click.command("shell")
@pass_rt
@translate_errors
def shell(rt: Runtime):
    """An interactive prompt: type text to add it, '?query' to search, 'list', 'delete <n>', 'help'.

    Example: membucket shell
    """
    session = Session(rt)
    click.echo(f"membucket shell - user {session.ctx.user!r}, app {session.ctx.app!r}, store {rt.mb.store.url}")
    click.echo("Type a sentence to remember it, '?question' to search, 'help' for the commands, 'quit' to leave.")
    while True:
        try:
            line = input("membucket> ").strip()
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if not line:
            continue
        try:
            if not session.run(line):
                return
        except MembucketError as exc:
            click.echo(f"  error: {exc.code}: {exc.message}")
