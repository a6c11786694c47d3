"""The Python package against the numbers users check: Z equal to a @ b in int32, and every
counter equal to what the command line prints for the same run.

Run by tests/python.rs (``cargo test --release``), which builds the package into a virtual
environment and points HIGHLIGHT_EMU_BIN at the command line built beside it.
"""

import csv
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import highlight_emu as hl

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("HIGHLIGHT_EMU_BIN", str(ROOT / "target" / "release" / "highlight-emu"))
SMALL_SWEEP = 'name = "small"\nseed = 2\n\n[[grid]]\nm = 32\nk = 64\nn = 16\na_sparsity = [0.0, 0.75]\nb_sparsity = [0.0, 0.5]\n'


def cli(*args, ok=True):
    """The command line's stdout (and stderr, exit code)."""
    assert Path(BIN).exists(), f"{BIN} not built: run cargo build --release first"
    p = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, cwd=ROOT)
    if ok:
        assert p.returncode == 0, p.stderr
    return p


def cli_error(*args):
    p = cli(*args, ok=False)
    assert p.returncode == 2, (p.returncode, p.stderr)
    line = p.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ")
    return line[len("error: "):]


def hss_operands(rng, m, k, n):
    """A pruned to HighLight's C1(2:4)->C0(2:4) (75 % sparse), B dense, both int8."""
    a = hl.prune(rng.integers(-100, 100, size=(m, k), dtype=np.int8), "C1(2:4)->C0(2:4)")
    b = rng.integers(-100, 100, size=(k, n), dtype=np.int8)
    return a, b


def test_run_arrays_z_and_counters_equal_the_cli(tmp_path):
    rng = np.random.default_rng(7)
    a, b = hss_operands(rng, 48, 64, 40)
    assert np.count_nonzero(a) == a.size // 4
    result = hl.run("highlight", a_array=a, b_array=b, backend="cpu", return_z=True)
    z = result.pop("z")
    assert z.dtype == np.int32 and z.shape == (48, 40)
    assert np.array_equal(z, a.astype(np.int32) @ b.astype(np.int32))
    assert result["z_equals_dense"] is True
    assert result["workload"]["a"] == "K1(2:4)->K0(2:4)"  # detected: the sparsest pattern A has
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    expected = json.loads(
        cli("run", "--design", "highlight", "--a-file", tmp_path / "a.npy", "--b-file", tmp_path / "b.npy",
            "--backend", "cpu", "--json").stdout
    )
    for key in ["counters", "cycles", "energy_pj", "energy_breakdown_pj", "latency_s", "edp", "a_runs_as",
                "a_format", "b_format", "hierarchy", "mapping", "bound"]:
        assert result[key] == expected[key], key
    assert result["inputs"]["a"]["file"] == "a_array"


def test_run_generated_operands_equal_the_cli_save(tmp_path):
    """Operands from patterns and a seed: Z equals the CLI's saved Z and a @ b of its operands."""
    args = dict(m=32, k=64, n=24, a="C1(2:4)->C0(2:4)", b="unstructured(0.5)", seed=5)
    result = hl.run("dstc", backend="cpu", return_z=True, **args)
    out = tmp_path / "saved"
    cli_json = json.loads(
        cli("run", "--design", "dstc", *[f"--{k}={v}" for k, v in args.items()], "--backend", "cpu",
            "--json", "--save", out).stdout
    )
    a, b, z = (np.load(out / f"{x}.npy") for x in "abz")
    assert np.array_equal(result["z"], z)
    assert np.array_equal(z, a.astype(np.int32) @ b.astype(np.int32))
    assert result["counters"] == cli_json["counters"]
    assert result["cycles"] == cli_json["cycles"]


def test_run_on_the_gpu_checked_against_the_cpu():
    """On lavapipe in CI: the GPU run is compared with the CPU reference, Z and every counter."""
    rng = np.random.default_rng(3)
    a, b = hss_operands(rng, 32, 64, 32)
    adapter = os.environ.get("HIGHLIGHT_ADAPTER") or "llvmpipe"
    result = hl.run("highlight", a_array=a, b_array=b, backend="gpu", adapter=adapter, check=True,
                    return_z=True)
    assert result["backend"] == "gpu"
    assert result["check"]["cpu_gpu_equal"] is True
    assert np.array_equal(result["z"], a.astype(np.int32) @ b.astype(np.int32))


def test_float_arrays_are_quantised_as_the_cli_quantises_float32(tmp_path):
    rng = np.random.default_rng(11)
    a = rng.standard_normal((16, 32)).astype(np.float32)
    b = rng.standard_normal((32, 8)).astype(np.float32)
    result = hl.run("tc", a_array=a, b_array=b, backend="cpu")
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    expected = json.loads(
        cli("run", "--design", "tc", "--a-file", tmp_path / "a.npy", "--b-file", tmp_path / "b.npy",
            "--backend", "cpu", "--json").stdout
    )
    assert result["inputs"]["a"]["quantization"] == expected["inputs"]["a"]["quantization"]
    assert result["counters"] == expected["counters"]


def test_strided_arrays_and_save_equal_the_cli(tmp_path):
    """A transposed view (not C-contiguous) runs as its values; save= writes what --save does."""
    rng = np.random.default_rng(9)
    a, b = hss_operands(rng, 24, 64, 16)
    a_view, b_view = np.ascontiguousarray(a.T).T, np.asfortranarray(b)
    assert not a_view.flags["C_CONTIGUOUS"] and not b_view.flags["C_CONTIGUOUS"]
    result = hl.run("stc", a_array=a_view, b_array=b_view, backend="cpu", return_z=True,
                    save=tmp_path / "py")
    assert np.array_equal(result["z"], a.astype(np.int32) @ b.astype(np.int32))
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    cli("run", "--design", "stc", "--a-file", tmp_path / "a.npy", "--b-file", tmp_path / "b.npy", "--backend",
        "cpu", "--save", tmp_path / "cli")
    for name in ["a.npy", "b.npy", "z.npy"]:
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    saved = json.loads((tmp_path / "py" / "result.json").read_text())
    assert saved["counters"] == json.loads((tmp_path / "cli" / "result.json").read_text())["counters"]


def test_compare_on_arrays_equals_the_cli(tmp_path):
    rng = np.random.default_rng(12)
    a, b = hss_operands(rng, 32, 64, 32)
    rows = hl.compare(a_array=a, b_array=b, backend="cpu")
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    expected = json.loads(
        cli("compare", "--a-file", tmp_path / "a.npy", "--b-file", tmp_path / "b.npy", "--backend", "cpu",
            "--json").stdout
    )
    for row, design in zip(rows, expected["designs"], strict=True):
        assert row["design"] == design["design"]
        if "result" in design:
            assert row["a_runs_as"] == design["result"]["a_runs_as"]
            assert row["mac"] == design["result"]["counters"]["mac"]
            assert row["run_cycles"] == design["result"]["cycles"]


def test_bad_arrays_and_numbers_raise_value_error():
    ones = np.ones((4, 4), dtype=np.int8)
    cases = [
        (dict(a_array=np.ones((2, 2, 2), dtype=np.int8), b_array=ones), r"^a_array: shape \[2, 2, 2\]; an operand is a 2-D"),
        (dict(a_array=np.ones((0, 4), dtype=np.int8), b_array=ones), r"^a_array: 0 x 4 is empty"),
        (dict(m=-1, k=4, n=4), r"^m -1: accepted a non-negative integer$"),
        (dict(m=4, k=4, n=4, seed=2.5), r"^seed 2.5: accepted a non-negative integer$"),
        (dict(a_array=ones, a_file="a.npy", b_array=ones), r"^give a_array or a_file, not both$"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            hl.run("tc", backend="cpu", **kwargs)
    with pytest.raises(ValueError, match=r"^array: 0 x 8 is empty"):
        hl.prune(np.zeros((0, 8), dtype=np.float32), "K0(2:4)")
    with pytest.raises(ValueError, match=r"^array: shape \[8\]; prune takes a 2-D array"):
        hl.prune(np.zeros(8, dtype=np.float32), "K0(2:4)")
    with pytest.raises(ValueError, match=r"^array: dtype int32; prune keeps the dtype"):
        hl.prune(np.zeros((2, 8), dtype=np.int32), "K0(2:4)")


def test_errors_raise_value_error_with_the_cli_message():
    cases = [
        (dict(design="highlight", m=8, k=8, n=8, a="C1(2:5"), ["run", "--design", "highlight", "--m", "8",
                                                                 "--k", "8", "--n", "8", "--a", "C1(2:5"]),
        (dict(design="highlight", m=8, k=8), ["run", "--design", "highlight", "--m", "8", "--k", "8"]),
        (dict(design="highlight", m=0, k=8, n=8), ["run", "--design", "highlight", "--m", "0", "--k", "8",
                                                    "--n", "8"]),
    ]
    for kwargs, args in cases:
        with pytest.raises(ValueError) as e:
            hl.run(backend="cpu", **kwargs)
        assert str(e.value) == cli_error(*args, "--backend", "cpu")
    with pytest.raises(ValueError, match=r'^design "nope": accepted tc, stc, dstc, s2ta, highlight, highlight-dsso$'):
        hl.run("nope", m=8, k=8, n=8)
    with pytest.raises(ValueError, match=r"^a_array: int64 value 300 at \[0, 1\] is outside int8"):
        hl.run("tc", a_array=np.array([[1, 300], [2, 3]]), b_array=np.ones((2, 2), dtype=np.int8))
    with pytest.raises(ValueError, match=r"^K is 3 from --k but 2 from a_array's columns"):
        hl.run("tc", k=3, a_array=np.ones((2, 2), dtype=np.int8), b_array=np.ones((2, 2), dtype=np.int8))
    with pytest.raises(ValueError, match=r"^a_array: dtype bool; accepted dtypes: int8"):
        hl.run("tc", a_array=np.ones((2, 2), dtype=bool), b_array=np.ones((2, 2), dtype=np.int8))


def test_compare_rows_equal_the_cli_json():
    rows = hl.compare(m=64, k=64, n=64, a_sparsity=0.75, b_sparsity=0.5, backend="cpu")
    expected = json.loads(
        cli("compare", "--m", 64, "--k", 64, "--n", 64, "--a-sparsity", 0.75, "--b-sparsity", 0.5,
            "--backend", "cpu", "--json").stdout
    )
    assert [r["design"] for r in rows] == hl.designs() == [d["design"] for d in expected["designs"]]
    for row, design in zip(rows, expected["designs"]):
        if "result" not in design:
            assert row["supported"] is False and row["reason"] == design["unsupported"]
            continue
        result = design["result"]
        for name, value in result["counters"].items():
            assert row[name] == value, (row["design"], name)
        assert row["run_cycles"] == result["cycles"]
        assert row["energy_pj"] == pytest.approx(result["energy_pj"], rel=1e-12)
        assert row["edp_vs_tc"] == pytest.approx(design["normalised_to_tc"]["edp"], rel=1e-12)
    frame = rows.to_pandas()
    assert list(frame["design"]) == hl.designs()
    assert frame.loc[frame["design"] == "tc", "edp_vs_tc"].item() == 1.0


def test_sweep_rows_and_folder_equal_the_cli(tmp_path):
    sweep = tmp_path / "small.toml"
    sweep.write_text(SMALL_SWEEP)
    rows = hl.sweep(sweep, out=tmp_path / "py", backend="cpu")
    cli("sweep", sweep, "--out", tmp_path / "cli", "--backend", "cpu")
    # results.json also holds each search's wall time, which differs from run to run.
    for name in ["results.csv", "summary.md"]:
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    table = read_csv(tmp_path / "cli" / "results.csv")
    assert len(rows) == len(table) == 4 * len(hl.designs())
    for row, expected in zip(rows, table):
        assert list(row) == list(expected)
        for key, cell in expected.items():
            value = row[key]
            if cell == "":
                assert value is None, key
            elif cell in ("true", "false"):
                assert value is (cell == "true"), key
            elif isinstance(value, (int, float)):
                assert value == float(cell), key
            else:
                assert value == cell, key
    frame = rows.to_pandas()
    assert frame.groupby("design").size().to_dict() == {d: 4 for d in hl.designs()}
    assert frame[~frame.supported].edp_vs_tc.isna().all() and frame[~frame.supported].reason.all()
    assert not any(c.endswith(".1") for c in frame.columns)  # no column name twice


def test_sweep_without_out_writes_nothing(tmp_path, monkeypatch):
    sweep = tmp_path / "small.toml"
    sweep.write_text(SMALL_SWEEP)
    # The CLI's default folder would be results/small-shards/ under the working directory.
    monkeypatch.chdir(tmp_path)
    rows = hl.sweep(sweep, shard="1/2", backend="cpu")
    assert {r["point"] for r in rows} == {1, 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.toml"]
    with pytest.raises(ValueError, match=r"--shard 0/9: the sweep has 4 points, so at most 4 shards"):
        hl.sweep(sweep, shard="0/9", backend="cpu")


def mlp_model(path, two_inputs=True):
    """A model as torch.onnx.export writes one: a dynamic batch axis, a MatMul with a weight and a
    Gemm; with two_inputs, the MatMul's output plus a second input feeds the Gemm."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    w1 = numpy_helper.from_array(rng.standard_normal((32, 16)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((8, 16)).astype(np.float32), "w2")
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 32])]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"])]
    if two_inputs:
        inputs.append(helper.make_tensor_value_info("bias", TensorProto.FLOAT, ["batch", 16]))
        nodes.append(helper.make_node("Add", ["h", "bias"], ["s"]))
    nodes.append(helper.make_node("Gemm", ["s" if two_inputs else "h", "w2"], ["out"], transB=1))
    graph = helper.make_graph(
        nodes, "mlp", inputs, [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 8])],
        initializer=[w1, w2],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def model_rows_equal_cli(rows, table):
    assert len(rows) == len(table)
    for row, expected in zip(rows, table):
        for key in ["layer", "m", "k", "n", "design", "a", "mac", "mac_gated", "run_cycles", "energy_pj"]:
            assert str(row[key]) == expected[key], key


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_model_with_two_inputs_equals_the_cli(tmp_path):
    path = tmp_path / "two.onnx"
    mlp_model(path)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((24, 32)).astype(np.float32)
    bias = rng.standard_normal((24, 16))  # float64, as NumPy makes by default
    rows = hl.model(path, input={"x": x, "bias": bias}, weight_sparsity=[0.0, 0.5],
                    designs=["highlight"], backend="cpu")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "bias.npy", bias)
    cli("model", path, "--input", f"x={tmp_path / 'x.npy'}", "--input", f"bias={tmp_path / 'bias.npy'}",
        "--weight-sparsity", "0,0.5", "--designs", "highlight", "--backend", "cpu", "--out", tmp_path / "cli")
    assert len(rows) == 2 * 2 * 2  # two layers, two sparsities, TC and HighLight
    assert {(r["m"], r["k"], r["n"]) for r in rows} == {(16, 32, 24), (8, 16, 24)}
    model_rows_equal_cli(rows, read_csv(tmp_path / "cli" / "results.csv"))
    assert all(isinstance(r["layer"], str) and isinstance(r["a"], str) for r in rows)
    # One array for a model of two inputs must name its input.
    with pytest.raises(ValueError, match=r"the model has 2 inputs"):
        hl.model(path, input=x, backend="cpu")


def test_model_one_input_array_sets_the_dynamic_batch(tmp_path):
    path = tmp_path / "one.onnx"
    mlp_model(path, two_inputs=False)
    x = np.random.default_rng(4).standard_normal((40, 32)).astype(np.float16)  # read as a float16 file
    rows = hl.model(path, input=x, weight_sparsity=[0.75], designs=["highlight"], backend="cpu",
                    out=tmp_path / "py")
    assert {(r["m"], r["k"], r["n"]) for r in rows} == {(16, 32, 40), (8, 16, 40)}
    assert all(r["z_equals_dense"] for r in rows)
    assert (tmp_path / "py" / "layers.csv").exists()
    np.save(tmp_path / "x.npy", x)
    cli("model", path, "--input", tmp_path / "x.npy", "--weight-sparsity", "0.75", "--designs", "highlight",
        "--backend", "cpu", "--out", tmp_path / "cli")
    model_rows_equal_cli(rows, read_csv(tmp_path / "cli" / "results.csv"))
    assert (tmp_path / "py" / "results.csv").read_bytes() == (tmp_path / "cli" / "results.csv").read_bytes()


def test_model_as_an_exporter_wrote_it():
    """ResNet-50 as the onnx package ships it (a fixed 1 x 3 x 224 x 224 input, exported
    weights), fed one NumPy image: every captured layer has a shape of workloads/resnet50.toml,
    which was written from the paper's network, not from this file, and every Z is exact."""
    import tomllib

    path = ROOT / "tests" / "fixtures" / "onnx" / "light_resnet50.onnx"
    x = np.random.default_rng(4).standard_normal((1, 3, 224, 224)).astype(np.float32)
    rows = hl.model(path, input=x, weight_sparsity=[0.5], designs=["highlight"], backend="cpu")
    with open(ROOT / "workloads" / "resnet50.toml", "rb") as f:
        expected = {(l["m"], l["k"], l["n"]) for l in tomllib.load(f)["layers"]}
    assert len(expected) == 21
    assert {(r["m"], r["k"], r["n"]) for r in rows} == expected
    assert {r["design"] for r in rows} == {"tc", "highlight"}
    assert all(r["supported"] and r["z_equals_dense"] for r in rows)


def test_prune_equals_the_cli_prune(tmp_path):
    w = np.random.default_rng(5).standard_normal((16, 64)).astype(np.float32)
    pruned = hl.prune(w, "C1(2:4)->C0(2:4)")
    assert pruned.dtype == np.float32 and pruned.shape == w.shape
    np.save(tmp_path / "w.npy", w)
    cli("prune", "--pattern", "C1(2:4)->C0(2:4)", "--in", tmp_path / "w.npy", "--out", tmp_path / "p.npy")
    assert np.array_equal(pruned, np.load(tmp_path / "p.npy"))
    kept = pruned != 0
    assert np.array_equal(pruned[kept], w[kept])
    assert kept.sum() == w.size // 4
    assert hl.prune(w.astype(np.float64), "K0(2:4)").dtype == np.float64
    with pytest.raises(ValueError, match=r"^bad pattern"):
        hl.prune(w, "C0(5:4)")


def test_patterns_spec_equals_the_cli():
    for pattern in ["C1(2:4)->C0(2:4)", "unstructured(0.25)", "dense", "RS->C2->C1(3:4)->C0(2:4)"]:
        assert hl.patterns.spec(pattern) == json.loads(cli("spec", pattern, "--json").stdout)
    with pytest.raises(ValueError) as e:
        hl.patterns.spec("C1(2:")
    assert str(e.value) == cli_error("spec", "C1(2:")
