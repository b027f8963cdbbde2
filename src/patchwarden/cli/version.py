"""``patchwarden version``: the tool, the Python running it, and the advisory index it would
use (how old it is, where its data came from, how many records)."""

from __future__ import annotations

import platform
import sys

import typer

from patchwarden import __version__
from patchwarden.app.serialize.db import age_seconds, version_dict
from patchwarden.cli.common import (
    ConfigOpt,
    DebugOpt,
    FormatOpt,
    OutputFormat,
    emit_json,
    out,
    user_errors,
)
from patchwarden.cli.db import DbOpt, _human, _settings
from patchwarden.cli.report import reporting
from patchwarden.core.words import plural

HELP = """Print the patchwarden version, the Python it runs on, and the advisory index in use:
its path, age (time since its last import or update), sources and record counts.

Exit codes: 0 printed (also when there is no index yet: it says so); 2 a bad configuration.

\b
  patchwarden version
  patchwarden version --format json | jq .index.age_seconds
"""


@reporting()
def version_cmd(
    db: DbOpt = None,
    format: FormatOpt = OutputFormat.table,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    with user_errors(debug):
        _, path = _settings(config, db)
        python = f"{platform.python_version()} ({sys.executable})"
        if path.is_file():
            from patchwarden.app.wiring import open_advisory_index

            with open_advisory_index(path) as idx:
                data = version_dict(__version__, python, path, idx)
        else:
            data = version_dict(__version__, python, path, None)
        index = data["index"]
        if format == OutputFormat.json:
            emit_json(data)
            return
        lines = [f"patchwarden {__version__}", f"python {data['python']}"]
        if not index["exists"]:
            lines.append(f"advisory index: none at {path} (run `patchwarden db update`)")
        else:
            age = _human(index["age_seconds"])
            lines.append(
                f"advisory index: {path}, {plural(index['records'], 'record')}, updated {age}"
            )
            for s in index["sources"]:
                lines.append(
                    f"  {s['ecosystem']}: {plural(s['records'], 'record')}, updated "
                    f"{_human(age_seconds(s['last_update']))}, from {s['source'] or '-'}"
                )
        out.print("\n".join(lines), markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("version", help=HELP)(version_cmd)
