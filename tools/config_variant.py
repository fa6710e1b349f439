"""Write _config.yml with some keys overridden, for a build from another config file.

    python tools/config_variant.py --out _build/_config.noexec.yml execute.execute_notebooks=off

Jupyter Book resolves the folders of ``sphinx.local_extensions`` relative to the config file it
is given, so they are rewritten to stay pointing at the same folders from ``--out``'s location.
"""

import argparse
import os

import yaml

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", required=True, help="where to write the config")
parser.add_argument("overrides", nargs="*", help="dotted.key=value (value parsed as YAML)")
args = parser.parse_args()

root = os.path.dirname(os.path.abspath("_config.yml"))
config = yaml.safe_load(open("_config.yml", encoding="utf-8"))
for item in args.overrides:
    key, value = item.split("=", 1)
    *parents, last = key.split(".")
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = yaml.safe_load(value)

out_dir = os.path.dirname(os.path.abspath(args.out))
local = config.get("sphinx", {}).get("local_extensions") or {}
for name, folder in local.items():
    local[name] = os.path.relpath(os.path.join(root, folder), out_dir)

os.makedirs(out_dir, exist_ok=True)
with open(args.out, "w", encoding="utf-8") as fh:
    yaml.safe_dump(config, fh, sort_keys=False)
