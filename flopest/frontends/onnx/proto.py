"""Read an ONNX file's graph without its weight bytes.

``onnx.load`` copies every weight into Python memory. flopest needs only the graph and each
initializer's name, type and dims, so it walks the protobuf wire format of the memory-mapped
file and rebuilds a ModelProto whose large initializers keep their metadata but not their data.
Small initializers (shape constants used by Reshape, Slice, ...) are kept whole.
"""

from __future__ import annotations

import mmap
import os

from . import pb

KEEP_INITIALIZER_BYTES = 4096     # initializers up to this size keep their data
_DATA_FIELDS = {4, 5, 6, 7, 9, 10, 11}  # TensorProto: *_data and raw_data


class WireError(ValueError):
    pass


def _varint(buf, pos: int, end: int):
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise WireError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint too long")


def _fields(buf, pos: int, end: int):
    """Yield (field_number, wire_type, value_start, value_end, field_start)."""
    while pos < end:
        start = pos
        key, pos = _varint(buf, pos, end)
        fn, wt = key >> 3, key & 7
        if fn == 0:
            raise WireError("field number 0")
        if wt == 0:
            _, pos2 = _varint(buf, pos, end)
            yield fn, wt, pos, pos2, start
            pos = pos2
        elif wt == 1:
            if pos + 8 > end:
                raise WireError("truncated fixed64")
            yield fn, wt, pos, pos + 8, start
            pos += 8
        elif wt == 2:
            ln, pos = _varint(buf, pos, end)
            if pos + ln > end:
                raise WireError("truncated length-delimited field")
            yield fn, wt, pos, pos + ln, start
            pos += ln
        elif wt == 5:
            if pos + 4 > end:
                raise WireError("truncated fixed32")
            yield fn, wt, pos, pos + 4, start
            pos += 4
        else:
            raise WireError(f"wire type {wt}")


def _encode_varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _ld(field: int, payload: bytes) -> bytes:
    return _encode_varint((field << 3) | 2) + _encode_varint(len(payload)) + payload


def _strip_tensor(buf, s: int, e: int) -> tuple:
    """(TensorProto bytes without its data fields, its name, the file range of its raw_data or
    None)."""
    parts = []
    name, raw = "", None
    for fn, wt, vs, ve, fs in _fields(buf, s, e):
        if fn not in _DATA_FIELDS:
            parts.append(bytes(buf[fs:ve]))
            if fn == 8 and wt == 2:
                name = bytes(buf[vs:ve]).decode("utf-8", "replace")
        elif fn == 9 and wt == 2:
            raw = (vs, ve)
    return b"".join(parts), name, raw


def _strip_graph(buf, s: int, e: int, stats: dict) -> bytes:
    parts = []
    for fn, wt, vs, ve, fs in _fields(buf, s, e):
        if fn == 5 and wt == 2 and ve - vs > KEEP_INITIALIZER_BYTES:
            body, name, raw = _strip_tensor(buf, vs, ve)
            parts.append(_ld(5, body))
            if raw is not None and name:
                stats["raw_data"][name] = raw   # where its values lie in the file (read_elements)
            stats["stripped"] += 1
            stats["skipped_bytes"] += ve - vs
        else:
            parts.append(bytes(buf[fs:ve]))
    return b"".join(parts)


def read_graph_only(path: str) -> tuple[pb.ModelProto, dict]:
    """ModelProto of `path` with large initializer data left out; (model, stats)."""
    stats = {"stripped": 0, "skipped_bytes": 0, "file_bytes": os.path.getsize(path), "raw_data": {}}
    with open(path, "rb") as f:
        if stats["file_bytes"] == 0:
            raise WireError("empty file")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            buf = memoryview(mm)
            try:
                parts = []
                for fn, wt, vs, ve, fs in _fields(buf, 0, len(buf)):
                    if fn == 7 and wt == 2:
                        parts.append(_ld(7, _strip_graph(buf, vs, ve, stats)))
                    else:
                        parts.append(bytes(buf[fs:ve]))
                data = b"".join(parts)
            finally:
                buf.release()
    model = pb.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise WireError(str(exc) or type(exc).__name__) from None
    return model, stats


def read_elements(path: str, span: tuple, itemsize: int, indices) -> list:
    """The bytes of the elements `indices` of a tensor whose raw_data lies at `span` (file
    offsets) of `path`: a few small reads, never the tensor."""
    out = []
    fd = os.open(path, os.O_RDONLY)
    try:
        for i in indices:
            off = span[0] + int(i) * itemsize
            if off + itemsize > span[1]:
                raise WireError("element past the end of the tensor's raw_data")
            out.append(os.pread(fd, itemsize, off))
    finally:
        os.close(fd)
    return out


def strip_model(model: pb.ModelProto) -> pb.ModelProto:
    """Weight-free copy of an in-memory ModelProto (large initializers lose their data)."""
    out = pb.ModelProto()
    out.ir_version = model.ir_version
    out.opset_import.extend(model.opset_import)
    out.functions.extend(model.functions)
    g = out.graph
    src = model.graph
    g.name = src.name
    g.node.extend(src.node)
    g.input.extend(src.input)
    g.output.extend(src.output)
    g.value_info.extend(src.value_info)
    g.sparse_initializer.extend(src.sparse_initializer)
    for t in src.initializer:
        if t.ByteSize() <= KEEP_INITIALIZER_BYTES:
            g.initializer.append(t)
        else:
            n = g.initializer.add()
            n.name = t.name
            n.data_type = t.data_type
            n.dims.extend(t.dims)
            if t.data_location:
                n.data_location = t.data_location
                n.external_data.extend(t.external_data)
    return out
