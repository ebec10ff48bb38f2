"""Validates JSON documents against a JSON Schema with the reference Python implementation.

Usage: schema_check.py SCHEMA < instances.json
stdin holds a JSON array of instances. Prints a JSON array with, for each instance, the list
of its errors (empty when it is valid). Exits 3 if the schema itself is not a valid draft
2020-12 schema, 4 if RFC 3339 `date-time` checking is unavailable (so a test cannot pass
without it).
"""

import json
import sys

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        print(f"not a valid draft 2020-12 schema: {e.message}", file=sys.stderr)
        return 3
    checker = Draft202012Validator.FORMAT_CHECKER
    if "date-time" not in checker.checkers:
        print("date-time format checking needs rfc3339-validator", file=sys.stderr)
        return 4
    validator = Draft202012Validator(schema, format_checker=checker)
    instances = json.load(sys.stdin)
    report = [
        [f"{e.message} at /{'/'.join(map(str, e.absolute_path))}" for e in validator.iter_errors(i)]
        for i in instances
    ]
    json.dump(report, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
