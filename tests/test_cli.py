import subprocess
import sys

from cns.cli import build_parser


def test_help_lists_every_subcommand() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cns", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for cmd in ("run", "bench", "validate", "compile", "news", "demo"):
        assert cmd in out


def test_bench_requires_a_target() -> None:
    parser = build_parser()
    args = parser.parse_args(["bench", "actors", "--quick", "--json", "x.json"])
    assert args.key == "bench actors" and args.quick and args.json == "x.json"
