#!/usr/bin/env python3
"""tb_read.py - what TensorBoard itself reads from a directory of event
files, for tests/integration/test_tb_reader.c: it loads DIR with
TensorBoard's EventAccumulator (which checks every record's CRCs, skips
a torn last record and drops steps that a SessionLog START makes stale)
and prints, one per line:

    TAG,STEP,VALUE          every scalar (VALUE: repr of the float),
                            sorted by tag, then step
    text,TAG,STEP,TEXT      every text summary ('\\' and newlines escaped)
    hparams,NAME,VALUE      the hparams plugin's session start info, as
                            TensorBoard parses it (VALUE: repr)

    tests/scripts/tb_read.py DIR

Run it with the Python of a virtual environment holding tensorboard
(tests/scripts/py-venv DIR tensorboard).
"""
import sys

from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.plugins.hparams import plugin_data_pb2


def escape(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n")


def plugin_content(acc, plugin):
    """{tag: content} of plugin's summaries ({} when there are none)."""
    try:
        return acc.PluginTagToContent(plugin)
    except KeyError:
        return {}


def main(path):
    # 0: keep every value (the default samples 10000 scalars a tag).
    acc = ea.EventAccumulator(path, size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
    acc.Reload()
    tags = acc.Tags()
    for tag in sorted(tags["scalars"]):
        for e in sorted(acc.Scalars(tag), key=lambda e: e.step):
            print("%s,%d,%r" % (tag, e.step, e.value))
    for tag in sorted(plugin_content(acc, "text")):
        for e in sorted(acc.Tensors(tag), key=lambda e: e.step):
            text = e.tensor_proto.string_val[0].decode("utf-8")
            print("text,%s,%d,%s" % (tag, e.step, escape(text)))
    for content in plugin_content(acc, "hparams").values():
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        if data.WhichOneof("data") != "session_start_info":
            continue
        hparams = data.session_start_info.hparams
        for name in sorted(hparams):
            v = hparams[name]
            print("hparams,%s,%r" % (name, getattr(v, v.WhichOneof("kind"))))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: tb_read.py DIR")
    main(sys.argv[1])
