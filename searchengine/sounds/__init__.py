"""Sound events in recordings and videos' sound tracks: YAMNet (AudioSet classes) on ONNX
Runtime over log-mel patches computed in NumPy, merged into timed events of kind ``sound``
whose vectors are blends of their class names' vectors in the index's text space
(docs/sounds.md)."""
