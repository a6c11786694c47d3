#!/usr/bin/env python3
"""Instructions in each loop of a kernel's optimised SPIR-V: runs `spirv-opt -O` and `spirv-dis`
(Debian's spirv-tools) on SPIR-V from `cargo run --release --example spirv`, and prints every loop
in layout order with its nesting depth, its own instructions (nested loops excluded) and the
operations that mark the MAC work: OpSDot (four MACs), OpIMul, OpBitFieldSExtract, workgroup
loads, barriers. The hot loop's instructions per MAC slot are its own instructions plus its
nested loops' times their trip counts, over the slots one iteration processes (RESULTS.md)."""
import re
import subprocess
import sys

spv = sys.argv[1]
subprocess.run(["spirv-opt", "-O", spv, "-o", spv + ".opt"], check=True)
text = subprocess.run(["spirv-dis", "--raw-id", spv + ".opt"], capture_output=True, text=True, check=True).stdout
workgroup_vars = set()
blocks, current = [], None
for line in (l.strip() for l in text.splitlines()):
    m = re.match(r"(%\d+) = OpVariable %\d+ Workgroup", line)
    if m:
        workgroup_vars.add(m.group(1))
    m = re.match(r"(%\d+) = OpLabel", line)
    if m:
        current = {"id": m.group(1), "ins": []}
        blocks.append(current)
    elif current is not None and line and not line.startswith(";"):
        current["ins"].append(line)
        if line.startswith("OpFunctionEnd"):
            current = None
at = {b["id"]: i for i, b in enumerate(blocks)}
loops = []
for i, b in enumerate(blocks):
    for ins in b["ins"]:
        m = re.match(r"OpLoopMerge (%\d+)", ins)
        if m:
            loops.append((i, at[m.group(1)]))
# Workgroup pointers: access chains into workgroup variables.
pointers = set(workgroup_vars)
for b in blocks:
    for ins in b["ins"]:
        m = re.match(r"(%\d+) = OpAccessChain %\d+ (%\d+)", ins)
        if m and m.group(2) in pointers:
            pointers.add(m.group(1))


def own(lo, hi):
    inner = [(a, z) for a, z in loops if lo < a and z <= hi and not any(lo < a2 < a and z <= z2 <= hi for a2, z2 in loops)]
    mask = set(range(lo, hi))
    for a, z in loops:
        if lo < a and z <= hi:
            mask -= set(range(a, z))
    return [ins for i in sorted(mask) for ins in blocks[i]["ins"]]


for lo, hi in loops:
    depth = sum(1 for a, z in loops if a < lo and hi <= z)
    ins = own(lo, hi)
    marks = []
    for op in ["OpSDot", "OpIMul", "OpBitFieldSExtract", "OpControlBarrier", "OpAtomicIAdd"]:
        n = sum(1 for i in ins if f" {op} " in f" {i} " or i.startswith(op))
        if n:
            marks.append(f"{op} x{n}")
    loads = sum(1 for i in ins if re.search(r"OpLoad %\d+ (%\d+)", i) and re.search(r"OpLoad %\d+ (%\d+)", i).group(1) in pointers)
    if loads:
        marks.append(f"workgroup loads x{loads}")
    nested = sum(1 for a, z in loops if lo < a and z <= hi)
    print(f"{'  ' * depth}loop at block {lo}: {len(ins)} own instructions, {nested} nested loops; {', '.join(marks)}")
