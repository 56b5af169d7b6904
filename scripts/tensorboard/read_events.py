#!/usr/bin/python3
"""Reads a TensorBoard events file the way TensorBoard does, independently of volt's C++ code,
and prints what it holds as JSON: the test of volt's writer (tests/logging/) and a debugging aid.

  scripts/tensorboard/read_events.py runs/<name>/events.out.tfevents.<time>.<host>.<pid>.<n>

Every TFRecord's two masked CRC-32Cs are checked (with Debian's python3-crc32c), every Event is
parsed with python3-protobuf from the .proto schema in proto/ (compiled with protoc into a
temporary directory), and anything malformed is an error: one line on stderr, exit status 1.
Stricter than TensorBoard on one point: a last record cut short is an error here, where
TensorBoard waits for the rest (volt writes whole records in one write(2): only a process
killed inside that call can leave one).
TensorBoard itself cannot be installed here; this is the evidence that it could read the file.

Output: {"file_version", "source_writer", "records", "scalars": [{"tag", "step", "value",
"wall_time"}], "texts": [{"tag", "step", "text"}], "hparams": {name: value},
"experiment": {"hparams": {name: type}, "metrics": [tag]} or null, "session_end":
{"status"} or null, "session_starts": [step]}. Non-finite values are the strings "nan",
"inf" and "-inf" (JSON has no such numbers).
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTOS = ["event", "summary", "tensor", "hparams_api", "hparams_plugin_data"]


class FormatError(Exception):
    pass


def need(module, package):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        sys.exit(f"read_events: {package} is missing: apt-get install {package} "
                 "(scripts/install-deps.sh installs it)")


def compile_schema(proto_dir, protoc, out_dir):
    files = [os.path.join(proto_dir, "tensorboard", p + ".proto") for p in PROTOS]
    result = subprocess.run([protoc, "-I", proto_dir, "--python_out", out_dir] + files,
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"read_events: {protoc} failed on {proto_dir}: {result.stderr.strip()}")
    sys.path.insert(0, out_dir)
    from tensorboard import event_pb2, hparams_api_pb2, hparams_plugin_data_pb2  # generated above
    return event_pb2, hparams_plugin_data_pb2, hparams_api_pb2


def masked_crc(crc32c, data):
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def records(data, crc32c):
    """(offset, payload) of each TFRecord; a short or corrupt record is a FormatError."""
    offset = 0
    while offset < len(data):
        where = f"record at byte {offset}"
        if len(data) - offset < 12:
            raise FormatError(f"{where}: truncated header ({len(data) - offset} bytes)")
        header = data[offset:offset + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[offset + 8:offset + 12])
        if masked_crc(crc32c, header) != length_crc:
            raise FormatError(f"{where}: length CRC mismatch")
        start, end = offset + 12, offset + 12 + length
        if end + 4 > len(data):
            raise FormatError(f"{where}: truncated data ({length} bytes announced, "
                              f"{len(data) - start} left)")
        payload = data[start:end]
        (data_crc,) = struct.unpack("<I", data[end:end + 4])
        if masked_crc(crc32c, payload) != data_crc:
            raise FormatError(f"{where}: data CRC mismatch")
        yield offset, payload
        offset = end + 4


def number(x):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def proto_value(v):
    kind = v.WhichOneof("kind")
    if kind == "number_value":
        return number(v.number_value)
    if kind in ("string_value", "bool_value"):
        return getattr(v, kind)
    raise FormatError(f"hparam value of unsupported kind {kind!r}")


def read(path, schema, crc32c):
    event_pb2 = schema[0]
    with open(path, "rb") as f:
        data = f.read()
    out = {"file_version": None, "source_writer": None, "records": 0, "scalars": [],
           "texts": [], "hparams": {}, "experiment": None, "session_end": None,
           "session_starts": []}
    for index, (offset, payload) in enumerate(records(data, crc32c)):
        where = f"record {index} at byte {offset}"
        event = event_pb2.Event()
        try:
            event.ParseFromString(payload)
        except Exception as e:  # protobuf raises DecodeError, or others on invalid UTF-8
            raise FormatError(f"{where}: not an Event: {e}")
        out["records"] += 1
        what = event.WhichOneof("what")
        if index == 0:
            if what != "file_version" or not event.file_version.startswith("brain.Event:"):
                raise FormatError(f"{where}: the first event must hold the file version")
            out["file_version"] = event.file_version
            out["source_writer"] = event.source_metadata.writer
            continue
        if what == "session_log":
            if event.session_log.status == event_pb2.SessionLog.START:
                out["session_starts"].append(event.step)
            continue
        if what != "summary":
            raise FormatError(f"{where}: unexpected event kind {what!r}")
        for value in event.summary.value:
            read_value(value, event, where, out, schema)
    if out["records"] == 0:
        raise FormatError("no records")
    return out


def read_value(value, event, where, out, schema):
    _, plugin_pb2, api_pb2 = schema
    kind = value.WhichOneof("value")
    plugin = value.metadata.plugin_data.plugin_name
    if kind == "simple_value":
        out["scalars"].append({"tag": value.tag, "step": event.step,
                               "value": number(value.simple_value),
                               "wall_time": event.wall_time})
    elif plugin == "text":
        t = value.tensor
        if t.dtype != 7 or len(t.string_val) != 1 or t.tensor_shape.dim:
            raise FormatError(f"{where}: text {value.tag!r} is not a scalar DT_STRING tensor")
        out["texts"].append({"tag": value.tag, "step": event.step,
                             "text": t.string_val[0].decode("utf-8")})
    elif plugin == "hparams":
        content = plugin_pb2.HParamsPluginData()
        content.ParseFromString(value.metadata.plugin_data.content)
        if content.version != 0:
            raise FormatError(f"{where}: hparams plugin data version {content.version}, not 0")
        which = content.WhichOneof("data")
        expected = {"session_start_info": "_hparams_/session_start_info",
                    "experiment": "_hparams_/experiment",
                    "session_end_info": "_hparams_/session_end_info"}
        if which not in expected or value.tag != expected[which]:
            raise FormatError(f"{where}: hparams {which!r} under the tag {value.tag!r}")
        if which == "session_start_info":
            out["hparams"] = {k: proto_value(v) for k, v in
                              content.session_start_info.hparams.items()}
        elif which == "experiment":
            types = api_pb2.DataType
            out["experiment"] = {
                "hparams": {i.name: types.Name(i.type) for i in content.experiment.hparam_infos},
                "metrics": [m.name.tag for m in content.experiment.metric_infos]}
        else:
            statuses = api_pb2.Status
            out["session_end"] = {"status": statuses.Name(content.session_end_info.status)}
    else:
        raise FormatError(f"{where}: value {value.tag!r} of kind {kind!r}, plugin {plugin!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("events_file")
    parser.add_argument("--proto-dir", default=os.path.join(REPO, "proto"))
    parser.add_argument("--protoc", default="protoc")
    args = parser.parse_args()
    need("google.protobuf", "python3-protobuf")
    crc32c = need("crc32c", "python3-crc32c").crc32c
    with tempfile.TemporaryDirectory() as tmp:
        schema = compile_schema(args.proto_dir, args.protoc, tmp)
        try:
            result = read(args.events_file, schema, crc32c)
        except (FormatError, OSError) as e:
            sys.exit(f"read_events: {args.events_file}: {e}")
    json.dump(result, sys.stdout, indent=1, allow_nan=False)
    print()


if __name__ == "__main__":
    main()
