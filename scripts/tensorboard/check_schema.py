#!/usr/bin/python3
"""Checks volt's TensorBoard schema subset (proto/tensorboard/) against TensorBoard's own .proto
files: every message, field, oneof and enum value volt declares must exist upstream under the same
full name with the same number, type and label, and every number volt reserves must be a field
upstream. volt does not ship upstream's files; point this at a tensorboard source tree:

  scripts/tensorboard/check_schema.py --upstream ~/src/tensorboard

Needs protoc and python3-protobuf (scripts/install-deps.sh). Exit 0 and "schema: OK" when they
agree, else one line per difference and exit 1.
"""
import argparse
import os
import subprocess
import sys
import tempfile

try:
    from google.protobuf import descriptor_pb2
except ImportError:
    sys.exit("check_schema: python3-protobuf is missing: apt-get install python3-protobuf "
             "(scripts/install-deps.sh)")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UPSTREAM_ROOTS = ["tensorboard/compat/proto/event.proto",
                  "tensorboard/plugins/hparams/plugin_data.proto"]


def descriptor_set(include_dir, files, protoc):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "set.pb")
        subprocess.run([protoc, "-I", include_dir, "--include_imports", "-o", out] + files,
                       check=True)
        fds = descriptor_pb2.FileDescriptorSet()
        with open(out, "rb") as f:
            fds.ParseFromString(f.read())
        return fds


def index(fds, only_prefix=None):
    """Full name -> DescriptorProto / EnumDescriptorProto, for files under only_prefix."""
    types = {}

    def add_message(prefix, msg):
        name = prefix + "." + msg.name
        types[name] = msg
        for nested in msg.nested_type:
            add_message(name, nested)
        for enum in msg.enum_type:
            types[name + "." + enum.name] = enum

    for f in fds.file:
        if only_prefix and not f.name.startswith(only_prefix):
            continue
        for msg in f.message_type:
            add_message(f.package, msg)
        for enum in f.enum_type:
            types[f.package + "." + enum.name] = enum
    return types


def compare(ours, theirs):
    problems = []
    for name, decl in sorted(ours.items()):
        up = theirs.get(name)
        if up is None or type(up) is not type(decl):
            problems.append(f"{name}: not in upstream (as a {type(decl).__name__})")
            continue
        if isinstance(decl, descriptor_pb2.EnumDescriptorProto):
            up_values = {v.name: v.number for v in up.value}
            for v in decl.value:
                if up_values.get(v.name) != v.number:
                    problems.append(f"{name}.{v.name} = {v.number}: upstream has "
                                    f"{up_values.get(v.name)}")
            continue
        up_fields = {f.number: f for f in up.field}
        for f in decl.field:
            u = up_fields.get(f.number)
            if u is None:
                problems.append(f"{name}.{f.name} = {f.number}: no field {f.number} upstream")
                continue
            for attr in ("name", "type", "label", "type_name"):
                if getattr(f, attr) != getattr(u, attr):
                    problems.append(f"{name}.{f.name} = {f.number}: {attr} {getattr(f, attr)!r} "
                                    f"but upstream {getattr(u, attr)!r}")
            ours_oneof = decl.oneof_decl[f.oneof_index].name if f.HasField("oneof_index") else None
            up_oneof = up.oneof_decl[u.oneof_index].name if u.HasField("oneof_index") else None
            # proto3 map and synthetic oneofs aside, oneof membership changes the wire meaning.
            if ours_oneof != up_oneof:
                problems.append(f"{name}.{f.name}: oneof {ours_oneof!r} but upstream {up_oneof!r}")
        for r in decl.reserved_range:
            for number in range(r.start, r.end):
                if number not in up_fields:
                    problems.append(f"{name}: reserves {number}, which is no field upstream")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="a tensorboard source tree")
    parser.add_argument("--protoc", default="protoc")
    args = parser.parse_args()
    proto_dir = os.path.join(REPO, "proto")
    ours_files = sorted(os.path.join("tensorboard", n)
                        for n in os.listdir(os.path.join(proto_dir, "tensorboard"))
                        if n.endswith(".proto"))
    ours = index(descriptor_set(proto_dir, ours_files, args.protoc), "tensorboard/")
    theirs = index(descriptor_set(args.upstream, UPSTREAM_ROOTS, args.protoc))
    problems = compare(ours, theirs)
    for p in problems:
        print("check_schema:", p)
    if problems:
        sys.exit(1)
    print(f"schema: OK ({len(ours)} messages and enums match upstream)")


if __name__ == "__main__":
    main()
