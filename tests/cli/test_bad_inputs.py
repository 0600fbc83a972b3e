"""Every user mistake is one clear error line, the right exit code, and nothing written.

Each row is a mistake users make: the command line (run in a workspace holding ``ok.yml``, a
seeded cache, ``afile``, ``README.md``, ``typo.yml``, ``fleet.yml``), the environment, standard
input, files to write first, and what must come out: the exit code and words of the one
``lkcloud: error:`` line. After every row the workspace is byte for byte what it was. To cover a
new mistake, add a row.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.cli.conftest import UNREACHABLE, Runner, snapshot


@dataclass(frozen=True)
class Bad:
    argv: tuple[str, ...]
    code: int
    words: tuple[str, ...]  # each must appear in the one error line
    env: dict[str, str] = field(default_factory=dict)
    stdin: bytes | None = None
    files: dict[str, str] = field(default_factory=dict)  # written into the workspace before the snapshot
    readonly: tuple[str, ...] = ()  # directories made unwritable (for root too: run in a child without DAC override)


BAD: dict[str, Bad] = {
    # --- build: every option checked before any work
    "build --dir is a file": Bad(("build", "ok.yml", "--dir", "afile"), 2, ("--dir afile", "not a directory")),
    "build --dir in /proc": Bad(("build", "ok.yml", "--dir", "/proc/x"), 2, ("--dir /proc/x", "cannot write")),
    "build --dir unwritable": Bad(("build", "ok.yml", "--dir", "ro/out"), 2, ("--dir ro/out", "ermission denied"),
                                  readonly=("ro",)),
    "build --name is a path": Bad(("build", "ok.yml", "--name", "../escape"), 2, ("--name", "not a path")),
    "build --name is a dot": Bad(("build", "ok.yml", "--name", ".."), 2, ("--name", "not a path")),
    "build --arch unknown": Bad(("build", "ok.yml", "--arch", "riscv64"), 2, ("--arch", "riscv64")),
    "build LKCLOUD_ARCH unknown": Bad(("build", "ok.yml"), 2, ("LKCLOUD_ARCH", "riscv64"),
                                      env={"LKCLOUD_ARCH": "riscv64"}),
    "build --size too small": Bad(("build", "ok.yml", "-f", "raw-efi", "--size", "1K"), 2,
                                  ("--size 1 KiB", "too small", "raw-efi")),
    "build --size nonsense": Bad(("build", "ok.yml", "-f", "raw", "--size", "big"), 2, ("--size", "'big'")),
    "build -f unknown": Bad(("build", "ok.yml", "-f", "qcow3"), 2, ("unknown format", "qcow3")),
    "build --compression unknown": Bad(("build", "ok.yml", "--compression", "lz5"), 2, ("compression", "lz5")),
    "build a missing file": Bad(("build", "nope.yml"), 2, ("nope.yml", "No such file")),
    "build a fleet file": Bad(("build", "fleet.yml"), 2, ("fleet.yml", "fleet file", "not a LinuxKit config")),
    "build - without --name": Bad(("build", "-"), 2, ("--name", "standard input"), stdin=b"kernel: {}\n"),
    "build - twice": Bad(("build", "-", "-", "--name", "x"), 2, ("standard input", "only once"), stdin=b""),
    "build a misspelled image": Bad(("build", "typo.yml"), 1, (
        "typo.yml:7: services[0].image", f"{UNREACHABLE}/lkcloud/helo-service:dev", "not in the cache",
        "connection refused", f"did you mean {UNREACHABLE}/lkcloud/hello-service:dev")),
    "build --cache is a file": Bad(("build", "ok.yml", "--cache", "afile"), 2, ("--cache afile", "not a directory")),
    # --- validate
    "validate - with garbage": Bad(("validate", "-"), 2, ("<stdin>:2", "invalid YAML"), stdin=b"kernel: [\n"),
    "validate a fleet file": Bad(("validate", "fleet.yml"), 2, ("fleet file",)),
    # --- cache
    "cache rm absent image": Bad(("cache", "rm", "lkcloud/nope:dev"), 1, ("lkcloud/nope:dev", "not in the cache")),
    "cache import a text file": Bad(("cache", "import", "README.md"), 2, ("README.md", "not an OCI or docker archive")),
    "cache import - a text file": Bad(("cache", "import", "-"), 2, ("<stdin>", "not an OCI or docker archive"),
                                      stdin=b"hello\n" * 200),
    "cache import a missing file": Bad(("cache", "import", "nope.tar"), 2, ("nope.tar", "no such file")),
    "cache export -o in /proc": Bad(("cache", "export", "lkcloud/init:dev", "-o", "/proc/x.tar"), 2,
                                    ("--output /proc/x.tar", "cannot write")),
    "cache export -o no such dir": Bad(("cache", "export", "lkcloud/init:dev", "-o", "nodir/x.tar"), 2,
                                       ("--output nodir/x.tar", "no such directory")),
    "cache export -o a directory": Bad(("cache", "export", "lkcloud/init:dev", "-o", "cache"), 2,
                                      ("--output cache", "is a directory")),
    "cache pull bad reference": Bad(("cache", "pull", "Bad/Name"), 2, ("invalid image reference", "Bad/Name")),
    "cache pull --arch unknown": Bad(("cache", "pull", "lkcloud/init:dev", "--arch", "sparc"), 2, ("--arch", "sparc")),
    # --- metadata
    "metadata create -o in /proc": Bad(("metadata", "create", "--entry", "a=b", "-o", "/proc/nope.json"), 2,
                                       ("--output /proc/nope.json", "cannot write")),
    "metadata create --file missing": Bad(("metadata", "create", "--file", "k=/nonexistent"), 2,
                                          ("--file", "/nonexistent", "No such file or directory")),
    "metadata create --provider unknown": Bad(("metadata", "create", "--entry", "a=b", "--provider", "ibm"), 2,
                                              ("--provider", "ibm")),
    "metadata create --from missing": Bad(("metadata", "create", "--from", "tree.yml"), 2, ("--from tree.yml",
                                                                                           "no such file")),
    "metadata show missing": Bad(("metadata", "show", "nope.json"), 2, ("nope.json", "no such file")),
    # --- settings
    "LKCLOUD_* of the wrong type": Bad(("config", "list"), 2, ("LKCLOUD_AWS_CONCURRENCY=abc", "aws.concurrency",
                                                                "whole number"),
                                       env={"LKCLOUD_AWS_CONCURRENCY": "abc"}),
    "LKCLOUD_* of the wrong type, provider": Bad(("images", "list", "aws"), 2, ("LKCLOUD_AWS_CONCURRENCY=abc",
                                                                                "aws.concurrency"),
                                                 env={"LKCLOUD_AWS_CONCURRENCY": "abc"}),
    "lkcloud.toml unknown key": Bad(("build", "ok.yml"), 2, ("lkcloud.toml:2", 'unknown key "aws.regoin"',
                                                             'did you mean "aws.region"'),
                                    files={"lkcloud.toml": '[aws]\nregoin = "eu-west-1"\n'}),
    "lkcloud.toml wrong type": Bad(("config", "list"), 2, ("lkcloud.toml:1", "qemu.mem", "whole number"),
                                   files={"lkcloud.toml": 'qemu.mem = "lots"\n'}),
    "lkcloud.toml not TOML": Bad(("config", "list"), 2, ("lkcloud.toml",), files={"lkcloud.toml": "[aws\n"}),
    # --- usage
    "unknown option": Bad(("build", "ok.yml", "--jsn"), 2, ("lkcloud build", "--jsn", "--json")),
    "missing argument": Bad(("build",), 2, ("lkcloud build", "Missing argument", "FILES")),
    "unknown command": Bad(("bulid",), 2, ("No such command", "bulid")),
}


def _prepare(workspace: Path, row: Bad) -> None:
    for name, text in row.files.items():
        (workspace / name).write_text(text)
    for name in row.readonly:
        (workspace / name).mkdir()
        (workspace / name).chmod(0o555)


def _run(cli: Runner, row: Bad, *extra: str) -> tuple[int, str, str]:
    if row.readonly and os.geteuid() == 0:  # root writes anywhere: drop that power in a child
        if shutil.which("setpriv") is None:
            pytest.skip("setpriv is needed to test an unwritable directory as root")
        found = cli(*extra, *row.argv, env=row.env, stdin=row.stdin, child=True,
                    prefix=("setpriv", "--bounding-set", "-dac_override,-dac_read_search"))
    else:
        found = cli(*extra, *row.argv, env=row.env, stdin=row.stdin)
    return found.code, found.out, found.err


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input(case: str, cli: Runner, workspace: Path) -> None:
    row = BAD[case]
    _prepare(workspace, row)
    before = snapshot(workspace)
    code, _, err = _run(cli, row)
    errors = [line for line in err.splitlines() if not line.startswith("lkcloud: hint:")]
    assert code == row.code, err
    assert len(errors) == 1 and errors[0].startswith("lkcloud: error: "), err
    for word in row.words:
        assert word in errors[0], err
    assert "Traceback" not in err and "[Errno" not in err
    assert snapshot(workspace) == before


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_as_json(case: str, cli: Runner, workspace: Path) -> None:
    row = BAD[case]
    _prepare(workspace, row)
    code, out, err = _run(cli, row, "--json")
    assert code == row.code, err
    if case == "cache rm absent image":  # the result names what was missing: one document, not two
        assert json.loads(out) == {"removed": [], "missing": ["docker.io/lkcloud/nope:dev"]}
        return
    error = json.loads(out)
    assert set(error) == {"error", "problems", "hint", "exit_code"} and error["exit_code"] == row.code
    for word in row.words:
        assert word in error["error"]
    assert err == ""
