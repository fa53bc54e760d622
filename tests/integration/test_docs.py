# SPDX-License-Identifier: ISC
"""Man pages and bash completion: correct, and complete for every flag.

Focus of this file: doc/encore.1, doc/encore-top.1, doc/encore-main.8 and
doc/encore-worker.8 (mdoc, written by hand) lint clean with mandoc, groff
and man, and name every flag and command the binaries' --help lists, so a
new flag fails here until its page says what it does.  The bash completion
(packaging/bash-completion/encore) is driven as bash drives it: COMP_WORDS,
COMP_CWORD, COMP_LINE and COMP_POINT set, the completion function called,
COMPREPLY read; with bash-completion's helpers loaded, as installed, and
on its own.  Task and device ids come from a real main node.
"""

import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import ROOT, binpath, wait_for

PAGES = {
    "encore": "doc/encore.1",
    "encore-top": "doc/encore-top.1",
    "encore-main": "doc/encore-main.8",
    "encore-worker": "doc/encore-worker.8",
}
COMPLETION = os.path.join(ROOT, "packaging", "bash-completion", "encore")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"


def page_text(prog):
    with open(os.path.join(ROOT, PAGES[prog])) as f:
        return f.read()


def help_text(*argv):
    r = subprocess.run([binpath(argv[0])] + list(argv[1:]) + ["--help"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r
    return r.stdout


def flags_in(text):
    """Long and short flags named in a --help text."""
    longs = set(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*)", text))
    shorts = set(re.findall(r"(?<![\w-])-([a-zA-Z])(?![\w-])", text))
    return longs, shorts


def cli_commands():
    """The commands `encore --help` lists, in order."""
    text = help_text("encore")
    block = text[text.index("Commands:"):]
    return re.findall(r"^  ([a-z]+)\b", block, re.M)


@pytest.mark.parametrize("prog", sorted(PAGES))
def test_man_page_lints_clean(prog):
    path = os.path.join(ROOT, PAGES[prog])
    ran = []
    if shutil.which("mandoc"):
        r = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", path],
                           capture_output=True, text=True)
        assert r.returncode == 0 and not r.stdout + r.stderr, r.stdout + r.stderr
        ran.append("mandoc")
    if shutil.which("groff"):
        r = subprocess.run(["groff", "-mandoc", "-ww", "-z", path],
                           capture_output=True, text=True)
        assert r.returncode == 0 and not r.stderr, r.stderr
        ran.append("groff")
    if shutil.which("man"):
        r = subprocess.run(["man", "--warnings", "-l", path],
                           capture_output=True, text=True,
                           env=dict(os.environ, MANWIDTH="80",
                                    MANPAGER="cat", PAGER="cat"))
        assert r.returncode == 0 and not r.stderr, r.stderr
        # Rendered: the name line and the sections every page has.
        for sec in ("NAME", "SYNOPSIS", "DESCRIPTION", "ENVIRONMENT",
                    "FILES", "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
            assert re.search(r"^%s$" % sec, r.stdout, re.M), (prog, sec)
        assert re.search(r"^\s+%s\s+—" % re.escape(prog), r.stdout, re.M)
        ran.append("man")
    if not ran:
        pytest.skip("none of mandoc, groff, man installed (packaging/deps.sh "
                    "test installs them)")


@pytest.mark.parametrize("prog", sorted(PAGES))
def test_man_page_names_every_flag(prog):
    """Every flag of --help (each command's too) is in the page (.Fl)."""
    page = page_text(prog)
    texts = [help_text(prog)]
    if prog == "encore":
        texts += [help_text("encore", c) for c in cli_commands()]
    missing = []
    for text in texts:
        longs, shorts = flags_in(text)
        for f in longs:
            if not re.search(r"Fl -%s(?![\w-])" % re.escape(f), page):
                missing.append("--" + f)
        for f in shorts:
            if not re.search(r"Fl %s(?![\w-])" % re.escape(f), page):
                missing.append("-" + f)
    assert not missing, "%s lacks %s: document them in %s" % (
        prog, sorted(set(missing)), PAGES[prog])


def test_man_page_names_every_command():
    page = page_text("encore")
    commands = cli_commands()
    assert len(commands) >= 12, commands
    for c in commands:
        assert re.search(r"^\.It (Xo\n)?\.?Ic %s\b" % c, page, re.M), (
            "doc/encore.1 lacks the command %s" % c)


def complete(line, env=None, helpers=True, timeout=20):
    """COMPREPLY for the command line `line` (the cursor at its end)."""
    # Split as readline does: blanks, and COMP_WORDBREAKS' ':' and '='.
    words = re.findall(r"[^\s:=]+|[:=]", line)
    if line.endswith(" ") or not line:
        words.append("")
    script = ""
    if helpers:
        script += "source %s\n" % BASH_COMPLETION
    script += "source %s\n" % COMPLETION
    script += ("COMP_LINE=%s; COMP_POINT=${#COMP_LINE}\n"
               "COMP_WORDS=(%s); COMP_CWORD=%d\n"
               "_encore\n"
               "printf '%%s\\n' \"${COMPREPLY[@]}\"\n"
               "complete -p encore >&2\n") % (
                   shquote(line), " ".join(shquote(w) for w in words),
                   len(words) - 1)
    e = dict(os.environ)
    e.pop("ENCORE_MAIN", None)
    e.pop("ENCORE_TOKEN", None)
    e.update(env or {})
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script],
                       capture_output=True, text=True, env=e, timeout=timeout)
    assert r.returncode == 0, r.stderr
    assert "complete -F _encore encore" in r.stderr, r.stderr
    return [w for w in r.stdout.split("\n") if w]


def shquote(s):
    return "'" + s.replace("'", "'\\''") + "'"


@pytest.fixture(params=[True, False], ids=["bash-completion", "alone"])
def helpers(request):
    if request.param and not os.path.exists(BASH_COMPLETION):
        pytest.skip("bash-completion not installed (packaging/deps.sh test "
                    "installs it)")
    return request.param


def test_completion_commands_and_options(helpers):
    enc = binpath("encore")
    commands = cli_commands()
    assert sorted(complete(enc + " ", helpers=helpers)) == sorted(commands)
    assert complete(enc + " sub", helpers=helpers) == ["submit"]
    assert set(complete(enc + " --", helpers=helpers)) >= {
        "--main", "--token", "--help", "--version"}
    # Each command's options, as its --help lists them.
    for c in commands:
        # Not the usage line, which repeats the global options.
        text = help_text("encore", c).split("\n", 1)[1]
        longs, shorts = flags_in(text)
        offered = set(complete("%s %s -" % (enc, c), helpers=helpers))
        want = {"--" + f for f in longs} | {"-" + f for f in shorts}
        assert want <= offered, (c, want - offered)
    assert complete(enc + " submit --priority h", helpers=helpers) == ["high"]
    assert complete(enc + " submit --platform and",
                    helpers=helpers) == ["android"]
    # After --: a program, then files.
    assert "sh" in complete(enc + " submit --wait -- s", helpers=helpers)


def test_completion_ids_from_the_main_node(cluster, helpers):
    cluster.start_main(approve="manual")
    cluster.start_worker("w-pending")
    wait_for(lambda: cluster.device_state("w-pending") == "pending", 30,
             what="w-pending to be pending")
    cluster.cli("approve", "w-pending", check=True)
    cluster.wait_state("w-pending", "online", timeout=30)
    cluster.start_worker("w-new")
    wait_for(lambda: cluster.device_state("w-new") == "pending", 30,
             what="w-new to be pending")
    tid = cluster.cli("submit", "--name", "long", "--", "sleep", "600",
                      check=True).stdout.strip()
    done = cluster.cli("submit", "--", "true", check=True).stdout.strip()
    wait_for(lambda: "completed" in cluster.cli("show", done).stdout, 30,
             what="task %s to complete" % done)
    wait_for(lambda: "running" in cluster.cli("show", tid).stdout, 30,
             what="task %s to run" % tid)
    held = cluster.cli("submit", "--hold", "--", "true",
                       check=True).stdout.strip()
    enc = binpath("encore")
    main = "127.0.0.1:%d" % cluster.port
    token = {"ENCORE_TOKEN": cluster.operator_token}
    # The main node from --main on the line (one word with bash-completion's
    # helpers, three words without), or from ENCORE_MAIN.
    for line, env in (("%s --main %s " % (enc, main), token),
                      ("%s " % enc, dict(token, ENCORE_MAIN=main))):
        assert complete(line + "approve ", env, helpers) == ["w-new"]
        assert complete(line + "remove w-", env, helpers) == sorted(
            ["w-new", "w-pending"])
        assert sorted(complete(line + "cancel ", env, helpers)) == sorted(
            [tid, held])
        assert complete(line + "release ", env, helpers) == [held]
        assert set(complete(line + "logs ", env, helpers)) == {tid, done,
                                                              held}
        assert complete(line + "submit --device w-p", env,
                        helpers) == ["w-pending"]
        # One id per command.
        assert complete(line + "cancel %s " % tid, env, helpers) == []


def test_completion_quiet_without_main_node(helpers, tmp_path):
    """No main node: no ids, no error text, and quickly."""
    enc = binpath("encore")
    env = {"ENCORE_MAIN": "127.0.0.1:9", "ENCORE_TOKEN": "x" * 32,
           "HOME": str(tmp_path)}
    t0 = time.monotonic()
    assert complete(enc + " cancel ", env, helpers) == []
    assert complete(enc + " approve ", env, helpers) == []
    # 2 s at most per question, and these fail at once (port refused).
    assert time.monotonic() - t0 < 10
