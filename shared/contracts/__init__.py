"""The public API of Envol: the envelope, every event, the topics, and the codec."""
