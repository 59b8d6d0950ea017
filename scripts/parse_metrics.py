#!/usr/bin/env python3
"""Parses Prometheus text (the live view's /metrics) with prometheus_client's own parser.

Usage: parse_metrics.py < metrics.txt

Prints one JSON object: for each metric family, its type and samples (name, labels, value;
non-finite values as the strings "+Inf", "-Inf", "NaN"). Exit status 3 when prometheus_client
is missing (bash scripts/setup.sh installs it), 1 when the parser refuses the text (its message
on stderr), 0 otherwise.
"""
import json
import math
import sys


def main():
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError as error:
        print(f"missing: prometheus_client ({error}); bash scripts/setup.sh installs it", file=sys.stderr)
        return 3
    text = sys.stdin.read()
    families = {}
    try:
        for family in text_string_to_metric_families(text):
            samples = []
            for sample in family.samples:
                value = sample.value
                if math.isnan(value) or math.isinf(value):
                    value = "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
                samples.append({"name": sample.name, "labels": dict(sample.labels), "value": value})
            families[family.name] = {"type": family.type, "documentation": family.documentation, "samples": samples}
    except Exception as error:  # the parser's refusal is the finding
        print(f"prometheus_client refused the text: {error!r}", file=sys.stderr)
        return 1
    print(json.dumps(families))
    return 0


if __name__ == "__main__":
    sys.exit(main())
