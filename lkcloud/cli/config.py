"""``lkcloud config list``: every setting, its value, and where the value came from."""

from __future__ import annotations

import typer

from lkcloud.cli.context import emit
from lkcloud.settings import Resolved, Settings, Value

config_app = typer.Typer(help="Settings: what each one is and where its value comes from.", no_args_is_help=True)


def _text(value: Value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(value) or "[]"
    return str(value)


def _table(found: list[Resolved]) -> str:
    rows = [("KEY", "VALUE", "SOURCE")] + [(r.setting.key, _text(r.value), r.origin) for r in found]
    widths = [max(len(row[c]) for row in rows) for c in range(2)]
    return "\n".join(f"{k.ljust(widths[0])}  {v.ljust(widths[1])}  {s}".rstrip() for k, v, s in rows)


def _document(settings: Settings, found: list[Resolved]) -> dict[str, object]:
    return {
        "files": [{"path": str(f.path), "exists": f.path.is_file()} for f in settings.files],
        "settings": [{"key": r.setting.key, "value": r.value, "source": r.source, "origin": r.origin,
                      "env": r.setting.env, "cloud_env": list(r.setting.cloud_env), "default": r.setting.default,
                      "help": r.setting.help} for r in found],
    }


@config_app.command("list")
def list_settings() -> None:
    """Every setting with its value and source: LKCLOUD_* (or the cloud's own variable), a config
    file and line, or the built-in default. Flags, given per command, come before all of them."""
    settings = Settings()
    found = settings.listing()
    files = ", ".join(f"{f.path}{'' if f.path.is_file() else ' (absent)'}" for f in settings.files)
    emit(_document(settings, found), lambda: f"{_table(found)}\n\nconfig files, first wins: {files}",
         ids=[r.setting.key for r in found])


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
