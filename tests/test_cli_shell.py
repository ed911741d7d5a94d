"""``membucket shell``: help, numbered lists with ids, delete; command words are never stored."""

from __future__ import annotations

import re

from membucket import ops

from tests.test_cli_options import env, lib  # noqa: F401  (the CLI fixture)


def test_shell_help_list_delete_and_command_words(env):  # noqa: F811
    script = "\n".join([
        "help",
        "Alice likes green tea",
        "Bob rides a red bicycle",
        "list",
        "delete 1",
        "delete",
        "list my cats",
        "add list of things to pack: tent, stove",
        "?bicycle",
        "quit",
    ]) + "\n"
    from click.testing import CliRunner
    from membucket import cli as cli_module

    out = CliRunner().invoke(cli_module.cli, ["shell"], input=script, catch_exceptions=False).stdout
    assert "delete <n|id>" in out and "help" in out  # help printed
    texts = sorted(m.text for m in ops.list_memories(lib(env)).items)
    # 'help', 'list', 'delete', 'list my cats' were commands, never memories; one of the two was deleted
    assert len(texts) == 2 and "list of things to pack: tent, stove" in texts
    assert not any(t.startswith(("help", "delete", "list my")) for t in texts)
    assert re.search(r" 1\. [0-9a-f]{8}  \[active\] ", out)  # numbered, with the short id
    assert "deleted " in out and "to remember it, type: add list my cats" in out
