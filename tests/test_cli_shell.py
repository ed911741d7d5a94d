"""``membucket shell``: help, numbered lists with ids, delete; command words are never stored."""

from __future__ import annotations

import re

from membucket import ops


def test_shell_help_list_delete_and_command_words(cli_env):
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
    out = cli_env("shell", input=script).stdout
    assert "delete <n|id>" in out and "help" in out  # help printed
    texts = sorted(m.text for m in ops.list_memories(cli_env.lib()).items)
    # 'help', 'list', 'delete', 'list my cats' were commands, never memories; one of the two was deleted
    assert len(texts) == 2 and "list of things to pack: tent, stove" in texts
    assert not any(t.startswith(("help", "delete", "list my")) for t in texts)
    assert re.search(r" 1\. [0-9a-f]{8}  \[active\] ", out)  # numbered, with the short id
    assert "deleted " in out and "to remember it, type: add list my cats" in out
