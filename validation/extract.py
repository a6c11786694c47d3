#!/usr/bin/env python3
"""Extracts the numbers `highlight-emu validate` compares with from Sparseloop's outputs.

Source: the public Sparseloop MICRO'22 artifact (Accelergy-Project/micro22-sparseloop-artifact,
commit de0374a, workspace/2022.micro.artifact/evaluation_setups/fig15_stc_related_setup/), one
`timeloop-model.stats.txt` per point. Run once, by hand (not in CI):

    python3 validation/extract.py ARTIFACT_POINTS_DIR > validation/sparseloop/reference.json

where ARTIFACT_POINTS_DIR holds `<layer>-WD<density>/<design>/timeloop-model.stats.txt`.
Per point it keeps the cycles, the total energy, and per storage level and data space the
actual (post-sparsity) scalar reads, fills and updates of data and of metadata (format) summed
over utilized instances, with the level's energy for that data space.
"""
import json
import os
import re
import sys

LEVELS = ("MAC", "LRF", "RF", "SMEM", "DRAM")


def number(text):
    return float(text.split()[0])


def parse(path):
    text = open(path).read()
    point = {"cycles": None, "energy_pj": None, "computes": None, "levels": {}}
    level = None
    space = None
    format_field = None
    in_levels = True
    for line in text.splitlines():
        m = re.match(r"^=== (\w+) ===$", line)
        if m and in_levels:
            level = m.group(1) if m.group(1) in LEVELS else None
            space = None
            if level:
                point["levels"].setdefault(level, {})
            continue
        if line.startswith("Networks"):
            level = None
            in_levels = False
        if level is None:
            if line.startswith("Cycles:"):
                point["cycles"] = int(number(line.split(":")[1]))
            m = re.match(r"^Energy: ([\d.]+) uJ", line)
            if m:
                point["energy_pj"] = float(m.group(1)) * 1e6
            continue
        stripped = line.strip()
        if level == "MAC":
            if stripped.startswith("Computes (total)") or stripped.startswith("Actual Computes (total)"):
                point["computes"] = int(number(stripped.split(":")[1]))
            if stripped.startswith("Energy (total)"):
                point["levels"]["MAC"]["energy_pj"] = number(stripped.split(":")[1])
            continue
        m = re.match(r"^    ([ABZ]):$", line)
        if m:
            space = point["levels"][level].setdefault(m.group(1), {"metadata": {}})
            format_field = None
            continue
        if space is None:
            if stripped.startswith("Instances"):
                point["levels"][level]["instances"] = int(number(stripped.split(":")[1]))
            continue
        key, _, value = stripped.partition(":")
        key = key.strip()
        m = re.match(r"^Rank (\d+) \(metadata, payload\)$", key)
        if m and format_field:
            meta, payload = (float(x) for x in value.strip().strip("()").split(","))
            entry = space["metadata"].setdefault(format_field, [0.0, 0.0])
            entry[0] += meta
            entry[1] += payload
            continue
        if key in ("Actual scalar format reads (per-instance)", "Actual scalar format fills (per-instance)",
                   "Actual scalar format updates (per-instance)"):
            format_field = key.split()[3]
            if value.strip():
                space["metadata"][format_field] = [number(value), 0.0]
            continue
        format_field = None if not key.startswith("Rank") else format_field
        wanted = {
            "Utilized instances (max)": "instances",
            "Actual scalar reads (per-instance)": "reads",
            "Scalar reads (per-instance)": "reads",
            "Actual scalar fills (per-instance)": "fills",
            "Scalar fills (per-instance)": "fills",
            "Actual scalar updates (per-instance)": "updates",
            "Scalar updates (per-instance)": "updates",
            "Energy (total)": "energy_pj",
        }
        if key in wanted and value.strip():
            space[wanted[key]] = number(value)
    # Per-instance counts to totals over utilized instances.
    for level_stats in point["levels"].values():
        for name, space in level_stats.items():
            if not isinstance(space, dict) or "instances" not in space:
                continue
            n = space["instances"]
            for field in ("reads", "fills", "updates"):
                if field in space:
                    space[field] *= n
            space["metadata"] = {k: [v[0] * n, v[1] * n] for k, v in space["metadata"].items()}
    return point


def main():
    root = sys.argv[1]
    out = {
        "source": "Sparseloop MICRO'22 artifact (Accelergy-Project/micro22-sparseloop-artifact, commit de0374a), "
        "workspace/2022.micro.artifact/evaluation_setups/fig15_stc_related_setup/: timeloop-model.stats.txt per point",
        "points": [],
    }
    for layer_dir in sorted(os.listdir(root)):
        m = re.match(r"M(\d+)-K(\d+)-N(\d+)-IAD([\d.]+)-WD([\d.]+)", layer_dir)
        if not m:
            continue
        for design in ("TC", "STC", "DSTC"):
            stats = os.path.join(root, layer_dir, design, "timeloop-model.stats.txt")
            if not os.path.exists(stats):
                continue
            point = parse(stats)
            point.update({
                "name": f"{layer_dir}/{design}",
                "design": design.lower(),
                "m": int(m.group(1)), "k": int(m.group(2)), "n": int(m.group(3)),
                "activation_density": float(m.group(4)), "weight_density": float(m.group(5)),
            })
            out["points"].append(point)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
