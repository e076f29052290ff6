#!/usr/bin/python3
"""Parses a /metrics scrape with prometheus_client's own text-format parser
(what a Prometheus-compatible scraper would accept) and prints its families as
JSON: [{"name", "type", "samples": [{"name", "labels", "value"}]}].
Exits non-zero, with the parser's error, when the text does not parse."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    families = []
    for family in text_string_to_metric_families(text):
        families.append({
            "name": family.name,
            "type": family.type,
            "samples": [{"name": s.name, "labels": dict(s.labels), "value": s.value} for s in family.samples],
        })
    json.dump(families, sys.stdout, allow_nan=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
