"""Write _config.yml with some keys overridden, for a build from another config file.

    python tools/config_variant.py --out _build/_config.noexec.yml execute.execute_notebooks=off

Jupyter Book resolves the folders of ``sphinx.local_extensions`` relative to the config file it
is given, so they are rewritten to stay pointing at the same folders from ``--out``'s location.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def write_variant(out: Path, overrides: dict[str, object]) -> None:
    """Write the root ``_config.yml`` to ``out`` with ``{"dotted.key": value}`` overridden."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    for key, value in overrides.items():
        *parents, last = key.split(".")
        node = config
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    out_dir = Path(out).resolve().parent
    local = config.get("sphinx", {}).get("local_extensions") or {}
    for name, folder in local.items():
        local[name] = os.path.relpath(ROOT / folder, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        yaml.safe_dump(config, fh, sort_keys=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="where to write the config")
    parser.add_argument("overrides", nargs="*", help="dotted.key=value (value parsed as YAML)")
    args = parser.parse_args()
    overrides = {}
    for item in args.overrides:
        key, value = item.split("=", 1)
        overrides[key] = yaml.safe_load(value)
    write_variant(Path(args.out), overrides)


if __name__ == "__main__":
    main()
