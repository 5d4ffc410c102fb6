"""Write the hand-made models of ``corpus/`` (run from the repository root:
``python -m tests.robustness.make_corpus``). The fuzz-found files (``fuzz_*``) are kept as
found and are not rewritten here. Each model below once made flopest raise something other
than a FlopestError, hang, or read a file it should not have; see corpus/README.md."""

from __future__ import annotations

import os

import numpy as np
from onnx import AttributeProto, TensorProto, helper, numpy_helper

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
F = TensorProto.FLOAT


def vi(name, shape, dt=F):
    return helper.make_tensor_value_info(name, dt, shape)


def model(nodes, inputs, outputs, inits=(), opset=17, functions=(), extra_opsets=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)] + list(extra_opsets))
    m.functions.extend(functions)
    return m


def i64(name, values):
    return numpy_helper.from_array(np.array(values, np.int64), name)


def body(n_out="y"):
    return helper.make_graph([helper.make_node("Relu", ["x"], [n_out])], "body", [], [vi(n_out, None)])


def broken_body():
    """A body that reads values nobody defines."""
    return helper.make_graph([helper.make_node("Add", ["q", "r"], ["s"])], "broken", [], [vi("s", None)])


def external(name, location, dims):
    t = TensorProto()
    t.name, t.data_type = name, TensorProto.INT64
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", location
    return t


def function_chain(depth, calls):
    """F0 calls F1 `calls` times, F1 calls F2, ..., the last one is a Relu."""
    funcs = []
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)]
    for i in range(depth):
        if i == depth - 1:
            nodes = [helper.make_node("Relu", ["x"], ["y"])]
        else:
            names = ["x"] + [f"t{j}" for j in range(calls - 1)] + ["y"]
            nodes = [helper.make_node(f"F{i + 1}", [names[j]], [names[j + 1]], domain="local")
                     for j in range(calls)]
        funcs.append(helper.make_function("local", f"F{i}", ["x"], ["y"], nodes, opsets))
    return model([helper.make_node("F0", ["x"], ["y"], domain="local")], [vi("x", [4])], [vi("y", None)],
                 functions=funcs, extra_opsets=[helper.make_opsetid("local", 1)])


def graph_attr_of_wrong_type(node, name):
    a = node.attribute.add()
    a.name, a.type, a.i = name, AttributeProto.INT, 5    # an int where a graph is expected


def cases() -> dict:
    c = {}
    cond = vi("c", [], TensorProto.BOOL)
    # ---- control flow with missing or broken bodies (KeyError / IndexError before the fix)
    c["if_no_branches"] = model([helper.make_node("If", ["c"], ["o"])], [cond], [vi("o", None)])
    c["if_missing_else"] = model([helper.make_node("If", ["c"], ["o"], then_branch=broken_body())], [cond],
                                 [vi("o", None)])
    n = helper.make_node("If", ["c"], ["o"])
    graph_attr_of_wrong_type(n, "then_branch")
    graph_attr_of_wrong_type(n, "else_branch")
    c["if_branch_attr_is_int"] = model([n], [cond], [vi("o", None)])
    M = i64("M", 5)
    c["loop_no_body"] = model([helper.make_node("Loop", ["M", "c"], ["o"])], [cond], [vi("o", None)], [M])
    c["scan_no_body"] = model([helper.make_node("Scan", ["x"], ["o"], num_scan_inputs=1)], [vi("x", [3, 4])],
                              [vi("o", None)])
    c["scan_axis_out_of_range"] = model(
        [helper.make_node("Scan", ["x"], ["o"], num_scan_inputs=1, scan_input_axes=[7], body=broken_body())],
        [vi("x", [3, 4])], [vi("o", None)])
    c["scan_more_scan_inputs_than_inputs"] = model(
        [helper.make_node("Scan", ["x"], ["o"], num_scan_inputs=5, body=broken_body())], [vi("x", [3, 4])],
        [vi("o", None)])
    inner = helper.make_node("If", ["c"], ["o"], then_branch=broken_body(),
                             else_branch=helper.make_graph([helper.make_node("Loop", ["zz"], ["s"])], "e", [],
                                                           [vi("s", None)]))
    c["if_in_if_with_loop_without_body"] = model(
        [helper.make_node("If", ["c"], ["o2"], then_branch=helper.make_graph([inner], "t", [], [vi("o", None)]),
                          else_branch=broken_body())], [cond], [vi("o2", None)])
    # ---- Loop trip counts that are not non-negative integers
    for tag, value, dt in (("nan", np.nan, np.float32), ("inf", np.inf, np.float32), ("negative", -3, np.int64),
                           ("fraction", 2.5, np.float32), ("2pow62", 2**62, np.int64)):
        trips = numpy_helper.from_array(np.array(value, dt), "M")
        c[f"loop_trip_count_{tag}"] = model([helper.make_node("Loop", ["M", ""], ["o"], body=body())],
                                            [vi("x", [1000, 1000])], [vi("o", None)], [trips])
    # ---- sizes beyond int64 (OverflowError in the OpTable before the fix)
    c["relu_of_2pow186_elements"] = model([helper.make_node("Relu", ["x"], ["a"])], [vi("x", [2**62] * 3)],
                                          [vi("a", None)])
    relu = helper.make_node("Relu", ["a"], ["b"])
    c["constant_of_shape_2pow80"] = model([helper.make_node("ConstantOfShape", ["s"], ["a"]), relu], [],
                                          [vi("b", None)], [i64("s", [2**40, 2**40])])
    c["expand_to_2pow62"] = model([helper.make_node("Expand", ["x", "s"], ["a"]), relu], [vi("x", [1])],
                                  [vi("b", None)], [i64("s", [2**62, 4])])
    for tag, scales in (("1e30", [1, 1, 1e30, 1e30]), ("nan_inf", [1, 1, np.nan, np.inf])):
        c[f"resize_scales_{tag}"] = model(
            [helper.make_node("Resize", ["x", "", "sc"], ["a"]), relu], [vi("x", [1, 1, 4, 4])], [vi("b", None)],
            [numpy_helper.from_array(np.array(scales, np.float32), "sc")])
    c["shape_arithmetic_overflow"] = model(
        [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Mul", ["s", "s"], ["s2"]),
         helper.make_node("Mul", ["s2", "s2"], ["s3"]), helper.make_node("Mul", ["s3", "s3"], ["s4"]),
         helper.make_node("ConstantOfShape", ["s4"], ["b"])], [vi("x", [2**40, 2**40])], [vi("b", None)])
    c["split_num_outputs_2pow62"] = model(
        [helper.make_node("Split", ["x"], ["o1", "o2"], num_outputs=2**62, axis=0),
         helper.make_node("Relu", ["o1"], ["b"])], [vi("x", [10])], [vi("b", None)], opset=18)
    c["expand_value_2pow40"] = model(   # a 1-D shape value expanded to 2**40 entries
        [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Expand", ["s", "n"], ["e"]),
         helper.make_node("Relu", ["x"], ["b"])], [vi("x", [3])], [vi("b", None)], [i64("n", [2**40])])
    # ---- a model-local function that calls itself (RecursionError before the fix)
    f = helper.make_function("local", "F", ["x"], ["a"], [helper.make_node("F", ["x"], ["a"], domain="local")],
                             [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])
    c["function_calls_itself"] = model([helper.make_node("F", ["x"], ["a"], domain="local")], [vi("x", [2])],
                                       [vi("a", None)], functions=[f],
                                       extra_opsets=[helper.make_opsetid("local", 1)])
    # ---- "billion laughs": each function calls the next twice, 40 deep (2**39 nodes once
    # expanded: the inliner and the walker ran out of memory), and a chain 600 functions deep
    # (RecursionError)
    c["functions_expand_to_2pow39_nodes"] = function_chain(40, calls=2)
    c["functions_chained_600_deep"] = function_chain(600, calls=1)
    # ---- external data named by the model: never read (reading /dev/zero never ends)
    reshape = helper.make_node("Reshape", ["x", "S"], ["a"])
    for tag, loc in (("dev_zero", "/dev/zero"), ("etc_passwd", "/etc/passwd"), ("dotdot", "../../../../dev/zero")):
        n = helper.make_node("Constant", [], ["S"])
        n.attribute.append(helper.make_attribute("value", external("v", loc, [2])))
        c[f"constant_external_{tag}"] = model([n, reshape], [vi("x", [2, 3])], [vi("a", None)])
    c["initializer_external_empty_dev_zero"] = model([reshape], [vi("x", [2, 3])], [vi("a", None)],
                                                     [external("S", "/dev/zero", [0])])
    # ---- dim expressions: division by zero, wrong arity, too deep or too long to parse
    c["dim_param_division_by_zero"] = model([helper.make_node("Relu", ["x"], ["o"])],
                                            [vi("x", ["n // 0", "n / 0", "n % 0"])], [vi("o", None)])
    c["dim_param_wrong_arity"] = model([helper.make_node("Relu", ["x"], ["o"])], [vi("x", ["max(n)", "floor(n, n)"])],
                                       [vi("o", None)])
    c["dim_param_deep_and_long"] = model([helper.make_node("Relu", ["x"], ["o"])],
                                         [vi("x", ["/".join(["n"] * 500), "-" * 10000 + "n", "*".join(["n"] * 3000),
                                                   "*".join(["(a+b+c+d+e+f+g+h+i+j+k+l+m+n+o+p)"] * 7)])],
                                         [vi("o", None)])
    # ---- structurally odd graphs that must count (or be refused) cleanly
    c["cycle"] = model([helper.make_node("Add", ["x", "b"], ["a"]), helper.make_node("Relu", ["a"], ["b"])],
                       [vi("x", [2, 3])], [vi("b", [2, 3])])
    c["node_reads_its_own_output"] = model([helper.make_node("Add", ["x", "a"], ["a"])], [vi("x", [2, 3])],
                                           [vi("a", [2, 3])])
    c["dangling_input"] = model([helper.make_node("MatMul", ["x", "nothere"], ["a"])], [vi("x", [2, 3])],
                                [vi("a", None)])
    c["zero_size_tensors"] = model([helper.make_node("MatMul", ["x", "W"], ["a"])], [vi("x", [0, 3])],
                                   [vi("a", None)], [numpy_helper.from_array(np.zeros((3, 0), np.float32), "W")])
    c["huge_dims_2pow62"] = model([helper.make_node("MatMul", ["x", "y"], ["a"])],
                                  [vi("x", [2**62, 2**62]), vi("y", [2**62, 2**62])], [vi("a", None)])
    c["negative_dims"] = model([helper.make_node("MatMul", ["x", "y"], ["a"])], [vi("x", [-5, 3]), vi("y", [3, -7])],
                               [vi("a", None)])
    c["missing_shapes"] = model([helper.make_node("MatMul", ["x", "y"], ["a"])], [vi("x", None), vi("y", None)],
                                [vi("a", None)])
    c["unknown_domain"] = model([helper.make_node("Foo", ["x"], ["a"], domain="zzz")], [vi("x", [2])],
                                [vi("a", None)])
    n = helper.make_node("Transpose", ["x"], ["a"])
    n.attribute.append(helper.make_attribute("perm", "abc"))
    c["wrong_attribute_types"] = model([n, helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=1.5, group=0)],
                                       [vi("x", [1, 3, 8, 8]), vi("w", [4, 3, 3, 3])], [vi("a", None)])
    t = numpy_helper.from_array(np.zeros((3, 4), np.float32), "W")
    t.dims[:] = [100, 100]
    s = i64("S", [2, 3])
    s.dims[:] = [7]
    c["initializer_dims_mismatch"] = model(
        [helper.make_node("MatMul", ["x", "W"], ["a"]), helper.make_node("Reshape", ["a", "S"], ["b"])],
        [vi("x", [2, 3])], [vi("b", None)], [t, s])
    c["empty_graph"] = model([], [], [])
    c["opset_99999"] = model([helper.make_node("Relu", ["x"], ["a"])], [vi("x", [2])], [vi("a", None)], opset=99999)
    return c


def utf8_cases() -> dict:
    """Invalid UTF-8 in proto2 string fields: protobuf hands them back as bytes."""
    out = {}
    base = model([helper.make_node("Relu", ["x"], ["a"], name="node0")], [vi("x", ["batch", 4])], [vi("a", None)])
    data = base.SerializeToString()
    for tag, old in (("op_type", b"Relu"), ("dim_param", b"batch"), ("value_name", b"node0")):
        i = data.index(old)
        out[f"utf8_invalid_{tag}"] = data[:i] + b"\xe4" + data[i + 1:]
    return out


def main():
    os.makedirs(HERE, exist_ok=True)
    for name, m in cases().items():
        with open(os.path.join(HERE, name + ".onnx"), "wb") as f:
            f.write(m.SerializeToString())
    for name, data in utf8_cases().items():
        with open(os.path.join(HERE, name + ".onnx"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
