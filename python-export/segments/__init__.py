"""Training, evaluation and ONNX export of the customer-segment models."""
