"""Write TFLite metadata (a ``ModelMetadata`` flatbuffer, metadata_schema.fbs) saying that a
model's input is sound: what Teachable Machine's sound exports carry."""

from __future__ import annotations

from edgetm.model.metadata import AUDIO_PROPERTIES


def audio_metadata(sample_rate: int, channels: int = 1, name: str = "edgetm") -> bytes:
    """ModelMetadata with one subgraph whose first input has AudioProperties."""
    import flatbuffers

    b = flatbuffers.Builder(256)
    b.StartObject(2)  # AudioProperties
    b.PrependUint32Slot(0, sample_rate, 0)
    b.PrependUint32Slot(1, channels, 0)
    properties = b.EndObject()
    b.StartObject(3)  # Content
    b.PrependUint8Slot(0, AUDIO_PROPERTIES, 0)
    b.PrependUOffsetTRelativeSlot(1, properties, 0)
    content = b.EndObject()
    tensor_name = b.CreateString("audio_clip")
    b.StartObject(7)  # TensorMetadata
    b.PrependUOffsetTRelativeSlot(0, tensor_name, 0)
    b.PrependUOffsetTRelativeSlot(3, content, 0)
    tensor = b.EndObject()
    b.StartVector(4, 1, 4)
    b.PrependUOffsetTRelative(tensor)
    inputs = b.EndVector()
    b.StartObject(10)  # SubGraphMetadata
    b.PrependUOffsetTRelativeSlot(2, inputs, 0)
    subgraph = b.EndObject()
    b.StartVector(4, 1, 4)
    b.PrependUOffsetTRelative(subgraph)
    subgraphs = b.EndVector()
    model_name = b.CreateString(name)
    b.StartObject(8)  # ModelMetadata
    b.PrependUOffsetTRelativeSlot(0, model_name, 0)
    b.PrependUOffsetTRelativeSlot(3, subgraphs, 0)
    root = b.EndObject()
    b.Finish(root, file_identifier=b"M001")
    return bytes(b.Output())
