"""Print _config.yml with some keys overridden: ``config_variant.py execute.execute_notebooks=off``."""

import sys

import yaml

config = yaml.safe_load(open("_config.yml", encoding="utf-8"))
for item in sys.argv[1:]:
    key, value = item.split("=", 1)
    *parents, last = key.split(".")
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = yaml.safe_load(value)
yaml.safe_dump(config, sys.stdout, sort_keys=False)
